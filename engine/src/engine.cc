// Engine: the router loop.
#include "vigil/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "forward/forwarder.h"
#include "pipeline/router_waker.h"
#include "state/checkpointer.h"
#include "vigil/engine/timestamp.h"

namespace vigil {

namespace {
int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
constexpr uint32_t kIngestStampEvery = 16;  // stamp one message in 16 for latency sampling
// After a checkpoint that took D, the next waits at least 19 D: checkpoints
// take at most ~5% of the time, and their background work (RocksDB
// compaction) about as much again.
constexpr double kCheckpointPauseFactor = 19;
// At the end of a run, how long forwarding sinks get to deliver their queues.
constexpr std::chrono::milliseconds kForwardDrainTimeout{5000};
// At a stop, how long sources holding accepted input (HTTP ingest) are
// drained at most.
constexpr std::chrono::seconds kStopDrainTimeout{10};
// How long a checkpoint a source asks for (CheckpointNow) may take.
constexpr std::chrono::milliseconds kSyncCheckpointTimeout{30000};
}  // namespace

// Per-source handler: watermark bookkeeping and routing into the pipeline.
class Engine::Router final : public MessageHandler {
 public:
  struct SourceClock {
    int64_t max_ts = kMinTime;
    int64_t lateness = 0;
    bool started = false;
    bool finished = false;
    bool live = false;
    int64_t watermark() const { return max_ts == kMinTime ? kMinTime : max_ts - lateness; }
  };

  Router(Engine* engine, Pipeline* pipeline) : engine_(engine), pipeline_(pipeline) {}

  void SetSource(uint32_t index) { current_ = index; }

  void OnMessage(ParsedMessage& m) override {
    ++engine_->stats_.messages;
    engine_->source_counters_[current_].received.Add();
    SourceClock& c = clocks[current_];
    if (!m.has_ts) m.ts = WallNowMs();
    if (!first_seen_) {
      first_seen_ = true;
      start_ts = m.ts;
      pipeline_->SetStart(m.ts);
    }
    c.started = true;
    if (m.ts > c.max_ts) {
      c.max_ts = m.ts;
      RecomputeWatermark();
    }
    const bool sample = (++stamp_ % kIngestStampEvery) == 0;
    const int64_t ingest = sample ? SteadyNowNs() : 0;
    if (sample && c.live) {
      const int64_t lag_ms = WallNowMs() - m.ts;
      if (lag_ms >= 0) engine_->event_lag_.Record(static_cast<uint64_t>(lag_ms) * 1000000);
    }
    pipeline_->Route(m, current_, watermark, ingest);
    for (auto& f : forwarders) f->OnMessage(m, watermark);
  }

  void OnReject(RejectReason reason, std::string_view raw, std::string_view where) override {
    ++engine_->stats_.messages;
    ++engine_->stats_.rejected[static_cast<size_t>(reason)];
    engine_->source_counters_[current_].received.Add();
    engine_->source_counters_[current_].rejected[static_cast<size_t>(reason)].Add();
    if (engine_->dead_letter_ != nullptr) {
      engine_->dead_letter_->Write(engine_->sources_[current_]->name(), reason, where, raw);
    }
  }

  // Positions and watermark now, then a barrier behind everything routed:
  // the shards' state at the barrier matches these positions exactly.
  void BeginCheckpoint() {
    ++checkpoint_id;
    checkpointer->Begin(checkpoint_id, engine_->Progress(*this, checkpoint_id), engine_->Positions(*this));
    pipeline_->Barrier(checkpoint_id, watermark);
  }

  bool CheckpointNow() override {
    if (checkpointer == nullptr) return false;
    // One in flight holds older positions: let it finish first.
    if (!checkpointer->WaitIdleFor(kSyncCheckpointTimeout)) return false;
    if (auto durable = checkpointer->TakeDurable()) engine_->NotifyDurable(*durable);
    BeginCheckpoint();
    if (!checkpointer->WaitIdleFor(kSyncCheckpointTimeout)) return false;
    std::optional<std::vector<StoredSource>> durable = checkpointer->TakeDurable();
    if (!durable) return false;  // it failed (the checkpointer logged why)
    engine_->NotifyDurable(*durable);
    return true;
  }

