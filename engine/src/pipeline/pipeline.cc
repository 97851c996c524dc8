// Pipeline implementation: router-side batching, shard workers, alert thread.
#include "vigil/engine/pipeline.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "pipeline/doorbell.h"
#include "pipeline/event_batch.h"
#include "pipeline/latest_table.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/spsc_ring.h"

namespace vigil {

namespace {
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A checkpoint barrier travels through a shard's alert ring as an alert of
// this rule index (ts = checkpoint id), behind the alerts emitted before it.
constexpr uint32_t kBarrierRule = UINT32_MAX;

// Packs what a rule shard's SaveChanged hands over into a StateDelta.
class DeltaWriter final : public KeyStateWriter {
 public:
  DeltaWriter(StateDelta* delta, uint32_t rule) : delta_(delta), rule_(rule) {}
  void Put(KeyId key, std::string_view state) override { Add(key, state, StateDelta::Op::kPut, 0, 0); }
  void AppendPart(KeyId key, uint8_t part, uint64_t chunk, std::string_view bytes) override {
    Add(key, bytes, StateDelta::Op::kAppendPart, part, chunk);
  }
  void ErasePartsBelow(KeyId key, uint8_t part, uint64_t below) override {
    Add(key, {}, StateDelta::Op::kErasePartsBelow, part, below);
  }

 private:
  void Add(KeyId key, std::string_view bytes, StateDelta::Op op, uint8_t part, uint64_t chunk) {
    StateDelta::Entry e{rule_, key, static_cast<uint32_t>(delta_->bytes.size()), static_cast<uint32_t>(bytes.size())};
    e.op = op;
    e.part = part;
    e.chunk = chunk;
    delta_->entries.push_back(e);
    delta_->bytes.append(bytes.data(), bytes.size());
  }

 private:
  StateDelta* delta_;
  uint32_t rule_;
};
}  // namespace

// Pushes a shard's alerts into its alert ring (blocking when full) and wakes
// the alert thread if it sleeps.
class Pipeline::AlertOutputImpl final : public AlertOutput {
 public:
  AlertOutputImpl(SpscRing<AlertRecord>* ring, Doorbell* bell) : ring_(ring), bell_(bell) {}
  void Emit(const AlertRecord& alert) noexcept override {
    ring_->Push(alert);
    bell_->Ring();
    ++count_;
  }
  uint64_t count() const { return count_; }

 private:
  SpscRing<AlertRecord>* ring_;
  Doorbell* bell_;
  uint64_t count_ = 0;
};

class Pipeline::Shard {
 public:
  Shard(uint32_t index, const PipelineOptions& opt, const Schema& schema, Doorbell* alert_bell)
      : index_(index),
        in_(opt.ring_batches),
        free_(opt.ring_batches + 4),
        alerts_(opt.alert_ring),
        output_(&alerts_, alert_bell),
        alert_bell_(alert_bell) {
    key_ttl_ms_ = opt.key_ttl_ms;
    checkpoints_ = opt.checkpoints;
    for (uint32_t i = 0; i < opt.ring_batches + 2; ++i) {
      batches_.push_back(std::make_unique<EventBatch>(opt.batch_size, schema.field_count(), schema.tag_count(),
                                                      schema.keylist_count()));
      free_.Push(batches_.back().get());
    }
  }

  void Run(std::atomic<uint32_t>* done) {
    EventBatch* batch = nullptr;
    while (true) {
      in_.Pop(&batch);
      Process(*batch);
      const bool end = batch->end_of_input;
      const bool last = batch->last;
      const uint64_t checkpoint = batch->checkpoint;
      if (end) {
        for (auto& r : rules_) r->OnEndOfInput(output_);
      }
      free_.Push(batch);
      if (checkpoint != 0 && checkpoints_ != nullptr) {
        checkpoints_->OnShardState(checkpoint, index_, TakeDelta());
        AlertRecord marker;
        marker.rule = kBarrierRule;
        marker.ts = static_cast<int64_t>(checkpoint);
        alerts_.Push(marker);
        alert_bell_->Ring();
      }
      if (last || end) break;
    }
    done_ = true;
    done->fetch_add(1, std::memory_order_seq_cst);
    alert_bell_->Ring();
  }

