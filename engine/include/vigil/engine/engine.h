// Engine: owns one loaded configuration at run time and drives it — the
// router loop over sources, the watermark, the pipeline, dead letters,
// alert dispatch to sinks, forwarding of measurements to the sinks that
// take them (Sink::measurement_sink, on the router thread) — until every
// source is finished or a stop is requested.
//
// Watermark: each source's is its highest event ts minus its allowed
// lateness; with several sources the engine watermark is the lowest among
// sources that have delivered and are not finished (so no source's data is
// made late by another's). A live source idle for a while also advances with
// the wall clock (now - allowed lateness).
// Lifecycle: construct, Run() once from one thread (it becomes the router
// thread), read stats. RequestStop() may be called from any thread (signals).
#pragma once

#include <array>
#include <chrono>
#include <atomic>
#include <functional>
#include <mutex>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/alert_inbox.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/message.h"
#include "vigil/engine/pipeline.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/source.h"
#include "vigil/engine/state_store.h"
#include "vigil/engine/status.h"
#include "vigil/engine/tag_interner.h"

namespace prometheus {
struct MetricFamily;
}

namespace vigil {

class Checkpointer;
class RouterWaker;

// Receives rejected messages with their reason (the dead-letter sink).
class DeadLetterWriter {
 public:
  virtual ~DeadLetterWriter() = default;
  virtual void Write(std::string_view source, RejectReason reason, std::string_view where, std::string_view raw) = 0;
  virtual void Flush() {}
};

struct EngineOptions {
  uint32_t shards = 0;                 // 0 = hardware concurrency
  size_t poll_batch = 1024;            // messages per Poll call (partial batches are flushed after each)
  // Close open windows when every source finished (replay, file follow: false).
  bool close_windows_at_end = true;
  int64_t key_ttl_ms = 24 * 3600 * 1000;  // engine.key_ttl
  uint64_t max_keys_per_rule = 1000000;   // engine.max_keys_per_rule (0 = no limit)
  uint64_t max_window_samples = 100000;   // engine.max_window_samples (0 = no limit)
  // engine.max_tag_values / max_key_tuples (0 = no limit): applied once the
  // rules, expected keys and restored state are in, to what messages add.
  uint64_t max_tag_values = 2000000;
  uint64_t max_key_tuples = 2000000;
  // Durable state (engine.state_dir), opened by the caller; null: none
  // (replay). The engine restores from it before starting and checkpoints
  // into it every `checkpoint_interval_ms` and when it stops.
  StateStore* state = nullptr;
  int64_t checkpoint_interval_ms = 1000;
  // Keep the latest values of every series for LatestSeriesJson (`vigil
  // run` with an HTTP server). Costs a few stores per event. Default: off.
  bool track_latest = false;
  std::string version = "0.0.0";          // for vigil_build_info
  std::string commit = "unknown";
};

struct EngineStats {
  uint64_t messages = 0;               // every message read, rejected ones included
  std::array<uint64_t, static_cast<size_t>(RejectReason::kCount)> rejected{};
  uint64_t alerts = 0;
  uint64_t sink_errors = 0;
  uint64_t late_events = 0;
  uint64_t evicted_keys = 0;
  // Per rule (rules() order): messages not tracked because their new key
  // was beyond the rule's max_keys; samples not added to a full sliding buffer.
  std::vector<uint64_t> keys_rejected;
  std::vector<uint64_t> samples_rejected;
  // New tag values / key tuples refused (engine.max_tag_values / max_key_tuples).
  uint64_t tag_values_refused = 0;
  uint64_t key_tuples_refused = 0;
  uint64_t keys = 0;
  uint64_t state_bytes = 0;
  uint64_t restored_keys = 0;          // key states restored from the state dir
  uint64_t checkpoints = 0;            // durable checkpoints written
  uint64_t checkpoints_failed = 0;
  double checkpoint_seconds_mean = 0;  // barrier -> durable, mean over the run
  double checkpoint_seconds_max = 0;
  uint64_t checkpoint_bytes_mean = 0;  // bytes written per checkpoint, mean
  double restore_seconds = 0;          // time to load the state at start
  double seconds = 0;
  std::vector<ShardStats> shards;
  uint64_t event_latency_p50_ns = 0, event_latency_p99_ns = 0, event_latency_max_ns = 0;
  uint64_t alert_latency_p50_ns = 0, alert_latency_p99_ns = 0;
  uint64_t rejected_total() const {
    uint64_t n = 0;
    for (uint64_t r : rejected) n += r;
    return n;
  }
};

// GET /api/v1/series/latest: tag equalities every series must meet, and
// how many series to return at most.
struct SeriesQuery {
  std::vector<std::pair<std::string, std::string>> tags;
  size_t limit = 1000;
};

class Engine {
 public:
  Engine(Schema schema, std::unique_ptr<TagInterner> tags, std::vector<std::shared_ptr<const Rule>> rules,
         std::vector<std::unique_ptr<Source>> sources, std::vector<std::unique_ptr<Sink>> sinks,
         DeadLetterWriter* dead_letter, Logger* logger, EngineOptions options);
  ~Engine();

