// EventRule and its per-shard state machine.
#include "event_rule.h"

#include <algorithm>

#include "aggregate/ewma.h"
#include "aggregate/sliding_series.h"
#include "vigil/engine/state_header.h"

namespace vigil::rules {

EventRule::EventRule(RuleCommon common, CompiledExpr when, std::unique_ptr<CompiledExpr> clear_when, int64_t for_ms,
                     const std::vector<AggregateRef>& aggregates)
    : common_(std::move(common)), when_(std::move(when)), clear_(std::move(clear_when)), for_ms_(for_ms) {
  for (const AggregateRef& ref : aggregates) {
    AggSource src;
    src.kind = ref.kind;
    if (ref.is_ewma) {
      src.is_ewma = true;
      uint32_t i = 0;
      while (i < ewmas_.size() && !(ewmas_[i].field == ref.field && ewmas_[i].tau_ms == ref.tau_ms)) ++i;
      if (i == ewmas_.size()) ewmas_.push_back({ref.field, ref.tau_ms});
      src.index = i;
    } else {
      uint32_t i = 0;
      while (i < series_.size() && !(series_[i].field == ref.field && series_[i].window_ms == ref.window_ms)) ++i;
      if (i == series_.size()) series_.push_back({ref.field, ref.window_ms, 0});
      series_[i].kinds |= AggBit(ref.kind);
      src.index = i;
    }
    agg_sources_.push_back(src);
  }
}

namespace {

class EventRuleShard final : public RuleShard {
 public:
  EventRuleShard(const EventRule& rule, const ShardContext& ctx)
      : rule_(rule), common_(rule.common()), shard_(ctx.shard), rule_index_(ctx.rule_index),
        has_aggregates_(!rule.agg_sources().empty()), states_(ctx.arena, rule.common().info.keylist),
        aggs_(rule.agg_sources().size()) {}

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    uint32_t slot = 0;
    const KeyId key = common_.OwnedKey(e, shard_, &slot);
    if (key == kNoKey || !common_.CarriesNamedField(e)) return;
    KeyState& st = states_.Get(slot);
    if (!st.known) {
      st.known = 1;
      ++keys_;
      if (slot >= slot_end_) slot_end_ = slot + 1;
    }
    st.last_ts = std::max(st.last_ts, e.ts);
    if (has_aggregates_) {
      UpdateAggregates(slot, key, e);
      MarkDirty(st, slot, key);  // the sliding buffers changed
    }
    const EvalInput in{e.fields, e.tags, aggs_.data()};
    const double when = rule_.when().program.Eval(in);
    evaluations_.Add();
    switch (st.phase) {
      case Phase::kOk:
        if (when != 1.0) return;
        MarkDirty(st, slot, key);
        if (rule_.for_ms() <= 0) {
          Raise(st, key, e, in, out);
        } else {
          st.phase = Phase::kPending;
          st.t0 = e.ts;
        }
        return;
      case Phase::kPending:
        if (when == 0.0) {
          st.phase = Phase::kOk;
          MarkDirty(st, slot, key);
        } else if (when == 1.0 && e.ts - st.t0 >= rule_.for_ms()) {
          MarkDirty(st, slot, key);
          Raise(st, key, e, in, out);
        }
        return;
      case Phase::kFiring: {
        if (when == 1.0) {
          ++st.count;
          MarkDirty(st, slot, key);
        }
        const bool clear = rule_.clear_when() != nullptr ? rule_.clear_when()->program.Eval(in) == 1.0 : when == 0.0;
        if (clear) {
          Emit(st, key, e, in, AlertState::kCleared, out);
          st.phase = Phase::kOk;
          MarkDirty(st, slot, key);
        }
        return;
      }
    }
  }

  size_t KeyCount() const noexcept override { return keys_; }
  size_t MemoryBytes() const noexcept override {
    size_t bytes = aggs_by_slot_.capacity() * sizeof(std::unique_ptr<AggState>);
    for (const auto& a : aggs_by_slot_) {
      if (!a) continue;
      bytes += sizeof(AggState);
      for (const auto& s : a->series) bytes += s.MemoryBytes();
      bytes += a->ewmas.capacity() * sizeof(Ewma);
    }
    return bytes;
  }

