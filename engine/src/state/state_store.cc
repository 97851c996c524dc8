// StateStore on RocksDB.
#include "vigil/engine/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <shared_mutex>

#include "vigil/engine/codec.h"

namespace vigil {

namespace {

constexpr char kFormatKey[] = "\x01" "format";
constexpr char kRulePrefix = '\x02';
constexpr char kSourcePrefix = '\x03';
constexpr char kProgressKey[] = "\x04" "progress";
constexpr char kOutboxPrefix = '\x05';
constexpr char kStatePrefix = '\x10';
constexpr char kPartMarker[] = "\xff\xff\xff\xff";  // never a valid bytes() length

// Part records grow by appends: the merge concatenates operands.
class AppendOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& /*key*/, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* /*logger*/) const override {
    new_value->clear();
    if (existing != nullptr) new_value->assign(existing->data(), existing->size());
    new_value->append(value.data(), value.size());
    return true;
  }
  const char* Name() const override { return "vigil.append"; }
};

std::string PartKey(std::string_view rule, const std::vector<std::string>& values, uint8_t part, uint64_t chunk) {
  std::string key = StateStore::StateKey(rule, values);
  key.append(kPartMarker, 4);
  key.push_back(static_cast<char>(part));
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>(chunk >> (8 * i)));
  return key;
}

std::string DbPath(const std::string& state_dir) { return state_dir + "/db"; }

// RocksDB's info log (STATE_DIR/db/LOG), written with plain write(2).
// RocksDB's own file logger writes through a WritableFileWriter, which,
// once one of its writes failed (a full disk), asserts on its next use:
// Debian's RocksDB is built with assertions, so the next log line -- the
// report of the failed write itself, or "shutdown" at SIGTERM -- aborted
// vigil (WritableFileWriter::AssertFalseAndGetStatusForPrevError under
// EnvLogger::Logv). Here a line that cannot be written is dropped. The
// file is renamed LOG.old when it passes 4 MiB (one old file kept).
class InfoLog final : public rocksdb::Logger {
 public:
  InfoLog(std::string path, bool rotate_now) : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), path_(std::move(path)) {
    if (rotate_now) Rotate();
    OpenFile();
  }
  ~InfoLog() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char head[64];
    struct timeval now {};
    gettimeofday(&now, nullptr);
    struct tm t {};
    localtime_r(&now.tv_sec, &t);
    const int h = std::snprintf(head, sizeof head, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld ", t.tm_year + 1900,
                                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                                static_cast<long>(now.tv_usec));
    std::string line(head, h > 0 ? static_cast<size_t>(h) : 0);
    char body[1024];
    va_list copy;
    va_copy(copy, ap);
    const int n = std::vsnprintf(body, sizeof body, format, ap);
    if (n < 0) {
      va_end(copy);
      return;
    }
    if (static_cast<size_t>(n) < sizeof body) {
      line.append(body, static_cast<size_t>(n));
    } else {
      std::string big(static_cast<size_t>(n) + 1, '\0');
      std::vsnprintf(big.data(), big.size(), format, copy);
      big.resize(static_cast<size_t>(n));
      line += big;
    }
    va_end(copy);
    if (line.empty() || line.back() != '\n') line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    if (written_ > kRotateBytes) {
      if (fd_ >= 0) ::close(fd_);
      Rotate();
      OpenFile();
    }
    if (fd_ < 0) return;
    const ssize_t w = ::write(fd_, line.data(), line.size());
    if (w > 0) written_ += static_cast<uint64_t>(w);  // a short or failed write (full disk): dropped
  }

 private:
  static constexpr uint64_t kRotateBytes = 4 << 20;
  void Rotate() { (void)std::rename(path_.c_str(), (path_ + ".old").c_str()); }
  void OpenFile() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    written_ = 0;
    struct stat st {};
    if (fd_ >= 0 && fstat(fd_, &st) == 0) written_ = static_cast<uint64_t>(st.st_size);
  }

  std::string path_;
  std::mutex mu_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// A write that fails for lack of space puts RocksDB in an error state (see
// Impl below: the store then closes and reopens the database). So the
// store does not hand RocksDB a write unless the file system keeps
// StateStore::kMinFreeBytes free beyond it (RocksDB preallocates its
// write-ahead log, so this is room for the files it adds); another process
// can still fill the disk after this check (tests/faults/
// rocksdb_write_error_test.sh).

