// Pieces every built-in rule kind shares: the loaded common definition
// (name, key, match, severity...), the per-shard key -> state index, and the
// "does this rule see this message" test of DESIGN.md.
//
// Thread-safety: RuleCommon is immutable after load; KeyIndex belongs to one
// rule shard and its thread.
#pragma once

#include <cstdint>
#include <vector>

#include "vigil/engine/event.h"
#include "vigil/engine/rule.h"

namespace vigil::rules {

struct MatchTag {
  uint32_t slot = 0;  // schema tag slot
  uint32_t id = 0;    // interned value
};

struct RuleCommon {
  RuleInfo info;
  std::vector<MatchTag> match;
  std::vector<uint32_t> fields_named;  // schema field slots the expressions name

  // The key of `e` when this shard owns it and the message passes `match`; kNoKey otherwise.
  KeyId OwnedKey(const Event& e, uint32_t shard) const noexcept {
    const KeyId key = e.keys[info.keylist];
    if (key == kNoKey || e.key_shards[info.keylist] != shard) return kNoKey;
    for (const MatchTag& m : match) {
      if (e.tags[m.slot] != m.id) return kNoKey;
    }
    return key;
  }
  // True when `e` carries at least one numeric field the rule names.
  bool CarriesNamedField(const Event& e) const noexcept {
    for (uint32_t f : fields_named) {
      if (!IsNull(e.fields[f])) return true;
    }
    return false;
  }
};

// Dense map KeyId -> index into a rule shard's state vector.
class KeyIndex {
 public:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  uint32_t Find(KeyId key) const noexcept { return key < index_.size() ? index_[key] : kAbsent; }
  void Set(KeyId key, uint32_t pos) {
    if (key >= index_.size()) index_.resize(key + 1 + index_.size() / 2, kAbsent);
    index_[key] = pos;
  }
  size_t MemoryBytes() const { return index_.capacity() * sizeof(uint32_t); }

 private:
  std::vector<uint32_t> index_;
};

enum class Phase : uint8_t { kOk, kPending, kFiring };

}  // namespace vigil::rules
