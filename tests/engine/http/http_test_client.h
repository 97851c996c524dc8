// A tiny blocking HTTP/1.1 client over plain sockets for the HTTP tests:
// one request per connection (or raw bytes), and a server-sent-events
// reader. Every read has a deadline, so a broken server fails a test instead
// of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  int status = 0;  // 0: no (complete) response
  Headers headers;
  std::string body;

  const std::string* Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < k.size(); ++i) {
        same = same && std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(name[i]));
      }
      if (same) return &v;
    }
    return nullptr;
  }
};

class Socket {
 public:
  explicit Socket(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~Socket() { Close(); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  bool ok() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  enum class Read { kData, kTimeout, kEof };
  // Appends what arrives within `timeout` to *out.
  Read Receive(std::string* out, std::chrono::milliseconds timeout) {
    if (fd_ < 0) return Read::kEof;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return Read::kTimeout;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return Read::kEof;
    out->append(buf, static_cast<size_t>(n));
    return Read::kData;
  }

 private:
  int fd_ = -1;
};

// Parses one response at the start of `data` (Content-Length bodies, or up
// to the end when `eof`). Returns the bytes used, 0 when incomplete.
// `no_body`: the answer to HEAD (Content-Length without a body).
inline size_t ParseResponse(const std::string& data, bool eof, ClientResponse* r, bool no_body = false) {
  const size_t end = data.find("\r\n\r\n");
  if (end == std::string::npos) return 0;
  r->headers.clear();
  size_t line_end = data.find("\r\n");
  const std::string status_line = data.substr(0, line_end);
  const size_t sp = status_line.find(' ');
  r->status = sp == std::string::npos ? 0 : std::atoi(status_line.c_str() + sp + 1);
  size_t i = line_end + 2;
  while (i < end) {
    size_t e = data.find("\r\n", i);
    std::string line = data.substr(i, e - i);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(v.begin());
      r->headers.emplace_back(line.substr(0, colon), v);
    }
    i = e + 2;
  }
  const size_t body_start = end + 4;
  if (no_body) return body_start;
  if (const std::string* cl = r->Header("Content-Length")) {
    const size_t n = std::strtoull(cl->c_str(), nullptr, 10);
    if (data.size() < body_start + n) return 0;
    r->body = data.substr(body_start, n);
    return body_start + n;
  }
  if (!eof) return 0;
  r->body = data.substr(body_start);
  return data.size();
}

class TestClient {
 public:
  explicit TestClient(uint16_t port) : port_(port) {}

  // Sends `raw` on a new connection and reads one response.
  ClientResponse Raw(std::string_view raw, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    const bool head = raw.rfind("HEAD ", 0) == 0;
    ClientResponse r;
    Socket s(port_);
    if (!s.ok() || !s.Send(raw)) return r;
    std::string data;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const Socket::Read got = s.Receive(&data, std::chrono::milliseconds(50));
      if (ParseResponse(data, got == Socket::Read::kEof, &r, head) != 0) return r;
      if (got == Socket::Read::kEof) break;
    }
    r = ClientResponse{};
    return r;
  }

  ClientResponse Request(const std::string& method, const std::string& path, const Headers& headers = {},
                         const std::string& body = "", bool send_length = true) {
    return Raw(Build(method, path, headers, body, send_length, /*close=*/true));
  }
  ClientResponse Get(const std::string& path, const Headers& headers = {}) { return Request("GET", path, headers); }
  ClientResponse Post(const std::string& path, const std::string& body, const Headers& headers = {}) {
    return Request("POST", path, headers, body);
  }

  static std::string Build(const std::string& method, const std::string& path, const Headers& headers,
                           const std::string& body, bool send_length, bool close) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (send_length && (!body.empty() || method == "POST")) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    if (close) req += "Connection: close\r\n";
    req += "\r\n" + body;
    return req;
  }

  uint16_t port() const { return port_; }

 private:
  uint16_t port_;
};

struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};

// Reads a text/event-stream response event by event.
class SseClient {
 public:
  SseClient(uint16_t port, const std::string& path, const Headers& headers = {}) : socket_(port) {
    if (!socket_.ok() || !socket_.Send(TestClient::Build("GET", path, headers, "", false, false))) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      const size_t end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        ParseResponse(buf_.substr(0, end + 4), true, &response_);
        buf_.erase(0, end + 4);
        if (response_.status != 200) {  // an ordinary response: read its body
          while (socket_.Receive(&buf_, std::chrono::milliseconds(200)) == Socket::Read::kData) {
          }
          response_.body = buf_;
        }
        return;
      }
      if (socket_.Receive(&buf_, std::chrono::milliseconds(100)) == Socket::Read::kEof) return;
    }
  }

  int status() const { return response_.status; }
  const ClientResponse& response() const { return response_; }
  int heartbeats() const { return heartbeats_; }
  bool ended() const { return ended_; }

  // The next event within `timeout`, or nullopt (timeout or end of stream).
  std::optional<SseEvent> Next(std::chrono::milliseconds timeout = std::chrono::milliseconds(3000)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (auto e = ParseEvent()) return e;
      if (ended_) return std::nullopt;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      if (socket_.Receive(&buf_, left) == Socket::Read::kEof) ended_ = true;
    }
  }

  // Reads (and discards) until the server closes the stream; true when it
  // did within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!ended_ && std::chrono::steady_clock::now() < deadline) {
      if (socket_.Receive(&buf_, std::chrono::milliseconds(20)) == Socket::Read::kEof) ended_ = true;
      while (ParseEvent()) {
      }
    }
    return ended_;
  }

  // Waits until `n` heartbeats arrived in total.
  bool WaitHeartbeats(int n, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (heartbeats_ < n && !ended_ && std::chrono::steady_clock::now() < deadline) {
      if (socket_.Receive(&buf_, std::chrono::milliseconds(20)) == Socket::Read::kEof) ended_ = true;
      while (ParseEvent()) {
      }
    }
    return heartbeats_ >= n;
  }

  void Close() { socket_.Close(); }

 private:
  std::optional<SseEvent> ParseEvent() {
    while (true) {
      const size_t nl = buf_.find('\n');
      if (nl == std::string::npos) return std::nullopt;
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        if (has_data_) {
          SseEvent e = std::move(pending_);
          pending_ = SseEvent{};
          has_data_ = false;
          return e;
        }
        pending_ = SseEvent{};
        continue;
      }
      if (line[0] == ':') {
        ++heartbeats_;
        continue;
      }
      const size_t colon = line.find(':');
      std::string field = line.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (field == "id") pending_.id = value;
      else if (field == "event") pending_.event = value;
      else if (field == "data") {
        if (has_data_) pending_.data += '\n';
        pending_.data += value;
        has_data_ = true;
      }
    }
  }

  Socket socket_;
  std::string buf_;
  ClientResponse response_;
  SseEvent pending_;
  bool has_data_ = false;
  bool ended_ = false;
  int heartbeats_ = 0;
};

}  // namespace vigil::testing
