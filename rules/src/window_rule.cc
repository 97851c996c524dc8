// WindowRule and its per-shard windows.
#include "window_rule.h"

#include <algorithm>
#include <map>

#include "aggregate/window_accumulator.h"
#include "vigil/engine/state_header.h"

namespace vigil::rules {

WindowRule::WindowRule(RuleCommon common, CompiledExpr when, std::unique_ptr<CompiledExpr> clear_when,
                       int64_t size_ms, int64_t every_ms, const std::vector<AggregateRef>& aggregates)
    : common_(std::move(common)),
      when_(std::move(when)),
      clear_(std::move(clear_when)),
      size_ms_(size_ms),
      every_ms_(every_ms > 0 ? every_ms : size_ms) {
  for (const AggregateRef& ref : aggregates) {
    uint32_t i = 0;
    while (i < accs_.size() && accs_[i].field != ref.field) ++i;
    if (i == accs_.size()) accs_.push_back({ref.field, 0});
    accs_[i].kinds |= AggBit(ref.kind);
    slots_.push_back({i, ref.kind});
  }
}

namespace {

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

class WindowRuleShard final : public RuleShard {
 public:
  WindowRuleShard(const WindowRule& rule, const ShardContext& ctx)
      : rule_(rule), common_(rule.common()), shard_(ctx.shard), rule_index_(ctx.rule_index),
        aggs_(rule.slots().size()) {
    key_budget_ = ctx.key_budget;
  }

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    uint32_t slot = 0;
    const KeyId key = common_.OwnedKey(e, shard_, &slot);
    if (key == kNoKey || !common_.CarriesNamedField(e)) return;
    if (states_.Find(slot) == nullptr && !AdmitKey()) return;  // max_keys reached
    KeyState& st = states_.Get(slot, key);
    st.last_ts = std::max(st.last_ts, e.ts);
    MarkDirty(st, slot);
    const int64_t size = rule_.size_ms(), every = rule_.every_ms();
    bool late = false;
    for (int64_t start = FloorDiv(e.ts, every) * every; start > e.ts - size; start -= every) {
      const int64_t end = start + size;
      if (end <= e.watermark) {
        late = true;
        continue;
      }
      AddTo(st, slot, start, e);
    }
    if (late) CountLate(e.source);
  }

  void OnWatermark(int64_t wm, AlertOutput& out) noexcept override {
    while (!closing_.empty() && closing_.begin()->first <= wm) {
      auto node = closing_.extract(closing_.begin());
      for (uint32_t slot : node.mapped()) Close(slot, node.key(), out);
    }
    next_deadline_ = closing_.empty() ? kMaxTime : closing_.begin()->first;
  }

  void OnEndOfInput(AlertOutput& out) noexcept override { OnWatermark(kMaxTime, out); }

  // Keys in OK state with no open window, silent since before `cutoff`.
  size_t EvictIdle(int64_t cutoff) noexcept override {
    size_t evicted = 0;
    for (uint32_t slot = 0; slot < states_.slot_end(); ++slot) {
      KeyState* st = states_.Find(slot);
      if (st == nullptr || st->phase != Phase::kOk || !st->windows.empty() || st->last_ts >= cutoff) continue;
      states_.Reset(slot);
      ForgetKey();
      ++evicted;
    }
    return evicted;
  }

  size_t KeyCount() const noexcept override { return states_.count(); }

  // Checkpointed state of a key: the header, last_ts, then each open window
  // (start, one accumulator per field). A key in OK state with no open
  // window keeps nothing.
  void SaveChanged(KeyStateWriter& w) noexcept override {
    std::string blob, part;
    for (const auto& [slot, key] : dirty_) {
      KeyState* st = states_.Find(slot);
      blob.clear();
      if (st != nullptr) {
        st->dirty = false;
        if (st->phase != Phase::kOk || !st->windows.empty()) {
          PutStateHeader(&blob, {static_cast<uint8_t>(st->phase), st->raise_ts, st->count});
          PutInt64(&blob, st->last_ts);
          PutFixed32(&blob, static_cast<uint32_t>(st->windows.size()));
          for (const Window& win : st->windows) {
            PutInt64(&blob, win.start);
            PutFixed32(&blob, static_cast<uint32_t>(win.accs.size()));
            for (const WindowAccumulator& acc : win.accs) {
              part.clear();
              acc.Serialize(&part);
              PutBytes(&blob, part);
            }
          }
        }
      }
      w.Put(key, blob);
    }
    dirty_.clear();
  }

