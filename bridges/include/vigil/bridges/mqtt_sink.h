// MqttSink: alerts published to an MQTT broker (Paho MQTT C++).
//
// Each alert's JSON goes to the topic rendered from `topic` ("alerts/{rule}/
// {zone}": {rule}, {severity}, {state}, {id} and key tags) at `qos`. With
// `retain: true` a raise is published retained, so the broker keeps the
// last state of every alert topic; a clear is published (not retained) and
// then an empty retained message deletes the retained raise. Put every key
// tag in the topic when retaining, or alerts of different keys share one
// retained slot.
//
// One attempt per call, for the outbox in front of it (OutboxSink): Write()
// publishes, Flush() waits (at most `timeout`) until every publish since the
// last Flush is acknowledged (QoS 1/2) or handed to the socket (QoS 0) and
// fails when one was not, or when the session is down.
//
// Thread-safety: Write/Flush from one thread at a time (the outbox's
// delivery thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/sink.h"

namespace mqtt {
class delivery_token;
}

namespace vigil::bridges {

struct MqttConnectionSettings;
class MqttSession;
class TopicTemplate;

struct MqttSinkOptions {
  std::string topic = "vigil/alerts/{rule}";
  int qos = 1;
  bool retain = false;
  int64_t timeout_ms = 10000;   // Flush waits at most this long
};

class MqttSink final : public Sink {
 public:
  static Result<std::unique_ptr<MqttSink>> Create(MqttSinkOptions options, const MqttConnectionSettings& connection,
                                                  Logger* logger);
  ~MqttSink() override;

  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  Status Sync() override { return Status::Ok(); }  // the outbox in front persists
  void ReportMetrics(std::vector<BridgeMetric>* out) const override;
  bool connected() const;

 private:
  MqttSink(MqttSinkOptions options, std::unique_ptr<TopicTemplate> topic, std::unique_ptr<MqttSession> session);
  MqttSinkOptions options_;
  std::unique_ptr<TopicTemplate> topic_;
  std::unique_ptr<MqttSession> session_;
  std::string name_;
  std::vector<std::shared_ptr<mqtt::delivery_token>> pending_;
  Status write_error_ = Status::Ok();
};

}  // namespace vigil::bridges
