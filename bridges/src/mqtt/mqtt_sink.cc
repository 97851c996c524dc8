// MqttSink: publish alert JSON with Paho C's MQTTClient, confirm on PUBACK.
#include "vigil/bridges/mqtt_sink.h"

#include <MQTTClient.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "mqtt/mqtt_session.h"
#include "mqtt/topic_pattern.h"

namespace vigil::bridges {

namespace {
constexpr int kMaxWindow = 4096;

std::string PahoError(int rc) {
  const char* s = MQTTClient_strerror(rc);
  return (s != nullptr ? std::string(s) : std::string("error")) + " (" + std::to_string(rc) + ")";
}
}  // namespace

struct MqttSink::Impl {
  Impl(MqttConnectionSettings s, Logger* l)
      : settings(std::move(s)),
        what("mqtt sink " + settings.url),
        logger(l),
        reconnect({settings.reconnect_min_ms, settings.reconnect_max_ms, what, settings.url, logger}) {}

  MqttConnectionSettings settings;
  std::string what;
  Logger* logger;
  MQTTClient client = nullptr;

  // Connector thread.
  ReconnectLoop reconnect;
  std::thread connector;
  std::atomic<bool> connected{false};
  std::atomic<int> receive_maximum{65535};

  // Acknowledgement bookkeeping (Send/Confirmed/Restart and Paho's thread).
  struct InFlight {
    uint64_t seq;
    int outstanding;  // publishes not acknowledged yet
    bool sending;     // Send still publishing it
  };
  std::mutex mu;
  std::condition_variable changed;  // Flush
  std::function<void()> notify;
  std::deque<InFlight> in_flight;                 // this attempt, in seq order
  std::unordered_map<int, uint64_t> by_token;     // msgid -> seq
  std::unordered_set<int> early;  // acknowledged before Send recorded the msgid
  std::unordered_set<int> stale;  // still with Paho from an earlier attempt: their acks are ignored
  uint64_t confirmed = 0;
  Status error = Status::Ok();

  void Notify() {
    std::function<void()> n;
    {
      std::lock_guard<std::mutex> lock(mu);
      n = notify;
    }
    changed.notify_all();
    if (n) n();
  }
  // Under `mu`.
  void Advance() {
    while (!in_flight.empty() && !in_flight.front().sending && in_flight.front().outstanding == 0) {
      confirmed = in_flight.front().seq;
      in_flight.pop_front();
    }
  }
  std::vector<int> PendingTokens() {
    std::vector<int> out;
    MQTTClient_deliveryToken* tokens = nullptr;
    if (MQTTClient_getPendingDeliveryTokens(client, &tokens) == MQTTCLIENT_SUCCESS && tokens != nullptr) {
      for (MQTTClient_deliveryToken* t = tokens; *t != -1; ++t) out.push_back(*t);
      MQTTClient_free(tokens);
    }
    return out;
  }

