// KafkaSource: a consumer-group member (librdkafka high-level consumer) as
// a live source of the engine.
//
// Each Kafka message value is one JSON object, parsed on the router thread
// with JsonMessageParser; a rejected one is reported as "topic[p]@offset".
// The message key can fill a tag (`key_tag`), and the Kafka timestamp is the
// event time of a message that carries none.
//
// Offsets (DESIGN.md "Durability and delivery"): nothing is committed
// automatically. Position() lists the next offset of every partition the
// source handed messages from; the engine stores it in each checkpoint and,
// once that checkpoint is durable, OnCheckpointDurable() commits exactly
// those offsets. After a restart, Resume() makes the first assignment of
// each partition start at its checkpointed offset (otherwise the group's
// committed offset, else `start`). Rebalances are cooperative
// (cooperative-sticky): on revoke the offsets of the last durable checkpoint
// are committed for the revoked partitions (synchronously), so their new
// owner re-reads what was consumed after it: at-least-once, alert ids
// de-duplicate.
//
// Backpressure: Poll() takes messages from librdkafka's local queue without
// waiting; when the router is slow the queue fills and librdkafka stops
// fetching (queued.max.messages.kbytes). Nothing is dropped.
//
// Thread-safety: Open/Poll/Position/Resume/OnCheckpointDurable and the
// librdkafka callbacks they serve run on the router thread; connected() and
// ReportMetrics() from any thread (atomics and a mutex-guarded lag snapshot).
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "kafka/kafka_common.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/message.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/source.h"

namespace vigil {
class JsonMessageParser;
}

namespace vigil::bridges {

struct KafkaSourceOptions {
  std::string name = "kafka";
  std::string brokers;              // bootstrap.servers, "host:port,host:port"
  std::vector<std::string> topics;  // names, or "^regex" patterns
  std::string group;                // group.id
  // Tag set to the message key (overriding the same tag in the JSON); empty:
  // the key is not used. Default: none.
  std::string key_tag;
  // Where a partition without a committed offset starts: false = earliest,
  // true = latest (auto.offset.reset). Default: earliest.
  bool start_latest = false;
  // Passed to librdkafka as is (security.protocol, sasl.*, ssl.*, ...),
  // after vigil's own settings; the factory decides which keys are allowed.
  kafka::Properties properties;
  MessageFormat format;
  int64_t allowed_lateness_ms = 0;
  // How long the destructor waits for the consumer to leave its group. Default: 10 s.
  std::chrono::milliseconds close_timeout{10000};
  Logger* logger = nullptr;  // not owned; may be null
};

class KafkaSource final : public Source {
 public:
  explicit KafkaSource(KafkaSourceOptions options);
  // Leaves the group (committing the last durable offsets) within close_timeout.
  ~KafkaSource() override;
  KafkaSource(const KafkaSource&) = delete;
  KafkaSource& operator=(const KafkaSource&) = delete;

  const std::string& name() const override { return options_.name; }
  // Creates the consumer and subscribes; connecting happens in the background.
  void SetWaker(SourceWaker* waker) override { waker_ = waker; }
  Status Open(const Schema& schema, TagInterner* tags) override;
  // An error only for a fatal consumer error (the source stops).
  Result<PollState> Poll(MessageHandler& handler, size_t max_messages) override;
  bool live() const override { return true; }
  int64_t allowed_lateness_ms() const override { return options_.allowed_lateness_ms; }

  // "topic:partition:next_offset" for each partition, comma-separated, sorted.
  std::string Position() const override;
  Status Resume(std::string_view position) override;
  void OnCheckpointDurable(std::string_view position) override;

  bool connected() const override { return connected_.load(std::memory_order_relaxed); }
  // vigil_kafka_consumer_lag{source,topic,partition}, vigil_source_bytes_total,
  // vigil_source_errors_total.
  void ReportMetrics(std::vector<BridgeMetric>* out) const override;

  // The consumer's setting of a librdkafka property once Open() created
  // it (its own defaults with the user's properties on top); empty before
  // Open() or for an unknown name.
  std::string EffectiveProperty(const std::string& name) const;

  // Errors seen (error callback, failed commits, error events). Any thread.
  uint64_t errors_total() const { return errors_.load(std::memory_order_relaxed); }
  // Offsets committed so far (successful commit callbacks). Any thread.
  uint64_t commits_total() const { return commits_.Get(); }

 private:
  struct Cursor {
    std::string topic;
    int32_t partition = 0;
    int64_t next = -1;       // offset after the last message handed over; -1: none yet
    int64_t durable = -1;    // offset of the last durable checkpoint; -1: none
    int64_t committed = -1;  // last offset we asked to commit
  };
  using TopicPartition = std::pair<std::string, int32_t>;

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                          void* opaque);
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text);
  static void OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                       void* opaque);
  static int OnStats(rd_kafka_t* rk, char* json, size_t json_len, void* opaque);

  void Assign(rd_kafka_topic_partition_list_t* parts);
  void Revoke(rd_kafka_topic_partition_list_t* parts, bool lost);
  Cursor* CursorFor(const rd_kafka_message_t* m);
  void Deliver(const rd_kafka_message_t* m, MessageHandler& handler);
  void RefreshLag();
  void Warn(const std::string& what);

  KafkaSourceOptions options_;
  rd_kafka_t* rk_ = nullptr;
  SourceWaker* waker_ = nullptr;
  std::unique_ptr<JsonMessageParser> parser_;
  TagInterner* tags_ = nullptr;
  int key_slot_ = -1;  // schema slot of key_tag, -1 when the rules do not use it
  ParsedMessage message_;

  // Router thread.
  std::map<TopicPartition, Cursor> cursors_;       // assigned partitions
  std::map<TopicPartition, int64_t> resume_;       // checkpointed offsets not yet assigned
  const rd_kafka_topic_t* last_rkt_ = nullptr;     // cache of the last message's cursor
  int32_t last_partition_ = -1;
  Cursor* last_cursor_ = nullptr;
  std::chrono::steady_clock::time_point next_lag_refresh_{};
  // The handler of the Poll in progress (rebalance callbacks run inside
  // it), null outside Poll: a revoke asks it for a checkpoint first.
  MessageHandler* poll_handler_ = nullptr;

  // Any thread.
  std::atomic<bool> connected_{false};
  RelaxedCounter bytes_;                 // router thread writes
  RelaxedCounter commits_;               // router thread writes (commit callbacks are served by Poll)
  std::atomic<uint64_t> errors_{0};      // written by the router and librdkafka threads
  struct Lag {
    std::string topic;
    int32_t partition;
    int64_t lag;
  };
  mutable std::mutex lag_mu_;
  std::vector<Lag> lag_;
};

}  // namespace vigil::bridges