  void Process(const EventBatch& b) {
    if (!started_ && b.start_ts != kMinTime) {
      started_ = true;
      for (auto& r : rules_) r->OnStart(b.start_ts, output_);
      RecomputeDeadline();
    }
    constexpr uint32_t kPrefetchAhead = 6;
    for (uint32_t i = 0; i < b.count && i < kPrefetchAhead; ++i) Prefetch(b.Get(i));
    for (uint32_t i = 0; i < b.count; ++i) {
      if (i + kPrefetchAhead < b.count) Prefetch(b.Get(i + kPrefetchAhead));
      const Event e = b.Get(i);
      Advance(e.watermark);
      int64_t deadline = kMaxTime;
      processed_.Add();
      for (auto& r : rules_) {
        r->OnEvent(e, output_);
        deadline = std::min(deadline, r->next_deadline());
      }
      next_deadline_ = deadline;
      if (latest_ != nullptr) RecordLatest(e);
      // The router stamps one message in 16 (Engine): those are the samples.
      if (e.ingest_ns != 0) latency_.Record(static_cast<uint64_t>(SteadyNowNs() - e.ingest_ns));
    }
    Advance(b.end_watermark);
    uint64_t keys = 0;
    for (auto& r : rules_) keys += r->KeyCount();
    keys_published_.Set(keys);
  }

  // The event is the newest of its series when this shard owns the series
  // key (the finest complete key; see LatestValues). Measured: about 130
  // instructions per message on the 10-rule workload (callgrind), ~2% of
  // the pipeline's.
  void RecordLatest(const Event& e) noexcept {
    for (uint32_t k : *series_order_) {
      if (e.keys[k] == kNoKey) continue;
      if (e.key_shards[k] == index_) latest_->Update(k, e.key_slots[k], e.ts, e.fields, e.keys);
      return;
    }
  }

  // The state changes of every rule since the previous call.
  StateDelta TakeDelta() {
    StateDelta d;
    for (uint32_t r = 0; r < rules_.size(); ++r) {
      DeltaWriter w(&d, r);
      rules_[r]->SaveChanged(w);
    }
    return d;
  }

  // Brings the state blocks of the event's keys owned here towards the cache.
  void Prefetch(const Event& e) const {
    for (uint32_t k : keylists_) {
      if (e.keys[k] != kNoKey && e.key_shards[k] == index_) arena_.Prefetch(k, e.key_slots[k]);
    }
  }

  // Also when the watermark did not move: a late message may have set a
  // deadline at or before it (a deadman key's last_seen moved back into
  // the past), which is due now, before the next message (DESIGN.md: at
  // every message, every deadline <= watermark fires first) and at the end
  // of the input (found by differential testing against DESIGN.md).
  void Advance(int64_t wm) {
    if (wm < watermark_) return;
    if (wm > watermark_) {
      watermark_ = wm;
      MaybeEvict(wm);
    }
    if (wm < next_deadline_) return;
    for (auto& r : rules_) {
      if (wm >= r->next_deadline()) r->OnWatermark(wm, output_);
    }
    RecomputeDeadline();
  }

  // Every quarter of the key TTL (in event time), evicts idle keys.
  void MaybeEvict(int64_t wm) {
    if (key_ttl_ms_ <= 0) return;
    if (next_evict_ == kMinTime) next_evict_ = wm + std::max<int64_t>(key_ttl_ms_ / 4, 1000);
    if (wm < next_evict_) return;
    next_evict_ = wm + std::max<int64_t>(key_ttl_ms_ / 4, 1000);
    for (auto& r : rules_) evicted_ += r->EvictIdle(wm - key_ttl_ms_);
    if (latest_ != nullptr) latest_->Evict(wm - key_ttl_ms_);
  }

  void RecomputeDeadline() {
    int64_t d = kMaxTime;
    for (auto& r : rules_) d = std::min(d, r->next_deadline());
    next_deadline_ = d;
  }