  static void OnConnectionLost(void* context, char* cause) {
    auto* self = static_cast<Impl*>(context);
    self->connected.store(false, std::memory_order_release);
    const std::string why = cause != nullptr ? cause : "";
    if (cause != nullptr) MQTTClient_free(cause);
    if (self->logger != nullptr) {
      self->logger->Log(LogLevel::kWarn, self->what + ": connection to " + self->settings.url + " lost" +
                                             (why.empty() ? "" : ": " + why) + "; reconnecting");
    }
    {
      std::lock_guard<std::mutex> lock(self->mu);
      self->error = Status::IoError("connection to the MQTT broker " + self->settings.url + " lost");
    }
    self->reconnect.MarkLost();
    self->Notify();
  }
  static int OnMessage(void*, char* topic, int, MQTTClient_message* message) {
    MQTTClient_freeMessage(&message);
    MQTTClient_free(topic);
    return 1;
  }
  static void OnDelivered(void* context, MQTTClient_deliveryToken token) {
    auto* self = static_cast<Impl*>(context);
    {
      std::lock_guard<std::mutex> lock(self->mu);
      if (self->stale.erase(token) > 0) return;
      auto it = self->by_token.find(token);
      if (it == self->by_token.end()) {
        // Send has not recorded it yet (Paho's thread got the PUBACK first).
        self->early.insert(token);
        return;
      }
      const uint64_t seq = it->second;
      self->by_token.erase(it);
      for (InFlight& f : self->in_flight) {
        if (f.seq == seq) {
          --f.outstanding;
          break;
        }
      }
      self->Advance();
    }
    self->Notify();
  }
  // MQTT 5: a PUBACK/PUBREC with a failure reason code (called before OnDelivered).
  static void OnPublished(void* context, int token, int, MQTTProperties*, enum MQTTReasonCodes reason) {
    if (reason < MQTTREASONCODE_UNSPECIFIED_ERROR) return;
    auto* self = static_cast<Impl*>(context);
    {
      std::lock_guard<std::mutex> lock(self->mu);
      if (self->stale.count(token) > 0) return;
      self->error = Status::IoError("the MQTT broker " + self->settings.url + " refused a publish (reason code " +
                                    std::to_string(static_cast<int>(reason)) + ")");
    }
    self->Notify();
  }

  Status Create() {
    MQTTClient_createOptions create = MQTTClient_createOptions_initializer;
    create.MQTTVersion = settings.version == 5 ? MQTTVERSION_5 : MQTTVERSION_DEFAULT;
    // No Paho persistence: what must survive a restart is in vigil's outbox.
    int rc = MQTTClient_createWithOptions(&client, settings.url.c_str(), settings.client_id.c_str(),
                                          MQTTCLIENT_PERSISTENCE_NONE, nullptr, &create);
    if (rc != MQTTCLIENT_SUCCESS) {
      client = nullptr;
      return Status::InvalidArgument(what + ": cannot create an MQTT client for " + settings.url + ": " + PahoError(rc));
    }
    rc = MQTTClient_setCallbacks(client, this, &Impl::OnConnectionLost, &Impl::OnMessage, &Impl::OnDelivered);
    if (rc == MQTTCLIENT_SUCCESS && settings.version == 5) rc = MQTTClient_setPublished(client, this, &Impl::OnPublished);
    if (rc != MQTTCLIENT_SUCCESS) return Status::InvalidArgument(what + ": " + PahoError(rc));
    connector = std::thread([this] { ConnectorLoop(); });
    return Status::Ok();
  }

  // One connect attempt; empty on success.
  std::string Connect() {
    const bool v5 = settings.version == 5;
    MQTTClient_connectOptions o = MQTTClient_connectOptions_initializer;
    MQTTClient_connectOptions o5 = MQTTClient_connectOptions_initializer5;
    MQTTClient_connectOptions& opts = v5 ? o5 : o;
    if (v5) {
      opts.cleanstart = settings.clean_start ? 1 : 0;
    } else {
      opts.MQTTVersion = MQTTVERSION_3_1_1;
      opts.cleansession = settings.clean_start ? 1 : 0;
    }
    opts.keepAliveInterval = static_cast<int>(std::max<int64_t>(settings.keepalive_ms, 1000) / 1000);
    opts.connectTimeout = static_cast<int>(std::max<int64_t>(settings.connect_timeout_ms, 1000) / 1000);
    opts.maxInflightMessages = settings.max_inflight;
    if (!settings.username.empty()) opts.username = settings.username.c_str();
    if (!settings.password.empty()) opts.password = settings.password.c_str();
    MQTTClient_SSLOptions ssl = MQTTClient_SSLOptions_initializer;
    if (settings.tls) {
      if (!settings.tls_ca.empty()) ssl.trustStore = settings.tls_ca.c_str();
      if (!settings.tls_cert.empty()) ssl.keyStore = settings.tls_cert.c_str();
      if (!settings.tls_key.empty()) ssl.privateKey = settings.tls_key.c_str();
      ssl.enableServerCertAuth = settings.tls_verify ? 1 : 0;
      ssl.verify = settings.tls_verify ? 1 : 0;
      opts.ssl = &ssl;
    }
    int rc = 0;
    if (v5) {
      MQTTProperties props = MQTTProperties_initializer;
      if (!settings.clean_start) {
        MQTTProperty p;
        p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
        p.value.integer4 = static_cast<unsigned int>(std::min<int64_t>(settings.session_expiry_s, 0x7fffffff));
        MQTTProperties_add(&props, &p);
      }
      MQTTResponse r = MQTTClient_connect5(client, &opts, &props, nullptr);
      rc = r.reasonCode;
      int receive_max = 65535;
      if (rc == MQTTCLIENT_SUCCESS && r.properties != nullptr &&
          MQTTProperties_hasProperty(r.properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM)) {
        receive_max = MQTTProperties_getNumericValue(r.properties, MQTTPROPERTY_CODE_RECEIVE_MAXIMUM);
      }
      receive_maximum.store(std::max(receive_max, 1), std::memory_order_relaxed);
      MQTTResponse_free(r);
      MQTTProperties_free(&props);
    } else {
      rc = MQTTClient_connect(client, &opts);
    }
    return rc == MQTTCLIENT_SUCCESS ? std::string() : PahoError(rc);
  }

