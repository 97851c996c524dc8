// ReconnectLoop: the connector thread's loop of the MQTT source session
// (Paho C++) and of the MQTT sink (Paho C), which differ only in how they
// connect and what they do once connected.
//
// Run() makes a connect attempt; after a success it calls `up` and sleeps
// until the client reports the connection lost (MarkLost) or Stop(), then
// reconnects at once; after a failure it waits a capped exponential backoff
// (min, 2·min, ... max; back to min after a success) and logs only the first
// failure of a streak, with the retry schedule.
// Thread-safety: Run() on one thread (the connector); MarkLost() and Stop()
// from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "vigil/engine/logger.h"

namespace vigil::bridges {

class ReconnectLoop {
 public:
  struct Settings {
    int64_t min_ms = 100;   // first backoff after a failure
    int64_t max_ms = 5000;  // cap
    std::string what;       // "mqtt sink tcp://..." (log prefix)
    std::string url;
    Logger* logger = nullptr;  // may be null
  };
  explicit ReconnectLoop(Settings settings) : settings_(std::move(settings)) {}

  // `attempt` makes one connect attempt and returns "" on success, else the
  // error. `up` runs after each success; returning false means the
  // connection had to be dropped again: it counts as lost (reconnect at
  // once). Returns after Stop().
  void Run(const std::function<std::string()>& attempt, const std::function<bool()>& up);
  // The connection dropped (the client's connection-lost callback).
  void MarkLost();
  // Makes Run() return (at once, or after the attempt in progress).
  void Stop();
  bool stopping() const;

  // Failed attempts so far (each followed by a backoff).
  uint64_t failures() const;

 private:
  Settings settings_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool lost_ = false;
  uint64_t failures_ = 0;
};

}  // namespace vigil::bridges