  void RecomputeWatermark() {
    int64_t wm = kMaxTime;
    bool any = false;
    for (const auto& c : clocks) {
      if (!c.started || c.finished) continue;
      wm = std::min(wm, c.watermark());
      any = true;
    }
    if (any && wm > watermark) watermark = wm;
  }

  // Live sources that are idle follow the wall clock.
  void AdvanceWithWallClock() {
    const int64_t now = WallNowMs();
    bool moved = false;
    for (auto& c : clocks) {
      if (!c.live || c.finished) continue;
      if (now - c.lateness > c.watermark()) {
        c.max_ts = std::max(c.max_ts, now);
        c.started = true;
        moved = true;
      }
    }
    if (moved) RecomputeWatermark();
  }

  // A restored run: the input had started at `start` (kMinTime: not yet).
  void Restore(int64_t start, int64_t wm) {
    watermark = wm;
    start_ts = start;
    first_seen_ = start != kMinTime;
  }

  std::vector<SourceClock> clocks;
  // One per sink with `forward:` (none: no forwarding work at all).
  std::vector<std::unique_ptr<Forwarder>> forwarders;
  int64_t watermark = kMinTime;
  int64_t start_ts = kMinTime;
  Checkpointer* checkpointer = nullptr;  // null: no state dir
  uint64_t checkpoint_id = 0;

