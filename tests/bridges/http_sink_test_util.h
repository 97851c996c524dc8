// Test helpers for the HTTP sinks: a real HTTP peer on 127.0.0.1 (the
// engine's civetweb server, port 0) that records every request and answers
// as scripted (a status per request, or hanging until released), alerts
// built the way the engine renders them, and a logger that keeps lines.
//
// Thread-safety: the peer's handler runs on server threads; its recorded
// state is guarded by a mutex, read through copies.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "../lib/collecting_logger.h"
#include "vigil/engine/alert.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/http_server.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges::testing {

using vigil::testing::CollectingLogger;

// One alert with storage for everything its AlertView refers to.
struct TestAlert {
  AlertRecord record;
  RuleInfo rule;
  KeyInfo key;
  std::string id, message, json;
  AlertView view() const { return AlertView{record, rule, key, id, message, json}; }
};

inline TestAlert MakeAlert(const std::string& rule, std::vector<std::string> tags, std::vector<std::string> values,
                           AlertState state, int64_t ts, double value = 31.5, uint32_t count = 1,
                           int64_t raise_ts = -1) {
  TestAlert a;
  a.rule.name = rule;
  a.rule.severity = "critical";
  a.rule.key_tags = std::move(tags);
  a.key.values = std::move(values);
  a.record.state = state;
  a.record.ts = ts;
  a.record.raise_ts = raise_ts >= 0 ? raise_ts : ts;
  a.record.value = value;
  a.record.count = count;
  a.id = AlertId(a.rule.name, a.rule.key_tags.data(), a.key.values.data(), a.rule.key_tags.size(), a.record.raise_ts);
  a.message = rule + (state == AlertState::kRaised ? " raised" : " cleared");
  a.json = AlertDispatcher::RenderJson(a.record, a.rule, a.key, a.id, a.message);
  return a;
}

struct RecordedRequest {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return v;
      }
    }
    return "";
  }
  std::string Query(const std::string& name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return "";
  }
};

// Answers POST `path`. `script(request, index)` chooses the status of the
// index-th request (0-based), the body of the answer is `reply_body`; with
// `hang`, a request waits until the peer is released or destroyed.
class RecordingHttpPeer {
 public:
  using Script = std::function<int(const RecordedRequest&, size_t index)>;

  explicit RecordingHttpPeer(std::string path = "/hook") : path_(std::move(path)) {
    server_.Route("POST", path_, [this](HttpRequest& req) { return Handle(req); });
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    Status st = server_.Start(o);
    started_ = st.ok();
  }
  ~RecordingHttpPeer() {
    Release();
    server_.Stop();
  }

  bool started() const { return started_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + path_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(server_.port()); }

  void SetScript(Script s, std::string reply_body = "") {
    std::lock_guard<std::mutex> lock(mu_);
    script_ = std::move(s);
    reply_body_ = std::move(reply_body);
  }
  void SetHang(bool hang) {
    std::lock_guard<std::mutex> lock(mu_);
    hang_ = hang;
    released_ = !hang;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    hang_ = false;
    released_ = true;
    cv_.notify_all();
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Bodies of the requests answered 2xx, in arrival order.
  std::vector<std::string> delivered() const {
    std::lock_guard<std::mutex> lock(mu_);
    return delivered_;
  }

 private:
  HttpResponse Handle(HttpRequest& req) {
    std::unique_lock<std::mutex> lock(mu_);
    RecordedRequest r{req.path, req.query, req.headers, req.body};
    const size_t index = requests_.size();
    requests_.push_back(r);
    if (hang_) {
      cv_.wait_for(lock, std::chrono::seconds(10), [this] { return released_; });
      return HttpResponse::Text(503, "released");
    }
    const int status = script_ ? script_(r, index) : 200;
    if (status >= 200 && status < 300) delivered_.push_back(r.body);
    HttpResponse resp = HttpResponse::Text(status, reply_body_);
    return resp;
  }

  std::string path_;
  HttpServer server_;
  bool started_ = false;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Script script_;
  std::string reply_body_;
  bool hang_ = false;
  bool released_ = false;
  std::vector<RecordedRequest> requests_;
  std::vector<std::string> delivered_;
};

// A loopback port nothing listens on (bound, then closed).
inline int ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace vigil::bridges::testing
