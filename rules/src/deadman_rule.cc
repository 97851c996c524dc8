// DeadmanRule and its per-shard deadline heap.
#include "deadman_rule.h"

#include <algorithm>
#include <functional>
#include <queue>

#include "vigil/engine/state_header.h"

namespace vigil::rules {

DeadmanRule::DeadmanRule(RuleCommon common, int64_t timeout_ms, std::vector<std::vector<std::string>> expect)
    : common_(std::move(common)), timeout_ms_(timeout_ms), expect_(std::move(expect)) {}

namespace {

class DeadmanRuleShard final : public RuleShard {
 public:
  DeadmanRuleShard(const DeadmanRule& rule, const ShardContext& ctx)
      : rule_(rule), common_(rule.common()), shard_(ctx.shard), rule_index_(ctx.rule_index),
        states_(ctx.arena, rule.common().info.keylist) {
    key_budget_ = ctx.key_budget;
    // Intern the expected keys now (main thread, before the router starts).
    const auto& slots = common_.info.key_tags;
    for (const auto& values : rule.expect()) {
      if (values.size() != slots.size()) continue;
      std::vector<uint32_t> tag_ids;
      for (const auto& v : values) tag_ids.push_back(ctx.tags->Intern(v));
      KeyId key = ctx.keys->Intern(common_.info.keylist, tag_ids.data(), tag_ids.size(), *ctx.tags);
      if (key != kNoKey && ctx.keys->Get(key).shard == shard_) expected_.push_back({key, ctx.keys->Get(key).slot});
    }
  }

  void OnStart(int64_t start_ts, AlertOutput& out) noexcept override {
    for (const auto& [key, slot] : expected_) {
      KeyState& st = states_.Get(slot);
      if (st.key != kNoKey) continue;
      KeepKey();  // listed in `expect:`: configured, never refused
      Know(st, key);
      st.last_seen = start_ts;
      Arm(st, slot);
      MarkDirty(st, slot);
    }
  }

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    uint32_t slot = 0;
    const KeyId key = common_.OwnedKey(e, shard_, &slot);
    if (key == kNoKey) return;
    KeyState& st = states_.Get(slot);
    if (st.key == kNoKey && !AdmitKey()) return;  // max_keys reached: this key is not watched
    evaluations_.Add();
    if (st.key == kNoKey) {
      Know(st, key);
      st.last_seen = e.ts;
    } else {
      st.last_seen = std::max(st.last_seen, e.ts);
    }
    if (st.firing) {
      st.firing = false;
      Emit(st, key, e.ts, AlertState::kCleared, e.ingest_ns, out);
    }
    if (!st.armed) Arm(st, slot);
    MarkDirty(st, slot);
  }

  void OnWatermark(int64_t wm, AlertOutput& out) noexcept override {
    while (!heap_.empty() && heap_.top().deadline <= wm) {
      const Deadline d = heap_.top();
      heap_.pop();
      KeyState& st = states_.Get(d.slot);
      const int64_t due = st.last_seen + rule_.timeout_ms();
      if (due > d.deadline) {  // the key reported since: move its deadline
        heap_.push({due, d.slot});
        continue;
      }
      st.armed = false;
      st.firing = true;
      st.raise_ts = due;
      MarkDirty(st, d.slot);
      Emit(st, st.key, due, AlertState::kRaised, 0, out);
    }
    next_deadline_ = heap_.empty() ? kMaxTime : heap_.top().deadline;
  }

  size_t KeyCount() const noexcept override { return keys_; }

  // Checkpointed state of a key: the header (FIRING or OK, raise_ts), then
  // last_seen. Deadman keys are never forgotten (a silent key must raise).
  void SaveChanged(KeyStateWriter& w) noexcept override {
    std::string blob;
    for (uint32_t slot : dirty_) {
      KeyState& st = states_.Get(slot);
      st.dirty = false;
      blob.clear();
      PutStateHeader(&blob, {static_cast<uint8_t>(st.firing ? 2 : 0), st.raise_ts, 1});
      PutInt64(&blob, st.last_seen);
      w.Put(st.key, blob);
    }
    dirty_.clear();
  }

  bool RestoreKey(KeyId key, uint32_t slot, std::string_view blob, std::string_view parts) noexcept override {
    if (!parts.empty()) return false;
    Decoder in(blob);
    StateHeader h;
    int64_t last_seen = 0;
    if (!GetStateHeader(&in, &h) || h.phase == 1 || !in.GetInt64(&last_seen) || !in.AtEnd()) return false;
    KeyState& st = states_.Get(slot);
    if (st.key == kNoKey) {
      KeepKey();
      Know(st, key);
    }
    st.last_seen = last_seen;
    st.raise_ts = h.raise_ts;
    st.firing = h.firing();
    st.armed = false;
    st.dirty = false;
    restored_.push_back(slot);
    return true;
  }

  size_t FinishRestore() noexcept override {
    size_t firing = 0;
    for (uint32_t slot : restored_) {
      KeyState& st = states_.Get(slot);
      if (st.firing) {
        ++firing;
      } else if (!st.armed) {
        Arm(st, slot);
      }
    }
    restored_.clear();
    restored_.shrink_to_fit();
    return firing;
  }
  size_t MemoryBytes() const noexcept override { return heap_.size() * sizeof(Deadline); }

 private:
  // One key: a 24-byte record in the shard's KeyStateArena (all zero = unknown key).
  struct KeyState {
    int64_t last_seen;
    int64_t raise_ts;
    KeyId key;
    bool armed;   // has an entry in the heap
    bool firing;
    bool dirty;   // listed in dirty_
  };

  void MarkDirty(KeyState& st, uint32_t slot) {
    if (st.dirty) return;
    st.dirty = true;
    dirty_.push_back(slot);
  }

  void Know(KeyState& st, KeyId key) {
    st.key = key;
    ++keys_;
  }
  struct Deadline {
    int64_t deadline;
    uint32_t slot;
    bool operator>(const Deadline& o) const { return deadline != o.deadline ? deadline > o.deadline : slot > o.slot; }
  };

  void Arm(KeyState& st, uint32_t slot) {
    st.armed = true;
    const int64_t due = st.last_seen + rule_.timeout_ms();
    heap_.push({due, slot});
    next_deadline_ = std::min(next_deadline_, due);
  }

  void Emit(const KeyState& st, KeyId key, int64_t ts, AlertState state, int64_t ingest_ns, AlertOutput& out) {
    EmitAlert(out, rule_index_, key, state, ts, st.raise_ts, NullValue(), /*count=*/1, ingest_ns);
  }

  const DeadmanRule& rule_;
  const RuleCommon& common_;
  uint32_t shard_;
  uint32_t rule_index_;
  ArenaRecords<KeyState> states_;
  size_t keys_ = 0;
  std::vector<std::pair<KeyId, uint32_t>> expected_;  // key, slot
  std::vector<uint32_t> dirty_;      // slots changed since the last checkpoint
  std::vector<uint32_t> restored_;   // slots restored (until FinishRestore)
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> heap_;
};

}  // namespace

std::unique_ptr<RuleShard> DeadmanRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<DeadmanRuleShard>(*this, ctx);
}

}  // namespace vigil::rules