// OK when the file system of `path` has room for `bytes` plus `min_free`,
// or when it cannot tell; otherwise an IoError saying so, and nothing is
// handed to RocksDB.
Status CheckSpace(const std::string& path, size_t bytes, uint64_t min_free) {
  if (min_free == 0) return Status::Ok();
  struct statvfs fs {};
  if (statvfs(path.c_str(), &fs) != 0) return Status::Ok();
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= min_free + bytes) return Status::Ok();
  return Status::IoError(path + ": no space left for the state: " + std::to_string(free_bytes >> 10) +
                         " KiB free, a write of " + std::to_string(bytes >> 10) + " KiB must leave " +
                         (min_free % (1 << 20) == 0 ? std::to_string(min_free >> 20) + " MiB"
                                                    : std::to_string(min_free >> 10) + " KiB") +
                         " free; not written");
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": corrupt state (" + s.ToString() + ")");
  return Status::IoError(what + ": " + s.ToString());
}

std::string EncodeRule(const StoredRule& r) {
  std::string out;
  PutFixed64(&out, r.definition_hash);
  PutBytes(&out, r.kind);
  PutFixed32(&out, static_cast<uint32_t>(r.key_tags.size()));
  for (const auto& t : r.key_tags) PutBytes(&out, t);
  return out;
}

bool DecodeRule(std::string_view name, std::string_view v, StoredRule* r) {
  Decoder in(v);
  std::string_view kind;
  uint32_t n = 0;
  if (!in.GetFixed64(&r->definition_hash) || !in.GetBytes(&kind) || !in.GetFixed32(&n)) return false;
  r->name = std::string(name);
  r->kind = std::string(kind);
  r->key_tags.clear();
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view t;
    if (!in.GetBytes(&t)) return false;
    r->key_tags.emplace_back(t);
  }
  return in.AtEnd();
}

std::string EncodeSource(const StoredSource& s) {
  std::string out;
  PutFixed8(&out, s.started ? 1 : 0);
  PutInt64(&out, s.max_ts);
  PutBytes(&out, s.position);
  return out;
}

bool DecodeSource(std::string_view name, std::string_view v, StoredSource* s) {
  Decoder in(v);
  uint8_t started = 0;
  std::string_view pos;
  if (!in.GetFixed8(&started) || !in.GetInt64(&s->max_ts) || !in.GetBytes(&pos) || !in.AtEnd()) return false;
  s->name = std::string(name);
  s->started = started != 0;
  s->position = std::string(pos);
  return true;
}

std::string EncodeProgress(const StoredProgress& p) {
  std::string out;
  PutFixed64(&out, p.checkpoint);
  PutInt64(&out, p.written_ms);
  PutInt64(&out, p.watermark);
  PutInt64(&out, p.start_ts);
  PutFixed32(&out, p.shards);
  return out;
}

bool DecodeProgress(std::string_view v, StoredProgress* p) {
  Decoder in(v);
  return in.GetFixed64(&p->checkpoint) && in.GetInt64(&p->written_ms) && in.GetInt64(&p->watermark) &&
         in.GetInt64(&p->start_ts) && in.GetFixed32(&p->shards) && in.AtEnd();
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

}  // namespace

// The database handle, closed after a write failed inside RocksDB and
// reopened by the next operation.
//
// Why: a write that fails inside RocksDB (ENOSPC on its log, a table file
// or the manifest: another process filled the disk after CheckSpace) leaves
// RocksDB in a background-error state that it leaves by itself only once a
// whole write buffer (32 MiB) is free again, with file writers that saw the
// error, which Debian's assert-enabled RocksDB must not use again. Closing
// the handle at once drops them; reopening replays what is durable (the
// log up to the failed record) into a fresh handle with new writers. So
// after a failure the store holds exactly what is durable, and what a
// failed write left in memory is gone (see Checkpointer::Reconcile).
//
// Locking: operations share `mu`; closing and reopening take it alone.
struct StateStore::Impl {
  std::string path;
  bool read_only = false;
  uint64_t min_free_bytes = StateStore::kMinFreeBytes;
  rocksdb::Options options;