 private:
  Engine* engine_;
  Pipeline* pipeline_;
  uint32_t current_ = 0;
  bool first_seen_ = false;
  uint32_t stamp_ = 0;
};

Engine::Engine(Schema schema, std::unique_ptr<TagInterner> tags, std::vector<std::shared_ptr<const Rule>> rules,
               std::vector<std::unique_ptr<Source>> sources, std::vector<std::unique_ptr<Sink>> sinks,
               DeadLetterWriter* dead_letter, Logger* logger, EngineOptions options)
    : schema_(std::move(schema)),
      tags_(std::move(tags)),
      rules_(std::move(rules)),
      waker_(std::make_unique<RouterWaker>()),
      sources_(std::move(sources)),
      sinks_(std::move(sinks)),
      dead_letter_(dead_letter),
      logger_(logger),
      options_(options) {
  shards_ = options_.shards != 0 ? options_.shards : std::max(1u, std::thread::hardware_concurrency());
  shards_ = std::min(shards_, 64u);
  source_counters_ = std::make_unique<SourceCounters[]>(sources_.size());
  start_time_seconds_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Engine::~Engine() = default;

// At most once every 10 s: how many messages were rejected since the last
// report, by reason; at the end (`final`), the totals of the whole run.
void Engine::LogRejections(bool final) {
  const auto now = std::chrono::steady_clock::now();
  if (last_reject_log_ == std::chrono::steady_clock::time_point{}) last_reject_log_ = now;
  if (!final && now - last_reject_log_ < std::chrono::seconds(10)) return;
  last_reject_log_ = now;
  std::string detail;
  uint64_t total = 0;
  for (size_t r = 1; r < stats_.rejected.size(); ++r) {
    const uint64_t n = final ? stats_.rejected[r] : stats_.rejected[r] - reported_rejected_[r];
    reported_rejected_[r] = stats_.rejected[r];
    if (n == 0) continue;
    total += n;
    detail += (detail.empty() ? "" : ", ") + std::to_string(n) + " " + RejectReasonName(static_cast<RejectReason>(r));
  }
  if (total > 0) {
    logger_->Log(LogLevel::kWarn, "rejected " + std::to_string(total) + " message(s)" +
                                      (final ? " in all" : " in the last 10 s") + ": " + detail +
                                      (dead_letter_ != nullptr ? " (kept in the dead-letter file)" : ""));
  }
}

// At most once every 10 s: which rules refused new keys (max_keys) or
// samples (max_window_samples), and how many new tag values or key tuples
// the engine refused (max_tag_values, max_key_tuples), since the last
// report; at the end (`final`), the totals of the run.
void Engine::LogRuleLimits(const Pipeline& pipeline, const KeyTable& keys, bool final) {
  const auto now = std::chrono::steady_clock::now();
  if (last_limit_log_ == std::chrono::steady_clock::time_point{}) last_limit_log_ = now;
  if (!final && now - last_limit_log_ < std::chrono::seconds(10)) return;
  last_limit_log_ = now;
  reported_keys_rejected_.resize(rules_.size(), 0);
  reported_samples_rejected_.resize(rules_.size(), 0);
  const char* when = final ? " in all" : " in the last 10 s";
  const uint64_t tag_values = tags_->refused(), key_tuples = keys.refused();
  const uint64_t new_tag_values = final ? tag_values : tag_values - reported_tag_values_refused_;
  const uint64_t new_key_tuples = final ? key_tuples : key_tuples - reported_key_tuples_refused_;
  reported_tag_values_refused_ = tag_values;
  reported_key_tuples_refused_ = key_tuples;
  if (new_tag_values > 0) {
    logger_->Log(LogLevel::kWarn, std::to_string(new_tag_values) + " new tag value(s) not kept" + when +
                                      ": the engine keeps " + std::to_string(options_.max_tag_values) +
                                      " distinct tag values at most (engine.max_tag_values); such a value is "
                                      "absent for the rules (its message is not tracked under a new key)");
  }
  if (new_key_tuples > 0) {
    logger_->Log(LogLevel::kWarn, std::to_string(new_key_tuples) + " message(s) of new keys not tracked" + when +
                                      ": the engine keeps " + std::to_string(options_.max_key_tuples) +
                                      " keys at most, all rules together (engine.max_key_tuples); keys already "
                                      "tracked keep working");
  }
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    const RuleInfo& info = rules_[r]->info();
    const uint64_t keys = pipeline.RuleKeysRejected(r);
    const uint64_t samples = pipeline.RuleSamplesRejected(r);
    const uint64_t new_keys = final ? keys : keys - reported_keys_rejected_[r];
    const uint64_t new_samples = final ? samples : samples - reported_samples_rejected_[r];
    reported_keys_rejected_[r] = keys;
    reported_samples_rejected_[r] = samples;
    if (new_keys > 0) {
      const uint64_t limit = info.max_keys != 0 ? info.max_keys : options_.max_keys_per_rule;
      logger_->Log(LogLevel::kWarn, "rule '" + info.name + "': " + std::to_string(new_keys) +
                                        " message(s) of new keys not tracked" + when + ": the rule tracks " +
                                        std::to_string(limit) + " keys at most (max_keys); keys already tracked "
                                        "keep working");
    }
    if (new_samples > 0) {
      logger_->Log(LogLevel::kWarn, "rule '" + info.name + "': " + std::to_string(new_samples) +
                                        " sample(s) not added to a full sliding buffer" + when + " (at most " +
                                        std::to_string(options_.max_window_samples) +
                                        " per buffer, engine.max_window_samples)");
    }
  }
}

Status Engine::Run() {
  const auto t0 = std::chrono::steady_clock::now();
  KeyTable keys(shards_);
  std::vector<Sink*> sink_ptrs;
  for (auto& s : sinks_) sink_ptrs.push_back(s.get());
  AlertDispatcher dispatcher(rules_, keys, sink_ptrs, logger_);
  if (alert_observer_) dispatcher.SetObserver(alert_observer_);
  dispatcher.SetInbox(&inbox_);
  std::unique_ptr<Checkpointer> checkpointer;
  if (options_.state != nullptr) {
    checkpointer = std::make_unique<Checkpointer>(options_.state, rules_, keys, shards_, logger_);
  }
  PipelineOptions popt;
  popt.shards = shards_;
  popt.key_ttl_ms = options_.key_ttl_ms;
  popt.max_keys_per_rule = options_.max_keys_per_rule;
  popt.max_window_samples = options_.max_window_samples;
  popt.checkpoints = checkpointer.get();
  popt.track_latest = options_.track_latest;
  popt.logger = logger_;
  Pipeline pipeline(schema_, tags_.get(), &keys, rules_, popt, &dispatcher);
  Router router(this, &pipeline);
  router.checkpointer = checkpointer.get();
  for (auto& s : sources_) {
    s->SetWaker(waker_.get());
    Status st = s->Open(schema_, tags_.get());
    if (!st.ok()) return Status::IoError("source '" + s->name() + "': " + st.message());
    Router::SourceClock c;
    c.lateness = s->allowed_lateness_ms();
    c.live = s->live();
    router.clocks.push_back(c);
  }
  for (auto& s : sinks_) {
    MeasurementSink* m = s->measurement_sink();
    if (m != nullptr) router.forwarders.push_back(std::make_unique<Forwarder>(schema_, *tags_, m, s->name()));
  }
  if (options_.state != nullptr) {
    const auto r0 = std::chrono::steady_clock::now();
    Status restored = RestoreState(&pipeline, &keys, &router, &dispatcher);
    if (!restored.ok()) return restored;
    stats_.restore_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    int64_t resumed = kMinTime;  // the newest event time read before the checkpoint
    for (const auto& c : router.clocks) resumed = std::max(resumed, c.max_ts);
    for (auto& f : router.forwarders) f->ResumeAfter(resumed);
  }
  Status start = pipeline.Start();
  if (!start.ok()) return start;
  // From here on only messages add tag values and keys: bound them (rule
  // constants, expected keys and restored state are in already and stay).
  tags_->set_limit(options_.max_tag_values);
  keys.set_limit(options_.max_key_tuples);
  inbox_.SetWaker([&pipeline] { pipeline.WakeAlertThread(); });
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_pipeline_ = &pipeline;
    live_keys_ = &keys;
    live_dispatcher_ = &dispatcher;
    live_checkpointer_ = checkpointer.get();
  }
  const auto interval = std::chrono::milliseconds(std::max<int64_t>(options_.checkpoint_interval_ms, 10));
  auto next_checkpoint = std::chrono::steady_clock::now() + interval;
  ready_.store(true, std::memory_order_release);

