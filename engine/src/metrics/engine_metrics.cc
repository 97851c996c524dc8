// Engine::MetricsText and Engine::RuleCountersJson: the scrape-time fold of
// the per-thread relaxed counters into Prometheus metric families, written
// with prometheus-cpp's text serializer.
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "metrics/process_metrics.h"
#include "vigil/engine/alert_dispatcher.h"
#include "state/checkpointer.h"
#include "vigil/engine/engine.h"

namespace vigil {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Prometheus buckets of the latency histograms, in seconds.
constexpr double kLatencyBuckets[] = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                      0.01,    0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,
                                      5,       10,      30,     60};

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void AddValue(MetricFamily* f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  std::sort(labels.begin(), labels.end());  // stable, conventional label order
  m.label = std::move(labels);
  if (f->type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f->metric.push_back(std::move(m));
}

// One histogram: `cumulative[i]` observations at most `bounds[i]`, then +Inf.
void AddBuckets(MetricFamily* f, const double* bounds, const uint64_t* cumulative, size_t n, uint64_t count,
                double sum) {
  ClientMetric m;
  for (size_t i = 0; i < n; ++i) {
    ClientMetric::Bucket b;
    b.upper_bound = bounds[i];
    b.cumulative_count = cumulative[i];
    m.histogram.bucket.push_back(b);
  }
  ClientMetric::Bucket inf;
  inf.upper_bound = std::numeric_limits<double>::infinity();
  inf.cumulative_count = count;
  m.histogram.bucket.push_back(inf);
  m.histogram.sample_count = count;
  m.histogram.sample_sum = sum;
  f->metric.push_back(std::move(m));
}

void AddHistogram(MetricFamily* f, const LatencyHistogram& h) {
  constexpr size_t n = std::size(kLatencyBuckets);
  uint64_t cumulative[n];
  for (size_t i = 0; i < n; ++i) cumulative[i] = h.CountAtMost(static_cast<uint64_t>(kLatencyBuckets[i] * 1e9));
  AddBuckets(f, kLatencyBuckets, cumulative, n, h.Count(), static_cast<double>(h.SumNs()) / 1e9);
}

}  // namespace

