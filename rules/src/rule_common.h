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

  // The key of `e` when this shard owns it and the message passes `match`;
  // kNoKey otherwise. *slot receives the key's slot on this shard.
  KeyId OwnedKey(const Event& e, uint32_t shard, uint32_t* slot) const noexcept {
    const KeyId key = e.keys[info.keylist];
    if (key == kNoKey || e.key_shards[info.keylist] != shard) return kNoKey;
    for (const MatchTag& m : match) {
      if (e.tags[m.slot] != m.id) return kNoKey;
    }
    *slot = e.key_slots[info.keylist];
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

// A rule shard's per-key states, indexed directly by the key's slot (dense
// per key list and shard, see KeyInfo::slot). A state exists once its key
// was seen (`key != kNoKey`).
template <typename State>
class SlotTable {
 public:
  // The state of `slot`, created for `key` if new; *created tells which.
  State& Get(uint32_t slot, KeyId key, bool* created = nullptr) {
    if (slot >= states_.size()) states_.resize(slot + 1 + slot / 2);
    State& st = states_[slot];
    const bool fresh = st.key == kNoKey;
    if (fresh) {
      st.key = key;
      ++count_;
    }
    if (created != nullptr) *created = fresh;
    return st;
  }
  State* Find(uint32_t slot) {
    return slot < states_.size() && states_[slot].key != kNoKey ? &states_[slot] : nullptr;
  }
  State& at(uint32_t slot) { return states_[slot]; }
  // Forgets the state of `slot` (freeing what it holds).
  void Reset(uint32_t slot) {
    if (slot >= states_.size() || states_[slot].key == kNoKey) return;
    states_[slot] = State{};
    --count_;
  }
  size_t slot_end() const { return states_.size(); }
  size_t count() const { return count_; }
  size_t MemoryBytes() const { return states_.capacity() * sizeof(State); }
  const std::vector<State>& states() const { return states_; }

 private:
  std::vector<State> states_;
  size_t count_ = 0;
};

enum class Phase : uint8_t { kOk, kPending, kFiring };

// Builds and emits one alert transition (shared by every rule kind).
inline void EmitAlert(AlertOutput& out, uint32_t rule_index, KeyId key, AlertState state, int64_t ts, int64_t raise_ts,
                      double value, uint32_t count, int64_t ingest_ns) noexcept {
  AlertRecord a;
  a.rule = rule_index;
  a.key = key;
  a.state = state;
  a.ts = ts;
  a.raise_ts = raise_ts;
  a.value = value;
  a.count = count;
  a.ingest_ns = ingest_ns;
  out.Emit(a);
}

}  // namespace vigil::rules