 private:
  // Sliding buffers and ewmas of one key (only for rules that use them).
  struct AggState {
    KeyId key = kNoKey;
    std::vector<SlidingSeries> series;
    std::vector<Ewma> ewmas;
  };
  // The state machine of one key: a 24-byte record in the shard's
  // KeyStateArena (all zero = a key never seen, state OK).
  struct KeyState {
    int64_t t0;
    int64_t raise_ts;
    int64_t last_ts;   // latest message ts (key_ttl eviction)
    uint32_t count;
    Phase phase;
    uint8_t known;
    uint8_t dirty;     // listed in dirty_ (changed since the last checkpoint)
  };

 public:
  // Keys in OK state silent since before `cutoff` lose their record and
  // aggregates; PENDING and FIRING keys are kept (their `for` and their
  // clear must not be lost).
  size_t EvictIdle(int64_t cutoff) noexcept override {
    size_t evicted = 0;
    for (uint32_t slot = 0; slot < slot_end_; ++slot) {
      KeyState& st = states_.Get(slot);
      if (!st.known || st.phase != Phase::kOk || st.last_ts >= cutoff) continue;
      st = KeyState{};
      if (slot < aggs_by_slot_.size() && aggs_by_slot_[slot]) {
        dirty_.push_back({slot, aggs_by_slot_[slot]->key});  // erase its checkpointed buffers
        aggs_by_slot_[slot].reset();
      }
      --keys_;
      ++evicted;
    }
    return evicted;
  }

  // Checkpointed state of a key: the header (phase, raise_ts, count), then
  // t0, last_ts and, for rules with aggregates, every sliding series and
  // ewma in the rule's order. A key in OK state without aggregates keeps
  // nothing (a fresh state is the same).
  void SaveChanged(KeyStateWriter& w) noexcept override {
    std::string blob;
    for (const auto& [slot, key] : dirty_) {
      KeyState& st = states_.Get(slot);
      st.dirty = 0;
      blob.clear();
      const AggState* aggs = slot < aggs_by_slot_.size() ? aggs_by_slot_[slot].get() : nullptr;
      if (st.known && (st.phase != Phase::kOk || aggs != nullptr)) {
        PutStateHeader(&blob, {static_cast<uint8_t>(st.phase), st.raise_ts, st.count});
        PutInt64(&blob, st.t0);
        PutInt64(&blob, st.last_ts);
        PutFixed32(&blob, aggs != nullptr ? static_cast<uint32_t>(aggs->series.size()) : 0);
        std::string part;
        for (size_t i = 0; aggs != nullptr && i < aggs->series.size(); ++i) {
          part.clear();
          aggs->series[i].Serialize(&part);
          PutBytes(&blob, part);
        }
        PutFixed32(&blob, aggs != nullptr ? static_cast<uint32_t>(aggs->ewmas.size()) : 0);
        for (size_t i = 0; aggs != nullptr && i < aggs->ewmas.size(); ++i) {
          part.clear();
          aggs->ewmas[i].Serialize(&part);
          PutBytes(&blob, part);
        }
      }
      w.Put(key, blob);
    }
    dirty_.clear();
  }

  bool RestoreKey(KeyId key, uint32_t slot, std::string_view blob) noexcept override {
    Decoder in(blob);
    StateHeader h;
    int64_t t0 = 0, last_ts = 0;
    uint32_t nseries = 0, newmas = 0;
    if (!GetStateHeader(&in, &h) || !in.GetInt64(&t0) || !in.GetInt64(&last_ts) || !in.GetFixed32(&nseries)) {
      return false;
    }
    const bool with_aggs = nseries != 0 || has_aggregates_;
    if (with_aggs && nseries != rule_.series().size()) return false;
    std::unique_ptr<AggState> aggs;
    if (with_aggs) aggs = NewAggregates(key);
    std::string_view part;
    for (uint32_t i = 0; i < nseries; ++i) {
      if (!in.GetBytes(&part) || !aggs->series[i].Deserialize(part)) return false;
    }
    if (!in.GetFixed32(&newmas) || (with_aggs && newmas != rule_.ewmas().size()) || (!with_aggs && newmas != 0)) {
      return false;
    }
    for (uint32_t i = 0; i < newmas; ++i) {
      if (!in.GetBytes(&part) || !aggs->ewmas[i].Deserialize(part)) return false;
    }
    if (!in.AtEnd()) return false;
    KeyState& st = states_.Get(slot);
    if (!st.known) ++keys_;
    st = KeyState{t0, h.raise_ts, last_ts, h.count, static_cast<Phase>(h.phase), 1, 0};
    if (slot >= slot_end_) slot_end_ = slot + 1;
    if (aggs) {
      if (slot >= aggs_by_slot_.size()) aggs_by_slot_.resize(slot + 1 + slot / 2);
      aggs_by_slot_[slot] = std::move(aggs);
    }
    if (st.phase == Phase::kFiring) ++firing_restored_;
    return true;
  }