  mutable std::shared_mutex mu;
  mutable std::unique_ptr<rocksdb::DB> db;  // null: closed after a failed write
  mutable uint64_t generation = 0;          // incremented by each reopen
  mutable std::string closed_because;       // the failure that closed it
  mutable std::chrono::steady_clock::time_point retry_at{};  // after a failed reopen: not before

  // Runs `op(db)` on the open database (reopened first when a failed write
  // closed it); returns what `op` returns.
  template <class Op>
  Status Read(Op&& op) const {
    std::shared_lock<std::shared_mutex> lock(mu);
    while (db == nullptr) {
      lock.unlock();
      if (Status st = Reopen(); !st.ok()) return st;
      lock.lock();
    }
    return op(*db);
  }

  // Runs a write, flush or compaction `op(db)` like Read; when it fails,
  // closes the database (see above) and returns the failure as a Status.
  template <class Op>
  Status Write(Op&& op, const std::string& what) {
    std::shared_lock<std::shared_mutex> lock(mu);
    while (db == nullptr) {
      lock.unlock();
      if (Status st = Reopen(); !st.ok()) return st;
      lock.lock();
    }
    const uint64_t gen = generation;
    const rocksdb::Status s = op(*db);
    if (s.ok()) return Status::Ok();
    lock.unlock();
    CloseAfterFailure(gen, s);
    return FromRocks(s, what);
  }

  void CloseAfterFailure(uint64_t gen, const rocksdb::Status& s) {
    std::unique_lock<std::shared_mutex> lock(mu);
    if (db == nullptr || generation != gen) return;  // another failure closed it first
    (void)db->Close();  // reports the failure again; writes nothing it had not made durable
    db.reset();
    closed_because = s.ToString();
    retry_at = {};
  }

  Status Reopen() const {
    std::unique_lock<std::shared_mutex> lock(mu);
    if (db != nullptr) return Status::Ok();
    const std::string closed = path + ": the state database was closed after a failed write (" + closed_because + ")";
    const auto now = std::chrono::steady_clock::now();
    if (now < retry_at) return Status::IoError(closed + "; reopened when space returns");
    retry_at = now + std::chrono::seconds(1);
    if (Status st = CheckSpace(path, 0, min_free_bytes); !st.ok()) {
      return Status::IoError(closed + "; not reopened yet: " + st.message());
    }
    rocksdb::DB* raw = nullptr;
    const rocksdb::Status s =
        read_only ? rocksdb::DB::OpenForReadOnly(options, path, &raw) : rocksdb::DB::Open(options, path, &raw);
    if (!s.ok()) return FromRocks(s, closed + "; reopening it failed");
    db.reset(raw);
    ++generation;
    retry_at = {};
    return Status::Ok();
  }
};

struct StateStore::Batch::Impl {
  rocksdb::WriteBatch batch;
};

StateStore::Batch::Batch() : impl_(std::make_unique<Impl>()) {}
StateStore::Batch::~Batch() = default;
StateStore::Batch::Batch(Batch&&) noexcept = default;
StateStore::Batch& StateStore::Batch::operator=(Batch&&) noexcept = default;

void StateStore::Batch::PutKey(std::string_view rule, const std::vector<std::string>& values, std::string_view blob) {
  const std::string key = StateKey(rule, values);
  if (blob.empty()) {
    // Part records are erased by ErasePartsBelow: a range deletion per
    // erased key would cost every later read and compaction.
    (void)impl_->batch.Delete(key);
  } else {
    (void)impl_->batch.Put(key, ToSlice(blob));
  }
}

void StateStore::Batch::AppendPart(std::string_view rule, const std::vector<std::string>& values, uint8_t part,
                                   uint64_t chunk, std::string_view bytes) {
  (void)impl_->batch.Merge(PartKey(rule, values, part, chunk), ToSlice(bytes));
}

void StateStore::Batch::ErasePartsBelow(std::string_view rule, const std::vector<std::string>& values, uint8_t part,
                                        uint64_t below) {
  if (below == 0) return;
  (void)impl_->batch.DeleteRange(PartKey(rule, values, part, 0), PartKey(rule, values, part, below));
}

void StateStore::Batch::PutSource(const StoredSource& source) {
  impl_->batch.Put(std::string(1, kSourcePrefix) + source.name, EncodeSource(source));
}

void StateStore::Batch::PutProgress(const StoredProgress& progress) {
  impl_->batch.Put(kProgressKey, EncodeProgress(progress));
}

