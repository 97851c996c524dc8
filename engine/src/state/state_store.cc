// StateStore on RocksDB.
#include "vigil/engine/state_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

#include "vigil/engine/codec.h"

namespace vigil {

namespace {

constexpr char kFormatKey[] = "\x01" "format";
constexpr char kRulePrefix = '\x02';
constexpr char kSourcePrefix = '\x03';
constexpr char kProgressKey[] = "\x04" "progress";
constexpr char kStatePrefix = '\x10';

std::string DbPath(const std::string& state_dir) { return state_dir + "/db"; }

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

struct StateStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
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
    impl_->batch.Delete(key);
  } else {
    impl_->batch.Put(key, ToSlice(blob));
  }
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
    if (!in.GetBytes(&v)) return false;
    values->emplace_back(v);
  }
  return true;
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_dir, bool read_only) {
  const std::string path = DbPath(state_dir);
  const std::string what = "state dir '" + state_dir + "'";
  std::error_code ec;
  const bool exists = std::filesystem::exists(path, ec);
  if (exists && !std::filesystem::exists(path + "/CURRENT", ec)) {
    return Status::Corruption(what + ": '" + path +
                              "' exists but is not a vigil state database (no CURRENT file); "
                              "point engine.state_dir elsewhere, or start over with --reset-state");
  }
  if (!exists && read_only) return Status::NotFound(what + ": no state database at '" + path + "'");
  if (!exists) {
    std::filesystem::create_directories(state_dir, ec);
    if (ec) return Status::IoError(what + ": cannot create it: " + ec.message());
  }
  rocksdb::Options options;
  options.create_if_missing = !read_only;
  options.paranoid_checks = true;
  // Small memtables and a bounded log keep the WAL replayed after a crash
  // short (restart time); the data is small per key.
  options.write_buffer_size = 32 << 20;
  options.max_write_buffer_number = 3;
  options.max_total_wal_size = 64 << 20;
  options.keep_log_file_num = 3;
  options.max_log_file_size = 4 << 20;
  options.IncreaseParallelism(2);
  // Checkpoints overwrite the same keys every second: compressing what the
  // next compaction discards costs CPU the pipeline needs.
  options.compression = rocksdb::kNoCompression;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(options, path, &raw)
                                : rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return Status::IoError(what + ": in use by another vigil process (" + s.ToString() + ")");
    }
    return FromRocks(s, what);
  }
  auto impl = std::make_unique<Impl>();
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
  return Status::Ok();
}

StateStore::StateStore(std::string path, std::unique_ptr<Impl> impl) : path_(std::move(path)), impl_(std::move(impl)) {}

StateStore::~StateStore() {
  if (impl_ && impl_->db) (void)impl_->db->Close();
}

Result<std::vector<StoredRule>> StateStore::Rules() const {
  std::vector<StoredRule> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  const std::string prefix(1, kRulePrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    StoredRule r;
    const std::string_view key = ToView(it->key());
    if (!DecodeRule(key.substr(1), ToView(it->value()), &r)) {
      return Status::Corruption(path_ + ": unreadable rule record '" + std::string(key.substr(1)) + "'");
    }
    out.push_back(std::move(r));
  }
  Status st = FromRocks(it->status(), path_);
  if (!st.ok()) return st;
  return out;
}

Result<std::vector<StoredSource>> StateStore::Sources() const {
  std::vector<StoredSource> out;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  const std::string prefix(1, kSourcePrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    StoredSource s;
    const std::string_view key = ToView(it->key());
    if (!DecodeSource(key.substr(1), ToView(it->value()), &s)) {
      return Status::Corruption(path_ + ": unreadable source record '" + std::string(key.substr(1)) + "'");
    }
    out.push_back(std::move(s));
  }
  Status st = FromRocks(it->status(), path_);
  if (!st.ok()) return st;
  return out;
}

Result<std::optional<StoredProgress>> StateStore::Progress() const {
  std::string v;
  rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), kProgressKey, &v);
  if (s.IsNotFound()) return std::optional<StoredProgress>();
  Status st = FromRocks(s, path_);
  if (!st.ok()) return st;
  StoredProgress p;
  if (!DecodeProgress(v, &p)) return Status::Corruption(path_ + ": unreadable progress record");
  return std::optional<StoredProgress>(p);
}

Status StateStore::ForEachKey(const KeyVisitor& fn, std::string_view only_rule) const {
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = 2 << 20;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(ro));
  std::string prefix(1, kStatePrefix);
  if (!only_rule.empty()) PutBytes(&prefix, only_rule);
  std::string rule;
  std::vector<std::string> values;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!DecodeStateKey(ToView(it->key()), &rule, &values)) {
      return Status::Corruption(path_ + ": unreadable key-state record");
    }
    if (!fn(rule, values, ToView(it->value()))) break;
  }
  return FromRocks(it->status(), path_);
}

Result<uint64_t> StateStore::CountKeys(std::string_view rule) const {
  uint64_t n = 0;
  Status st = ForEachKey([&n](std::string_view, const std::vector<std::string>&, std::string_view) {
    ++n;
    return true;
  }, rule);
  if (!st.ok()) return st;
  return n;
}

Status StateStore::DropRule(const std::string& rule) {
  std::string begin(1, kStatePrefix);
  PutBytes(&begin, rule);
  std::string end = begin;
  // Every key of the rule starts with `begin`; the first string after all of
  // them is `begin` with its last byte incremented (the prefix never ends in 0xff:
  // it ends with the rule name's last byte or its length).
  rocksdb::WriteBatch b;
  {
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
    for (it->Seek(begin); it->Valid() && it->key().starts_with(begin); it->Next()) b.Delete(it->key());
    Status st = FromRocks(it->status(), path_);
    if (!st.ok()) return st;
  }
  b.Delete(std::string(1, kRulePrefix) + rule);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db->Write(wo, &b), path_);
}

Status StateStore::PutRules(const std::vector<StoredRule>& rules) {
  rocksdb::WriteBatch b;
  for (const auto& r : rules) b.Put(std::string(1, kRulePrefix) + r.name, EncodeRule(r));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db->Write(wo, &b), path_);
}

Status StateStore::Commit(Batch& batch) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(impl_->db->Write(wo, &batch.impl_->batch), path_);
}

Status StateStore::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(impl_->db->Flush(fo), path_);
}

}  // namespace vigil
