// HttpSinkProbe: the counters of one HTTP sink (webhook, InfluxDB), reported
// in /metrics through Sink::ReportMetrics:
//   vigil_sink_http_requests_total{sink, result}  delivered | retry | rejected | failed
//   vigil_sink_alerts_delivered_total{sink}
//   vigil_sink_alerts_rejected_total{sink}        rejected for good, dead-lettered
//
// Thread-safety: one writer (the thread that flushes the sink); Report()
// from any thread (relaxed atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "vigil/engine/bridge_metric.h"

namespace vigil::bridges {

class HttpSinkProbe {
 public:
  explicit HttpSinkProbe(std::string sink) : sink_(std::move(sink)) {}

  // A request answered with a status of this class.
  void Answered(ReplyClass c) { Add(c == ReplyClass::kDelivered ? delivered_ : c == ReplyClass::kRetry ? retry_ : rejected_, 1); }
  // A request that got no answer (connection refused, timeout).
  void Failed() { Add(failed_, 1); }
  void AlertsDelivered(uint64_t n) { Add(alerts_delivered_, n); }
  void AlertsRejected(uint64_t n) { Add(alerts_rejected_, n); }

  uint64_t alerts_delivered() const { return alerts_delivered_.load(std::memory_order_relaxed); }
  uint64_t alerts_rejected() const { return alerts_rejected_.load(std::memory_order_relaxed); }

  void Report(std::vector<BridgeMetric>* out) const;

 private:
  static void Add(std::atomic<uint64_t>& c, uint64_t n) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::string sink_;
  std::atomic<uint64_t> delivered_{0}, retry_{0}, rejected_{0}, failed_{0};
  std::atomic<uint64_t> alerts_delivered_{0}, alerts_rejected_{0};
};

}  // namespace vigil::bridges
