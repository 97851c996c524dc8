// PublishWarehouseMqtt: `vigil sim --mqtt URL` — the warehouse scenario on
// an MQTT broker, as the demo and the MQTT tests use it.
//
// Each generated message goes to `<prefix>/<zone>/<device>/v1` (the
// generator's JSON line as payload), and for each zone a retained
// heartbeat `{"ts":...,"zone":...,"heartbeat":1}` on `<prefix>/heartbeat/<zone>`
// every `heartbeat_ms` of event time, as long as the zone published a
// reading in that interval (a zone that goes silent loses its heartbeat).
// `rate` caps messages per second (0: as fast as the broker takes them);
// `live` stamps event time from the wall clock and publishes in real time
// (times `speedup`), for the live demo. QoS 1/2 publishes keep at most
// `window` unacknowledged (Paho's buffer limit, DEPENDENCIES.md).
//
// Thread-safety: one call at a time; `stop` may be set from a signal thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "sim/warehouse_sim.h"
#include "vigil/engine/status.h"

namespace vigil::sim {

struct MqttPublishOptions {
  std::string url = "tcp://127.0.0.1:1883";
  std::string client_id = "vigil-sim";
  std::string prefix = "entrepot";
  int qos = 1;
  double rate = 0;                 // messages per second, 0 = unlimited
  bool live = false;
  double speedup = 1;              // with live: event time runs this much faster than the wall clock
  int64_t heartbeat_ms = 30000;
  int window = 1000;
};

struct MqttPublishStats {
  int64_t messages = 0;
  int64_t heartbeats = 0;
  double seconds = 0;
};

// Publishes until the generator is exhausted or `stop` is set.
Result<MqttPublishStats> PublishWarehouseMqtt(const SimOptions& sim, const MqttPublishOptions& options,
                                              const std::atomic<bool>& stop);

}  // namespace vigil::sim
