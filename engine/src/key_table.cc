// KeyTable: interning of key tuples; router thread only for Intern.
#include "vigil/engine/key_table.h"

#include <cstring>

namespace vigil {

uint64_t KeyTable::HashValues(const std::vector<std::string>& values) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a 64
  for (const auto& v : values) {
    for (unsigned char c : v) { h ^= c; h *= 1099511628211ULL; }
    h ^= 0x1f; h *= 1099511628211ULL;
  }
  return h;
}

KeyId KeyTable::Intern(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags) {
  KeyId* slot = nullptr;
  std::string packed;
  if (n == 1) {
    if (single_.size() <= keylist) single_.resize(keylist + 1);
    auto& index = single_[keylist];
    if (index.size() <= tag_ids[0]) index.resize(tag_ids[0] + 1 + index.size() / 2, kNoKey);
    slot = &index[tag_ids[0]];
    if (*slot != kNoKey) return *slot;
  } else {
    packed.resize(4 + 4 * n);
    std::memcpy(packed.data(), &keylist, 4);
    std::memcpy(packed.data() + 4, tag_ids, 4 * n);
    auto it = multi_.find(packed);
    if (it != multi_.end()) return it->second;
  }
  KeyInfo info;
  info.keylist = keylist;
  info.values.reserve(n);
  for (size_t i = 0; i < n; ++i) info.values.emplace_back(tags.Get(tag_ids[i]));
  info.hash = HashValues(info.values);
  info.shard = static_cast<uint32_t>(info.hash % shards_);
  size_t id = keys_.Append(std::move(info));
  if (id >= keys_.kCapacity) return kNoKey;
  if (slot != nullptr) {
    *slot = static_cast<KeyId>(id);
  } else {
    multi_.emplace(std::move(packed), static_cast<KeyId>(id));
  }
  return static_cast<KeyId>(id);
}

}  // namespace vigil
