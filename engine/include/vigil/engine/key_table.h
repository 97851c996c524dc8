// KeyTable: the key tuples (values of a rule's key tags) seen so far.
//
// Thread-safety: the router thread interns keys (Intern); shard and sink
// threads read a KeyInfo by id once the id reached them through a ring.
// Ids start at 1 (0 is kNoKey). The owning shard is a hash of the key's last
// (finest) tag value, so it does not depend on arrival order, is stable across
// restarts, and keys such as [zone, device] and [device] of one device share a
// shard. Each
// key also gets a slot: a dense index among the keys of its key list on its
// shard, which rule shards use to index their state arrays directly.
// A limit (engine.max_key_tuples) bounds how many keys it creates: beyond it
// a new key is refused (kNoKey: the message is not tracked under that key)
// and counted.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "vigil/engine/append_only_table.h"
#include "vigil/engine/event.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

struct KeyInfo {
  uint32_t keylist = 0;
  uint32_t shard = 0;
  uint32_t slot = 0;   // dense index among the keys of this key list on this shard (rule state arrays)
  uint64_t hash = 0;
  std::vector<std::string> values;  // one per tag of the key list, same order
};

class KeyTable {
 public:
  explicit KeyTable(uint32_t shards) : shards_(shards == 0 ? 1 : shards) { keys_.Append(KeyInfo{}); }

  // Returns the id of key (keylist, tag ids), creating it when new (its tag
  // strings come from `tags`). Returns kNoKey when the table is full.
  KeyId Intern(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags);

  const KeyInfo& Get(KeyId id) const { return keys_.Get(id); }
  // Owning shard and slot of `id`, from a compact array (router thread only).
  uint32_t ShardOf(KeyId id) const { return static_cast<uint32_t>(route_[id] >> 32); }
  uint32_t SlotOf(KeyId id) const { return static_cast<uint32_t>(route_[id]); }
  size_t size() const { return keys_.size() - 1; }
  uint32_t shards() const { return shards_; }
  // At most `max` keys from now on (0: no limit but the table's own 2^26).
  // Keys created before stay, even beyond it.
  void set_limit(size_t max) { limit_ = max == 0 ? SIZE_MAX : max; }
  // New keys refused because of the limit (or a full table). Any thread.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

  static uint64_t HashValues(const std::vector<std::string>& values);

 private:
  uint32_t shards_;
  size_t limit_ = SIZE_MAX;
  std::atomic<uint64_t> refused_{0};
  AppendOnlyTable<KeyInfo> keys_;
  // Single-tag key lists: dense index by tag id. Multi-tag: an open-addressing
  // table of (hash of keylist and tag ids) -> key id, compared against tuples_.
  struct MultiSlot {
    uint64_t hash = 0;
    KeyId id = kNoKey;
    uint16_t n = 0;
    uint16_t keylist = 0;
    uint32_t tags[4] = {};  // the tag ids, when n <= 4 (else compared through tuples_)
  };
  static constexpr size_t kMaxTags = 8;
  KeyId FindOrInsertMulti(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags);
  void GrowMulti();
  KeyId Create(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags);
  std::vector<std::vector<KeyId>> single_;
  std::vector<MultiSlot> multi_ = std::vector<MultiSlot>(1024);
  size_t multi_count_ = 0;
  std::vector<std::array<uint32_t, kMaxTags + 1>> tuples_;  // [id]: keylist, tag ids (multi-tag keys only)
  std::vector<uint64_t> route_ = std::vector<uint64_t>(1);  // [id]: shard << 32 | slot
  std::vector<std::vector<uint32_t>> next_slot_;  // [keylist][shard]
};

}  // namespace vigil