std::string Engine::MetricsText() const {
  std::vector<MetricFamily> families;

  MetricFamily build = Family("vigil_build_info", "vigil version and commit (value 1).", MetricType::Gauge);
  AddValue(&build, {{"version", options_.version}, {"commit", options_.commit}}, 1);
  families.push_back(std::move(build));

  MetricFamily received = Family("vigil_messages_received_total",
                                 "Messages read from each source, rejected ones included.", MetricType::Counter);
  MetricFamily rejected = Family("vigil_messages_rejected_total",
                                 "Messages rejected (and dead-lettered) per source and reason.", MetricType::Counter);
  MetricFamily connected = Family("vigil_source_connected", "1 while the source is connected or open.",
                                  MetricType::Gauge);
  MetricFamily late = Family("vigil_late_events_total",
                             "Messages that arrived after one of their windows had closed.", MetricType::Counter);

  std::lock_guard<std::mutex> lock(live_mu_);
  for (size_t i = 0; i < sources_.size(); ++i) {
    const std::string& name = sources_[i]->name();
    AddValue(&received, {{"source", name}}, static_cast<double>(source_counters_[i].received.Get()));
    for (size_t r = 1; r < static_cast<size_t>(RejectReason::kCount); ++r) {
      AddValue(&rejected, {{"reason", RejectReasonName(static_cast<RejectReason>(r))}, {"source", name}},
               static_cast<double>(source_counters_[i].rejected[r].Get()));
    }
    AddValue(&connected, {{"source", name}}, live_pipeline_ != nullptr && sources_[i]->connected() ? 1 : 0);
    AddValue(&late, {{"source", name}},
             live_pipeline_ != nullptr ? static_cast<double>(live_pipeline_->LateEvents(static_cast<uint32_t>(i))) : 0);
  }
  families.push_back(std::move(received));
  families.push_back(std::move(rejected));
  families.push_back(std::move(connected));
  families.push_back(std::move(late));

  MetricFamily events = Family("vigil_events_processed_total", "Events processed by each shard.", MetricType::Counter);
  MetricFamily queue = Family("vigil_queue_depth", "Events handed to each shard and not processed yet (backlog).",
                              MetricType::Gauge);
  MetricFamily keys = Family("vigil_state_keys", "Keys with rule state on each shard (all rules).", MetricType::Gauge);
  MetricFamily evaluations = Family("vigil_rule_evaluations_total",
                                    "Evaluations of each rule's condition.", MetricType::Counter);
  MetricFamily keys_rejected = Family(
      "vigil_rule_keys_rejected_total",
      "Messages a rule did not track because their key was new and the rule's max_keys was reached.",
      MetricType::Counter);
  MetricFamily samples_rejected = Family(
      "vigil_rule_samples_rejected_total",
      "Samples not added to a rule's sliding buffer because it held engine.max_window_samples already.",
      MetricType::Counter);
  MetricFamily alerts = Family("vigil_alerts_total", "Alert transitions emitted per rule, severity and state.",
                               MetricType::Counter);
  MetricFamily active = Family("vigil_alerts_active", "Alerts currently raised per rule and severity.",
                               MetricType::Gauge);
  MetricFamily plugin_errors = Family("vigil_plugin_errors_total",
                                      "Run-time errors of plugin rules (caught at the plugin boundary).",
                                      MetricType::Counter);
  MetricFamily sink_errors = Family("vigil_sink_errors_total", "Failed writes or flushes of each sink.",
                                    MetricType::Counter);
  MetricFamily latency = Family("vigil_pipeline_latency_seconds",
                                "Time from ingest to the event processed by its shard (sampled 1 in 16).",
                                MetricType::Histogram);
  MetricFamily lag = Family("vigil_event_lag_seconds",
                            "Wall-clock time minus event time at ingest, live sources (sampled 1 in 16).",
                            MetricType::Histogram);
  if (live_pipeline_ != nullptr) {
    for (uint32_t s = 0; s < live_pipeline_->shards(); ++s) {
      const Pipeline::ShardTelemetry t = live_pipeline_->Telemetry(s);
      const std::string shard = std::to_string(s);
      AddValue(&events, {{"shard", shard}}, static_cast<double>(t.events));
      AddValue(&queue, {{"shard", shard}}, static_cast<double>(t.backlog));
      AddValue(&keys, {{"shard", shard}}, static_cast<double>(t.keys));
    }
    LatencyHistogram merged;
    live_pipeline_->MergeLatency(&merged);
    AddHistogram(&latency, merged);
  } else {
    AddHistogram(&latency, LatencyHistogram());
  }
  AddHistogram(&lag, event_lag_);
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    const RuleInfo& info = rules_[r]->info();
    const uint64_t evals = live_pipeline_ != nullptr ? live_pipeline_->RuleEvaluations(r) : 0;
    const uint64_t raised = live_dispatcher_ != nullptr ? live_dispatcher_->raised(r) : 0;
    const uint64_t cleared = live_dispatcher_ != nullptr ? live_dispatcher_->cleared(r) : 0;
    AddValue(&evaluations, {{"rule", info.name}}, static_cast<double>(evals));
    AddValue(&keys_rejected, {{"rule", info.name}},
             live_pipeline_ != nullptr ? static_cast<double>(live_pipeline_->RuleKeysRejected(r)) : 0);
    AddValue(&samples_rejected, {{"rule", info.name}},
             live_pipeline_ != nullptr ? static_cast<double>(live_pipeline_->RuleSamplesRejected(r)) : 0);
    AddValue(&alerts, {{"rule", info.name}, {"severity", info.severity}, {"state", "raised"}},
             static_cast<double>(raised));
    AddValue(&alerts, {{"rule", info.name}, {"severity", info.severity}, {"state", "cleared"}},
             static_cast<double>(cleared));
    AddValue(&active, {{"rule", info.name}, {"severity", info.severity}},
             live_dispatcher_ != nullptr ? static_cast<double>(live_dispatcher_->active(r)) : 0);
    if (!info.plugin.empty()) {
      AddValue(&plugin_errors, {{"plugin", info.plugin}, {"rule", info.name}},
               live_pipeline_ != nullptr ? static_cast<double>(live_pipeline_->RuleErrors(r)) : 0);
    }
  }
  // Manual alerts (POST /api/v1/alerts) under their own rule names, which
  // never equal a rule of the rules file (the API refuses those).
  if (live_dispatcher_ != nullptr) {
    for (const AlertDispatcher::ManualCount& c : live_dispatcher_->ManualCounts()) {
      AddValue(&alerts, {{"rule", c.rule}, {"severity", c.severity}, {"state", "raised"}},
               static_cast<double>(c.raised));
      AddValue(&alerts, {{"rule", c.rule}, {"severity", c.severity}, {"state", "cleared"}},
               static_cast<double>(c.cleared));
    }
  }
  for (size_t i = 0; i < sinks_.size(); ++i) {
    AddValue(&sink_errors, {{"sink", sinks_[i]->name()}},
             static_cast<double>((live_dispatcher_ != nullptr ? live_dispatcher_->sink_errors(i) : 0) +
                                 sinks_[i]->delivery_failures()));
  }
  MetricFamily engine_limits = Family(
      "vigil_engine_limit_hits_total",
      "New tag values (limit=max_tag_values) or key tuples (limit=max_key_tuples) the engine did not keep because "
      "its limit was reached.",
      MetricType::Counter);
  AddValue(&engine_limits, {{"limit", "max_tag_values"}}, static_cast<double>(tags_->refused()));
  AddValue(&engine_limits, {{"limit", "max_key_tuples"}},
           live_keys_ != nullptr ? static_cast<double>(live_keys_->refused()) : 0);
  for (auto* f : {&events, &queue, &keys, &evaluations, &keys_rejected, &samples_rejected, &engine_limits, &alerts,
                  &active, &plugin_errors, &sink_errors, &latency, &lag}) {
    families.push_back(std::move(*f));
  }
  AddCheckpointMetrics(&families);
  AddBridgeMetrics(&families);
  for (auto& f : ProcessMetrics(start_time_seconds_)) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

