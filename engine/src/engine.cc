// Engine: the router loop.
#include "vigil/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <thread>

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

  std::vector<SourceClock> clocks;
  int64_t watermark = kMinTime;

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

Status Engine::Run() {
  const auto t0 = std::chrono::steady_clock::now();
  KeyTable keys(shards_);
  std::vector<Sink*> sink_ptrs;
  for (auto& s : sinks_) sink_ptrs.push_back(s.get());
  AlertDispatcher dispatcher(rules_, keys, sink_ptrs, logger_);
  if (alert_observer_) dispatcher.SetObserver(alert_observer_);
  PipelineOptions popt;
  popt.shards = shards_;
  popt.key_ttl_ms = options_.key_ttl_ms;
  Pipeline pipeline(schema_, tags_.get(), &keys, rules_, popt, &dispatcher);
  Router router(this, &pipeline);
  for (auto& s : sources_) {
    Status st = s->Open(schema_, tags_.get());
    if (!st.ok()) return Status::IoError("source '" + s->name() + "': " + st.message());
    Router::SourceClock c;
    c.lateness = s->allowed_lateness_ms();
    c.live = s->live();
    router.clocks.push_back(c);
  }
  Status start = pipeline.Start();
  if (!start.ok()) return start;
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_pipeline_ = &pipeline;
    live_dispatcher_ = &dispatcher;
  }
  ready_.store(true, std::memory_order_release);

  Status failure;
  size_t finished = 0;
  while (finished < sources_.size() && !stop_.load(std::memory_order_relaxed)) {
    bool progress = false;
    for (uint32_t i = 0; i < sources_.size(); ++i) {
      if (router.clocks[i].finished) continue;
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
    pipeline.Flush(router.watermark);
    if (!progress && finished < sources_.size()) {
      if (dead_letter_ != nullptr) dead_letter_->Flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  const bool all_done = finished == sources_.size() && !stop_.load(std::memory_order_relaxed);
  pipeline.Finish(router.watermark, all_done && options_.close_windows_at_end);
  {
    std::lock_guard<std::mutex> lock(live_mu_);
    live_pipeline_ = nullptr;
    live_dispatcher_ = nullptr;
  }
  ready_.store(false, std::memory_order_release);
  if (dead_letter_ != nullptr) dead_letter_->Flush();
  for (auto& s : sinks_) (void)s->Flush();
  LogRejections(true);

  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats_.alerts = dispatcher.alerts();
  stats_.sink_errors = dispatcher.sink_errors();
  stats_.shards = pipeline.Stats();
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

}  // namespace vigil
