// DeadmanRule and its per-shard deadline heap.
#include "deadman_rule.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace vigil::rules {

DeadmanRule::DeadmanRule(RuleCommon common, int64_t timeout_ms, std::vector<std::vector<std::string>> expect)
    : common_(std::move(common)), timeout_ms_(timeout_ms), expect_(std::move(expect)) {}

namespace {

class DeadmanRuleShard final : public RuleShard {
 public:
  DeadmanRuleShard(const DeadmanRule& rule, const ShardContext& ctx)
      : rule_(rule), common_(rule.common()), shard_(ctx.shard), rule_index_(ctx.rule_index) {
    // Intern the expected keys now (main thread, before the router starts).
    const auto& slots = common_.info.key_tags;
    for (const auto& values : rule.expect()) {
      if (values.size() != slots.size()) continue;
      std::vector<uint32_t> tag_ids;
      for (const auto& v : values) tag_ids.push_back(ctx.tags->Intern(v));
      KeyId key = ctx.keys->Intern(common_.info.keylist, tag_ids.data(), tag_ids.size(), *ctx.tags);
      if (key != kNoKey && ctx.keys->Get(key).shard == shard_) expected_.push_back(key);
    }
  }

  void OnStart(int64_t start_ts, AlertOutput& out) noexcept override {
    for (KeyId key : expected_) {
      if (index_.Find(key) != KeyIndex::kAbsent) continue;
      KeyState& st = State(key);
      st.last_seen = start_ts;
      Arm(st, key);
    }
  }

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    const KeyId key = common_.OwnedKey(e, shard_);
    if (key == kNoKey) return;
    const bool known = index_.Find(key) != KeyIndex::kAbsent;
    KeyState& st = State(key);
    st.last_seen = known ? std::max(st.last_seen, e.ts) : e.ts;
    if (st.firing) {
      st.firing = false;
      Emit(st, key, e.ts, AlertState::kCleared, e.ingest_ns, out);
    }
    if (!st.armed) Arm(st, key);
  }

  void OnWatermark(int64_t wm, AlertOutput& out) noexcept override {
    while (!heap_.empty() && heap_.top().deadline <= wm) {
      const Deadline d = heap_.top();
      heap_.pop();
      KeyState& st = states_[index_.Find(d.key)];
      const int64_t due = st.last_seen + rule_.timeout_ms();
      if (due > d.deadline) {  // the key reported since: move its deadline
        heap_.push({due, d.key});
        continue;
      }
      st.armed = false;
      st.firing = true;
      st.raise_ts = due;
      Emit(st, d.key, due, AlertState::kRaised, 0, out);
    }
    next_deadline_ = heap_.empty() ? kMaxTime : heap_.top().deadline;
  }

  size_t KeyCount() const noexcept override { return states_.size(); }
  size_t MemoryBytes() const noexcept override {
    return index_.MemoryBytes() + states_.capacity() * sizeof(KeyState) + heap_.size() * sizeof(Deadline);
  }

 private:
  struct KeyState {
    int64_t last_seen = 0;
    int64_t raise_ts = 0;
    bool armed = false;   // has an entry in the heap
    bool firing = false;
  };
  struct Deadline {
    int64_t deadline;
    KeyId key;
    bool operator>(const Deadline& o) const { return deadline != o.deadline ? deadline > o.deadline : key > o.key; }
  };

  KeyState& State(KeyId key) {
    uint32_t pos = index_.Find(key);
    if (pos != KeyIndex::kAbsent) return states_[pos];
    pos = static_cast<uint32_t>(states_.size());
    index_.Set(key, pos);
    return states_.emplace_back();
  }

  void Arm(KeyState& st, KeyId key) {
    st.armed = true;
    const int64_t due = st.last_seen + rule_.timeout_ms();
    heap_.push({due, key});
    next_deadline_ = std::min(next_deadline_, due);
  }

  void Emit(const KeyState& st, KeyId key, int64_t ts, AlertState state, int64_t ingest_ns, AlertOutput& out) {
    AlertRecord a;
    a.rule = rule_index_;
    a.key = key;
    a.state = state;
    a.ts = ts;
    a.raise_ts = st.raise_ts;
    a.value = NullValue();
    a.count = 1;
    a.ingest_ns = ingest_ns;
    out.Emit(a);
  }

  const DeadmanRule& rule_;
  const RuleCommon& common_;
  uint32_t shard_;
  uint32_t rule_index_;
  KeyIndex index_;
  std::vector<KeyState> states_;
  std::vector<KeyId> expected_;
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<Deadline>> heap_;
};

}  // namespace

std::unique_ptr<RuleShard> DeadmanRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<DeadmanRuleShard>(*this, ctx);
}

}  // namespace vigil::rules
