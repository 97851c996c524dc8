// EventRule and its per-shard state machine.
#include "event_rule.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "aggregate/ewma.h"
#include "aggregate/sliding_series.h"
#include "vigil/engine/state_header.h"
#include "vigil/engine/state_store.h"

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
  constexpr int64_t kEwmaTaus = 40;
  for (const SeriesSpec& s : series_) idle_horizon_ms_ = std::max(idle_horizon_ms_, s.window_ms);
  for (const EwmaSpec& e : ewmas_) {
    idle_horizon_ms_ = std::max(idle_horizon_ms_, e.tau_ms > INT64_MAX / kEwmaTaus ? INT64_MAX : kEwmaTaus * e.tau_ms);
  }
}

namespace {

class EventRuleShard final : public RuleShard {
 public:
  EventRuleShard(const EventRule& rule, const ShardContext& ctx)
      : rule_(rule), common_(rule.common()), shard_(ctx.shard), rule_index_(ctx.rule_index),
        has_aggregates_(!rule.agg_sources().empty()), states_(ctx.arena, rule.common().info.keylist),
        aggs_(rule.agg_sources().size()),
        max_samples_(ctx.max_window_samples) {
    key_budget_ = ctx.key_budget;
  }

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    uint32_t slot = 0;
    const KeyId key = common_.OwnedKey(e, shard_, &slot);
    if (key == kNoKey || !common_.CarriesNamedField(e)) return;
    KeyState& st = states_.Get(slot);
    if (!st.known) {
      if (!AdmitKey()) return;  // max_keys reached: this key is not tracked
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
  // What the last checkpoint holds of one sliding buffer: small buffers
  // are written whole into the key's blob; once one grows past
  // kInlineSamples its samples go to part records, each written once.
  struct SavedSeries {
    bool in_parts = false;
    uint64_t head = 0, tail = 0;  // sequence numbers already in part records (in_parts)
  };
  struct AggState {
    KeyId key = kNoKey;
    std::vector<SavedSeries> saved;
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
  // Keys in OK state silent since before `cutoff` (and the rule's idle
  // horizon before that) lose their record and aggregates; PENDING and
  // FIRING keys are kept (their `for` and their clear must not be lost).
  size_t EvictIdle(int64_t cutoff) noexcept override {
    const int64_t horizon = rule_.idle_horizon_ms();
    cutoff = cutoff < kMinTime + horizon ? kMinTime : cutoff - horizon;
    size_t evicted = 0;
    for (uint32_t slot = 0; slot < slot_end_; ++slot) {
      KeyState& st = states_.Get(slot);
      if (!st.known || st.phase != Phase::kOk || st.last_ts >= cutoff) continue;
      st = KeyState{};
      if (slot < aggs_by_slot_.size() && aggs_by_slot_[slot]) {
        const AggState& a = *aggs_by_slot_[slot];
        for (size_t i = 0; i < a.saved.size(); ++i) {
          if (a.saved[i].in_parts) erased_parts_.push_back({a.key, static_cast<uint8_t>(i)});
        }
        dirty_.push_back({slot, a.key});  // erase its checkpointed buffers
        aggs_by_slot_[slot].reset();
      }
      --keys_;
      ForgetKey();
      ++evicted;
    }
    return evicted;
  }

  // Checkpointed state of a key: the header (phase, raise_ts, count), then
  // t0, last_ts and, for rules with aggregates, every sliding series and
  // ewma in the rule's order. A key in OK state without aggregates keeps
  // nothing (a fresh state is the same).
  void SaveChanged(KeyStateWriter& w) noexcept override {
    for (const auto& [key, part] : erased_parts_) w.ErasePartsBelow(key, part, UINT64_MAX);
    erased_parts_.clear();
    std::string blob;
    for (const auto& [slot, key] : dirty_) {
      KeyState& st = states_.Get(slot);
      st.dirty = 0;
      blob.clear();
      AggState* aggs = slot < aggs_by_slot_.size() ? aggs_by_slot_[slot].get() : nullptr;
      if (st.known && (st.phase != Phase::kOk || aggs != nullptr)) {
        PutStateHeader(&blob, {static_cast<uint8_t>(st.phase), st.raise_ts, st.count});
        PutInt64(&blob, st.t0);
        PutInt64(&blob, st.last_ts);
        PutFixed32(&blob, aggs != nullptr ? static_cast<uint32_t>(aggs->series.size()) : 0);
        std::string part;
        for (size_t i = 0; aggs != nullptr && i < aggs->series.size(); ++i) {
          part.clear();
          SaveSeries(w, key, static_cast<uint8_t>(i), aggs->series[i], &aggs->saved[i], &part);
          PutFixed8(&blob, aggs->saved[i].in_parts ? 1 : 0);
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

  bool RestoreKey(KeyId key, uint32_t slot, std::string_view blob, std::string_view parts) noexcept override {
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
      uint8_t in_parts = 0;
      if (!in.GetFixed8(&in_parts) || in_parts > 1 || !in.GetBytes(&part)) return false;
      if (in_parts == 0) {
        if (!aggs->series[i].Deserialize(part)) return false;
        continue;
      }
      if (!RestoreSeries(part, parts, static_cast<uint8_t>(i), &aggs->series[i])) return false;
      aggs->saved[i] = {true, aggs->series[i].head_seq(), aggs->series[i].tail_seq()};
    }
    if (!in.GetFixed32(&newmas) || (with_aggs && newmas != rule_.ewmas().size()) || (!with_aggs && newmas != 0)) {
      return false;
    }
    for (uint32_t i = 0; i < newmas; ++i) {
      if (!in.GetBytes(&part) || !aggs->ewmas[i].Deserialize(part)) return false;
    }
    if (!in.AtEnd()) return false;
    KeyState& st = states_.Get(slot);
    if (!st.known) {
      ++keys_;
      KeepKey();
    }
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

  static constexpr uint64_t kInlineSamples = 32;  // larger buffers go to part records
  static constexpr uint64_t kChunkSamples = 64;   // samples per part record

  // Writes what the checkpoint needs of one sliding buffer: into *inline_out
  // either the whole buffer (small) or its summary, with the samples added
  // since the last checkpoint appended to part records (one per chunk of
  // kChunkSamples sequence numbers) and the records that hold only evicted
  // samples erased.
  static void SaveSeries(KeyStateWriter& w, KeyId key, uint8_t index, const SlidingSeries& s, SavedSeries* saved,
                         std::string* inline_out) {
    if (!saved->in_parts && s.size() <= kInlineSamples) {
      s.Serialize(inline_out);
      return;
    }
    if (!saved->in_parts) *saved = {true, s.head_seq(), s.head_seq()};
    s.SerializeSummary(inline_out);
    uint64_t from = std::max(saved->tail, s.head_seq());
    std::string operand;
    while (from < s.tail_seq()) {
      const uint64_t chunk = from / kChunkSamples;
      const uint64_t to = std::min(s.tail_seq(), (chunk + 1) * kChunkSamples);
      operand.clear();
      PutFixed64(&operand, from);
      PutFixed32(&operand, static_cast<uint32_t>(to - from));
      s.AppendSamples(from, to, &operand);
      w.AppendPart(key, index, chunk, operand);
      from = to;
    }
    if (s.head_seq() / kChunkSamples > saved->head / kChunkSamples) {
      w.ErasePartsBelow(key, index, s.head_seq() / kChunkSamples);
    }
    saved->head = s.head_seq();
    saved->tail = s.tail_seq();
  }

  // Rebuilds a sliding buffer from its summary and the samples [head, tail)
  // found in the key's part records of `index`.
  static bool RestoreSeries(std::string_view summary, std::string_view parts, uint8_t index, SlidingSeries* s) {
    uint64_t head = 0, tail = 0;
    if (!SlidingSeries::SummaryRange(summary, &head, &tail) || tail - head > (uint64_t{1} << 32)) return false;
    constexpr size_t kSample = 16;
    std::string samples((tail - head) * kSample, '\0');
    std::vector<bool> seen(tail - head, false);  // a re-applied append repeats samples
    uint64_t filled = 0;
    bool ok = true;
    const bool parsed = StateStore::ForEachPart(parts, [&](uint8_t part, uint64_t, std::string_view value) {
      if (part != index) return;
      Decoder in(value);
      while (ok && in.remaining() > 0) {
        uint64_t start = 0;
        uint32_t n = 0;
        if (!in.GetFixed64(&start) || !in.GetFixed32(&n) || in.remaining() < uint64_t{n} * kSample) {
          ok = false;
          return;
        }
        for (uint32_t i = 0; i < n; ++i) {
          std::string_view sample = value.substr(value.size() - in.remaining(), kSample);
          const uint64_t seq = start + i;
          if (seq >= head && seq < tail && !seen[seq - head]) {
            std::memcpy(samples.data() + (seq - head) * kSample, sample.data(), kSample);
            seen[seq - head] = true;
            ++filled;
          }
          uint64_t skip;
          (void)in.GetFixed64(&skip);
          (void)in.GetFixed64(&skip);
        }
      }
    });
    return parsed && ok && filled == tail - head && s->Restore(summary, samples);
  }

  std::unique_ptr<AggState> NewAggregates(KeyId key) const {
    auto a = std::make_unique<AggState>();
    a->key = key;
    a->saved.resize(rule_.series().size());
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
      if (IsNull(v)) continue;
      if (BufferFull(s)) {
        CountSampleRejected();  // the buffer keeps what it holds; this sample is not added
        continue;
      }
      s.Add(e.ts, v);
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

  // The sliding buffer holds engine.max_window_samples samples already
  // (after eviction of the expired ones).
  bool BufferFull(const SlidingSeries& s) const noexcept { return max_samples_ != 0 && s.size() >= max_samples_; }

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
  uint64_t max_samples_;   // engine.max_window_samples; 0 = no limit
  size_t keys_ = 0;
  uint32_t slot_end_ = 0;  // one past the highest slot seen
  std::vector<std::pair<uint32_t, KeyId>> dirty_;  // (slot, key) changed since the last checkpoint
  std::vector<std::pair<KeyId, uint8_t>> erased_parts_;  // part records of evicted keys, to erase
  size_t firing_restored_ = 0;
};

}  // namespace

std::unique_ptr<RuleShard> EventRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<EventRuleShard>(*this, ctx);
}

}  // namespace vigil::rules
