// StateStore: vigil's durable state in RocksDB (DESIGN.md "Durability and
// delivery"): every rule's per-key state, every source's position, the
// engine's progress (watermark, input start) and the definition of every
// rule that state belongs to.
//
// Layout: the RocksDB database lives in STATE_DIR/db (the state dir also
// holds the dead-letter file). Keys are prefixed by record type; key
// states by rule name, then by the key's tag values, never by shard, so a
// restart with another shard count re-partitions them by key:
//   "\x01format"                     format version (u32)
//   "\x02" rule-name                 StoredRule (definition hash, kind, key tags)
//   "\x03" source-name               StoredSource (clock, position)
//   "\x04progress"                   StoredProgress
//   "\x05" bytes(sink) u64-BE seq     an alert waiting in a sink's outbox
//   "\x10" bytes(rule) bytes(v)...   a key's state blob (state_header.h first)
//   <that key> ff ff ff ff part chunk a part record of the key (u8 part, u64
//                                    big-endian chunk): appended to by merges
// where bytes(x) is a 32-bit length and x. Part records hold what a rule
// writes incrementally (the samples of a sliding buffer, each written
// once); they sort right after their key's state blob. A checkpoint is one
// WriteBatch (see Commit).
//
// Failures: a write, flush or compaction that fails inside RocksDB (a disk
// another process filled after the free-space check) returns an IoError
// and closes the database; the next operation reopens it, which succeeds
// once space returns. Until then every operation fails cleanly. After a
// reopen the store holds exactly what was durable: a failed write is
// either all there (its log record had been written) or not at all.
//
// Thread-safety: reads, Commit and WriteOutbox may run on different
// threads (closing and reopening wait for the operations in flight); Batch
// is single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/engine/status.h"

namespace vigil {

struct StoredRule {
  std::string name;
  uint64_t definition_hash = 0;
  std::string kind;
  std::vector<std::string> key_tags;
};

struct StoredSource {
  std::string name;
  bool started = false;     // the source had delivered a message
  int64_t max_ts = 0;       // highest event ts it delivered
  std::string position;     // Source::Position() at the checkpoint
};

struct StoredProgress {
  uint64_t checkpoint = 0;  // id of the checkpoint (increasing within a run)
  int64_t written_ms = 0;   // wall-clock time it was written
  int64_t watermark = 0;    // engine watermark at the barrier
  int64_t start_ts = 0;     // event time of the input's first message (kMinTime: none yet)
  uint32_t shards = 0;      // shard count of the run that wrote it (information)
};

class StateStore {
 public:
  static constexpr uint32_t kFormatVersion = 1;
  // A write is handed to RocksDB only when the state dir's file system
  // keeps this much free beyond it (see CheckSpace in state_store.cc).
  static constexpr uint64_t kMinFreeBytes = 4 << 20;

  // Opens STATE_DIR/db, creating it when missing (unless `read_only`).
  // Errors name the path: a directory that is not a vigil state dir, a
  // format this vigil does not know, corruption, a lock held by another
  // process. `min_free_bytes` is a test seam: 0 hands every write to
  // RocksDB whatever the free space (fault tests that make RocksDB itself
  // meet a full disk).
  static Result<std::unique_ptr<StateStore>> Open(const std::string& state_dir, bool read_only = false,
                                                  uint64_t min_free_bytes = kMinFreeBytes);
  // Deletes the database of STATE_DIR (`--reset-state`) and the journals of
  // push sources (STATE_DIR/journal); the rest of the directory (dead
  // letters) stays.
  static Status Destroy(const std::string& state_dir);

  ~StateStore();
  StateStore(const StateStore&) = delete;
  StateStore& operator=(const StateStore&) = delete;

  const std::string& path() const { return path_; }

  Result<std::vector<StoredRule>> Rules() const;
  Result<std::vector<StoredSource>> Sources() const;
  Result<std::optional<StoredProgress>> Progress() const;
  // Calls fn(rule, key values, state blob) for every stored key state, in
  // key order; fn returns false to stop.
  // `parts` packs the key's part records in order: for each, u8 part, u64
  // chunk, bytes(value) (see ForEachPart); empty when it has none.
  using KeyVisitor = std::function<bool(std::string_view rule, const std::vector<std::string>& values,
                                        std::string_view blob, std::string_view parts)>;
  Status ForEachKey(const KeyVisitor& fn, std::string_view only_rule = {}) const;
  // Number of key states of `rule`.
  Result<uint64_t> CountKeys(std::string_view rule) const;

  // Deletes the states of `rule` and its entry (synced).
  Status DropRule(const std::string& rule);
  // Records the definitions the stored states belong to (synced).
  Status PutRules(const std::vector<StoredRule>& rules);

  // A sink's durable outbox (bridges/ OutboxSink): writes `puts` (seq,
  // record) and deletes `deletes` in one synced batch; ForEachOutbox visits
  // a sink's records in seq order.
  Status WriteOutbox(std::string_view sink, const std::vector<std::pair<uint64_t, std::string>>& puts,
                     const std::vector<uint64_t>& deletes);
  Status ForEachOutbox(std::string_view sink, const std::function<void(uint64_t seq, std::string_view value)>& fn) const;
  // Alerts waiting in each sink's outbox (`vigil state inspect`).
  Result<std::map<std::string, uint64_t>> OutboxDepths() const;

  // The writes of one checkpoint; Commit applies them atomically.
  class Batch {
   public:
    Batch();
    ~Batch();
    Batch(Batch&&) noexcept;
    Batch& operator=(Batch&&) noexcept;
    // An empty blob erases the key's state (not its parts: ErasePartsBelow).
    void PutKey(std::string_view rule, const std::vector<std::string>& values, std::string_view blob);
    // Appends `bytes` to the key's part record (part, chunk).
    void AppendPart(std::string_view rule, const std::vector<std::string>& values, uint8_t part, uint64_t chunk,
                    std::string_view bytes);
    // Deletes the key's part records (part, c) with c < `below`.
    void ErasePartsBelow(std::string_view rule, const std::vector<std::string>& values, uint8_t part,
                         uint64_t below);
    void PutSource(const StoredSource& source);
    void PutProgress(const StoredProgress& progress);
    // Appends the writes of `other` after this batch's (later ones win).
    void Append(const Batch& other);
    void Clear();
    size_t bytes() const;
    size_t count() const;

   private:
    friend class StateStore;
    struct Impl;
    std::unique_ptr<Impl> impl_;
  };
  // Writes `batch` atomically and durably (fsync of the write-ahead log).
  Status Commit(Batch& batch);
  // Flushes the memtable to SST files, so the next open has no log to
  // replay (clean shutdown: restart time).
  Status Flush();
  // Merges the level-0 files (one per large checkpoint) when there are
  // several, so the next start reads each key once (clean shutdown).
  Status Compact();

  // Key encoding, exposed for tests and tools.
  static std::string StateKey(std::string_view rule, const std::vector<std::string>& values);
  // False for anything but a key-state record (part records included).
  static bool DecodeStateKey(std::string_view key, std::string* rule, std::vector<std::string>* values);
  // Calls fn(part, chunk, value) for each record packed in `parts`; false
  // when `parts` is malformed.
  static bool ForEachPart(std::string_view parts,
                          const std::function<void(uint8_t part, uint64_t chunk, std::string_view value)>& fn);

 private:
  struct Impl;
  StateStore(std::string path, std::unique_ptr<Impl> impl);
  // Calls fn(name, value) for each record of type `prefix`; fn false: corrupt.
  Status ScanPrefix(char prefix, const std::function<bool(std::string_view name, std::string_view value)>& fn,
                    const char* what) const;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
