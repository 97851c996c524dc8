// `vigil sim --mqtt`: the warehouse scenario published with Paho MQTT C++.
#include "sim/mqtt_publisher.h"

#include <mqtt/async_client.h>

#include <chrono>
#include <deque>
#include <map>
#include <thread>

namespace vigil::sim {

namespace {

using Clock = std::chrono::steady_clock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<MqttPublishStats> PublishWarehouseMqtt(const SimOptions& sim_in, const MqttPublishOptions& o,
                                              const std::atomic<bool>& stop) {
  SimOptions sim = sim_in;
  if (o.live) sim.start_ms = WallMs();
  auto gen = WarehouseGenerator::Create(sim);
  if (!gen.ok()) return gen.status();
  std::unique_ptr<mqtt::async_client> client;
  try {
    mqtt::create_options copts(MQTTVERSION_DEFAULT, o.window * 2 + 16);
    client = std::make_unique<mqtt::async_client>(o.url, o.client_id, copts, nullptr);
    auto conn = mqtt::connect_options_builder()
                    .clean_session(false)  // in-flight QoS 1/2 messages survive a broker restart
                    .max_inflight(65535)  // above our window: Paho C 1.3.12 stalls 1 s at its limit (paho.mqtt.c#1457)
                    .automatic_reconnect(std::chrono::milliseconds(200), std::chrono::seconds(5))
                    .finalize();
    client->connect(conn)->wait_for(std::chrono::seconds(10));
    if (!client->is_connected()) return Status::IoError("cannot connect to the MQTT broker at " + o.url);
  } catch (const std::exception& e) {
    return Status::IoError("MQTT broker " + o.url + ": " + e.what());
  }

  MqttPublishStats stats;
  // QoS 1/2: every unacknowledged publish is kept until its token completes;
  // a publish that failed (the broker went away) is sent again after the
  // reconnect, so a broker restart loses nothing (duplicates are allowed).
  struct InFlight {
    mqtt::delivery_token_ptr token;
    std::string topic, payload;
    bool retained;
  };
  std::deque<InFlight> inflight;
  auto send = [&](const std::string& topic, const std::string& payload, bool retained) -> Status {
    while (true) {
      try {
        auto tok = client->publish(topic, payload.data(), payload.size(), o.qos, retained);
        if (o.qos > 0) inflight.push_back(InFlight{std::move(tok), topic, payload, retained});
        return Status::Ok();
      } catch (const std::exception& e) {
        if (stop.load()) return Status::IoError(std::string("publish: ") + e.what());
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // wait for the automatic reconnect
      }
    }
  };
  // Resends every in-flight message whose acknowledgement has not come
  // (lost across a broker restart; the broker may see duplicates).
  auto resend_unacknowledged = [&] {
    for (InFlight& f : inflight) {
      if (f.token->is_complete() && f.token->get_return_code() == 0) continue;
      try {
        f.token = client->publish(f.topic, f.payload.data(), f.payload.size(), o.qos, f.retained);
      } catch (const std::exception&) {
        return;  // still disconnected: the next round tries again
      }
    }
  };
  auto settle_front = [&]() -> Status {
    while (true) {
      bool done = false;
      try {
        done = inflight.front().token->wait_for(std::chrono::seconds(2));
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (done) {
        inflight.pop_front();
        return Status::Ok();
      }
      if (stop.load()) return Status::IoError("stopped with unacknowledged messages");
      resend_unacknowledged();
    }
  };
  auto publish = [&](const std::string& topic, const std::string& payload, bool retained) -> Status {
    while (o.qos > 0 && static_cast<int>(inflight.size()) >= o.window) {
      Status st = settle_front();
      if (!st.ok()) return st;
    }
    return send(topic, payload, retained);
  };

  const Clock::time_point t0 = Clock::now();
  std::map<std::string, int64_t> last_reading;  // zone -> event time of its last reading
  int64_t next_heartbeat = sim.start_ms + o.heartbeat_ms;
  std::string line, topic;
  int64_t ts = 0;
  while (!stop.load() && gen->Next(&line, &ts)) {
    // Heartbeats of the intervals that ended before this message.
    while (o.heartbeat_ms > 0 && ts >= next_heartbeat) {
      for (const auto& [zone, last] : last_reading) {
        if (last <= next_heartbeat - o.heartbeat_ms) continue;  // silent zone: no heartbeat
        const std::string hb = "{\"ts\":" + std::to_string(next_heartbeat) + ",\"zone\":\"" + zone +
                               "\",\"heartbeat\":1}";
        Status st = publish(o.prefix + "/heartbeat/" + zone, hb, true);
        if (!st.ok()) return st;
        ++stats.heartbeats;
      }
      next_heartbeat += o.heartbeat_ms;
    }
    if (o.live) {
      const auto due = t0 + std::chrono::microseconds(static_cast<int64_t>((ts - sim.start_ms) * 1000.0 / o.speedup));
      while (!stop.load() && Clock::now() < due) {
        std::this_thread::sleep_for(std::min<Clock::duration>(due - Clock::now(), std::chrono::milliseconds(100)));
      }
    }
    if (o.rate > 0) {
      const auto due = t0 + std::chrono::microseconds(static_cast<int64_t>(stats.messages * 1e6 / o.rate));
      if (Clock::now() < due) std::this_thread::sleep_until(due);
    }
    const std::string zone(gen->zone()), device(gen->device());
    if (!zone.empty() && !device.empty()) last_reading[zone] = ts;
    topic = o.prefix + "/" + (zone.empty() ? "unknown" : zone) + "/" + (device.empty() ? "unknown" : device) + "/v1";
    Status st = publish(topic, line, false);
    if (!st.ok()) return st;
    ++stats.messages;
  }
  while (!inflight.empty()) {
    Status st = settle_front();
    if (!st.ok()) return st;
  }
  try {
    client->disconnect()->wait_for(std::chrono::seconds(5));
  } catch (const std::exception& e) {
    return Status::IoError(std::string("MQTT broker ") + o.url + ": " + e.what());
  }
  stats.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return stats;
}

}  // namespace vigil::sim
