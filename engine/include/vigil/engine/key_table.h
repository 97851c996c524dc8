// KeyTable: the key tuples (values of a rule's key tags) seen so far.
//
// Thread-safety: the router thread interns keys (Intern); shard and sink
// threads read a KeyInfo by id once the id reached them through a ring.
// Ids start at 1 (0 is kNoKey). The owning shard is a hash of the tag values,
// so it does not depend on arrival order and is stable across restarts.
#pragma once

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
  size_t size() const { return keys_.size() - 1; }
  uint32_t shards() const { return shards_; }

  static uint64_t HashValues(const std::vector<std::string>& values);

 private:
  uint32_t shards_;
  AppendOnlyTable<KeyInfo> keys_;
  // Single-tag key lists: dense index by tag id. Multi-tag: hash map.
  std::vector<std::vector<KeyId>> single_;
  std::unordered_map<std::string, KeyId> multi_;
};

}  // namespace vigil