  void ConnectorLoop() {
    reconnect.Run([this] { return Connect(); },
                  [this] {
                    {
                      // What Paho no longer holds (a clean session dropped it) will never
                      // be acknowledged: forget it, its msgid may be used again.
                      const std::vector<int> pending = PendingTokens();
                      const std::unordered_set<int> still(pending.begin(), pending.end());
                      std::lock_guard<std::mutex> lock(mu);
                      for (auto it = stale.begin(); it != stale.end();) it = still.count(*it) ? std::next(it) : stale.erase(it);
                    }
                    connected.store(true, std::memory_order_release);
                    if (logger != nullptr) {
                      logger->Log(LogLevel::kInfo, what + ": connected to " + settings.url + " as " + settings.client_id);
                    }
                    Notify();  // the outbox may retry now
                    return true;
                  });
  }

  void Stop() {
    reconnect.Stop();
    if (connector.joinable()) connector.join();
    if (client != nullptr) {
      if (MQTTClient_isConnected(client)) MQTTClient_disconnect(client, 2000);
      connected.store(false, std::memory_order_release);
      MQTTClient_destroy(&client);
      client = nullptr;
    }
  }
};

Result<std::unique_ptr<MqttSink>> MqttSink::Create(MqttSinkOptions options, const MqttConnectionSettings& connection,
                                                   Logger* logger) {
  auto topic = TopicTemplate::Parse(options.topic);
  if (!topic.ok()) return Status::InvalidArgument("mqtt sink: " + topic.status().message());
  auto impl = std::make_unique<Impl>(connection, logger);
  Status st = impl->Create();
  if (!st.ok()) {
    impl->Stop();
    return st;
  }
  return std::unique_ptr<MqttSink>(
      new MqttSink(std::move(options), std::make_unique<TopicTemplate>(std::move(topic).value()), std::move(impl)));
}

MqttSink::MqttSink(MqttSinkOptions options, std::unique_ptr<TopicTemplate> topic, std::unique_ptr<Impl> impl)
    : options_(std::move(options)), topic_(std::move(topic)), impl_(std::move(impl)),
      name_("mqtt:" + impl_->settings.url + "/" + options_.topic) {}

MqttSink::~MqttSink() { impl_->Stop(); }

bool MqttSink::connected() const { return impl_->connected.load(std::memory_order_acquire); }

void MqttSink::SetNotifier(std::function<void()> notify) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->notify = std::move(notify);
}

size_t MqttSink::window() const {
  const int limit = std::min({impl_->settings.max_inflight, impl_->receive_maximum.load(std::memory_order_relaxed),
                              kMaxWindow});
  return static_cast<size_t>(std::max(limit, 1));
}