  size_t FinishRestore() noexcept override { return firing_restored_; }

 private:
  void MarkDirty(KeyState& st, uint32_t slot, KeyId key) {
    if (st.dirty) return;
    st.dirty = 1;
    dirty_.push_back({slot, key});
  }

  std::unique_ptr<AggState> NewAggregates(KeyId key) const {
    auto a = std::make_unique<AggState>();
    a->key = key;
    a->series.reserve(rule_.series().size());
    for (const SeriesSpec& s : rule_.series()) a->series.emplace_back(s.window_ms, s.kinds);
    a->ewmas.reserve(rule_.ewmas().size());
    for (const EwmaSpec& s : rule_.ewmas()) a->ewmas.emplace_back(s.tau_ms);
    return a;
  }

  AggState& Aggregates(uint32_t slot, KeyId key) {
    if (slot >= aggs_by_slot_.size()) aggs_by_slot_.resize(slot + 1 + slot / 2);
    auto& a = aggs_by_slot_[slot];
    if (!a) a = NewAggregates(key);
    return *a;
  }

  void UpdateAggregates(uint32_t slot, KeyId key, const Event& e) {
    AggState& st = Aggregates(slot, key);
    const auto& series = rule_.series();
    for (size_t i = 0; i < series.size(); ++i) {
      SlidingSeries& s = st.series[i];
      s.Evict(e.ts);
      const double v = e.fields[series[i].field];
      if (!IsNull(v)) s.Add(e.ts, v);
    }
    const auto& ewmas = rule_.ewmas();
    for (size_t i = 0; i < ewmas.size(); ++i) {
      const double v = e.fields[ewmas[i].field];
      if (!IsNull(v)) st.ewmas[i].Add(e.ts, v);
    }
    const auto& sources = rule_.agg_sources();
    for (size_t i = 0; i < sources.size(); ++i) {
      const AggSource& src = sources[i];
      aggs_[i] = src.is_ewma ? st.ewmas[src.index].Value() : st.series[src.index].Value(src.kind);
    }
  }

  void Raise(KeyState& st, KeyId key, const Event& e, const EvalInput& in, AlertOutput& out) {
    st.phase = Phase::kFiring;
    st.count = 1;
    st.raise_ts = e.ts;
    Emit(st, key, e, in, AlertState::kRaised, out);
  }

  void Emit(const KeyState& st, KeyId key, const Event& e, const EvalInput& in, AlertState state,
            AlertOutput& out) {
    const double value = rule_.when().lhs.empty() ? NullValue() : rule_.when().lhs.Eval(in);
    EmitAlert(out, rule_index_, key, state, e.ts, st.raise_ts, value, st.count, e.ingest_ns);
  }

  const EventRule& rule_;
  const RuleCommon& common_;
  uint32_t shard_;
  uint32_t rule_index_;
  bool has_aggregates_;
  ArenaRecords<KeyState> states_;
  std::vector<std::unique_ptr<AggState>> aggs_by_slot_;
  std::vector<double> aggs_;
  size_t keys_ = 0;
  uint32_t slot_end_ = 0;  // one past the highest slot seen
  std::vector<std::pair<uint32_t, KeyId>> dirty_;  // (slot, key) changed since the last checkpoint
  size_t firing_restored_ = 0;
};

}  // namespace

std::unique_ptr<RuleShard> EventRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<EventRuleShard>(*this, ctx);
}

}  // namespace vigil::rules