  Status failure;
  size_t finished = 0;
  // After a stop request: only the sources holding accepted input are
  // polled, until they are idle (or kStopDrainTimeout passed).
  bool draining = false;
  std::vector<bool> drain(sources_.size(), false);
  auto drain_deadline = std::chrono::steady_clock::time_point::max();
  while (finished < sources_.size()) {
    if (!draining && stop_.load(std::memory_order_relaxed)) {
      draining = true;
      drain_deadline = std::chrono::steady_clock::now() + kStopDrainTimeout;
      bool any = false;
      for (uint32_t i = 0; i < sources_.size(); ++i) {
        drain[i] = !router.clocks[i].finished && sources_[i]->StopAccepting();
        any = any || drain[i];
      }
      if (!any) break;
    }
    if (draining && std::chrono::steady_clock::now() >= drain_deadline) {
      logger_->Log(LogLevel::kWarn, "stopping: accepted messages still queued after " +
                                        std::to_string(kStopDrainTimeout.count()) +
                                        " s of draining are not processed");
      break;
    }
    bool progress = false;
    for (uint32_t i = 0; i < sources_.size(); ++i) {
      if (router.clocks[i].finished || (draining && !drain[i])) continue;
      router.SetSource(i);
      Result<PollState> r = sources_[i]->Poll(router, options_.poll_batch);
      if (!r.ok()) {
        failure = Status::IoError("source '" + sources_[i]->name() + "': " + r.status().message());
        logger_->Log(LogLevel::kError, failure.message());
        router.clocks[i].finished = true;
        ++finished;
        continue;
      }
      if (*r == PollState::kFinished) {
        router.clocks[i].finished = true;
        ++finished;
        router.RecomputeWatermark();
      }
      if (*r == PollState::kActive) progress = true;
    }
    if (!progress && finished < sources_.size()) router.AdvanceWithWallClock();
    LogRejections(false);
    LogRuleLimits(pipeline, keys, false);
    if (checkpointer != nullptr && std::chrono::steady_clock::now() >= next_checkpoint && !checkpointer->Busy()) {
      router.BeginCheckpoint();
      // A minimum pause after each checkpoint (like Flink's), proportional
      // to its cost: see kCheckpointPauseFactor.
      const auto pause = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
          std::chrono::duration<double>(kCheckpointPauseFactor * checkpointer->last_duration_seconds()));
      next_checkpoint = std::chrono::steady_clock::now() + std::max<std::chrono::steady_clock::duration>(interval, pause);
    }
    if (checkpointer != nullptr) {
      if (auto durable = checkpointer->TakeDurable()) NotifyDurable(*durable);
    }
    pipeline.Flush(router.watermark);
    for (auto& f : router.forwarders) f->Advance(router.watermark);
    if (draining && !progress) break;  // everything accepted was taken
    if (!progress && finished < sources_.size()) {
      if (dead_letter_ != nullptr) dead_letter_->Flush();
      waker_->WaitFor(std::chrono::milliseconds(2));  // or less: a live source got data
    }
  }
  const bool all_done = finished == sources_.size() && !stop_.load(std::memory_order_relaxed);
  inbox_.SetWaker(nullptr);
  pipeline.Finish(router.watermark, all_done && options_.close_windows_at_end);
  FinishForwarding(&router, all_done && options_.close_windows_at_end);
  // Manual alerts that arrived after the alert thread's last turn; later
  // ones are refused (SubmitAlert).
  for (const ExternalAlert& a : inbox_.Close()) dispatcher.Dispatch(a);
  if (checkpointer != nullptr) {
    // The final checkpoint: everything processed, every alert synced.
    const bool synced = dispatcher.Sync();
    std::vector<StoredSource> final_positions = Positions(router);
    Status st = checkpointer->CommitFinal(Progress(router, router.checkpoint_id + 1), final_positions,
                                          pipeline.CollectFinal(), synced);
    if (!st.ok()) {
      logger_->Log(LogLevel::kError, "final checkpoint: " + st.message());
      if (failure.ok()) failure = st;
    } else {
      (void)checkpointer->TakeDurable();  // superseded by the final positions
      NotifyDurable(final_positions);
    }
    stats_.checkpoints = checkpointer->succeeded();
    stats_.checkpoints_failed = checkpointer->failed();
    const Checkpointer::Durations d = checkpointer->durations();
    if (d.count > 0) stats_.checkpoint_seconds_mean = d.sum / static_cast<double>(d.count);
    stats_.checkpoint_seconds_max = checkpointer->max_duration_seconds();
    if (stats_.checkpoints > 0) stats_.checkpoint_bytes_mean = checkpointer->total_bytes() / stats_.checkpoints;
  }
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_pipeline_ = nullptr;
    live_keys_ = nullptr;
    live_dispatcher_ = nullptr;
    live_checkpointer_ = nullptr;
  }
  ready_.store(false, std::memory_order_release);
  if (dead_letter_ != nullptr) dead_letter_->Flush();
  for (auto& s : sinks_) (void)s->Flush();
  LogRejections(true);
  LogRuleLimits(pipeline, keys, true);

  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.alerts = dispatcher.alerts();
  stats_.sink_errors = dispatcher.sink_errors();
  stats_.shards = pipeline.Stats();
  stats_.tag_values_refused = tags_->refused();
  stats_.key_tuples_refused = keys.refused();
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    stats_.keys_rejected.push_back(pipeline.RuleKeysRejected(r));
    stats_.samples_rejected.push_back(pipeline.RuleSamplesRejected(r));
  }
  for (const auto& s : stats_.shards) {
    stats_.keys += s.keys;
    stats_.late_events += s.late_events;
    stats_.evicted_keys += s.evicted_keys;
    stats_.state_bytes += s.state_bytes;
  }
  stats_.event_latency_p50_ns = pipeline.event_latency().Quantile(0.5);
  stats_.event_latency_p99_ns = pipeline.event_latency().Quantile(0.99);
  stats_.event_latency_max_ns = pipeline.event_latency().Quantile(1.0);
  stats_.alert_latency_p50_ns = pipeline.alert_latency().Quantile(0.5);
  stats_.alert_latency_p99_ns = pipeline.alert_latency().Quantile(0.99);
  return failure;
}