  bool RestoreKey(KeyId key, uint32_t slot, std::string_view blob, std::string_view parts) noexcept override {
    if (!parts.empty()) return false;
    Decoder in(blob);
    StateHeader h;
    int64_t last_ts = 0;
    uint32_t nwin = 0;
    if (!GetStateHeader(&in, &h) || h.phase == 1 || !in.GetInt64(&last_ts) || !in.GetFixed32(&nwin)) return false;
    std::vector<Window> windows;
    const auto& specs = rule_.accumulators();
    for (uint32_t i = 0; i < nwin; ++i) {
      Window win;
      uint32_t nacc = 0;
      if (!in.GetInt64(&win.start) || !in.GetFixed32(&nacc) || nacc != specs.size()) return false;
      if (!windows.empty() && win.start <= windows.back().start) return false;
      for (uint32_t a = 0; a < nacc; ++a) {
        std::string_view part;
        win.accs.emplace_back(specs[a].kinds);
        if (!in.GetBytes(&part) || !win.accs.back().Deserialize(part)) return false;
      }
      windows.push_back(std::move(win));
    }
    if (!in.AtEnd()) return false;
    if (states_.Find(slot) == nullptr) KeepKey();
    KeyState& st = states_.Get(slot, key);
    st.phase = static_cast<Phase>(h.phase);
    st.count = h.count;
    st.raise_ts = h.raise_ts;
    st.last_ts = last_ts;
    st.windows = std::move(windows);
    for (const Window& win : st.windows) closing_[win.start + rule_.size_ms()].push_back(slot);
    if (st.phase == Phase::kFiring) ++firing_restored_;
    return true;
  }

  size_t FinishRestore() noexcept override {
    next_deadline_ = closing_.empty() ? kMaxTime : closing_.begin()->first;
    return firing_restored_;
  }
  size_t MemoryBytes() const noexcept override {
    size_t bytes = states_.MemoryBytes();
    for (const auto& st : states_.states()) {
      bytes += st.windows.capacity() * sizeof(Window);
      for (const auto& w : st.windows) {
        for (const auto& a : w.accs) bytes += a.MemoryBytes();
      }
    }
    for (const auto& [end, slots] : closing_) bytes += 48 + slots.capacity() * sizeof(uint32_t);
    return bytes;
  }

 private:
  struct Window {
    int64_t start = 0;
    std::vector<WindowAccumulator> accs;
  };
  struct KeyState {
    KeyId key = kNoKey;
    Phase phase = Phase::kOk;
    uint32_t count = 0;
    int64_t raise_ts = 0;
    int64_t last_ts = kMinTime;
    bool dirty = false;           // listed in dirty_
    std::vector<Window> windows;  // open windows, by start
  };

  void MarkDirty(KeyState& st, uint32_t slot) {
    if (st.dirty) return;
    st.dirty = true;
    dirty_.push_back({slot, st.key});
  }

  void AddTo(KeyState& st, uint32_t slot, int64_t start, const Event& e) {
    auto it = st.windows.begin();
    while (it != st.windows.end() && it->start < start) ++it;
    if (it == st.windows.end() || it->start != start) {
      Window w;
      w.start = start;
      w.accs.reserve(rule_.accumulators().size());
      for (const auto& fa : rule_.accumulators()) w.accs.emplace_back(fa.kinds);
      it = st.windows.insert(it, std::move(w));
      const int64_t end = start + rule_.size_ms();
      closing_[end].push_back(slot);
      if (end < next_deadline_) next_deadline_ = end;
    }
    const auto& accs = rule_.accumulators();
    for (size_t i = 0; i < accs.size(); ++i) {
      const double v = e.fields[accs[i].field];
      if (!IsNull(v)) it->accs[i].Add(e.ts, v);
    }
  }

  void Close(uint32_t slot, int64_t end, AlertOutput& out) {
    KeyState& st = states_.at(slot);
    const KeyId key = st.key;
    const int64_t start = end - rule_.size_ms();
    auto it = st.windows.begin();
    while (it != st.windows.end() && it->start != start) ++it;
    if (it == st.windows.end()) return;
    MarkDirty(st, slot);
    const auto& slots = rule_.slots();
    for (size_t i = 0; i < slots.size(); ++i) aggs_[i] = it->accs[slots[i].acc].Value(slots[i].kind);
    st.windows.erase(it);
    const EvalInput in{nullptr, nullptr, aggs_.data()};
    const double when = rule_.when().program.Eval(in);
    evaluations_.Add();
    if (st.phase == Phase::kOk) {
      if (when != 1.0) return;
      st.phase = Phase::kFiring;
      st.count = 1;
      st.raise_ts = end;
      Emit(st, key, end, in, AlertState::kRaised, out);
      return;
    }
    if (when == 1.0) ++st.count;
    const bool clear = rule_.clear_when() != nullptr ? rule_.clear_when()->program.Eval(in) == 1.0 : when == 0.0;
    if (clear) {
      Emit(st, key, end, in, AlertState::kCleared, out);
      st.phase = Phase::kOk;
    }
  }

  void Emit(const KeyState& st, KeyId key, int64_t ts, const EvalInput& in, AlertState state, AlertOutput& out) {
    const double value = rule_.when().lhs.empty() ? NullValue() : rule_.when().lhs.Eval(in);
    EmitAlert(out, rule_index_, key, state, ts, st.raise_ts, value, st.count, /*ingest_ns=*/0);
  }

  const WindowRule& rule_;
  const RuleCommon& common_;
  uint32_t shard_;
  uint32_t rule_index_;
  SlotTable<KeyState> states_;
  std::map<int64_t, std::vector<uint32_t>> closing_;  // window end -> slots of keys with that window open
  std::vector<double> aggs_;
  std::vector<std::pair<uint32_t, KeyId>> dirty_;  // (slot, key) changed since the last checkpoint
  size_t firing_restored_ = 0;
};

}  // namespace

std::unique_ptr<RuleShard> WindowRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<WindowRuleShard>(*this, ctx);
}

}  // namespace vigil::rules