  // Runs until every source is finished (then closes windows if configured)
  // or RequestStop(). Returns a runtime failure of a source, if any.
  Status Run();
  void RequestStop() { stop_.store(true, std::memory_order_relaxed); }
  const EngineStats& stats() const { return stats_; }
  uint32_t shards() const { return shards_; }
  const std::vector<std::shared_ptr<const Rule>>& rules() const { return rules_; }

  // The Prometheus text exposition of every metric (DESIGN.md "Supervision"),
  // built at scrape time from relaxed per-thread counters. Any thread.
  std::string MetricsText() const;
  // Per-rule counters as a JSON object {"rule": {"evaluations","raised","cleared","active"}}. Any thread.
  std::string RuleCountersJson() const;
  // True once Run() started the pipeline and every source opened.
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // {"series":[{"tags":{...},"ts":ms,"fields":{...}}...],"truncated":bool}:
  // the latest values of the series matching `query` (see
  // docs/http-api.md), at most query.limit, sorted by tags. InvalidArgument
  // for a tag no rule key has; Unsupported when not running or without
  // track_latest. Any thread.
  Result<std::string> LatestSeriesJson(const SeriesQuery& query) const;
  // A manual alert for the sinks: queued for the alert thread, which writes
  // it to every sink and counts it in vigil_alerts_total. Unsupported once
  // Run() has stopped the pipeline, or when AlertInbox::kMaxPending wait.
  // Any thread, before or during Run().
  Status SubmitAlert(ExternalAlert alert);
  // Called for every alert on the alert thread (e.g. the HTTP alert board). Set before Run().
  void SetAlertObserver(std::function<void(const AlertView&)> observer) { alert_observer_ = std::move(observer); }

 private:
  class Router;
  void LogRejections(bool final);
  void FinishForwarding(Router* router, bool close_windows);
  void LogRuleLimits(const Pipeline& pipeline, const KeyTable& keys, bool final);
  Status RestoreState(Pipeline* pipeline, KeyTable* keys, Router* router, AlertDispatcher* dispatcher);
  StoredProgress Progress(const Router& router, uint64_t id) const;
  std::vector<StoredSource> Positions(const Router& router) const;
  void NotifyDurable(const std::vector<StoredSource>& positions);
  void AddCheckpointMetrics(std::vector<prometheus::MetricFamily>* families) const;
  void AddBridgeMetrics(std::vector<prometheus::MetricFamily>* families) const;
  Schema schema_;
  std::unique_ptr<TagInterner> tags_;
  std::vector<std::shared_ptr<const Rule>> rules_;
  // Declared before sources_: sources may call it until they are destroyed.
  std::unique_ptr<RouterWaker> waker_;
  std::vector<std::unique_ptr<Source>> sources_;
  std::vector<std::unique_ptr<Sink>> sinks_;
  DeadLetterWriter* dead_letter_;
  Logger* logger_;
  EngineOptions options_;
  uint32_t shards_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ready_{false};
  EngineStats stats_;
  std::function<void(const AlertView&)> alert_observer_;
  std::chrono::steady_clock::time_point last_reject_log_{};
  std::array<uint64_t, static_cast<size_t>(RejectReason::kCount)> reported_rejected_{};
  std::chrono::steady_clock::time_point last_limit_log_{};
  std::vector<uint64_t> reported_keys_rejected_;     // [rule], as of the last log line
  std::vector<uint64_t> reported_samples_rejected_;  // [rule]
  uint64_t reported_tag_values_refused_ = 0;
  uint64_t reported_key_tuples_refused_ = 0;

  // Live telemetry (router thread writes, scrapes read).
  struct SourceCounters {
    RelaxedCounter received;
    RelaxedCounter rejected[static_cast<size_t>(RejectReason::kCount)];
  };
  std::unique_ptr<SourceCounters[]> source_counters_;
  LatencyHistogram event_lag_;            // now - event ts of live sources (router thread)
  double start_time_seconds_ = 0;
  AlertInbox inbox_;                      // manual alerts on their way to the alert thread
  mutable std::mutex live_mu_;            // guards the pointers below
  const Pipeline* live_pipeline_ = nullptr;
  const KeyTable* live_keys_ = nullptr;
  const AlertDispatcher* live_dispatcher_ = nullptr;
  const Checkpointer* live_checkpointer_ = nullptr;
};

}  // namespace vigil
