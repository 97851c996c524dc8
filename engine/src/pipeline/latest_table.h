// LatestTable: the latest values of every series (key) of one shard, for
// GET /api/v1/series/latest (Pipeline::ForEachLatest).
//
// One record per key: the event time of the newest message, the newest
// value of every schema field (NaN until one arrives), and the ids of the
// keys that message carried (one per key list; they name the series' tags).
// Records are indexed by (key list, KeyInfo::slot), the dense slot the key
// table already gives every key on its shard, so an update is one indexed
// write: no hashing, no allocation after a chunk of 4,096 slots exists.
//
// Why a seqlock per record: the writer is the shard thread, once per event,
// and must never wait for a reader; readers (HTTP threads) are rare and can
// retry. Each record starts with a sequence number the writer makes odd
// while it writes and even when done; a reader copies the record and keeps
// the copy only when the number was the same even value before and after.
// The writer pays two stores and a compiler fence (x86) per update. All words
// are relaxed atomics, so the concurrent copy is not a data race. The other
// choices cost more: handing each request to the shard through a queue
// delays it behind a whole batch and wakes a sleeping shard; a periodically
// published copy costs O(keys) on the shard every period even when nobody
// asks.
//
// Memory: (2 + fields + key lists) * 8 bytes per key of the key lists that
// hold series (rounded up to 16, 32, 64 or a multiple of 64 bytes, so that a
// record spans as few cache lines as it can), allocated in 64-byte aligned
// chunks of 4,096 records as slots are first used
// (the key table, which never shrinks, bounds the slots). Evict() hides
// records older than the key TTL; their slots are reused when the key comes
// back.
//
// Thread-safety: one writer thread (Update, Evict); any number of reader
// threads (ForEach) at the same time. Not movable.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "vigil/engine/event.h"

namespace vigil {

class LatestTable {
 public:
  static constexpr uint32_t kChunkBits = 12;
  static constexpr uint32_t kChunkRecords = 1u << kChunkBits;
  static constexpr uint32_t kMaxChunks = 1u << 14;  // 67 M slots per key list, the key table's capacity

  // One record as a reader copied it.
  struct Snapshot {
    uint32_t keylist = 0;
    int64_t ts = kMinTime;
    std::vector<double> fields;  // NaN: no value yet
    std::vector<KeyId> keys;     // kNoKey: not carried
  };

  LatestTable(size_t fields, size_t keylists)
      : fields_(fields), keylists_(keylists), words_(RecordWords(2 + fields + keylists)), lists_(keylists) {}
  ~LatestTable() {
    for (List& l : lists_) {
      auto* dir = l.chunks.load(std::memory_order_relaxed);
      if (dir == nullptr) continue;
      for (uint32_t c = 0; c < kMaxChunks; ++c) {
        if (Word* chunk = dir[c].load(std::memory_order_relaxed)) ::operator delete[](chunk, kAlign);
      }
      delete[] dir;
    }
  }
  LatestTable(const LatestTable&) = delete;
  LatestTable& operator=(const LatestTable&) = delete;

  // Writer: the event of series (keylist, slot) with time `ts`, its fields
  // [fields] (NaN: absent) and keys [keylists] (kNoKey: absent). An event
  // older than the record's newest is ignored; otherwise each field and key
  // it carries replaces the record's, and the others stay.
  void Update(uint32_t keylist, uint32_t slot, int64_t ts, const double* fields, const KeyId* keys) noexcept {
    Word* r = Record(keylist, slot);
    if (r == nullptr) return;
    if (ts < static_cast<int64_t>(r[kTs].load(std::memory_order_relaxed))) return;
    const size_t nfields = fields_, nkeys = keylists_;  // locals: the stores below may alias members
    const uint64_t seq = BeginWrite(r);
    r[kTs].store(static_cast<uint64_t>(ts), std::memory_order_relaxed);
    Word* f = r + kFields;
    for (size_t i = 0; i < nfields; ++i) {
      if (!IsNull(fields[i])) f[i].store(std::bit_cast<uint64_t>(fields[i]), std::memory_order_relaxed);
    }
    Word* k = f + nfields;
    for (size_t i = 0; i < nkeys; ++i) {
      if (keys[i] != kNoKey) k[i].store(keys[i], std::memory_order_relaxed);
    }
    r[kSeq].store(seq + 2, std::memory_order_release);
    List& l = lists_[keylist];
    if (slot >= l.used.load(std::memory_order_relaxed)) l.used.store(slot + 1, std::memory_order_release);
  }

  // Writer: clears every record whose newest message is older than `cutoff`
  // (event time). Returns how many it cleared.
  size_t Evict(int64_t cutoff) noexcept {
    size_t n = 0;
    for (List& l : lists_) {
      const uint32_t used = l.used.load(std::memory_order_relaxed);
      auto* d = l.chunks.load(std::memory_order_relaxed);
      if (d == nullptr) continue;
      for (uint32_t slot = 0; slot < used; ++slot) {
        Word* chunk = d[slot >> kChunkBits].load(std::memory_order_relaxed);
        if (chunk == nullptr) {  // no slot of this chunk was used
          slot |= kChunkRecords - 1;
          continue;
        }
        Word* r = chunk + (slot & (kChunkRecords - 1)) * words_;
        const int64_t ts = static_cast<int64_t>(r[kTs].load(std::memory_order_relaxed));
        if (ts == kMinTime || ts >= cutoff) continue;
        const uint64_t seq = BeginWrite(r);
        Clear(r);
        r[kSeq].store(seq + 2, std::memory_order_release);
        ++n;
      }
    }
    return n;
  }

