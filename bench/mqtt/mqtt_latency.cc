// mqtt_latency: alert latency from broker publish to MQTT sink delivery.
//
// Publishes probe messages at a fixed rate to `<prefix>/<device>` — each
// carries its send time in microseconds as the field `probe`, positive and
// negative in turn per device, so a rule `when: probe > 0` raises on one and
// clears on the next: every message becomes one alert whose `value` is the
// probe's send time. It subscribes to the alert topic and, for each alert,
// records now − |value|. Prints count, rate and latency percentiles.
//   mqtt_latency URL RATE SECONDS [DEVICES] [TOPIC_PREFIX] [ALERT_FILTER]
#include <mqtt/async_client.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: mqtt_latency URL RATE SECONDS [DEVICES] [TOPIC_PREFIX] [ALERT_FILTER]\n");
    return 2;
  }
  const std::string url = argv[1];
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const int devices = argc > 4 ? std::atoi(argv[4]) : 100;
  const std::string prefix = argc > 5 ? argv[5] : "probe";
  const std::string alerts = argc > 6 ? argv[6] : "alerts/#";

  std::mutex mu;
  std::vector<double> latencies_ms;
  std::atomic<int64_t> received{0};
  mqtt::async_client sub(url, "mqtt-latency-sub", mqtt::create_options(MQTTVERSION_DEFAULT), nullptr);
  sub.set_message_callback([&](mqtt::const_message_ptr m) {
    const int64_t now = NowUs();
    const std::string& p = m->get_payload_str();
    // An alert's "value", or (subscribed to the probes themselves: the
    // broker's own latency) the probe's "probe".
    size_t at = p.find("\"value\":");
    size_t skip = 8;
    if (at == std::string::npos) {
      at = p.find("\"probe\":");
      skip = 8;
    }
    if (at == std::string::npos) return;
    const double v = std::fabs(std::atof(p.c_str() + at + skip));
    received.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    latencies_ms.push_back(static_cast<double>(now - static_cast<int64_t>(v)) / 1000.0);
  });
  mqtt::async_client pub(url, "mqtt-latency-pub", mqtt::create_options(MQTTVERSION_DEFAULT, 100000), nullptr);
  try {
    sub.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
    sub.subscribe(alerts, 1)->wait();
    pub.connect(mqtt::connect_options_builder().clean_session(true).max_inflight(65535).finalize())->wait();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mqtt_latency: %s\n", e.what());
    return 1;
  }

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t total = static_cast<int64_t>(rate * seconds);
  std::vector<int> sign(static_cast<size_t>(devices), 1);
  int64_t sent = 0;
  for (; sent < total; ++sent) {
    const auto due = t0 + std::chrono::microseconds(static_cast<int64_t>(static_cast<double>(sent) * 1e6 / rate));
    std::this_thread::sleep_until(due);
    const int d = static_cast<int>(sent % devices);
    const int64_t us = NowUs();
    const std::string payload = "{\"ts\":" + std::to_string(us / 1000) + ",\"device\":\"p" + std::to_string(d) +
                                "\",\"probe\":" + std::to_string(sign[static_cast<size_t>(d)] * us) + "}";
    sign[static_cast<size_t>(d)] = -sign[static_cast<size_t>(d)];
    try {
      pub.publish(prefix + "/p" + std::to_string(d), payload.data(), payload.size(), 1, false);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mqtt_latency: publish: %s\n", e.what());
      return 1;
    }
  }
  const double pub_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int i = 0; i < 100 && received.load() < sent; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::lock_guard<std::mutex> lock(mu);
  std::vector<double> v = latencies_ms;
  std::printf("published %lld probes in %.2f s (%.0f msg/s); %lld alerts received\n", static_cast<long long>(sent),
              pub_s, static_cast<double>(sent) / pub_s, static_cast<long long>(received.load()));
  std::printf("latency publish -> alert on MQTT (ms): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              Percentile(v, 0.5), Percentile(v, 0.9), Percentile(v, 0.99), Percentile(v, 0.999),
              v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  try {
    pub.disconnect()->wait();
    sub.disconnect()->wait();
  } catch (const std::exception&) {
  }
  return received.load() >= sent ? 0 : 1;
}
