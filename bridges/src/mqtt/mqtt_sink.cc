// MqttSink: publish alert JSON, confirm in Flush.
#include "vigil/bridges/mqtt_sink.h"

#include <mqtt/async_client.h>

#include "mqtt/mqtt_session.h"
#include "mqtt/topic_pattern.h"

namespace vigil::bridges {

Result<std::unique_ptr<MqttSink>> MqttSink::Create(MqttSinkOptions options, const MqttConnectionSettings& connection,
                                                   Logger* logger) {
  auto topic = TopicTemplate::Parse(options.topic);
  if (!topic.ok()) return Status::InvalidArgument("mqtt sink: " + topic.status().message());
  auto session = std::make_unique<MqttSession>(connection, "mqtt sink " + connection.url, logger);
  Status st = session->Start(nullptr, nullptr);
  if (!st.ok()) return st;
  return std::unique_ptr<MqttSink>(new MqttSink(std::move(options),
                                                std::make_unique<TopicTemplate>(std::move(topic).value()),
                                                std::move(session)));
}

MqttSink::MqttSink(MqttSinkOptions options, std::unique_ptr<TopicTemplate> topic, std::unique_ptr<MqttSession> session)
    : options_(std::move(options)), topic_(std::move(topic)), session_(std::move(session)),
      name_("mqtt:" + session_->settings().url + "/" + options_.topic) {}

MqttSink::~MqttSink() { session_->Stop(); }

bool MqttSink::connected() const { return session_->connected(); }

Status MqttSink::Write(const AlertView& alert) {
  if (!write_error_.ok()) return write_error_;
  if (!session_->connected()) {
    return Status::IoError("not connected to the MQTT broker " + session_->settings().url);
  }
  const std::string raised = "raised", cleared = "cleared";
  const bool is_clear = alert.record.state == AlertState::kCleared;
  const std::string topic = topic_->Render([&](const std::string& name) -> const std::string* {
    if (name == "rule") return &alert.rule.name;
    if (name == "severity") return &alert.rule.severity;
    if (name == "state") return is_clear ? &cleared : &raised;
    if (name == "id") return &alert.id;
    for (size_t i = 0; i < alert.rule.key_tags.size() && i < alert.key.values.size(); ++i) {
      if (alert.rule.key_tags[i] == name) return &alert.key.values[i];
    }
    return nullptr;
  });
  try {
    auto& client = session_->client();
    pending_.push_back(client.publish(topic, alert.json.data(), alert.json.size(), options_.qos,
                                      options_.retain && !is_clear));
    if (options_.retain && is_clear) {
      // An empty retained message deletes the retained raise (MQTT 3.3.1.3).
      pending_.push_back(client.publish(topic, "", 0, options_.qos, true));
    }
  } catch (const std::exception& e) {
    write_error_ = Status::IoError("publish to " + topic + " on " + session_->settings().url + ": " + e.what());
    return write_error_;
  }
  return Status::Ok();
}

Status MqttSink::Flush() {
  Status result = write_error_;
  write_error_ = Status::Ok();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  for (auto& tok : pending_) {
    if (!result.ok()) break;
    try {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero() ||
          !tok->wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(left))) {
        result = Status::IoError("MQTT broker " + session_->settings().url + " did not acknowledge within " +
                                 std::to_string(options_.timeout_ms) + " ms");
      }
    } catch (const std::exception& e) {
      result = Status::IoError("publish on " + session_->settings().url + " failed: " + e.what());
    }
  }
  pending_.clear();
  return result;
}

void MqttSink::ReportMetrics(std::vector<BridgeMetric>* out) const {
  out->push_back({"vigil_sink_connected", "1 while a broker sink's session is up.", BridgeMetric::Type::kGauge,
                  {{"sink", name_}}, session_->connected() ? 1.0 : 0.0});
}

}  // namespace vigil::bridges