namespace {
// Replays the records of one WriteBatch into another.
class Copier final : public rocksdb::WriteBatch::Handler {
 public:
  explicit Copier(rocksdb::WriteBatch* into) : into_(into) {}
  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override { (void)into_->Put(key, value); }
  void Delete(const rocksdb::Slice& key) override { (void)into_->Delete(key); }
  void Merge(const rocksdb::Slice& key, const rocksdb::Slice& value) override { (void)into_->Merge(key, value); }
  rocksdb::Status DeleteRangeCF(uint32_t /*cf*/, const rocksdb::Slice& begin, const rocksdb::Slice& end) override {
    return into_->DeleteRange(begin, end);
  }

 private:
  rocksdb::WriteBatch* into_;
};
}  // namespace

void StateStore::Batch::Append(const Batch& other) {
  Copier copier(&impl_->batch);
  (void)other.impl_->batch.Iterate(&copier);
}

void StateStore::Batch::Clear() { impl_->batch.Clear(); }
size_t StateStore::Batch::bytes() const { return impl_->batch.GetDataSize(); }
size_t StateStore::Batch::count() const { return static_cast<size_t>(impl_->batch.Count()); }

std::string StateStore::StateKey(std::string_view rule, const std::vector<std::string>& values) {
  std::string key(1, kStatePrefix);
  PutBytes(&key, rule);
  for (const auto& v : values) PutBytes(&key, v);
  return key;
}

bool StateStore::DecodeStateKey(std::string_view key, std::string* rule, std::vector<std::string>* values) {
  if (key.empty() || key[0] != kStatePrefix) return false;
  Decoder in(key.substr(1));
  std::string_view r;
  if (!in.GetBytes(&r)) return false;
  *rule = std::string(r);
  values->clear();
  while (in.remaining() > 0) {
    std::string_view v;
    if (!in.GetBytes(&v)) return false;  // a part record's marker fails here too
    values->emplace_back(v);
  }
  return true;
}

bool StateStore::ForEachPart(std::string_view parts,
                             const std::function<void(uint8_t part, uint64_t chunk, std::string_view value)>& fn) {
  Decoder in(parts);
  while (in.remaining() > 0) {
    uint8_t part = 0;
    uint64_t chunk = 0;
    std::string_view value;
    if (!in.GetFixed8(&part) || !in.GetFixed64(&chunk) || !in.GetBytes(&value)) return false;
    fn(part, chunk, value);
  }
  return true;
}