// Closes (end of input) or drops the forwarders' open windows, then gives
// the forwarding sinks kForwardDrainTimeout to deliver their queues.
void Engine::FinishForwarding(Router* router, bool close_windows) {
  for (auto& f : router->forwarders) {
    const size_t open = f->Finish(close_windows);
    const std::string name = "sink '" + f->name() + "' forward: ";
    if (!close_windows && open > 0) {
      logger_->Log(LogLevel::kInfo, name + std::to_string(open) +
                                        " open window(s) not written (windows are written when the watermark closes "
                                        "them or at the end of a finite input)");
    }
    if (f->skipped() > 0) {
      logger_->Log(LogLevel::kInfo, name + std::to_string(f->skipped()) +
                                        " window(s) open at the restored checkpoint not written (incomplete)");
    }
    if (f->late() > 0) {
      logger_->Log(LogLevel::kInfo, name + std::to_string(f->late()) + " late message(s) left out of closed windows");
    }
    f->sink()->Drain(kForwardDrainTimeout);
  }
}

Status Engine::SubmitAlert(ExternalAlert alert) {
  if (inbox_.Push(std::move(alert))) return Status::Ok();
  return Status::Unsupported("the engine is not taking alerts (stopped for a shutdown or reload, or " +
                             std::to_string(AlertInbox::kMaxPending) + " waiting for it to start)");
}