// Checkpoint metrics (engine.state_dir): present, at zero, without a store.
void Engine::AddCheckpointMetrics(std::vector<prometheus::MetricFamily>* families) const {
  MetricFamily duration = Family("vigil_checkpoint_duration_seconds",
                                 "Time from a checkpoint's barrier to its state being durable in RocksDB.",
                                 MetricType::Histogram);
  MetricFamily last = Family("vigil_checkpoint_last_success_timestamp_seconds",
                             "Wall-clock time of the last durable checkpoint (0: none yet).", MetricType::Gauge);
  MetricFamily total = Family("vigil_checkpoints_total", "Checkpoints written (ok) or failed and retried (failed).",
                              MetricType::Counter);
  MetricFamily bytes = Family("vigil_checkpoint_last_bytes", "Bytes written by the last durable checkpoint.",
                              MetricType::Gauge);
  const Checkpointer* c = live_checkpointer_;
  Checkpointer::Durations d;
  if (c != nullptr) d = c->durations();
  std::vector<uint64_t> cumulative(d.bounds.size());
  for (size_t b = 0; b < d.bounds.size(); ++b) cumulative[b] = (b ? cumulative[b - 1] : 0) + d.buckets[b];
  AddBuckets(&duration, d.bounds.data(), cumulative.data(), d.bounds.size(), d.count, d.sum);
  AddValue(&last, {}, c != nullptr ? c->last_success_seconds() : 0);
  AddValue(&total, {{"result", "ok"}}, c != nullptr ? static_cast<double>(c->succeeded()) : 0);
  AddValue(&total, {{"result", "failed"}}, c != nullptr ? static_cast<double>(c->failed()) : 0);
  AddValue(&bytes, {}, c != nullptr ? static_cast<double>(c->last_bytes()) : 0);
  for (auto* f : {&duration, &last, &total, &bytes}) families->push_back(std::move(*f));
}

// Samples the sources and sinks report (Kafka lag, outbox depth...),
// grouped by name into families in order of first appearance.
void Engine::AddBridgeMetrics(std::vector<prometheus::MetricFamily>* families) const {
  std::vector<BridgeMetric> samples;
  for (const auto& s : sources_) s->ReportMetrics(&samples);
  for (const auto& s : sinks_) s->ReportMetrics(&samples);
  std::map<std::string, size_t> index;
  std::vector<MetricFamily> grouped;
  for (auto& b : samples) {
    auto [it, added] = index.emplace(b.name, grouped.size());
    if (added) {
      grouped.push_back(Family(b.name.c_str(), b.help.c_str(),
                               b.type == BridgeMetric::Type::kCounter ? MetricType::Counter : MetricType::Gauge));
    }
    std::vector<ClientMetric::Label> labels;
    for (auto& [k, v] : b.labels) labels.push_back(ClientMetric::Label{k, v});
    AddValue(&grouped[it->second], std::move(labels), b.value);
  }
  for (auto& f : grouped) families->push_back(std::move(f));
}

std::string Engine::RuleCountersJson() const {
  std::lock_guard<std::mutex> lock(live_mu_);
  std::string j = "{";
  for (uint32_t r = 0; r < rules_.size(); ++r) {
    const uint64_t evals = live_pipeline_ != nullptr ? live_pipeline_->RuleEvaluations(r) : 0;
    const uint64_t raised = live_dispatcher_ != nullptr ? live_dispatcher_->raised(r) : 0;
    const uint64_t cleared = live_dispatcher_ != nullptr ? live_dispatcher_->cleared(r) : 0;
    const uint64_t open = live_dispatcher_ != nullptr ? live_dispatcher_->active(r) : 0;
    if (r) j += ",";
    AppendJsonString(&j, rules_[r]->info().name);
    j += ":{\"evaluations\":" + std::to_string(evals) + ",\"raised\":" + std::to_string(raised) +
         ",\"cleared\":" + std::to_string(cleared) +
         ",\"active\":" + std::to_string(open) + "}";
  }
  return j + "}";
}

}  // namespace vigil