namespace {
// A db directory that RocksDB began to create and never finished: no
// CURRENT, and only the files of a creation in progress (LOCK, LOG*, IDENTITY,
// *.dbtmp, and the first MANIFEST, written just before CURRENT), no table,
// write-ahead log or OPTIONS file: a database that ever took a write has a
// write-ahead log.
bool InterruptedCreation(const std::string& path) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    const bool creation_file = name == "LOCK" || name.starts_with("LOG") || name == "IDENTITY" ||
                               name.starts_with("MANIFEST-") ||
                               (name.size() > 6 && name.compare(name.size() - 6, 6, ".dbtmp") == 0);
    if (!creation_file) return false;
  }
  return !ec;
}
}  // namespace

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_dir, bool read_only,
                                                     uint64_t min_free_bytes) {
  const std::string path = DbPath(state_dir);
  const std::string what = "state dir '" + state_dir + "'";
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (exists && !read_only && !std::filesystem::exists(path + "/CURRENT", ec) && InterruptedCreation(path)) {
    // Killed while RocksDB was creating the database (before its first
    // CURRENT): nothing was ever stored, start it afresh.
    std::filesystem::remove_all(path, ec);
    if (ec) return Status::IoError(what + ": cannot clear the half-created '" + path + "': " + ec.message());
    exists = false;
  }
  if (exists && !std::filesystem::exists(path + "/CURRENT", ec)) {
    return Status::Corruption(what + ": '" + path +
                              "' exists but is not a vigil state database (no CURRENT file); "
                              "point engine.state_dir elsewhere, or start over with --reset-state");
  }
  if (!exists && read_only) return Status::NotFound(what + ": no state database at '" + path + "'");
  if (!exists) {
    // The db directory too: the info log lives there from the start.
    std::filesystem::create_directories(path, ec);
    if (ec) return Status::IoError(what + ": cannot create it: " + ec.message());
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->read_only = read_only;
  impl->min_free_bytes = min_free_bytes;
  rocksdb::Options& options = impl->options;
  options.create_if_missing = !read_only;
  options.paranoid_checks = true;
  // Small memtables and a bounded log keep the WAL replayed after a crash
  // short (restart time); the data is small per key.
  options.write_buffer_size = 32 << 20;
  options.max_write_buffer_number = 3;
  options.max_total_wal_size = 64 << 20;
  options.IncreaseParallelism(2);
  // Not RocksDB's own file logger: it aborts vigil once a disk was full
  // (InfoLog above). A new LOG per start, the previous one kept as LOG.old.
  options.info_log = std::make_shared<InfoLog>(path + "/LOG", /*rotate_now=*/!read_only);
  options.info_log_level = rocksdb::InfoLogLevel::INFO_LEVEL;
  // Checkpoints overwrite the same keys every second: compressing what the
  // next compaction discards costs CPU the pipeline needs.
  options.compression = rocksdb::kNoCompression;
  // Writes come in large batches and nothing is read back while running:
  // a vector memtable appends (sorted once, at flush) where the default
  // skiplist pays a search per key.
  options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  options.merge_operator = std::make_shared<AppendOperator>();
  options.allow_concurrent_memtable_write = false;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                                : rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::IoError(what + ": in use by another vigil process (" + s.ToString() + ")");
    }
    return FromRocks(s, what);
  }
  impl->db.reset(raw);
  std::string format;
  s = impl->db->Get(rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    // A new database, or a foreign one: a RocksDB with keys but no format.
    std::unique_ptr<rocksdb::Iterator> it(impl->db->NewIterator(rocksdb::ReadOptions()));
    it->SeekToFirst();
    if (it->Valid()) {
      return Status::Corruption(what + ": '" + path +
                                "' is a RocksDB database that vigil did not write (no format record); "
                                "point engine.state_dir elsewhere, or start over with --reset-state");
    }
    if (read_only) return Status::NotFound(what + ": the state database is empty");
    std::string v;
    PutFixed32(&v, kFormatVersion);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    Status put = FromRocks(impl->db->Put(wo, kFormatKey, v), what);
    if (!put.ok()) return put;
  } else if (!s.ok()) {
    return FromRocks(s, what);
  } else {
    Decoder in(format);
    uint32_t version = 0;
    if (!in.GetFixed32(&version) || !in.AtEnd()) {
      return Status::Corruption(what + ": unreadable format record; start over with --reset-state");
    }
    if (version > kFormatVersion) {
      return Status::Unsupported(what + ": written by a newer vigil (state format " + std::to_string(version) +
                                 ", this vigil reads up to " + std::to_string(kFormatVersion) +
                                 "); run that version, or start over with --reset-state");
    }
  }
  return std::unique_ptr<StateStore>(new StateStore(path, std::move(impl)));
}

Status StateStore::Destroy(const std::string& state_dir) {
  const std::string path = DbPath(state_dir);
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) return Status::IoError("cannot remove the state database '" + path + "': " + ec.message());
  // The journals of push sources (bridges' JournalDir): their positions were in the database.
  const std::string journal = state_dir + "/journal";
  std::filesystem::remove_all(journal, ec);
  if (ec) return Status::IoError("cannot remove the source journals '" + journal + "': " + ec.message());
  return Status::Ok();
}

StateStore::StateStore(std::string path, std::unique_ptr<Impl> impl) : path_(std::move(path)), impl_(std::move(impl)) {}

StateStore::~StateStore() {
  if (impl_ && impl_->db) (void)impl_->db->Close();
}

Status StateStore::ScanPrefix(char prefix, const std::function<bool(std::string_view name, std::string_view value)>& fn,
                              const char* what) const {
  return impl_->Read([&](rocksdb::DB& db) {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
    const std::string p(1, prefix);
    for (it->Seek(p); it->Valid() && it->key().starts_with(p); it->Next()) {
      const std::string_view name = ToView(it->key()).substr(1);
      if (!fn(name, ToView(it->value()))) {
        return Status::Corruption(path_ + ": unreadable " + what + " record '" + std::string(name) + "'");
      }
    }
    return FromRocks(it->status(), path_);
  });
}