StoredProgress Engine::Progress(const Router& router, uint64_t id) const {
  StoredProgress p;
  p.checkpoint = id;
  p.watermark = router.watermark;
  p.start_ts = router.start_ts;
  p.shards = shards_;
  return p;
}

// A checkpoint holding these positions is durable: tell each source (a
// Kafka source commits its offsets). Router thread. Positions() lists the
// sources in order, so entry i is source i.
void Engine::NotifyDurable(const std::vector<StoredSource>& positions) {
  for (size_t i = 0; i < positions.size() && i < sources_.size(); ++i) {
    if (!positions[i].position.empty()) sources_[i]->OnCheckpointDurable(positions[i].position);
  }
}

std::vector<StoredSource> Engine::Positions(const Router& router) const {
  std::vector<StoredSource> out;
  for (size_t i = 0; i < sources_.size(); ++i) {
    StoredSource s;
    s.name = sources_[i]->name();
    s.started = router.clocks[i].started;
    s.max_ts = router.clocks[i].max_ts;
    s.position = sources_[i]->Position();
    out.push_back(std::move(s));
  }
  return out;
}

// Loads the last checkpoint: drops the state of rules that changed or
// left the rules file, restores every key state of the others into the
// shards (re-partitioned by key for this run's shard count), the engine's
// watermark and every source's position.
Status Engine::RestoreState(Pipeline* pipeline, KeyTable* keys, Router* router, AlertDispatcher* dispatcher) {
  StateStore& store = *options_.state;
  Result<std::vector<StoredRule>> stored = store.Rules();
  if (!stored.ok()) return stored.status();
  std::map<std::string, uint32_t, std::less<>> index;
  for (uint32_t r = 0; r < rules_.size(); ++r) index[rules_[r]->info().name] = r;
  std::vector<bool> keep(rules_.size(), false);
  for (const StoredRule& sr : *stored) {
    auto it = index.find(sr.name);
    const char* why = nullptr;
    if (it == index.end()) {
      why = "is no longer in the rules file";
    } else if (const RuleInfo& info = rules_[it->second]->info();
               info.definition_hash != sr.definition_hash &&
               !(info.legacy_definition_hash && info.legacy_definition_hash() == sr.definition_hash)) {
      why = "changed since its state was saved";
    } else {
      keep[it->second] = true;
      continue;
    }
    Result<uint64_t> n = store.CountKeys(sr.name);
    logger_->Log(LogLevel::kWarn, "rule '" + sr.name + "' " + why + ": its stored state (" +
                                      std::to_string(n.ok() ? *n : 0) + " keys) is dropped");
    Status st = store.DropRule(sr.name);
    if (!st.ok()) return st;
  }
  std::vector<StoredRule> current;
  for (const auto& rule : rules_) {
    const RuleInfo& info = rule->info();
    current.push_back({info.name, info.definition_hash, info.kind, info.key_tags});
  }
  Status st = store.PutRules(current);
  if (!st.ok()) return st;

  st = pipeline->Create();
  if (!st.ok()) return st;
  // This thread reads every key state, interns its key and hands it, in
  // chunks, to a worker per shard that restores it into that shard's rules
  // (deserializing a million keys is the slow part: it runs beside the read).
  std::atomic<uint64_t> restored{0}, unreadable{0};
  struct ShardQueue {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<StateDelta> chunks;
    bool done = false;
  };
  std::vector<ShardQueue> queues(shards_);
  std::vector<StateDelta> filling(shards_);
  constexpr size_t kChunkEntries = 8192;
  auto hand_over = [&](uint32_t s) {
    {
      std::lock_guard<std::mutex> lock(queues[s].mu);
      queues[s].chunks.push_back(std::move(filling[s]));
    }
    queues[s].cv.notify_one();
    filling[s] = StateDelta();
  };
  std::vector<std::thread> workers;
  for (uint32_t s = 0; s < shards_; ++s) {
    workers.emplace_back([&, s] {
      uint64_t ok = 0, bad = 0;
      while (true) {
        std::vector<StateDelta> chunks;
        {
          std::unique_lock<std::mutex> lock(queues[s].mu);
          queues[s].cv.wait(lock, [&] { return queues[s].done || !queues[s].chunks.empty(); });
          if (queues[s].chunks.empty()) break;
          chunks.swap(queues[s].chunks);
        }
        for (const StateDelta& d : chunks) {
          for (const StateDelta::Entry& e : d.entries) {
            (pipeline->RestoreKey(e.rule, e.key, d.blob(e), d.parts(e)) ? ok : bad)++;
          }
        }
      }
      restored.fetch_add(ok, std::memory_order_relaxed);
      unreadable.fetch_add(bad, std::memory_order_relaxed);
    });
  }
  std::vector<uint32_t> tag_ids;
  st = store.ForEachKey([&](std::string_view rule, const std::vector<std::string>& values, std::string_view blob,
                            std::string_view parts) {
    auto it = index.find(rule);
    if (it == index.end() || !keep[it->second]) return true;
    const RuleInfo& info = rules_[it->second]->info();
    if (values.size() != info.key_tags.size()) {
      unreadable.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    tag_ids.clear();
    for (const auto& v : values) tag_ids.push_back(tags_->Intern(v));
    const KeyId key = keys->Intern(info.keylist, tag_ids.data(), tag_ids.size(), *tags_);
    if (key == kNoKey) {
      unreadable.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    const uint32_t shard = keys->Get(key).shard;
    StateDelta& d = filling[shard];
    StateDelta::Entry e{it->second, key, static_cast<uint32_t>(d.bytes.size()), static_cast<uint32_t>(blob.size())};
    e.parts_size = static_cast<uint32_t>(parts.size());
    d.entries.push_back(e);
    d.bytes.append(blob.data(), blob.size());
    d.bytes.append(parts.data(), parts.size());
    if (d.entries.size() >= kChunkEntries) hand_over(shard);
    return true;
  });
  for (uint32_t s = 0; s < shards_; ++s) {
    if (!filling[s].entries.empty()) hand_over(s);
    {
      std::lock_guard<std::mutex> lock(queues[s].mu);
      queues[s].done = true;
    }
    queues[s].cv.notify_one();
  }
  for (auto& w : workers) w.join();
  if (!st.ok()) return st;
  if (unreadable > 0) {
    logger_->Log(LogLevel::kWarn,
                 std::to_string(unreadable.load()) + " stored key state(s) could not be read and start fresh");
  }

  Result<std::optional<StoredProgress>> progress = store.Progress();
  if (!progress.ok()) return progress.status();
  int64_t start_ts = kMinTime, watermark = kMinTime;
  if (progress->has_value()) {
    start_ts = (*progress)->start_ts;
    watermark = (*progress)->watermark;
  }
  dispatcher->RestoreActive(pipeline->FinishRestore(start_ts, watermark));
  router->Restore(start_ts, watermark);

  Result<std::vector<StoredSource>> positions = store.Sources();
  if (!positions.ok()) return positions.status();
  size_t resumed = 0;
  for (const StoredSource& p : *positions) {
    for (uint32_t i = 0; i < sources_.size(); ++i) {
      if (sources_[i]->name() != p.name) continue;
      router->clocks[i].started = p.started;
      router->clocks[i].max_ts = p.max_ts;
      if (!p.position.empty()) {
        Status r = sources_[i]->Resume(p.position);
        if (!r.ok()) {
          return Status::IoError("source '" + p.name + "': cannot resume from its checkpointed position (" +
                                 r.message() + "); start over with --reset-state");
        }
        ++resumed;
      }
    }
  }
  stats_.restored_keys = restored.load();
  if (progress->has_value()) {
    logger_->Log(LogLevel::kInfo, "restored " + std::to_string(restored.load()) + " key states and " +
                                      std::to_string(resumed) + " source positions from " + store.path() +
                                      " (checkpoint written " + FormatIsoMillis((*progress)->written_ms) +
                                      ", watermark " +
                                      (watermark == kMinTime ? std::string("none") : FormatIsoMillis(watermark)) + ")");
  }
  return Status::Ok();
}

}  // namespace vigil
