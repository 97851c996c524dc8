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

namespace {
uint64_t HashTuple(uint32_t keylist, const uint32_t* ids, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ keylist;
  for (size_t i = 0; i < n; ++i) {
    h = (h ^ ids[i]) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
  }
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}
}  // namespace

KeyId KeyTable::Intern(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags) {
  if (n != 1) return FindOrInsertMulti(keylist, tag_ids, n, tags);
  if (single_.size() <= keylist) single_.resize(keylist + 1);
  auto& index = single_[keylist];
  if (index.size() <= tag_ids[0]) index.resize(tag_ids[0] + 1 + index.size() / 2, kNoKey);
  KeyId& slot = index[tag_ids[0]];
  if (slot == kNoKey) slot = Create(keylist, tag_ids, n, tags);
  return slot;
}

KeyId KeyTable::FindOrInsertMulti(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags) {
  if (n > kMaxTags) return kNoKey;
  const uint64_t h = HashTuple(keylist, tag_ids, n);
  size_t i = h & (multi_.size() - 1);
  while (multi_[i].id != kNoKey) {
    const MultiSlot& m = multi_[i];
    if (m.hash == h && m.n == n && m.keylist == keylist) {
      bool same;
      if (n <= 4) {
        same = std::memcmp(m.tags, tag_ids, n * sizeof(uint32_t)) == 0;
      } else {
        const auto& t = tuples_[m.id];
        same = t[0] == keylist;
        for (size_t k = 0; same && k < n; ++k) same = t[k + 1] == tag_ids[k];
      }
      if (same) return m.id;
    }
    i = (i + 1) & (multi_.size() - 1);
  }
  const KeyId id = Create(keylist, tag_ids, n, tags);
  if (id == kNoKey) return kNoKey;
  if (tuples_.size() <= id) tuples_.resize(id + 1 + tuples_.size() / 2);
  tuples_[id][0] = keylist;
  for (size_t k = 0; k < n; ++k) tuples_[id][k + 1] = tag_ids[k];
  MultiSlot& m = multi_[i];
  m.hash = h;
  m.id = id;
  m.n = static_cast<uint16_t>(n);
  m.keylist = static_cast<uint16_t>(keylist);
  if (n <= 4) std::memcpy(m.tags, tag_ids, n * sizeof(uint32_t));
  if (2 * ++multi_count_ > multi_.size()) GrowMulti();
  return id;
}

void KeyTable::GrowMulti() {
  std::vector<MultiSlot> bigger(multi_.size() * 2);
  for (const MultiSlot& s : multi_) {
    if (s.id == kNoKey) continue;
    size_t i = s.hash & (bigger.size() - 1);
    while (bigger[i].id != kNoKey) i = (i + 1) & (bigger.size() - 1);
    bigger[i] = s;
  }
  multi_.swap(bigger);
}

KeyId KeyTable::Create(uint32_t keylist, const uint32_t* tag_ids, size_t n, const TagInterner& tags) {
  if (size() >= limit_) {  // engine.max_key_tuples
    refused_.fetch_add(1, std::memory_order_relaxed);
    return kNoKey;
  }
  KeyInfo info;
  info.keylist = keylist;
  info.values.reserve(n);
  for (size_t i = 0; i < n; ++i) info.values.emplace_back(tags.Get(tag_ids[i]));
  info.hash = HashValues(info.values);
  // The shard follows the key's last (finest) tag only, so that [zone, device]
  // and [device] keys of one device live on the same shard and a message is
  // handed to fewer shards.
  info.shard = n == 0 ? 0 : static_cast<uint32_t>(HashValues({info.values.back()}) % shards_);
  if (next_slot_.size() <= keylist) next_slot_.resize(keylist + 1);
  if (next_slot_[keylist].empty()) next_slot_[keylist].assign(shards_, 0);
  info.slot = next_slot_[keylist][info.shard];
  const uint32_t shard = info.shard;
  size_t id = keys_.Append(std::move(info));
  if (id >= keys_.kCapacity) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return kNoKey;
  }
  if (route_.size() <= id) route_.resize(id + 1 + route_.size() / 2);
  route_[id] = (uint64_t{shard} << 32) | next_slot_[keylist][shard];
  ++next_slot_[keylist][shard];
  return static_cast<KeyId>(id);
}

}  // namespace vigil