Result<std::vector<StoredRule>> StateStore::Rules() const {
  std::vector<StoredRule> out;
  Status st = ScanPrefix(kRulePrefix, [&out](std::string_view name, std::string_view value) {
    out.emplace_back();
    return DecodeRule(name, value, &out.back());
  }, "rule");
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<StoredSource>> StateStore::Sources() const {
  std::vector<StoredSource> out;
  Status st = ScanPrefix(kSourcePrefix, [&out](std::string_view name, std::string_view value) {
    out.emplace_back();
    return DecodeSource(name, value, &out.back());
  }, "source");
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<StoredProgress>> StateStore::Progress() const {
  std::string v;
  bool found = true;
  Status st = impl_->Read([&](rocksdb::DB& db) {
    rocksdb::Status s = db.Get(rocksdb::ReadOptions(), kProgressKey, &v);
    if (s.IsNotFound()) {
      found = false;
      return Status::Ok();
    }
    return FromRocks(s, path_);
  });
  if (!st.ok()) return st;
  if (!found) return std::optional<StoredProgress>();
  StoredProgress p;
  if (!DecodeProgress(v, &p)) return Status::Corruption(path_ + ": unreadable progress record");
  return std::optional<StoredProgress>(p);
}

Status StateStore::ForEachKey(const KeyVisitor& fn, std::string_view only_rule) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  return impl_->Read([&](rocksdb::DB& db) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(ro));
  std::string prefix(1, kStatePrefix);
  if (!only_rule.empty()) PutBytes(&prefix, only_rule);
  // A key's state blob is followed by its part records (its key + marker):
  // collect them before handing the key over.
  std::string rule, key, blob, parts;
  std::vector<std::string> values;
  bool have = false, go_on = true;
  auto emit = [&] {
    if (have) go_on = fn(rule, values, blob, parts);
    have = false;
  };
  for (it->Seek(prefix); go_on && it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view k = ToView(it->key());
    if (have && k.size() == key.size() + 4 + 1 + 8 && k.substr(0, key.size()) == key &&
        k.substr(key.size(), 4) == std::string_view(kPartMarker, 4)) {
      PutFixed8(&parts, static_cast<uint8_t>(k[key.size() + 4]));
      uint64_t chunk = 0;
      for (size_t i = 0; i < 8; ++i) chunk = (chunk << 8) | static_cast<uint8_t>(k[key.size() + 5 + i]);
      PutFixed64(&parts, chunk);
      PutBytes(&parts, ToView(it->value()));
      continue;
    }
    emit();
    if (!go_on) break;
    if (!DecodeStateKey(k, &rule, &values)) continue;  // a part record whose key state is gone: ignored
    key.assign(k.data(), k.size());
    blob.assign(it->value().data(), it->value().size());
    parts.clear();
    have = true;
  }
  if (go_on) emit();
  return FromRocks(it->status(), path_);
  });
}

Result<uint64_t> StateStore::CountKeys(std::string_view rule) const {
  uint64_t n = 0;
  Status st = ForEachKey([&n](std::string_view, const std::vector<std::string>&, std::string_view, std::string_view) {
    ++n;
    return true;
  }, rule);
  if (!st.ok()) return st;
  return n;
}

Status StateStore::DropRule(const std::string& rule) {
  std::string begin(1, kStatePrefix);
  PutBytes(&begin, rule);
  // Every record of the rule (key states and their parts) starts with `begin`.
  rocksdb::WriteBatch b;
  Status st = impl_->Read([&](rocksdb::DB& db) {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(begin); it->Valid() && it->key().starts_with(begin); it->Next()) b.Delete(it->key());
    return FromRocks(it->status(), path_);
  });
  if (!st.ok()) return st;
  b.Delete(std::string(1, kRulePrefix) + rule);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->Write([&](rocksdb::DB& db) { return db.Write(wo, &b); }, path_);
}

namespace {
std::string OutboxKey(std::string_view sink, uint64_t seq) {
  std::string k(1, kOutboxPrefix);
  PutBytes(&k, sink);
  for (int i = 7; i >= 0; --i) k += static_cast<char>((seq >> (8 * i)) & 0xff);
  return k;
}
}  // namespace