  uint32_t index_;
  SpscRing<EventBatch*> in_;
  SpscRing<EventBatch*> free_;
  SpscRing<AlertRecord> alerts_;
  AlertOutputImpl output_;
  Doorbell* alert_bell_;
  std::vector<std::unique_ptr<EventBatch>> batches_;
  std::vector<std::unique_ptr<RuleShard>> rules_;
  KeyStateArena arena_;
  std::vector<uint32_t> keylists_;  // key lists used by this shard's rules (prefetched)
  std::unique_ptr<LatestTable> latest_;                  // track_latest only
  const std::vector<uint32_t>* series_order_ = nullptr;  // Pipeline::series_order_
  std::thread thread_;
  int64_t watermark_ = kMinTime;
  int64_t next_deadline_ = kMaxTime;
  alignas(64) RelaxedCounter processed_;        // shard thread
  RelaxedCounter keys_published_;               // shard thread
  alignas(64) RelaxedCounter routed_;           // router thread: events handed to this shard
  uint64_t evicted_ = 0;
  int64_t key_ttl_ms_ = 0;
  int64_t next_evict_ = kMinTime;
  CheckpointListener* checkpoints_ = nullptr;
  bool started_ = false;
  std::atomic<bool> done_{false};
  LatencyHistogram latency_;
};

Pipeline::Pipeline(const Schema& schema, TagInterner* tags, KeyTable* keys,
                   std::vector<std::shared_ptr<const Rule>> rules, PipelineOptions options, AlertConsumer* consumer)
    : schema_(schema), tags_(tags), keys_(keys), rules_(std::move(rules)), options_(options), consumer_(consumer),
      alert_bell_(std::make_unique<Doorbell>()) {
  if (options_.shards == 0) options_.shards = 1;
  if (options_.shards > 64) options_.shards = 64;
  for (uint32_t k = 0; k < schema_.keylist_count(); ++k) {
    keylist_tags_.push_back(schema_.keylist(k));
    series_order_.push_back(k);
  }
  std::stable_sort(series_order_.begin(), series_order_.end(),
                   [this](uint32_t a, uint32_t b) { return keylist_tags_[a].size() > keylist_tags_[b].size(); });
}

Pipeline::~Pipeline() {
  if (started_ && !finished_) Finish(kMinTime, false);
}

Status Pipeline::Create() {
  if (created_) return Status::Ok();
  if (keys_->shards() != options_.shards) {
    return Status::InvalidArgument("key table built for " + std::to_string(keys_->shards()) + " shards, pipeline has " +
                                   std::to_string(options_.shards));
  }
  Logger* logger = options_.logger != nullptr ? options_.logger : &null_logger_;
  for (const auto& rule : rules_) {
    const uint64_t limit = rule->info().max_keys != 0 ? rule->info().max_keys : options_.max_keys_per_rule;
    key_budgets_.push_back(std::make_unique<KeyBudget>(limit));
  }
  for (uint32_t s = 0; s < options_.shards; ++s) {
    auto shard = std::make_unique<Shard>(s, options_, schema_, alert_bell_.get());
    for (uint32_t r = 0; r < rules_.size(); ++r) {
      ShardContext ctx{s, options_.shards, r, keys_, tags_, &shard->arena_};
      ctx.logger = logger;
      ctx.key_budget = key_budgets_[r].get();
      ctx.max_window_samples = options_.max_window_samples;
      shard->rules_.push_back(rules_[r]->CreateShard(ctx));
    }
    for (uint32_t k = 0; k < schema_.keylist_count(); ++k) {
      if (shard->arena_.block_size(k) > 0) shard->keylists_.push_back(k);
    }
    if (options_.track_latest) {
      shard->latest_ = std::make_unique<LatestTable>(schema_.field_count(), schema_.keylist_count());
      shard->series_order_ = &series_order_;
    }
    shard->RecomputeDeadline();
    shards_.push_back(std::move(shard));
  }
  created_ = true;
  return Status::Ok();
}

bool Pipeline::RestoreKey(uint32_t rule, KeyId key, std::string_view blob, std::string_view parts) {
  if (!created_ || started_ || rule >= rules_.size() || key == kNoKey) return false;
  const KeyInfo& info = keys_->Get(key);
  if (info.shard >= shards_.size()) return false;
  return shards_[info.shard]->rules_[rule]->RestoreKey(key, info.slot, blob, parts);
}

std::vector<size_t> Pipeline::FinishRestore(int64_t start_ts, int64_t watermark) {
  std::vector<size_t> firing(rules_.size(), 0);
  if (!created_ || started_) return firing;
  start_ts_ = start_ts;
  for (auto& s : shards_) {
    for (uint32_t r = 0; r < s->rules_.size(); ++r) firing[r] += s->rules_[r]->FinishRestore();
    s->watermark_ = watermark;
    s->RecomputeDeadline();
  }
  return firing;
}

Status Pipeline::Start() {
  Status created = Create();
  if (!created.ok()) return created;
  current_.assign(options_.shards, nullptr);
  sent_watermark_.assign(options_.shards, kMinTime);
  for (auto& s : shards_) {
    Shard* raw = s.get();
    raw->thread_ = std::thread([raw, this] {
      const std::string name = "vigil-shard-" + std::to_string(raw->index_);
      pthread_setname_np(pthread_self(), name.c_str());  // visible in top -H, perf, gdb
      raw->Run(&shards_done_);
    });
  }
  alert_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "vigil-alerts");
    AlertLoop();
  });
  started_ = true;
  return Status::Ok();
}