  // Any thread: calls visit(snapshot) for every record written and not
  // evicted, a consistent copy of each (the writer may have moved on since);
  // stops when visit returns false. `snapshot` is reused between calls.
  template <typename Visit>
  void ForEach(Visit&& visit) const {
    Snapshot s;
    s.fields.resize(fields_);
    s.keys.resize(keylists_);
    for (uint32_t k = 0; k < keylists_; ++k) {
      const List& l = lists_[k];
      const uint32_t used = l.used.load(std::memory_order_acquire);
      if (used == 0) continue;
      auto* dir = l.chunks.load(std::memory_order_acquire);
      s.keylist = k;
      for (uint32_t slot = 0; slot < used; ++slot) {
        const Word* chunk = dir[slot >> kChunkBits].load(std::memory_order_acquire);
        if (chunk == nullptr) {  // no slot of this chunk was used (yet)
          slot |= kChunkRecords - 1;
          continue;
        }
        const Word* r = chunk + (slot & (kChunkRecords - 1)) * words_;
        if (!Read(r, &s) || s.ts == kMinTime) continue;
        if (!visit(static_cast<const Snapshot&>(s))) return;
      }
    }
  }

 private:
  using Word = std::atomic<uint64_t>;
  static_assert(std::is_trivially_destructible_v<Word> && sizeof(Word) == 8);
  static constexpr size_t kSeq = 0, kTs = 1, kFields = 2;
  static constexpr std::align_val_t kAlign{64};

  // Words per record, rounded so that no record straddles more cache lines
  // than it must (chunks are 64-byte aligned): 2, 4, 8, then multiples of 8.
  static size_t RecordWords(size_t words) {
    if (words > 8) return (words + 7) / 8 * 8;
    size_t n = 2;
    while (n < words) n *= 2;
    return n;
  }
  struct List {
    std::atomic<std::atomic<Word*>*> chunks{nullptr};  // directory of kMaxChunks chunk pointers, made on first use
    std::atomic<uint32_t> used{0};                     // slots below this may hold records
  };

  static uint64_t NullBits() { return std::bit_cast<uint64_t>(NullValue()); }

  void Clear(Word* r) const noexcept {
    r[kTs].store(static_cast<uint64_t>(kMinTime), std::memory_order_relaxed);
    for (size_t i = 0; i < fields_; ++i) r[kFields + i].store(NullBits(), std::memory_order_relaxed);
    for (size_t i = 0; i < keylists_; ++i) r[kFields + fields_ + i].store(kNoKey, std::memory_order_relaxed);
  }

  // Marks `r` as being written (odd sequence number); returns the even one it had.
  static uint64_t BeginWrite(Word* r) noexcept {
    const uint64_t seq = r[kSeq].load(std::memory_order_relaxed);
    r[kSeq].store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    return seq;
  }

  // A consistent copy of `r` into `s`; false when the writer kept changing it.
  bool Read(const Word* r, Snapshot* s) const {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      const uint64_t before = r[kSeq].load(std::memory_order_acquire);
      if (before & 1) continue;
      s->ts = static_cast<int64_t>(r[kTs].load(std::memory_order_relaxed));
      for (size_t i = 0; i < fields_; ++i) {
        s->fields[i] = std::bit_cast<double>(r[kFields + i].load(std::memory_order_relaxed));
      }
      for (size_t i = 0; i < keylists_; ++i) {
        s->keys[i] = static_cast<KeyId>(r[kFields + fields_ + i].load(std::memory_order_relaxed));
      }
      std::atomic_thread_fence(std::memory_order_acquire);
      if (r[kSeq].load(std::memory_order_relaxed) == before) return true;
    }
    return false;
  }

  // Writer: the record of (keylist, slot), its chunk made when new; null
  // beyond kMaxChunks chunks.
  Word* Record(uint32_t keylist, uint32_t slot) noexcept {
    List& l = lists_[keylist];
    const uint32_t c = slot >> kChunkBits;
    if (c >= kMaxChunks) return nullptr;
    auto* dir = l.chunks.load(std::memory_order_relaxed);
    if (dir == nullptr) {
      dir = new std::atomic<Word*>[kMaxChunks];
      for (uint32_t i = 0; i < kMaxChunks; ++i) dir[i].store(nullptr, std::memory_order_relaxed);
      l.chunks.store(dir, std::memory_order_release);
    }
    Word* chunk = dir[c].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      chunk = new (kAlign) Word[kChunkRecords * words_];
      for (uint32_t i = 0; i < kChunkRecords; ++i) {
        chunk[i * words_ + kSeq].store(0, std::memory_order_relaxed);
        Clear(chunk + i * words_);
      }
      dir[c].store(chunk, std::memory_order_release);
    }
    return chunk + (slot & (kChunkRecords - 1)) * words_;
  }

  const size_t fields_;
  const size_t keylists_;
  const size_t words_;
  std::vector<List> lists_;
};

}  // namespace vigil
