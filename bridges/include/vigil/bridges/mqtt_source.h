// MqttSource: messages from an MQTT broker (Paho MQTT C++ async client) as a
// live source of the engine.
//
// Paho's callback thread puts every message (topic, payload, retained flag)
// into a bounded queue and waits while it is full: it does not return to
// Paho, so Paho stops reading the socket and the broker holds (QoS 1/2) or
// queues further messages — backpressure reaches the broker and nothing is
// dropped inside vigil. The router thread drains the queue in Poll(), parses
// each payload with JsonMessageParser and adds the tags the topic gives:
// `topic_tags` templates ("entrepot/{zone}/{sensor}/v1", the first that fits
// wins and overrides a payload tag of the same name: the topic is what the
// broker's ACLs vouch for), the tag `topic` (the topic name) when rules use
// it, `retained` ("true"/"false") when rules use it, and the topic-filter
// tags of rules' `match: {topic: ...}` (vigil/engine/topic_filter.h).
//
// Subscriptions are (re)made after every connect, at `qos` (0/1/2); with
// `clean_start: false` (the default) the broker keeps the session while vigil
// is down and delivers the QoS 1/2 messages published meanwhile.
// With a journal (`journal_dir`, STATE_DIR/journal/<source> under `vigil
// run`), the callback appends every message (topic, retained flag,
// payload) to an IngestJournal before it returns to Paho, in queue order;
// Position() is the journal offset of the next message to hand over, and
// after a crash Poll() first replays the journal from the checkpointed
// position. Paho C acknowledges a QoS 1 message (PUBACK) when it reads it,
// just before it calls the callback: only that one message can be lost by
// a kill -9 (docs/durability.md). Without a journal Position() is empty.
//
// Thread-safety: Open/Poll on the router thread; counters, connected() and
// ReportMetrics from any thread; the message callback on Paho's thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/message.h"
#include "vigil/engine/source.h"

namespace mqtt {
class message;
}

namespace vigil {
class JsonMessageParser;
}

namespace vigil::bridges {

struct MqttConnectionSettings;
class MqttSession;
class TopicTagTemplate;

struct MqttSourceOptions {
  std::string name = "mqtt";
  std::vector<std::string> topics;          // filters; "$share/group/filter" for MQTT 5 shared subscriptions
  int qos = 1;
  std::vector<std::string> topic_tags;      // templates
  MessageFormat format;
  int64_t allowed_lateness_ms = 0;
  size_t queue_messages = 65536;            // Default: 65,536 messages between Paho and the router
  std::string journal_dir;                  // the journal of accepted messages; empty: none
};

class MqttSource final : public Source {
 public:
  // `connection` from ReadMqttConnection; `logger` outlives the source.
  MqttSource(MqttSourceOptions options, const MqttConnectionSettings& connection, Logger* logger);
  ~MqttSource() override;

  const std::string& name() const override { return options_.name; }
  void SetWaker(SourceWaker* waker) override { waker_ = waker; }
  Status Open(const Schema& schema, TagInterner* tags) override;
  Result<PollState> Poll(MessageHandler& handler, size_t max_messages) override;
  bool live() const override { return true; }
  int64_t allowed_lateness_ms() const override { return options_.allowed_lateness_ms; }
  bool connected() const override;
  void ReportMetrics(std::vector<BridgeMetric>* out) const override;
  // Close(): what is queued was acknowledged to the broker already, so the
  // engine drains it before it stops.
  bool StopAccepting() override {
    Close();
    return true;
  }
  std::string Position() const override;
  Status Resume(std::string_view position) override;
  void OnCheckpointDurable(std::string_view position) override;

  // Stops the session; Poll() still drains what was queued.
  void Close();
  size_t queued_messages() const;

 private:
  // A message and its journal record (offset, offset after it; 0, 0: none).
  struct Item {
    std::shared_ptr<const mqtt::message> msg;
    uint64_t journal_offset = 0;
    uint64_t journal_end = 0;
  };
  struct Journaling;
  void OnArrived(std::shared_ptr<const mqtt::message> msg);
  void AddTopicTags(const std::string& topic, bool retained, ParsedMessage* out);
  void Handle(const Item& item, MessageHandler& handler);
  // The next message replayed from the journal; its msg is null when none is left.
  Result<Item> NextReplayed();

  MqttSourceOptions options_;
  Logger* logger_;
  SourceWaker* waker_ = nullptr;
  std::unique_ptr<MqttSession> session_;
  std::vector<TopicTagTemplate> templates_;

  // Router thread.
  std::unique_ptr<JsonMessageParser> parser_;
  TagInterner* tags_ = nullptr;
  std::vector<std::vector<int>> template_slots_;  // per template: schema tag slot per tag (-1: unused)
  int topic_slot_ = -1;
  int retained_slot_ = -1;
  uint32_t true_id_ = 0, false_id_ = 0, matched_id_ = 0;
  std::vector<std::pair<std::string, uint32_t>> filters_;             // (filter, schema slot)
  std::unordered_map<std::string, std::vector<uint32_t>> filter_cache_;  // topic -> matching filter slots
  std::deque<Item> draining_;
  ParsedMessage message_;
  std::string where_;
  std::unique_ptr<Journaling> journaling_;  // null: no journal

  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<Item> queue_;
  bool closed_ = false;

  std::atomic<uint64_t> received_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> retained_{0};
  std::atomic<uint64_t> waits_{0};   // times the callback waited for room (backpressure)
  std::atomic<uint64_t> journal_errors_{0};  // messages the journal could not take (queued all the same)
};

}  // namespace vigil::bridges