Status StateStore::WriteOutbox(std::string_view sink, const std::vector<std::pair<uint64_t, std::string>>& puts,
                               const std::vector<uint64_t>& deletes) {
  if (puts.empty() && deletes.empty()) return Status::Ok();
  size_t bytes = deletes.size() * 32;
  for (const auto& p : puts) bytes += p.second.size() + 32;
  if (Status st = CheckSpace(path_, bytes, impl_->min_free_bytes); !st.ok()) return st;
  rocksdb::WriteBatch b;
  for (uint64_t seq : deletes) b.Delete(OutboxKey(sink, seq));
  for (const auto& [seq, value] : puts) b.Put(OutboxKey(sink, seq), value);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->Write([&](rocksdb::DB& db) { return db.Write(wo, &b); },
                      path_ + " (outbox of sink '" + std::string(sink) + "')");
}

Status StateStore::ForEachOutbox(std::string_view sink,
                                 const std::function<void(uint64_t seq, std::string_view value)>& fn) const {
  std::string prefix(1, kOutboxPrefix);
  PutBytes(&prefix, sink);
  return impl_->Read([&](rocksdb::DB& db) {
    std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const rocksdb::Slice k = it->key();
      if (k.size() != prefix.size() + 8) {
        return Status::Corruption(path_ + ": malformed outbox record of sink '" + std::string(sink) + "'");
      }
      uint64_t seq = 0;
      for (size_t i = prefix.size(); i < k.size(); ++i) seq = (seq << 8) | static_cast<unsigned char>(k[i]);
      fn(seq, std::string_view(it->value().data(), it->value().size()));
    }
    return FromRocks(it->status(), path_);
  });
}

Result<std::map<std::string, uint64_t>> StateStore::OutboxDepths() const {
  std::map<std::string, uint64_t> out;
  Status st = ScanPrefix(kOutboxPrefix, [&out](std::string_view name, std::string_view) {
    Decoder in(name);
    std::string_view sink;
    if (!in.GetBytes(&sink)) return false;
    ++out[std::string(sink)];
    return true;
  }, "outbox");
  if (!st.ok()) return st;
  return out;
}

Status StateStore::PutRules(const std::vector<StoredRule>& rules) {
  rocksdb::WriteBatch b;
  for (const auto& r : rules) b.Put(std::string(1, kRulePrefix) + r.name, EncodeRule(r));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return impl_->Write([&](rocksdb::DB& db) { return db.Write(wo, &b); }, path_);
}

// A small checkpoint goes through the write-ahead log (one synced append).
// A large one (100,000 keys with sliding buffers: ~100 MB) skips the log and
// is made durable by flushing the memtable to an SST file: it is written
// once instead of twice, and a crash leaves no log to replay, so restart
// time stays that of a clean stop. Either way the checkpoint is atomic: a
// batch lands in one memtable, and a flush installs all of it or nothing.
// A failed write or flush closes the database (Impl): what it left in the
// memtable is dropped, unless closing flushed it; the checkpointer finds out
// which from the stored progress (Checkpointer::Reconcile) before it writes
// the same changes again with the next checkpoint.
Status StateStore::Commit(Batch& batch) {
  constexpr size_t kDirectFlushBytes = 8 << 20;
  if (Status st = CheckSpace(path_, batch.bytes(), impl_->min_free_bytes); !st.ok()) return st;
  rocksdb::WriteOptions wo;
  const bool direct = batch.bytes() >= kDirectFlushBytes;
  if (direct) {
    wo.disableWAL = true;
  } else {
    wo.sync = true;
  }
  return impl_->Write([&](rocksdb::DB& db) {
    rocksdb::Status s = db.Write(wo, &batch.impl_->batch);
    if (s.ok() && direct) {
      rocksdb::FlushOptions fo;
      fo.wait = true;
      s = db.Flush(fo);
    }
    return s;
  }, path_);
}

Status StateStore::Flush() {
  return impl_->Write([](rocksdb::DB& db) {
    rocksdb::FlushOptions fo;
    fo.wait = true;
    return db.Flush(fo);
  }, path_);
}

Status StateStore::Compact() {
  return impl_->Write([](rocksdb::DB& db) {
    std::string l0;
    if (!db.GetProperty("rocksdb.num-files-at-level0", &l0) || std::atoi(l0.c_str()) < 2) return rocksdb::Status::OK();
    rocksdb::CompactRangeOptions o;
    return db.CompactRange(o, nullptr, nullptr);
  }, path_);
}

}  // namespace vigil