Status MqttSink::Send(const AlertView& alert, uint64_t seq) {
  Impl& im = *impl_;
  if (!connected()) return Status::IoError("not connected to the MQTT broker " + im.settings.url);
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
  {
    std::lock_guard<std::mutex> lock(im.mu);
    im.in_flight.push_back(Impl::InFlight{seq, 0, true});
  }
  // An empty retained message after a clear deletes the retained raise (MQTT 3.3.1.3).
  const int publishes = options_.retain && is_clear ? 2 : 1;
  Status result = Status::Ok();
  for (int i = 0; i < publishes && result.ok(); ++i) {
    const bool second = i == 1;
    const void* payload = second ? "" : alert.json.data();
    const int len = second ? 0 : static_cast<int>(alert.json.size());
    const int retained = second ? 1 : (options_.retain && !is_clear ? 1 : 0);
    MQTTClient_deliveryToken token = 0;
    int rc = 0;
    if (im.settings.version == 5) {
      MQTTResponse r = MQTTClient_publish5(im.client, topic.c_str(), len, payload, options_.qos, retained, nullptr,
                                           &token);
      rc = r.reasonCode;
      MQTTResponse_free(r);
    } else {
      rc = MQTTClient_publish(im.client, topic.c_str(), len, payload, options_.qos, retained, &token);
    }
    if (rc != MQTTCLIENT_SUCCESS) {
      result = Status::IoError("publish to " + topic + " on " + im.settings.url + ": " + PahoError(rc));
      break;
    }
    if (options_.qos == 0) continue;  // written to the socket: nothing more to wait for
    std::lock_guard<std::mutex> lock(im.mu);
    im.stale.erase(token);  // Paho gave the msgid out again: the earlier one is gone
    if (im.early.erase(token) > 0) continue;  // already acknowledged
    im.by_token[token] = seq;
    for (auto it = im.in_flight.rbegin(); it != im.in_flight.rend(); ++it) {
      if (it->seq == seq) {
        ++it->outstanding;
        break;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(im.mu);
    for (auto it = im.in_flight.rbegin(); it != im.in_flight.rend(); ++it) {
      if (it->seq == seq) {
        it->sending = false;
        break;
      }
    }
    im.Advance();
  }
  return result;
}

Result<uint64_t> MqttSink::Confirmed() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->error.ok()) return impl_->error;
  return impl_->confirmed;
}

void MqttSink::Restart() {
  Impl& im = *impl_;
  // What Paho still holds from this attempt may be acknowledged later:
  // those acknowledgements must not count for the next attempt.
  const std::vector<int> pending = im.PendingTokens();
  std::lock_guard<std::mutex> lock(im.mu);
  im.stale.insert(pending.begin(), pending.end());
  im.in_flight.clear();
  im.by_token.clear();
  im.early.clear();
  im.confirmed = 0;
  im.error = Status::Ok();
}

Status MqttSink::Write(const AlertView& alert) {
  if (!write_error_.ok()) return write_error_;
  write_error_ = Send(alert, ++write_seq_);
  return write_error_;
}

Status MqttSink::Flush() {
  Status result = write_error_;
  write_error_ = Status::Ok();
  if (result.ok() && write_seq_ > 0) {
    Impl& im = *impl_;
    std::unique_lock<std::mutex> lock(im.mu);
    const bool done = im.changed.wait_for(lock, std::chrono::milliseconds(options_.timeout_ms),
                                          [&] { return !im.error.ok() || im.confirmed >= write_seq_; });
    if (!im.error.ok()) {
      result = im.error;
    } else if (!done) {
      result = Status::IoError("MQTT broker " + im.settings.url + " did not acknowledge within " +
                               std::to_string(options_.timeout_ms) + " ms");
    }
  }
  Restart();
  write_seq_ = 0;
  return result;
}

void MqttSink::ReportMetrics(std::vector<BridgeMetric>* out) const {
  out->push_back({"vigil_sink_connected", "1 while a broker sink's session is up.", BridgeMetric::Type::kGauge,
                  {{"sink", name_}}, connected() ? 1.0 : 0.0});
}

}  // namespace vigil::bridges
