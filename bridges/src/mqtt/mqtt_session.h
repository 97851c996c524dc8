// MqttSession: one Paho MQTT C++ async client kept connected to its broker.
//
// Shared by the MQTT source and sink. A connector thread makes the first
// connection and every reconnection, with capped exponential backoff
// (reconnect_min .. reconnect_max), and calls `on_connected` after each
// successful connect (the source subscribes there: a broker that lost the
// session gets the subscriptions again). A broker that is down at start is
// not an error: the session keeps trying and reports connected() == false.
//
// Settings (rules file, DESIGN.md): url (tcp://, ssl://, mqtt://, mqtts://),
// client_id, username, password_env / password_file (never logged), tls
// {ca, cert, key, verify (default true)}, version 3 (3.1.1) or 5,
// clean_start (default false: a persistent session), session_expiry (MQTT 5,
// default 1 day), keepalive, connect_timeout, reconnect_min/max.
//
// Thread-safety: connected() and the counters from any thread; Start()/Stop()
// from the owner; client() for publish/subscribe from any thread (Paho's
// async client is thread-safe).
#pragma once

#include <mqtt/async_client.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mqtt/reconnect_loop.h"
#include "vigil/engine/config_errors.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/status.h"

namespace vigil::bridges {

struct MqttConnectionSettings {
  std::string url = "tcp://127.0.0.1:1883";
  std::string client_id;                      // default: "vigil-<what>-<hostname>"
  std::string username;
  std::string password;                       // resolved from password_env / password_file
  bool tls = false;                           // ssl:// or mqtts://, or a tls: map
  std::string tls_ca, tls_cert, tls_key;
  bool tls_verify = true;
  int version = 4;                            // Paho: 4 = 3.1.1, 5 = MQTT 5
  bool clean_start = false;
  int64_t session_expiry_s = 86400;           // MQTT 5 with clean_start false
  int64_t keepalive_ms = 30000;
  int64_t connect_timeout_ms = 5000;
  int64_t reconnect_min_ms = 500;
  int64_t reconnect_max_ms = 30000;
  // Publishing side. High on purpose: Paho C 1.3.12 (Debian 12) stalls its
  // send thread for 1 s when the in-flight limit is reached (fixed upstream
  // in 1.3.14, paho.mqtt.c#1457); the outbox bounds what is in flight.
  int max_inflight = 65535;
};

// The keys of a connection that a source or sink entry may carry.
const std::vector<std::string>& MqttConnectionKeys();
// Reads the connection keys of `node` (a source's `mqtt:` map or an mqtt
// sink entry). Errors go to `errors`; `what` names the entry in messages;
// `directory` resolves relative files; `default_client_id` when none is set.
MqttConnectionSettings ReadMqttConnection(const YAML::Node& node, const std::string& what,
                                          const std::string& directory, const std::string& default_client_id,
                                          ConfigErrors& errors);
// "vigil-<role>-<hostname>", a stable default client id (persistent sessions
// need the same id across restarts).
std::string DefaultMqttClientId(const std::string& role);

class MqttSession {
 public:
  MqttSession(MqttConnectionSettings settings, std::string what, Logger* logger);
  ~MqttSession();
  MqttSession(const MqttSession&) = delete;
  MqttSession& operator=(const MqttSession&) = delete;

  // Creates the client (errors: a bad url) and starts the connector thread.
  // `setup` runs on the client before the first connect (callbacks);
  // `on_connected(session_present)` after each connect, on the connector thread.
  Status Start(const std::function<void(mqtt::async_client&)>& setup,
               std::function<void(bool session_present)> on_connected);
  // Disconnects (waiting at most `timeout`) and stops the connector thread.
  void Stop(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }
  uint64_t connection_losses() const { return losses_.load(std::memory_order_relaxed); }
  mqtt::async_client& client() { return *client_; }
  const MqttConnectionSettings& settings() const { return settings_; }
  const std::string& what() const { return what_; }

 private:
  void ConnectorLoop();
  mqtt::connect_options ConnectOptions() const;

  MqttConnectionSettings settings_;
  std::string what_;
  Logger* logger_;
  std::unique_ptr<mqtt::async_client> client_;
  std::function<void(bool)> on_connected_;
  ReconnectLoop reconnect_;  // run by connector_
  std::thread connector_;
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> losses_{0};
};

}  // namespace vigil::bridges
