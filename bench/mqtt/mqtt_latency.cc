// mqtt_latency: alert latency from broker publish to MQTT sink delivery.
//
// Publishes probe messages at a fixed rate to `<prefix>/<device>` — each
// carries its send time in microseconds as the field `probe`, positive and
// negative in turn per device, so a rule `when: probe > 0` raises on one and
// clears on the next: every message becomes one alert whose `value` is the
// probe's send time. It subscribes to the alert topic and, for each alert,
// records now − |value|. Prints count, rate and latency percentiles.
//   mqtt_latency URL RATE SECONDS [DEVICES] [TOPIC_PREFIX] [ALERT_FILTER]
// MQTT_LATENCY_DUMP=FILE also writes one line per alert: the probe's send
// time in seconds since the first probe, and its latency in ms.
//
// The tool must not be the bottleneck at 10,000 probes/s on two cores (its
// Paho C++ async version took 94 % of a core there and could not keep the
// rate), so it is lean: probes go out at QoS 1 through a plain MQTT 3.1.1
// socket (one write(2) per probe; a thread reads and drops the PUBACKs),
// and alerts come in through libmosquitto (the broker's own C client),
// subscribed at QoS 0 so that the tool sends nothing back per alert.
#include <arpa/inet.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
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

struct Receiver {
  std::string filter;
  std::atomic<bool> subscribed{false};
  std::atomic<int64_t> received{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::vector<int64_t> sent_us;  // the probe's send time, beside each latency
};

// An alert's "value", or (subscribed to the probes themselves: the broker's
// own latency) the probe's "probe".
void OnMessage(mosquitto*, void* opaque, const mosquitto_message* m) {
  const int64_t now = NowUs();
  auto* r = static_cast<Receiver*>(opaque);
  const std::string p(static_cast<const char*>(m->payload), static_cast<size_t>(m->payloadlen));
  size_t at = p.find("\"value\":");
  if (at == std::string::npos) at = p.find("\"probe\":");
  if (at == std::string::npos) return;
  const double v = std::fabs(std::atof(p.c_str() + at + 8));
  r->received.fetch_add(1);
  std::lock_guard<std::mutex> lock(r->mu);
  r->latencies_ms.push_back(static_cast<double>(now - static_cast<int64_t>(v)) / 1000.0);
  r->sent_us.push_back(static_cast<int64_t>(v));
}

void OnSubscribeConnect(mosquitto* mosq, void* opaque, int rc) {
  if (rc != 0) return;
  auto* r = static_cast<Receiver*>(opaque);
  mosquitto_subscribe(mosq, nullptr, r->filter.c_str(), 0);
}

void OnSubscribed(mosquitto*, void* opaque, int, int, const int*) {
  static_cast<Receiver*>(opaque)->subscribed.store(true);
}

void AppendLength(std::string* out, size_t n) {  // MQTT's variable-length "remaining length"
  do {
    uint8_t byte = n % 128;
    n /= 128;
    if (n > 0) byte |= 0x80;
    out->push_back(static_cast<char>(byte));
  } while (n > 0);
}

void AppendString(std::string* out, std::string_view s) {
  out->push_back(static_cast<char>(s.size() >> 8));
  out->push_back(static_cast<char>(s.size() & 0xff));
  out->append(s);
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// An MQTT 3.1.1 publisher on a plain socket: CONNECT (clean session, no
// keep-alive), then PUBLISH at QoS 1. Returns the socket, or -1.
int ConnectPublisher(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::string body;
  AppendString(&body, "MQTT");
  body += '\x04';        // protocol level 3.1.1
  body += '\x02';        // clean session
  body += std::string("\x00\x00", 2);  // keep-alive off
  AppendString(&body, "mqtt-latency-pub");
  std::string packet(1, '\x10');
  AppendLength(&packet, body.size());
  packet += body;
  unsigned char connack[4];
  if (!WriteAll(fd, packet) || ::recv(fd, connack, sizeof connack, MSG_WAITALL) != 4 || connack[0] != 0x20 ||
      connack[3] != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string PublishPacket(std::string_view topic, std::string_view payload, uint16_t id) {
  std::string body;
  AppendString(&body, topic);
  body.push_back(static_cast<char>(id >> 8));
  body.push_back(static_cast<char>(id & 0xff));
  body.append(payload);
  std::string packet(1, '\x32');  // PUBLISH, QoS 1
  AppendLength(&packet, body.size());
  packet += body;
  return packet;
}

// "tcp://host:port" -> host, port.
bool ParseUrl(const std::string& url, std::string* host, int* port) {
  std::string rest = url;
  if (rest.rfind("tcp://", 0) == 0) rest = rest.substr(6);
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return false;
  *host = rest.substr(0, colon);
  *port = std::atoi(rest.c_str() + colon + 1);
  return *port > 0;
}

template <typename Pred>
bool WaitFor(Pred pred, int seconds) {
  for (int i = 0; i < seconds * 100 && !pred(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return pred();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: mqtt_latency URL RATE SECONDS [DEVICES] [TOPIC_PREFIX] [ALERT_FILTER]\n");
    return 2;
  }
  std::string host;
  int port = 0;
  if (!ParseUrl(argv[1], &host, &port)) {
    std::fprintf(stderr, "mqtt_latency: expected a URL such as tcp://127.0.0.1:1883, got '%s'\n", argv[1]);
    return 2;
  }
  const double rate = std::atof(argv[2]);
  const double seconds = std::atof(argv[3]);
  const int devices = argc > 4 ? std::atoi(argv[4]) : 100;
  const std::string prefix = argc > 5 ? argv[5] : "probe";

  mosquitto_lib_init();
  Receiver receiver;
  receiver.filter = argc > 6 ? argv[6] : "alerts/#";
  mosquitto* sub = mosquitto_new("mqtt-latency-sub", true, &receiver);
  if (sub == nullptr) {
    std::fprintf(stderr, "mqtt_latency: mosquitto_new failed\n");
    return 1;
  }
  mosquitto_connect_callback_set(sub, OnSubscribeConnect);
  mosquitto_subscribe_callback_set(sub, OnSubscribed);
  mosquitto_message_callback_set(sub, OnMessage);
  if (int rc = mosquitto_connect(sub, host.c_str(), port, 30); rc != MOSQ_ERR_SUCCESS) {
    std::fprintf(stderr, "mqtt_latency: connect: %s\n", mosquitto_strerror(rc));
    return 1;
  }
  mosquitto_loop_start(sub);
  const int pub = ConnectPublisher(host, port);
  if (pub < 0) {
    std::fprintf(stderr, "mqtt_latency: the publisher could not connect to %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::atomic<int64_t> acked_bytes{0};
  std::thread acks([&] {  // PUBACKs (4 bytes each) read and dropped, until the socket closes
    char buf[65536];
    ssize_t n;
    while ((n = ::read(pub, buf, sizeof buf)) > 0) {
      acked_bytes.fetch_add(n);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // read them in batches
    }
  });
  if (!WaitFor([&] { return receiver.subscribed.load(); }, 10)) {
    std::fprintf(stderr, "mqtt_latency: not subscribed within 10 s\n");
    return 1;
  }

  const auto t0 = std::chrono::steady_clock::now();
  const int64_t total = static_cast<int64_t>(rate * seconds);
  std::vector<int> sign(static_cast<size_t>(devices), 1);
  int64_t sent = 0;
  char topic[256], payload[256];
  // Every millisecond, the probes due by then leave in one write(2) (10 at
  // 10,000/s): a sleep and a write per probe cost the tool half a core in
  // this VM, and sensors do not send on a perfect beat either.
  std::string batch;
  while (sent < total) {
    const int64_t due = std::min<int64_t>(
        total, static_cast<int64_t>(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() *
                                    rate) + 1);
    batch.clear();
    for (; sent < due; ++sent) {
      const int d = static_cast<int>(sent % devices);
      const int64_t us = NowUs();
      std::snprintf(topic, sizeof topic, "%s/p%d", prefix.c_str(), d);
      const int len = std::snprintf(payload, sizeof payload, "{\"ts\":%lld,\"device\":\"p%d\",\"probe\":%lld}",
                                    static_cast<long long>(us / 1000), d,
                                    static_cast<long long>(sign[static_cast<size_t>(d)] * us));
      sign[static_cast<size_t>(d)] = -sign[static_cast<size_t>(d)];
      const uint16_t id = static_cast<uint16_t>(sent % 65535 + 1);  // packet ids 1..65535
      batch += PublishPacket(topic, std::string_view(payload, static_cast<size_t>(len)), id);
    }
    if (!batch.empty() && !WriteAll(pub, batch)) {
      std::fprintf(stderr, "mqtt_latency: publish: the broker closed the connection\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double pub_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  WaitFor([&] { return receiver.received.load() >= sent && acked_bytes.load() >= 4 * sent; }, 5);
  const int64_t acked = acked_bytes.load() / 4;
  std::vector<double> v;
  {
    std::lock_guard<std::mutex> lock(receiver.mu);
    v = receiver.latencies_ms;
    if (const char* dump = std::getenv("MQTT_LATENCY_DUMP")) {  // "seconds since the first probe, latency ms" lines
      if (FILE* f = std::fopen(dump, "w")) {
        const int64_t first = receiver.sent_us.empty() ? 0 : *std::min_element(receiver.sent_us.begin(), receiver.sent_us.end());
        for (size_t i = 0; i < v.size(); ++i) {
          std::fprintf(f, "%.6f %.3f\n", static_cast<double>(receiver.sent_us[i] - first) / 1e6, v[i]);
        }
        std::fclose(f);
      }
    }
  }
  std::printf("published %lld probes in %.2f s (%.0f msg/s, %lld acknowledged); %lld alerts received\n",
              static_cast<long long>(sent), pub_s, static_cast<double>(sent) / pub_s, static_cast<long long>(acked),
              static_cast<long long>(receiver.received.load()));
  std::printf("latency publish -> alert on MQTT (ms): p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
              Percentile(v, 0.5), Percentile(v, 0.9), Percentile(v, 0.99), Percentile(v, 0.999),
              v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()));
  (void)WriteAll(pub, std::string("\xe0\x00", 2));  // DISCONNECT
  ::shutdown(pub, SHUT_RDWR);
  acks.join();
  ::close(pub);
  mosquitto_disconnect(sub);
  mosquitto_loop_stop(sub, false);
  mosquitto_destroy(sub);
  mosquitto_lib_cleanup();
  return receiver.received.load() >= sent && acked >= sent ? 0 : 1;
}
