// MqttSink: alerts published to an MQTT broker (Paho MQTT C, synchronous
// client).
//
// Each alert's JSON goes to the topic rendered from `topic` ("alerts/{rule}/
// {zone}": {rule}, {severity}, {state}, {id} and key tags) at `qos`. With
// `retain: true` a raise is published retained, so the broker keeps the
// last state of every alert topic; a clear is published (not retained) and
// then an empty retained message deletes the retained raise. Put every key
// tag in the topic when retaining, or alerts of different keys share one
// retained slot.
//
// Why Paho C's MQTTClient and not the Paho C++ async client the source
// uses: MQTTClient_publish writes the packet on the calling thread, while
// the async client hands it to a send thread that, in Paho C 1.3.11/1.3.12
// (Debian 12), can miss its wake-up and sleep up to 1 s (paho.mqtt.c#1039,
// #1457; fixed in 1.3.14). Acknowledgements (PUBACK/PUBCOMP) come back on
// Paho's background thread (MQTTClient_setCallbacks: deliveryComplete).
//
// It is a PipelinedSink: the outbox in front of it (OutboxSink) sends each
// alert as soon as it is appended and the sink confirms them as the broker
// acknowledges them (QoS 1/2), or once written to the socket (QoS 0), up to
// window() unconfirmed: the broker's Receive Maximum (MQTT 5) and
// `max_inflight`, at most 4096. A lost connection or a publish the broker
// refuses (MQTT 5 reason code >= 0x80) fails the attempt; the outbox then
// sends everything unconfirmed again. Write()/Flush() remain for a caller
// without an outbox: Flush waits (at most `timeout`) until every Write since
// the last Flush is confirmed.
//
// The connection settings are those of the mqtt source (url, client_id,
// credentials, TLS, version, clean_start, session_expiry, keepalive,
// connect_timeout, reconnect backoff, max_inflight): a connector thread
// connects and reconnects with capped exponential backoff.
//
// Thread-safety: Write/Flush/Send/Confirmed/Restart from one thread at a time
// (the outbox's delivery thread); connected() and metrics from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/bridges/outbox_sink.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

struct MqttConnectionSettings;
class TopicTemplate;

struct MqttSinkOptions {
  std::string topic = "vigil/alerts/{rule}";
  int qos = 1;
  bool retain = false;
  int64_t timeout_ms = 10000;   // an alert unconfirmed this long fails the attempt
};

class MqttSink final : public Sink, public PipelinedSink {
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

  // PipelinedSink
  void SetNotifier(std::function<void()> notify) override;
  Status Send(const AlertView& alert, uint64_t seq) override;
  Result<uint64_t> Confirmed() override;
  void Restart() override;
  size_t window() const override;
  int64_t timeout_ms() const override { return options_.timeout_ms; }

  struct Impl;  // the Paho client, its connector thread and the acknowledgement bookkeeping

 private:
  MqttSink(MqttSinkOptions options, std::unique_ptr<TopicTemplate> topic, std::unique_ptr<Impl> impl);
  MqttSinkOptions options_;
  std::unique_ptr<TopicTemplate> topic_;
  std::unique_ptr<Impl> impl_;
  std::string name_;
  uint64_t write_seq_ = 0;  // Write/Flush: the last seq written since the last Flush
  Status write_error_ = Status::Ok();
};

}  // namespace vigil::bridges