EventBatch* Pipeline::Acquire(uint32_t shard) {
  EventBatch*& b = current_[shard];
  if (b == nullptr) {
    shards_[shard]->free_.Pop(&b);
    b->Reset();
  }
  return b;
}

void Pipeline::Send(uint32_t shard, int64_t watermark, bool end_of_input) {
  EventBatch* b = Acquire(shard);
  b->end_watermark = watermark;
  b->start_ts = start_ts_;
  b->end_of_input = end_of_input;
  sent_watermark_[shard] = watermark;
  current_[shard] = nullptr;
  shards_[shard]->in_.Push(b);
}

void Pipeline::Route(const ParsedMessage& m, uint32_t source, int64_t watermark, int64_t ingest_ns) noexcept {
  const size_t nkeys = keylist_tags_.size();
  KeyId key_ids[64];
  uint8_t key_shards[64];
  uint32_t key_slots[64];
  uint64_t mask = 0;
  for (size_t k = 0; k < nkeys && k < 64; ++k) {
    const auto& slots = keylist_tags_[k];
    uint32_t tag_ids[8];
    bool complete = slots.size() <= 8;
    for (size_t t = 0; complete && t < slots.size(); ++t) {
      tag_ids[t] = m.tags[slots[t]];
      complete = tag_ids[t] != kNoTag;
    }
    key_ids[k] = kNoKey;
    key_shards[k] = 0;
    key_slots[k] = 0;
    if (!complete) continue;
    KeyId id = keys_->Intern(static_cast<uint32_t>(k), tag_ids, slots.size(), *tags_);
    if (id == kNoKey) continue;
    key_ids[k] = id;
    key_shards[k] = static_cast<uint8_t>(keys_->ShardOf(id));
    key_slots[k] = keys_->SlotOf(id);
    mask |= uint64_t{1} << key_shards[k];
  }
  while (mask != 0) {
    const uint32_t s = static_cast<uint32_t>(__builtin_ctzll(mask));
    mask &= mask - 1;
    EventBatch* b = Acquire(s);
    shards_[s]->routed_.Add();
    const uint32_t i = b->count++;
    b->ts[i] = m.ts;
    b->watermark[i] = watermark;
    b->ingest_ns[i] = ingest_ns;
    b->source[i] = source;
    if (b->nfields) std::memcpy(&b->fields[i * b->nfields], m.fields.data(), b->nfields * sizeof(double));
    if (b->ntags) std::memcpy(&b->tags[i * b->ntags], m.tags.data(), b->ntags * sizeof(uint32_t));
    if (nkeys) {
      std::memcpy(&b->keys[i * nkeys], key_ids, nkeys * sizeof(KeyId));
      std::memcpy(&b->key_shards[i * nkeys], key_shards, nkeys);
      std::memcpy(&b->key_slots[i * nkeys], key_slots, nkeys * sizeof(uint32_t));
    }
    if (b->full()) Send(s, watermark, false);
  }
}

void Pipeline::Flush(int64_t watermark) noexcept {
  for (uint32_t s = 0; s < options_.shards; ++s) {
    const bool has_events = current_[s] != nullptr && current_[s]->count > 0;
    if (has_events || watermark > sent_watermark_[s]) Send(s, watermark, false);
  }
}

void Pipeline::Barrier(uint64_t id, int64_t watermark) noexcept {
  for (uint32_t s = 0; s < options_.shards; ++s) {
    EventBatch* b = Acquire(s);
    b->checkpoint = id;
    Send(s, std::max(watermark, sent_watermark_[s]), false);
  }
}

StateDelta Pipeline::CollectFinal() {
  StateDelta all;
  if (!finished_) return all;
  for (auto& s : shards_) {
    StateDelta d = s->TakeDelta();
    const uint32_t base = static_cast<uint32_t>(all.bytes.size());
    for (StateDelta::Entry e : d.entries) {
      e.offset += base;
      all.entries.push_back(e);
    }
    all.bytes += d.bytes;
  }
  return all;
}

void Pipeline::Finish(int64_t watermark, bool end_of_input) {
  if (!started_ || finished_) return;
  for (uint32_t s = 0; s < options_.shards; ++s) {
    EventBatch* b = Acquire(s);
    b->end_watermark = std::max(watermark, sent_watermark_[s]);
    b->start_ts = start_ts_;
    b->end_of_input = end_of_input;
    b->last = true;
    current_[s] = nullptr;
    shards_[s]->in_.Push(b);
  }
  for (auto& s : shards_) s->thread_.join();
  alert_thread_.join();
  for (auto& s : shards_) event_latency_.Merge(s->latency_);
  finished_ = true;
}

