// KeyStateArena: the per-key state of every rule of one shard, laid out so
// that all rules' state for one key is contiguous.
//
// For each key list, a key's block holds one fixed-size, trivially copyable
// record per rule using that key list, at an offset each rule reserves when
// its shard is created. One message then touches a few adjacent cache lines
// per key instead of one random line per rule, and the shard can prefetch a
// key's block a few events ahead without knowing any rule.
// Thread-safety: owned by one shard thread. Blocks may move when the arena
// grows: never keep a pointer across calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

namespace vigil {

class KeyStateArena {
 public:
  // Reserves `bytes` in the block of `keylist` (call before any Block()).
  // Returns the record's offset in the block. Records are 8-byte aligned.
  uint32_t Reserve(uint32_t keylist, uint32_t bytes) {
    if (lists_.size() <= keylist) lists_.resize(keylist + 1);
    List& l = lists_[keylist];
    const uint32_t offset = l.block_size;
    l.block_size += (bytes + 7) & ~uint32_t{7};
    return offset;
  }

  // The block of key `slot` in `keylist`; zero-filled when first reached.
  uint8_t* Block(uint32_t keylist, uint32_t slot) {
    List& l = lists_[keylist];
    const size_t end = (static_cast<size_t>(slot) + 1) * l.block_size;
    if (end > l.bytes.size()) l.bytes.resize(end + end / 2);
    return l.bytes.data() + static_cast<size_t>(slot) * l.block_size;
  }

  void Prefetch(uint32_t keylist, uint32_t slot) const {
    if (keylist >= lists_.size()) return;
    const List& l = lists_[keylist];
    const size_t off = static_cast<size_t>(slot) * l.block_size;
    if (l.block_size == 0 || off >= l.bytes.size()) return;
    const uint8_t* p = l.bytes.data() + off;
    __builtin_prefetch(p);
    if (l.block_size > 64) __builtin_prefetch(p + 64);
    if (l.block_size > 128) __builtin_prefetch(p + 128);
    if (l.block_size > 192) __builtin_prefetch(p + 192);
  }

  size_t MemoryBytes() const {
    size_t n = 0;
    for (const List& l : lists_) n += l.bytes.capacity();
    return n;
  }
  uint32_t block_size(uint32_t keylist) const { return keylist < lists_.size() ? lists_[keylist].block_size : 0; }

 private:
  struct List {
    uint32_t block_size = 0;
    std::vector<uint8_t> bytes;
  };
  std::vector<List> lists_;
};

// Typed view of one rule's records in the arena.
template <typename Record>
class ArenaRecords {
 public:
  static_assert(std::is_trivially_copyable_v<Record>, "arena records must be trivially copyable");
  ArenaRecords() = default;
  ArenaRecords(KeyStateArena* arena, uint32_t keylist)
      : arena_(arena), keylist_(keylist), offset_(arena->Reserve(keylist, sizeof(Record))) {}

  // The record of `slot` (all zero bytes when new; Record must treat that as "unknown key").
  Record& Get(uint32_t slot) { return *reinterpret_cast<Record*>(arena_->Block(keylist_, slot) + offset_); }

 private:
  KeyStateArena* arena_ = nullptr;
  uint32_t keylist_ = 0;
  uint32_t offset_ = 0;
};

}  // namespace vigil
