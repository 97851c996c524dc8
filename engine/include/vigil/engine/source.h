// Source: where messages come from (files, MQTT, Kafka, HTTP). Implemented in
// bridges/; driven by the engine's router thread.
//
// The router calls Poll() in a loop; a source decodes what it has (JSON
// with JsonMessageParser, CSV with CsvMessageDecoder) and hands each message
// or rejection to the MessageHandler, without blocking for long. Sources
// whose producers run on their own threads (broker callbacks) buffer
// internally and drain in Poll.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/bridge_metric.h"
#include "vigil/engine/message.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/status.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

class MessageHandler {
 public:
  virtual ~MessageHandler() = default;
  // A decoded message. `raw` is its text (valid during the call).
  virtual void OnMessage(ParsedMessage& message) = 0;
  // A rejected message: `where` says where it came from ("data.ndjson:17").
  virtual void OnReject(RejectReason reason, std::string_view raw, std::string_view where) = 0;
  // The source is about to give up input it already handed over (a Kafka
  // partition revoked in a rebalance): checkpoint everything handed over so
  // far and wait until it is durable. Returns true once it is, after every
  // source got its positions through Source::OnCheckpointDurable; false
  // when the engine keeps no state, or the checkpoint failed or took longer
  // than 30 s. Only from inside Poll (router thread).
  virtual bool CheckpointNow() { return false; }
};

enum class PollState { kActive, kIdle, kFinished };

// Lets a live source wake the router when data arrives while every source
// was idle (the router otherwise waits up to 2 ms between polls). Wake() is
// cheap and may be called from any thread; call it when a source's queue
// goes from empty to non-empty.
class SourceWaker {
 public:
  virtual ~SourceWaker() = default;
  virtual void Wake() = 0;
};

class Source {
 public:
  virtual ~Source() = default;
  virtual const std::string& name() const = 0;
  // Before Open: where to signal new data (outlives the source's use of it).
  virtual void SetWaker(SourceWaker* waker) {}
  // Router thread, before the first Poll. `schema` and `tags` outlive the source.
  virtual Status Open(const Schema& schema, TagInterner* tags) = 0;
  // Hands at most `max_messages` messages to `handler`. kIdle: nothing now;
  // kFinished: nothing ever again. An error is a runtime failure of the source.
  virtual Result<PollState> Poll(MessageHandler& handler, size_t max_messages) = 0;
  // A live source's watermark also follows the wall clock (DESIGN.md).
  virtual bool live() const { return false; }
  virtual int64_t allowed_lateness_ms() const { return 0; }

  // Checkpoints (DESIGN.md "Durability and delivery"). Position(): where
  // the source stands, as an opaque string: every message it handed to the
  // handler is before it, none after. Router thread, between Polls. Empty
  // when the source cannot resume (it then starts as new after a restart).
  virtual std::string Position() const { return {}; }
  // After Open, before the first Poll: continue from a Position() of an
  // earlier run. An error stops the engine (exit 1) with its message.
  virtual Status Resume(std::string_view position) { return Status::Ok(); }
  // The checkpoint holding Position() `position` is durable (a Kafka source
  // commits its offsets here). Router thread.
  virtual void OnCheckpointDurable(std::string_view position) {}

  // The engine is stopping (SIGINT/SIGTERM, a reload): take no new input.
  // Returns true when the source holds input it already accepted for good
  // (a push source that answered its senders, such as the HTTP ingest's
  // 202) and that the engine must still Poll until idle before it stops;
  // false (default) when unread input stays with its origin (a file, a
  // broker that redelivers what was not acknowledged). Router thread.
  virtual bool StopAccepting() { return false; }

  // Supervision, any thread (read atomics only). connected(): 0/1 for
  // vigil_source_connected (a broker source: its session is up).
  virtual bool connected() const { return true; }
  // Extra samples for /metrics (e.g. vigil_kafka_consumer_lag{topic,partition}).
  virtual void ReportMetrics(std::vector<BridgeMetric>* out) const {}
};

}  // namespace vigil