void Pipeline::AlertLoop() {
  AlertRecord a;
  uint32_t barriers_seen = 0;
  // A barrier marker: once every shard's arrived, every alert emitted before
  // the checkpoint was consumed; sync the sinks and tell the listener.
  auto on_alert = [&](const AlertRecord& r) {
    if (r.rule != kBarrierRule) {
      consumer_->Consume(r);
      return;
    }
    if (++barriers_seen < shards_.size()) return;
    barriers_seen = 0;
    const bool synced = consumer_->Sync();
    if (options_.checkpoints != nullptr) options_.checkpoints->OnAlertsSynced(static_cast<uint64_t>(r.ts), synced);
  };
  while (true) {
    consumer_->Poll();
    bool any = false;
    for (auto& s : shards_) {
      while (s->alerts_.TryPop(&a)) {
        any = true;
        if (a.ingest_ns != 0) alert_latency_.Record(static_cast<uint64_t>(SteadyNowNs() - a.ingest_ns));
        on_alert(a);
      }
    }
    if (any) continue;
    if (shards_done_.load(std::memory_order_acquire) == shards_.size()) {
      // Shards are done: drain what they pushed before finishing.
      bool more = false;
      for (auto& s : shards_) {
        while (s->alerts_.TryPop(&a)) {
          more = true;
          on_alert(a);
        }
      }
      if (!more) break;
      continue;
    }
    consumer_->Idle();
    // Sleep until a shard emits (or finishes) or the consumer gets work from
    // elsewhere; the timeout is only a safety net.
    alert_bell_->Wait(std::chrono::milliseconds(100), [&] {
      for (auto& s : shards_) {
        if (s->alerts_.SizeApprox() != 0) return true;
      }
      return shards_done_.load(std::memory_order_seq_cst) == shards_.size() || consumer_->HasPending();
    });
  }
  consumer_->Idle();
}

void Pipeline::WakeAlertThread() { alert_bell_->Ring(); }

Pipeline::ShardTelemetry Pipeline::Telemetry(uint32_t shard) const {
  ShardTelemetry t;
  if (shard >= shards_.size()) return t;
  const Shard& s = *shards_[shard];
  t.events = s.processed_.Get();
  const uint64_t routed = s.routed_.Get();
  t.backlog = routed > t.events ? routed - t.events : 0;
  t.keys = s.keys_published_.Get();
  return t;
}

uint64_t Pipeline::RuleErrors(uint32_t rule) const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    if (rule < s->rules_.size()) n += s->rules_[rule]->errors();
  }
  return n;
}

uint64_t Pipeline::RuleEvaluations(uint32_t rule) const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    if (rule < s->rules_.size()) n += s->rules_[rule]->evaluations();
  }
  return n;
}

uint64_t Pipeline::RuleKeysRejected(uint32_t rule) const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    if (rule < s->rules_.size()) n += s->rules_[rule]->keys_rejected();
  }
  return n;
}

uint64_t Pipeline::RuleSamplesRejected(uint32_t rule) const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    if (rule < s->rules_.size()) n += s->rules_[rule]->samples_rejected();
  }
  return n;
}

uint64_t Pipeline::LateEvents(uint32_t source) const {
  uint64_t n = 0;
  for (const auto& s : shards_) {
    for (const auto& r : s->rules_) n += r->late_events(source);
  }
  return n;
}

void Pipeline::ForEachLatest(const std::function<bool(const LatestValues&)>& visit) const {
  bool more = true;
  for (const auto& s : shards_) {
    if (s->latest_ == nullptr) continue;
    s->latest_->ForEach([&](const LatestTable::Snapshot& snap) {
      more = visit(LatestValues{snap.keylist, snap.ts, snap.fields.data(), snap.keys.data()});
      return more;
    });
    if (!more) return;
  }
}

void Pipeline::MergeLatency(LatencyHistogram* into) const {
  for (const auto& s : shards_) into->Merge(s->latency_);
}

std::vector<ShardStats> Pipeline::Stats() const {
  std::vector<ShardStats> out;
  for (const auto& s : shards_) {
    ShardStats st;
    st.events = s->processed_.Get();
    st.alerts = s->output_.count();
    st.state_bytes = s->arena_.MemoryBytes();
    st.evicted_keys = s->evicted_;
    for (const auto& r : s->rules_) {
      st.late_events += r->late_events();
      st.keys += r->KeyCount();
      st.state_bytes += r->MemoryBytes();
    }
    out.push_back(st);
  }
  return out;
}

}  // namespace vigil
