// TagInterner: maps tag strings to dense ids (1..n; 0 means "absent").
//
// An open-addressing hash table (linear probing, power-of-two capacity,
// stored hashes) over strings kept in stable storage: interning a string seen
// before costs one hash and usually one cache line, which matters because
// every message interns its key tags.
// A limit (engine.max_tag_values) bounds how many distinct strings it keeps:
// beyond it a new string is refused (interned as 0, "absent") and counted,
// so that messages inventing a new value each cannot grow memory without end.
// Thread-safety: owned by the router thread, the only one that interns.
// Get(id) may be called from any thread for an id it received through a
// release/acquire hand-off (an event batch): the strings live in an
// AppendOnlyTable and never move. refused() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/append_only_table.h"

namespace vigil {

class TagInterner {
 public:
  TagInterner() : slots_(kInitialSlots) { strings_.Append(std::string()); }

  uint32_t Intern(std::string_view s) {
    const uint64_t h = Hash(s);
    size_t i = h & (slots_.size() - 1);
    while (true) {
      Slot& slot = slots_[i];
      if (slot.id == 0) break;
      if (slot.hash == h && Equal(slot, s)) return slot.id;
      i = (i + 1) & (slots_.size() - 1);
    }
    if (size() >= limit_) {  // engine.max_tag_values
      refused_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    const size_t index = strings_.Append(std::string(s));
    if (index >= Strings::kCapacity) {  // full (2^26 distinct strings): treated as absent
      refused_.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    const uint32_t id = static_cast<uint32_t>(index);
    Slot& slot = slots_[i];
    slot.hash = h;
    slot.id = id;
    slot.len = static_cast<uint32_t>(s.size());
    std::memcpy(slot.prefix, s.data(), std::min(s.size(), sizeof slot.prefix));
    if (4 * strings_.size() > 3 * slots_.size()) Grow();  // load factor <= 3/4
    return id;
  }

  // Returns the id of `s`, or 0 when it was never interned.
  uint32_t Find(std::string_view s) const {
    const uint64_t h = Hash(s);
    for (size_t i = h & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[i];
      if (slot.id == 0) return 0;
      if (slot.hash == h && Equal(slot, s)) return slot.id;
    }
  }
  const std::string& Get(uint32_t id) const { return strings_.Get(id); }
  // Forgets every string (ids restart at 1). Only while nobody holds an id.
  void Clear() {
    strings_.Clear();
    strings_.Append(std::string());
    slots_.assign(kInitialSlots, Slot{});
  }
  size_t size() const { return strings_.size() - 1; }
  // At most `max` distinct strings from now on (0: no limit but the table's
  // own 2^26). Strings interned before stay, even beyond it.
  void set_limit(size_t max) { limit_ = max == 0 ? SIZE_MAX : max; }
  // New strings refused because of the limit (or a full table).
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  // A fast 64-bit hash of short strings (8 bytes at a time, multiply-mix).
  static uint64_t Hash(std::string_view s) {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (s.size() * 0xff51afd7ed558ccdULL);
    const char* p = s.data();
    size_t n = s.size();
    while (n >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
      h ^= h >> 29;
      p += 8;
      n -= 8;
    }
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 32;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
  }

 private:
  static constexpr size_t kInitialSlots = 1024;
  // 32 bytes: strings up to 16 bytes are compared inside the slot, without
  // touching strings_ (one cache line per lookup).
  struct Slot {
    uint64_t hash = 0;
    uint32_t id = 0;
    uint32_t len = 0;
    char prefix[16] = {};
  };

  bool Equal(const Slot& slot, std::string_view s) const {
    if (slot.len != s.size()) return false;
    if (s.size() <= sizeof slot.prefix) return std::memcmp(slot.prefix, s.data(), s.size()) == 0;
    const std::string& t = strings_.Get(slot.id);
    return std::memcmp(t.data(), s.data(), s.size()) == 0;
  }

  void Grow() {
    std::vector<Slot> bigger(slots_.size() * 2);
    for (const Slot& slot : slots_) {
      if (slot.id == 0) continue;
      size_t i = slot.hash & (bigger.size() - 1);
      while (bigger[i].id != 0) i = (i + 1) & (bigger.size() - 1);
      bigger[i] = slot;
    }
    slots_.swap(bigger);
  }

  using Strings = AppendOnlyTable<std::string>;
  Strings strings_;  // stable: ids index it
  std::vector<Slot> slots_;
  size_t limit_ = SIZE_MAX;
  std::atomic<uint64_t> refused_{0};
};

}  // namespace vigil
