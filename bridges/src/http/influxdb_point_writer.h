// InfluxDbPointWriter: the influxdb sink's `forward:` side — the
// measurements themselves (raw, or per-series window aggregates) written as
// line protocol to the same /write or /api/v2/write URL as the alerts, by a
// delivery thread of its own.
//
// Write() (router thread) formats each point into one line and appends it to
// a bounded in-memory queue; it never waits for the network. Beyond
// `max_queue` lines the oldest are dropped and counted
// (vigil_forward_points_total{result="dropped"}). The delivery thread POSTs up to
// `max_batch` lines per request, one request at a time, in order:
//   * 2xx: delivered (vigil_forward_points_total{result="delivered"});
//   * 4xx other than 408/429: rejected for good, logged (status and the
//     start of the answer), counted, not retried;
//   * anything else or no answer: the same batch is tried again after a
//     backoff doubling from 100 ms to 30 s.
// Not durable: what is queued is lost on kill -9 (see docs/rules.md#sinks
// for what a restart writes again). Drain() at the end of a run waits a
// bounded time for the queue to empty.
//
// Point format: measurement ForwardSpec::measurement; tags the point's tags
// (a tag named `time` is written `key_time`; empty values skipped); fields
// as floats, counts as integers (`i`); a field named `time` is written
// `field_time`; time in milliseconds (precision=ms).
//
// Thread-safety: Write/Drain from one thread (the router); metrics from any;
// the destructor stops the delivery thread (what is queued is dropped).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/http_client.h"
#include "vigil/engine/bridge_metric.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/measurement_sink.h"

namespace vigil::bridges {

struct InfluxDbPointWriterOptions {
  std::string name;        // the sink's name, for logs and metrics
  std::string write_url;   // with db/rp or org/bucket and precision=ms
  ForwardSpec spec;
  size_t max_batch = 5000;     // lines per POST (the sink's max_batch)
  size_t max_queue = 1000000;  // lines waiting; Default: 1,000,000
  std::chrono::milliseconds retry_min{100};
  std::chrono::milliseconds retry_max{30000};
  Logger* logger = nullptr;    // may be null; must outlive the writer
};

class InfluxDbPointWriter final : public MeasurementSink {
 public:
  // Starts the delivery thread; `client` is its own (not shared with the
  // alert side: a curl handle belongs to one thread).
  InfluxDbPointWriter(InfluxDbPointWriterOptions options, std::unique_ptr<HttpClient> client);
  ~InfluxDbPointWriter() override;

  // Appends the line of `p` (no newline) to `out`.
  static void AppendLine(const std::string& measurement, const MeasurementPoint& p, std::string* out);

  const ForwardSpec& forward() const override { return options_.spec; }
  void Write(const std::vector<MeasurementPoint>& points) noexcept override;
  void Drain(std::chrono::milliseconds timeout) override;
  void ReportMetrics(std::vector<BridgeMetric>* out) const;

 private:
  void Run();
  // One POST of batch_; true when done with it (delivered or rejected).
  bool Send();
  void Log(LogLevel level, const std::string& message) const;

  InfluxDbPointWriterOptions options_;
  std::unique_ptr<HttpClient> client_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // lines queued, stop, or the queue drained
  std::deque<std::string> queue_;    // guarded by mu_
  bool busy_ = false;                // guarded by mu_: a batch is in flight
  bool stop_ = false;                // guarded by mu_
  std::vector<std::string> batch_;   // delivery thread
  std::string body_;                 // delivery thread
  std::string line_;                 // router thread (Write)
  std::atomic<uint64_t> delivered_{0}, rejected_{0}, dropped_{0}, failures_{0};
  std::atomic<uint64_t> depth_{0};
  std::thread thread_;
};

}  // namespace vigil::bridges
