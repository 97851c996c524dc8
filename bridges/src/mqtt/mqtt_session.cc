// MqttSession: settings, connect options, connector thread.
#include "mqtt/mqtt_session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "vigil/bridges/bridge_factory.h"

namespace vigil::bridges {

namespace {

std::string FirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return {};
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

const std::vector<std::string>& MqttConnectionKeys() {
  static const std::vector<std::string> keys = {
      "url",        "client_id",      "username",        "password_env",  "password_file",
      "tls",        "version",        "clean_start",     "session_expiry", "keepalive",
      "connect_timeout", "reconnect_min", "reconnect_max", "max_inflight"};
  return keys;
}

std::string DefaultMqttClientId(const std::string& role) {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = 0;
  std::string id = "vigil-" + role;
  if (host[0] != 0) id += std::string("-") + host;
  return id;
}

MqttConnectionSettings ReadMqttConnection(const YAML::Node& n, const std::string& what, const std::string& directory,
                                          const std::string& default_client_id, ConfigErrors& errors) {
  MqttConnectionSettings s;
  s.client_id = default_client_id;
  if (!n.IsMap()) return s;
  if (n["url"]) {
    if (auto v = ReadString(n["url"], what + " 'url'", errors)) {
      s.url = *v;
      if (StartsWith(s.url, "mqtt://")) s.url = "tcp://" + s.url.substr(7);
      if (StartsWith(s.url, "mqtts://")) s.url = "ssl://" + s.url.substr(8);
      if (StartsWith(s.url, "ssl://")) {
        s.tls = true;
      } else if (!StartsWith(s.url, "tcp://")) {
        errors.Add(n["url"], what + ": url must start with tcp://, ssl://, mqtt:// or mqtts:// (got '" + *v + "')");
      }
      if (s.url.find(':', s.url.find("://") + 3) == std::string::npos) s.url += s.tls ? ":8883" : ":1883";
    }
  }
  if (n["client_id"]) {
    if (auto v = ReadString(n["client_id"], what + " 'client_id'", errors)) s.client_id = *v;
  }
  if (n["username"]) {
    if (auto v = ReadString(n["username"], what + " 'username'", errors)) s.username = *v;
  }
  if (n["password_env"]) {
    if (auto v = ReadString(n["password_env"], what + " 'password_env'", errors)) {
      const char* p = std::getenv(v->c_str());
      if (p == nullptr) {
        errors.Add(n["password_env"], what + ": environment variable " + *v + " (password_env) is not set");
      } else {
        s.password = p;
      }
    }
  }
  if (n["password_file"]) {
    if (auto v = ReadString(n["password_file"], what + " 'password_file'", errors)) {
      const std::string path = ResolvePath(directory, *v);
      s.password = FirstLine(path);
      if (s.password.empty()) {
        errors.Add(n["password_file"], what + ": password_file '" + path + "' cannot be read or is empty");
      }
    }
  }
  if (const YAML::Node& t = n["tls"]) {
    if (!t.IsMap()) {
      errors.Add(t, what + ": 'tls' must be a map such as {ca: ca.crt, cert: client.crt, key: client.key}");
    } else {
      CheckKeys(t, {"ca", "cert", "key", "verify"}, what + " 'tls'", errors);
      s.tls = true;
      auto file = [&](const char* key, std::string* out) {
        if (!t[key]) return;
        if (auto v = ReadString(t[key], what + " tls '" + key + "'", errors)) {
          *out = ResolvePath(directory, *v);
          if (access(out->c_str(), R_OK) != 0) {
            errors.Add(t[key], what + ": tls " + key + " file '" + *out + "' cannot be read");
          }
        }
      };
      file("ca", &s.tls_ca);
      file("cert", &s.tls_cert);
      file("key", &s.tls_key);
      if (t["verify"]) {
        if (auto v = ReadBool(t["verify"], what + " tls 'verify'", errors)) s.tls_verify = *v;
      }
    }
    if (s.tls && StartsWith(s.url, "tcp://")) s.url = "ssl://" + s.url.substr(6);
  }
  if (n["version"]) {
    if (auto v = ReadInt(n["version"], what + " 'version'", 3, 5, errors)) {
      s.version = *v == 5 ? 5 : 4;
    }
  }
  if (n["clean_start"]) {
    if (auto v = ReadBool(n["clean_start"], what + " 'clean_start'", errors)) s.clean_start = *v;
  }
  auto duration = [&](const char* key, int64_t* out) {
    if (!n[key]) return;
    if (auto v = ReadDurationMs(n[key], what + " '" + key + "'", errors)) *out = *v;
  };
  int64_t expiry_ms = s.session_expiry_s * 1000;
  duration("session_expiry", &expiry_ms);
  s.session_expiry_s = expiry_ms / 1000;
  duration("keepalive", &s.keepalive_ms);
  duration("connect_timeout", &s.connect_timeout_ms);
  duration("reconnect_min", &s.reconnect_min_ms);
  duration("reconnect_max", &s.reconnect_max_ms);
  if (s.reconnect_min_ms <= 0) s.reconnect_min_ms = 100;
  if (s.reconnect_max_ms < s.reconnect_min_ms) s.reconnect_max_ms = s.reconnect_min_ms;
  if (n["max_inflight"]) {
    if (auto v = ReadInt(n["max_inflight"], what + " 'max_inflight'", 1, 65535, errors)) {
      s.max_inflight = static_cast<int>(*v);
    }
  }
  if (s.client_id.empty()) errors.Add(n, what + ": client_id must not be empty");
  return s;
}

MqttSession::MqttSession(MqttConnectionSettings settings, std::string what, Logger* logger)
    : settings_(std::move(settings)),
      what_(std::move(what)),
      logger_(logger),
      reconnect_({settings_.reconnect_min_ms, settings_.reconnect_max_ms, what_, settings_.url, logger_}) {}

MqttSession::~MqttSession() { Stop(); }

mqtt::connect_options MqttSession::ConnectOptions() const {
  auto b = mqtt::connect_options_builder();
  if (settings_.version == 5) {
    // The session-expiry property is set by ConnectorLoop on the object it
    // connects with: Paho C++ 1.2's connect_options copies keep pointing at
    // the properties of the object they were copied from.
    b.mqtt_version(MQTTVERSION_5).clean_start(settings_.clean_start);
  } else {
    b.mqtt_version(MQTTVERSION_3_1_1).clean_session(settings_.clean_start);
  }
  b.keep_alive_interval(std::chrono::milliseconds(std::max<int64_t>(settings_.keepalive_ms, 1000)))
      .connect_timeout(std::chrono::milliseconds(std::max<int64_t>(settings_.connect_timeout_ms, 1000)))
      .max_inflight(settings_.max_inflight)
      .automatic_reconnect(false);
  if (!settings_.username.empty()) b.user_name(settings_.username);
  if (!settings_.password.empty()) b.password(settings_.password);
  if (settings_.tls) {
    auto ssl = mqtt::ssl_options_builder();
    if (!settings_.tls_ca.empty()) ssl.trust_store(settings_.tls_ca);
    if (!settings_.tls_cert.empty()) ssl.key_store(settings_.tls_cert);
    if (!settings_.tls_key.empty()) ssl.private_key(settings_.tls_key);
    ssl.enable_server_cert_auth(settings_.tls_verify).verify(settings_.tls_verify);
    b.ssl(ssl.finalize());
  }
  return b.finalize();
}

Status MqttSession::Start(const std::function<void(mqtt::async_client&)>& setup,
                          std::function<void(bool session_present)> on_connected) {
  try {
    // No Paho persistence files: what must survive a restart is in vigil's
    // own state (the outbox); buffered publishes while disconnected are capped.
    mqtt::create_options opts(settings_.version == 5 ? MQTTVERSION_5 : MQTTVERSION_DEFAULT, settings_.max_inflight);
    client_ = std::make_unique<mqtt::async_client>(settings_.url, settings_.client_id, opts, nullptr);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(what_ + ": cannot create an MQTT client for " + settings_.url + ": " + e.what());
  }
  on_connected_ = std::move(on_connected);
  client_->set_connection_lost_handler([this](const std::string& cause) {
    connected_.store(false, std::memory_order_release);
    losses_.fetch_add(1, std::memory_order_relaxed);
    if (logger_ != nullptr) {
      logger_->Log(LogLevel::kWarn, what_ + ": connection to " + settings_.url + " lost" +
                                        (cause.empty() ? "" : ": " + cause) + "; reconnecting");
    }
    reconnect_.MarkLost();
  });
  client_->set_disconnected_handler([this](const mqtt::properties&, mqtt::ReasonCode reason) {
    connected_.store(false, std::memory_order_release);
    losses_.fetch_add(1, std::memory_order_relaxed);
    if (logger_ != nullptr) {
      logger_->Log(LogLevel::kWarn, what_ + ": the broker at " + settings_.url + " disconnected us (reason " +
                                        std::to_string(static_cast<int>(reason)) + "); reconnecting");
    }
    reconnect_.MarkLost();
  });
  if (setup) setup(*client_);
  connector_ = std::thread([this] { ConnectorLoop(); });
  return Status::Ok();
}

void MqttSession::ConnectorLoop() {
  bool session_present = false;
  auto attempt = [&]() -> std::string {
    try {
      mqtt::connect_options options = ConnectOptions();
      if (settings_.version == 5 && !settings_.clean_start) {
        // Set on `options` itself, which outlives the call (see ConnectOptions).
        options.set_properties(mqtt::properties{mqtt::property(
            mqtt::property::SESSION_EXPIRY_INTERVAL,
            static_cast<int>(std::min<int64_t>(settings_.session_expiry_s, 0x7fffffff)))});
      }
      mqtt::token_ptr tok = client_->connect(options);
      if (!tok->wait_for(std::chrono::milliseconds(settings_.connect_timeout_ms + 2000))) return "connect timed out";
      session_present = tok->get_connect_response().is_session_present();
      return {};
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  auto up = [&]() -> bool {
    connects_.fetch_add(1, std::memory_order_relaxed);
    if (logger_ != nullptr) {
      logger_->Log(LogLevel::kInfo, what_ + ": connected to " + settings_.url + " as " + settings_.client_id +
                                        (session_present ? " (session resumed)" : ""));
    }
    try {
      if (on_connected_) on_connected_(session_present);
      connected_.store(true, std::memory_order_release);
      return true;
    } catch (const std::exception& e) {
      if (logger_ != nullptr) logger_->Log(LogLevel::kError, what_ + ": after connect: " + e.what());
      try {
        client_->disconnect()->wait_for(std::chrono::milliseconds(1000));
      } catch (const std::exception&) {
      }
      return false;
    }
  };
  reconnect_.Run(attempt, up);
}

void MqttSession::Stop(std::chrono::milliseconds timeout) {
  if (reconnect_.stopping() && !connector_.joinable()) return;
  reconnect_.Stop();
  if (connector_.joinable()) connector_.join();
  if (client_ != nullptr) {
    try {
      if (client_->is_connected()) client_->disconnect()->wait_for(timeout);
    } catch (const std::exception&) {
    }
    connected_.store(false, std::memory_order_release);
  }
}

}  // namespace vigil::bridges
