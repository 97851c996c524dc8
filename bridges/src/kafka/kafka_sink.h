// KafkaSink: alerts to a Kafka topic (librdkafka idempotent producer).
//
// Each alert is one message: value = the alert JSON (DESIGN.md), key = the
// alert's key values joined by '/' ("nord/d-0001"; the rule name for a rule
// without key), so every transition of one key lands in one partition, in
// order; headers `vigil-id`, `vigil-rule`, `vigil-state`. acks=all and
// enable.idempotence=true: no duplicates or reordering from librdkafka's own
// retries.
//
// Delivery contract (the outbox's): Write() queues the alert in librdkafka
// (when its queue is full it serves delivery reports and retries, for at
// most `timeout`); Flush() returns OK only when every alert written since
// the previous successful Flush() is confirmed by a delivery report, and
// otherwise an error naming the first failure, after at most `timeout`.
// The caller re-sends the alerts of a failed batch (ids make duplicates
// harmless). message.timeout.ms is `timeout` too, so a batch that failed is
// not delivered later behind the caller's back.
//
// Formats only from AlertView's fields, so alerts rebuilt after a restart
// render the same. Thread-safety: one thread at a time (the alert thread or
// the outbox's delivery thread); ReportMetrics from any thread.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "kafka/kafka_common.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

struct KafkaSinkOptions {
  std::string brokers;
  std::string topic;
  kafka::Properties properties;  // passed through after vigil's own settings
  // Longest a Write (full queue) or a Flush may block. Default: 10 s.
  std::chrono::milliseconds timeout{10000};
  Logger* logger = nullptr;  // not owned; may be null
};

class KafkaSink final : public Sink {
 public:
  // Creates the producer (connecting happens in the background).
  static Result<std::unique_ptr<KafkaSink>> Create(KafkaSinkOptions options);
  ~KafkaSink() override;
  KafkaSink(const KafkaSink&) = delete;
  KafkaSink& operator=(const KafkaSink&) = delete;

  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  // vigil_kafka_produced_total{sink} (confirmed), vigil_kafka_delivery_failures_total{sink}.
  void ReportMetrics(std::vector<BridgeMetric>* out) const override;

  uint64_t delivered_total() const { return delivered_.Get(); }

 private:
  explicit KafkaSink(KafkaSinkOptions options);
  Status Start();
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void Stop();

  KafkaSinkOptions options_;
  std::string name_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  std::string key_;

  // The batch since the last successful Flush. `batch_` tags each message
  // (its opaque); reports of older batches are ignored.
  uint64_t batch_ = 1;
  uint64_t written_ = 0;    // messages produced in this batch
  uint64_t confirmed_ = 0;  // delivery reports OK in this batch
  uint64_t failed_ = 0;     // delivery reports with an error in this batch
  std::string first_failure_;

  RelaxedCounter delivered_;
  RelaxedCounter delivery_failures_;
};

}  // namespace vigil::bridges
