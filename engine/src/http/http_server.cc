// HttpServer on civetweb: one begin_request callback routes every request
// (civetweb serves no files: there is no document root), so authentication,
// limits and error bodies are ours and uniform. With TLS, civetweb listens
// on an internal 127.0.0.1 port behind a TlsTerminator (http/tls_terminator.h).
#include "vigil/engine/http_server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <thread>

#include "http/tls_terminator.h"
#include "vigil/engine/alert_dispatcher.h"

namespace vigil {

namespace {

using Clock = std::chrono::steady_clock;

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

const std::string* Find(const std::vector<std::pair<std::string, std::string>>& v, std::string_view name,
                        bool case_insensitive) {
  for (const auto& [k, value] : v) {
    if (case_insensitive ? IEquals(k, name) : k == name) return &value;
  }
  return nullptr;
}

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool IsParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::string UrlDecode(std::string_view s) {
  std::string out(s.size() + 1, '\0');
  const int n = mg_url_decode(s.data(), static_cast<int>(s.size()), out.data(), static_cast<int>(out.size()), 1);
  if (n < 0) return std::string(s);
  out.resize(static_cast<size_t>(n));
  return out;
}

void ParseQuery(const char* qs, std::vector<std::pair<std::string, std::string>>* out) {
  if (qs == nullptr) return;
  std::string_view q(qs);
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view item = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      out->emplace_back(UrlDecode(item), std::string());
    } else {
      out->emplace_back(UrlDecode(item.substr(0, eq)), UrlDecode(item.substr(eq + 1)));
    }
  }
}

// Routes under these prefixes need the token whenever one is set.
bool AlwaysProtected(std::string_view path) {
  return path.rfind("/api/", 0) == 0 || path == "/api" || path.rfind("/-/", 0) == 0 || path == "/-";
}
bool MetricsLike(std::string_view path) { return path == "/metrics" || path == "/healthz" || path == "/readyz"; }

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost") return true;
  // 127.0.0.0/8, dotted quad.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return dots == 3;
}

struct ListenAddress {
  std::string host;  // empty: every interface
  int port = 0;
};

Result<ListenAddress> ParseListen(const std::string& listen) {
  if (listen.empty()) return Status::InvalidArgument("http listen address is empty (expected host:port, e.g. 127.0.0.1:9464)");
  if (listen.front() == '[') {
    return Status::InvalidArgument("http listen '" + listen +
                                   "': IPv6 addresses are not supported by this build (use 127.0.0.1:PORT)");
  }
  ListenAddress a;
  std::string port_text = listen;
  const size_t colon = listen.rfind(':');
  if (colon != std::string::npos) {
    a.host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  if (a.host.find(':') != std::string::npos) {
    return Status::InvalidArgument("http listen '" + listen + "': IPv6 addresses are not supported by this build");
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    return Status::InvalidArgument("http listen '" + listen + "': expected host:port with a port from 0 to 65535");
  }
  a.port = std::stoi(port_text);
  if (a.port > 65535) return Status::InvalidArgument("http listen '" + listen + "': port above 65535");
  if (a.host == "localhost") a.host = "127.0.0.1";
  if (a.host == "*" || a.host == "0.0.0.0") a.host.clear();
  return a;
}

// Opens and closes one TCP connection to host:port (loopback when host is
// empty), waiting at most 50 ms for it to be established.
void Poke(const std::string& host, uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (host.empty() || ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    (void)::poll(&p, 1, 50);
  }
  ::close(fd);
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer string whatever the contents; fold the length difference in.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

const std::string* HttpRequest::Param(std::string_view name) const { return Find(params, name, false); }
const std::string* HttpRequest::Query(std::string_view name) const { return Find(query, name, false); }
const std::string* HttpRequest::Header(std::string_view name) const { return Find(headers, name, true); }

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Error(int status, std::string_view message) {
  std::string body = "{\"error\":";
  AppendJsonString(&body, message);
  body += '}';
  return Json(status, std::move(body));
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

struct HttpServer::Impl {
  struct RouteEntry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    HttpHandler handler;
    SseHandler stream;
  };

  class Stream;

  Logger* logger = nullptr;
  std::vector<RouteEntry> routes;
  HttpServerOptions options;
  mg_context* ctx = nullptr;
  bool library_initialised = false;
  std::atomic<bool> stopping{false};
  std::atomic<uint16_t> port{0};          // the public port (the terminator's with TLS)
  std::atomic<uint16_t> backend_port{0};  // civetweb's port (== port without TLS)
  std::string host;  // civetweb's listening address, for Stop()'s wake-up connection
  std::unique_ptr<TlsTerminator> tls;     // set while running with TLS
  std::atomic<uint32_t> streams{0};
  uint32_t max_streams = 1;
  // Limits met (HttpServer::LimitHits) and the last time one was logged.
  std::atomic<uint32_t> in_flight{0};
  std::atomic<uint64_t> hits_connections{0};
  std::atomic<uint64_t> hits_body{0};
  std::atomic<uint64_t> hits_streams{0};
  std::atomic<int64_t> last_limit_log_ms{0};
  // civetweb's messages while Start() runs, for its Status.
  std::mutex log_mu;
  bool capture_log = false;
  std::string start_log;

  void AddRoute(std::string method, std::string pattern, HttpHandler handler, SseHandler stream) {
    for (auto& r : routes) {
      if (r.method == method && r.pattern == pattern) {
        r.handler = std::move(handler);
        r.stream = std::move(stream);
        return;
      }
    }
    RouteEntry e;
    e.segments = SplitPath(pattern);
    e.method = std::move(method);
    e.pattern = std::move(pattern);
    e.handler = std::move(handler);
    e.stream = std::move(stream);
    routes.push_back(std::move(e));
  }

  // Counts a limit met and logs it, at most once every 10 s for all limits
  // together (any worker thread).
  void LimitHit(std::atomic<uint64_t>* counter, const std::string& what) {
    counter->fetch_add(1, std::memory_order_relaxed);
    if (logger == nullptr) return;
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    int64_t last = last_limit_log_ms.load(std::memory_order_relaxed);
    if (last != 0 && now - last < 10000) return;
    if (!last_limit_log_ms.compare_exchange_strong(last, now)) return;
    logger->Log(LogLevel::kWarn, "http: " + what + " (vigil_http_limit_hits_total counts every time; logged at most "
                                 "once every 10 s)");
  }

  static bool Matches(const RouteEntry& r, const std::vector<std::string>& segments,
                      std::vector<std::pair<std::string, std::string>>* params) {
    if (r.segments.size() != segments.size()) return false;
    params->clear();
    for (size_t i = 0; i < segments.size(); ++i) {
      if (IsParam(r.segments[i])) {
        params->emplace_back(r.segments[i].substr(1, r.segments[i].size() - 2), segments[i]);
      } else if (r.segments[i] != segments[i]) {
        return false;
      }
    }
    return true;
  }

  bool Authorized(const HttpRequest& req) const {
    const std::string* auth = req.Header("Authorization");
    if (auth == nullptr) return false;
    std::string_view v(*auth);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (v.size() < 7 || !IEquals(v.substr(0, 7), "Bearer ")) return false;
    v.remove_prefix(7);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    return ConstantTimeEquals(v, options.token);
  }

  bool NeedsAuth(std::string_view path) const {
    if (options.token.empty()) return false;
    return AlwaysProtected(path) || (options.protect_metrics && MetricsLike(path));
  }

  // Whether the connection stays open after this answer, as civetweb
  // decides it (should_keep_alive): not after a 401, not when the request
  // said `Connection: close`, not for HTTP/1.0 without `keep-alive`.
  static bool KeepsAlive(mg_connection* conn, int status) {
    if (status == 401) return false;
    const char* header = mg_get_header(conn, "Connection");
    if (header != nullptr) {
      std::string h(header);
      for (char& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return h.find("keep-alive") != std::string::npos;
    }
    const char* version = mg_get_request_info(conn)->http_version;
    return version != nullptr && std::strcmp(version, "1.1") == 0;
  }

  // The whole answer in one write. civetweb's mg_response_header_*() send
  // each header line in a write of its own; with tcp_nodelay each is a
  // segment that wakes the client, and on a busy machine the worker then
  // waits for a CPU between lines (measured on 2 loaded vCPUs: 5-15 ms a
  // line, ~20 ms an answer, which capped POST /api/v1/ingest at ~45
  // requests/s per connection). `close`: the connection ends after it.
  static void Write(mg_connection* conn, const HttpResponse& r, bool head, bool close = false) {
    const bool keep_alive = !close && KeepsAlive(conn, r.status);
    if (!keep_alive) mg_disable_connection_keep_alive(conn);  // civetweb agrees with the header
    char date[64];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    std::string out;
    out.reserve(256 + (head ? 0 : r.body.size()));
    out += "HTTP/1.1 " + std::to_string(r.status) + ' ' + mg_get_response_code_text(conn, r.status) + "\r\n";
    out += "Content-Type: " + r.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
    for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
    out += std::string("Date: ") + date + "\r\n";
    out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    if (!head) out += r.body;
    mg_write(conn, out.data(), out.size());
  }

  // Answers before the body was read: the connection cannot be reused.
  static int WriteAndClose(mg_connection* conn, const HttpResponse& r) {
    Write(conn, r, false, /*close=*/true);
    return r.status;
  }

  // Reads the body into req->body. Returns 0, or 413 when it exceeds the
  // limit, 400 when it is cut short.
  int ReadBody(mg_connection* conn, const mg_request_info* ri, HttpRequest* req) const {
    const std::string* te = req->Header("Transfer-Encoding");
    const bool chunked = te != nullptr && te->find("chunked") != std::string::npos;
    if (ri->content_length <= 0 && !chunked) return 0;
    if (ri->content_length > 0 && static_cast<unsigned long long>(ri->content_length) > options.max_body_bytes) {
      return 413;
    }
    const size_t expected = ri->content_length > 0 ? static_cast<size_t>(ri->content_length) : 0;
    constexpr size_t kChunk = 64 * 1024;
    std::string& body = req->body;
    body.reserve(expected > 0 ? expected : kChunk);
    while (true) {
      const size_t have = body.size();
      const size_t want = expected > have ? std::min(expected - have, kChunk * 16) : kChunk;
      body.resize(have + want);
      const int n = mg_read(conn, body.data() + have, want);
      body.resize(have + static_cast<size_t>(std::max(n, 0)));
      if (n < 0) return 400;
      if (n == 0) break;
      if (body.size() > options.max_body_bytes) return 413;
    }
    if (expected > 0 && req->body.size() != expected) return 400;
    return 0;
  }

  int Handle(mg_connection* conn);
  int RunStream(mg_connection* conn, const RouteEntry& route, const HttpRequest& req);

  static int BeginRequest(mg_connection* conn) {
    auto* self = static_cast<Impl*>(mg_get_user_data(mg_get_context(conn)));
    // This request takes the last free worker: further connections wait in
    // the accept queue until one is free (http.max_connections).
    struct InFlight {
      std::atomic<uint32_t>* n;
      ~InFlight() { n->fetch_sub(1, std::memory_order_relaxed); }
    } in_flight{&self->in_flight};
    if (self->in_flight.fetch_add(1, std::memory_order_relaxed) + 1 >= self->options.max_connections) {
      self->LimitHit(&self->hits_connections, "all " + std::to_string(self->options.max_connections) +
                                                  " workers are busy: new connections wait (http.max_connections)");
    }
    try {
      return self->Handle(conn);
    } catch (...) {
      // Allocation failure or similar outside a handler: never let it cross into C.
      return WriteAndClose(conn, HttpResponse::Error(500, "internal error"));
    }
  }

  static int LogMessage(const mg_connection* conn, const char* message) {
    mg_context* ctx = conn != nullptr ? mg_get_context(conn) : nullptr;
    auto* self = ctx != nullptr ? static_cast<Impl*>(mg_get_user_data(ctx)) : nullptr;
    if (self == nullptr) return 1;
    {
      std::lock_guard<std::mutex> lock(self->log_mu);
      if (self->capture_log) {
        if (!self->start_log.empty()) self->start_log += "; ";
        self->start_log += message;
        return 1;
      }
    }
    if (self->logger != nullptr) self->logger->Log(LogLevel::kWarn, std::string("http: ") + message);
    return 1;  // handled: civetweb prints nothing
  }
};

class HttpServer::Impl::Stream final : public SseStream {
 public:
  Stream(mg_connection* conn, Impl* server) : conn_(conn), server_(server), last_write_(Clock::now()) {}

  bool Reject(const HttpResponse& response) override {
    if (started_ || done_) return false;
    Impl::Write(conn_, response, false);
    status_ = response.status;
    done_ = true;
    return true;
  }

  bool Send(std::string_view event, std::string_view data, std::string_view id) override {
    if (!Begin()) return false;
    buf_.clear();
    if (!id.empty()) {
      buf_ += "id: ";
      AppendLine(id);
    }
    if (!event.empty()) {
      buf_ += "event: ";
      AppendLine(event);
    }
    size_t i = 0;
    while (true) {
      const size_t nl = data.find('\n', i);
      buf_ += "data: ";
      AppendLine(data.substr(i, nl == std::string_view::npos ? std::string_view::npos : nl - i));
      if (nl == std::string_view::npos) break;
      i = nl + 1;
    }
    buf_ += '\n';
    return WriteRaw(buf_);
  }

  bool KeepAlive() override {
    if (!Begin()) return false;
    if (Clock::now() - last_write_ >= server_->options.sse_heartbeat) return WriteRaw(":\n\n");
    return true;
  }

  std::chrono::milliseconds poll_interval() const override { return server_->options.sse_poll; }

  int status() const { return status_; }

 private:
  // Event fields are single lines: a stray CR or LF would end the field early.
  void AppendLine(std::string_view s) {
    for (char c : s) {
      if (c != '\r' && c != '\n') buf_ += c;
    }
    buf_ += '\n';
  }

  bool Begin() {
    if (done_) return false;
    if (server_->stopping.load(std::memory_order_relaxed)) {
      done_ = true;
      return false;
    }
    if (started_) return true;
    started_ = true;
    mg_disable_connection_keep_alive(conn_);
    mg_response_header_start(conn_, 200);
    mg_response_header_add(conn_, "Content-Type", "text/event-stream; charset=utf-8", -1);
    mg_response_header_add(conn_, "Cache-Control", "no-cache", -1);
    mg_response_header_add(conn_, "X-Accel-Buffering", "no", -1);
    mg_response_header_add(conn_, "X-Content-Type-Options", "nosniff", -1);
    mg_response_header_send(conn_);
    // Tells EventSource how soon to reconnect, and flushes the headers out.
    return WriteRaw("retry: 2000\n\n");
  }

  bool WriteRaw(std::string_view s) {
    if (done_) return false;
    const int n = mg_write(conn_, s.data(), s.size());
    if (n <= 0 || static_cast<size_t>(n) != s.size()) {
      done_ = true;
      return false;
    }
    last_write_ = Clock::now();
    return true;
  }

  mg_connection* conn_;
  Impl* server_;
  Clock::time_point last_write_;
  std::string buf_;
  bool started_ = false;
  bool done_ = false;
  int status_ = 200;
};

int HttpServer::Impl::RunStream(mg_connection* conn, const RouteEntry& route, const HttpRequest& req) {
  if (streams.fetch_add(1) >= max_streams) {
    streams.fetch_sub(1);
    LimitHit(&hits_streams, "an event stream was refused with 503: " + std::to_string(max_streams) +
                                " streams are open (max_streams)");
    HttpResponse r = HttpResponse::Error(503, "too many open event streams (max " + std::to_string(max_streams) + ")");
    r.headers.emplace_back("Retry-After", "5");
    Write(conn, r, false);
    return 503;
  }
  Stream stream(conn, this);
  try {
    route.stream(req, stream);
  } catch (const std::exception& e) {
    if (!stream.Reject(HttpResponse::Error(500, std::string("internal error: ") + e.what()))) {
      mg_disable_connection_keep_alive(conn);
    }
  } catch (...) {
    if (!stream.Reject(HttpResponse::Error(500, "internal error"))) mg_disable_connection_keep_alive(conn);
  }
  // A handler that returned without writing anything still answers.
  (void)stream.KeepAlive();
  streams.fetch_sub(1);
  return stream.status();
}

int HttpServer::Impl::Handle(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  HttpRequest req;
  req.method = ri->request_method != nullptr ? ri->request_method : "";
  req.path = ri->local_uri != nullptr ? ri->local_uri : "/";
  req.remote_addr = ri->remote_addr;
  if (tls != nullptr) {
    // Behind the terminator every connection comes from loopback: the
    // client's address is the terminator's. A connection that did not come
    // through it reached the internal port directly, in plain HTTP.
    req.remote_addr = tls->PeerOf(static_cast<uint16_t>(ri->remote_port));
    if (req.remote_addr.empty()) {
      return WriteAndClose(conn, HttpResponse::Error(403, "this is vigil's internal port behind TLS: use https:// on "
                                                          "the configured http.listen address"));
    }
  }
  req.headers.reserve(static_cast<size_t>(ri->num_headers));
  for (int i = 0; i < ri->num_headers; ++i) {
    req.headers.emplace_back(ri->http_headers[i].name != nullptr ? ri->http_headers[i].name : "",
                             ri->http_headers[i].value != nullptr ? ri->http_headers[i].value : "");
  }
  ParseQuery(ri->query_string, &req.query);
  const bool has_body = ri->content_length > 0 || req.Header("Transfer-Encoding") != nullptr;

  if (NeedsAuth(req.path) && !Authorized(req)) {
    HttpResponse r = HttpResponse::Error(401, req.Header("Authorization") == nullptr
                                                  ? "missing bearer token (Authorization: Bearer <token>)"
                                                  : "invalid bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"vigil\"");
    if (has_body) return WriteAndClose(conn, r);
    Write(conn, r, false);
    return 401;
  }

  const std::vector<std::string> segments = SplitPath(req.path);
  const bool head = req.method == "HEAD";
  const RouteEntry* found = nullptr;
  std::string allow;
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& r : routes) {
    if (!Matches(r, segments, &params)) continue;
    if (r.method == req.method || (head && r.method == "GET")) {
      found = &r;
      req.params = params;
      break;
    }
    if (allow.find(r.method) == std::string::npos) {
      if (!allow.empty()) allow += ", ";
      allow += r.method;
      if (r.method == "GET") allow += ", HEAD";
    }
  }
  if (found == nullptr) {
    HttpResponse r = allow.empty() ? HttpResponse::Error(404, "no such endpoint: " + req.path)
                                   : HttpResponse::Error(405, "method " + req.method + " not allowed on " + req.path +
                                                                  " (allowed: " + allow + ")");
    if (!allow.empty()) r.headers.emplace_back("Allow", allow);
    if (has_body) return WriteAndClose(conn, r);
    Write(conn, r, head);
    return r.status;
  }

  if (const int err = ReadBody(conn, ri, &req); err != 0) {
    if (err == 413) {
      LimitHit(&hits_body, "a request body larger than http.max_body_bytes (" + std::to_string(options.max_body_bytes) +
                               " bytes) was refused with 413");
    }
    return WriteAndClose(conn, err == 413 ? HttpResponse::Error(413, "request body larger than " +
                                                                        std::to_string(options.max_body_bytes) +
                                                                        " bytes")
                                          : HttpResponse::Error(400, "incomplete request body"));
  }

  if (found->stream) return RunStream(conn, *found, req);

  HttpResponse response;
  try {
    response = found->handler(req);
  } catch (const std::exception& e) {
    response = HttpResponse::Error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    response = HttpResponse::Error(500, "internal error");
  }
  Write(conn, response, head);
  return response.status;
}

HttpServer::HttpServer(Logger* logger) : impl_(std::make_unique<Impl>()) { impl_->logger = logger; }

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string method, std::string pattern, HttpHandler handler) {
  impl_->AddRoute(std::move(method), std::move(pattern), std::move(handler), nullptr);
}

void HttpServer::RouteStream(std::string method, std::string pattern, SseHandler handler) {
  impl_->AddRoute(std::move(method), std::move(pattern), nullptr, std::move(handler));
}

Status HttpServer::Start(const HttpServerOptions& options) {
  Impl& im = *impl_;
  if (im.ctx != nullptr) return Status::InvalidArgument("http server already running on port " + std::to_string(port()));
  auto addr = ParseListen(options.listen);
  if (!addr.ok()) return addr.status();
  if (!options.allow_remote && !IsLoopbackHost(addr->host)) {
    return Status::InvalidArgument("http listen '" + options.listen +
                                   "' is not a loopback address; vigil serves its API on loopback only unless "
                                   "remote access is allowed explicitly (http.allow_remote: true), with a "
                                   "token and TLS (http.tls_cert, http.tls_key)");
  }
  const bool use_tls = !options.tls_cert.empty() || !options.tls_key.empty();
  if (use_tls && (options.tls_cert.empty() || options.tls_key.empty())) {
    return Status::InvalidArgument("http TLS needs both a certificate (tls_cert) and a private key (tls_key)");
  }
  if (options.max_connections == 0) return Status::InvalidArgument("http max_connections must be at least 1");
  if (!IsLoopbackHost(addr->host) && im.logger != nullptr) {
    if (!use_tls) {
      im.logger->Log(LogLevel::kWarn, "http: serving plain HTTP on the non-loopback address " + options.listen +
                                        ": requests and the bearer token travel unencrypted (set http.tls_cert "
                                        "and http.tls_key)");
    }
    if (options.token.empty()) {
      im.logger->Log(LogLevel::kWarn, "http: no bearer token on the non-loopback address " + options.listen +
                                        ": anyone who can reach it can use the API (set http.token_env or "
                                        "http.token_file)");
    }
  }

  // With TLS the certificate is checked and the public address bound before
  // civetweb starts; civetweb then takes an ephemeral loopback port.
  std::unique_ptr<TlsTerminator> tls;
  if (use_tls) {
    tls = std::make_unique<TlsTerminator>(im.logger);
    TlsTerminatorOptions to;
    to.cert_file = options.tls_cert;
    to.key_file = options.tls_key;
    to.tls13_only = options.tls_min_version == TlsVersion::k1_3;
    to.host = addr->host;
    to.port = static_cast<uint16_t>(addr->port);
    to.max_connections = options.max_connections;
    to.handshake_timeout = options.tls_handshake_timeout;
    to.idle_timeout = 2 * std::max({options.request_timeout, options.keep_alive_timeout, options.sse_heartbeat});
    if (Status st = tls->Open(to); !st.ok()) {
      if (st.code() == Status::Code::kIoError) {
        return Status::IoError("http server cannot listen on " + options.listen + ": " + st.message());
      }
      return st;
    }
    addr->host = "127.0.0.1";
    addr->port = 0;
  }

  im.options = options;
  im.max_streams = options.max_streams != 0 ? options.max_streams : std::max<uint32_t>(1, options.max_connections / 2);
  im.stopping.store(false);

  std::string ports = (addr->host.empty() ? "" : addr->host + ":") + std::to_string(addr->port);
  const std::string threads = std::to_string(options.max_connections);
  const std::string request_timeout = std::to_string(options.request_timeout.count());
  const std::string keep_alive_timeout = std::to_string(options.keep_alive_timeout.count());
  const std::string max_request = std::to_string(options.max_header_bytes);
  std::vector<const char*> cfg = {
      "listening_ports", ports.c_str(),
      "num_threads", threads.c_str(),
      "request_timeout_ms", request_timeout.c_str(),
      "keep_alive_timeout_ms", keep_alive_timeout.c_str(),
      "enable_keep_alive", "yes",
      "max_request_size", max_request.c_str(),
      "decode_url", "yes",
      // Headers and body go out in separate writes: without this, Nagle and
      // the client's delayed ACK add 40 ms to every small response.
      "tcp_nodelay", "1",
  };
  cfg.push_back(nullptr);

  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof callbacks);
  callbacks.begin_request = &Impl::BeginRequest;
  callbacks.log_message = &Impl::LogMessage;

  {
    std::lock_guard<std::mutex> lock(im.log_mu);
    im.capture_log = true;
    im.start_log.clear();
  }
  mg_init_library(0);
  im.library_initialised = true;
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof error_text};
  mg_init_data init{&callbacks, &im, cfg.data()};
  im.ctx = mg_start2(&init, &error);
  std::string log;
  {
    std::lock_guard<std::mutex> lock(im.log_mu);
    im.capture_log = false;
    log = std::move(im.start_log);
  }
  if (im.ctx == nullptr) {
    mg_exit_library();
    im.library_initialised = false;
    std::string why = log.empty() ? std::string(error_text) : log;
    if (why.empty()) why = "unknown error";
    return Status::IoError("http server cannot listen on " + (use_tls ? "127.0.0.1:0 (behind TLS)" : options.listen) +
                           ": " + why);
  }
  mg_server_port bound[4];
  const int n = mg_get_server_ports(im.ctx, 4, bound);
  im.backend_port.store(n > 0 ? static_cast<uint16_t>(bound[0].port) : 0);
  im.host = addr->host;
  if (tls != nullptr) {
    tls->Start(im.backend_port.load());
    im.port.store(tls->port());
    im.tls = std::move(tls);
  } else {
    im.port.store(im.backend_port.load());
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  if (im.ctx == nullptr) return;
  im.stopping.store(true);
  // civetweb's accept loop looks at its stop flag between polls of up to
  // 2 s; a connection wakes it at once. A worker waiting on a kept-alive
  // connection also looks only every 2 s: with TLS, the terminator first
  // half-closes its connections to civetweb (Drain), so such workers see
  // end-of-input at once; it stops after civetweb. (A stopping civetweb
  // writes nothing more: an answer in flight is lost, with or without TLS.)
  if (im.tls != nullptr) im.tls->Drain();
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    mg_stop(im.ctx);
    stopped.store(true);
  });
  // Poke only once mg_stop() has set its stop flag: a connection civetweb
  // accepts before the flag and a worker dequeues after it is never closed
  // (civetweb 1.15's worker loop exits holding it), one descriptor lost per
  // Stop(). mg_stop() sets the flag first thing; give its thread a moment.
  const uint16_t port = im.backend_port.load();
  const auto first_poke = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
  while (!stopped.load()) {
    if (port != 0 && std::chrono::steady_clock::now() >= first_poke) Poke(im.host, port);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stopper.join();
  im.ctx = nullptr;
  if (im.tls != nullptr) {
    im.tls->Stop();
    im.tls.reset();
  }
  im.port.store(0);
  im.backend_port.store(0);
  if (im.library_initialised) {
    mg_exit_library();
    im.library_initialised = false;
  }
}

uint16_t HttpServer::port() const { return impl_->port.load(); }
bool HttpServer::running() const { return impl_->port.load() != 0; }
uint32_t HttpServer::active_streams() const { return impl_->streams.load(); }
uint16_t HttpServer::TEST_backend_port() const { return impl_->backend_port.load(); }

HttpServer::LimitHits HttpServer::limit_hits() const {
  LimitHits h;
  h.max_connections = impl_->hits_connections.load(std::memory_order_relaxed);
  h.max_body_bytes = impl_->hits_body.load(std::memory_order_relaxed);
  h.max_streams = impl_->hits_streams.load(std::memory_order_relaxed);
  return h;
}

std::string HttpServer::LimitMetricsText() const {
  const LimitHits h = limit_hits();
  std::string t =
      "# HELP vigil_http_limit_hits_total Requests that met an HTTP server limit (max_connections: took the last "
      "free worker; max_body_bytes: refused with 413; max_streams: refused with 503).\n"
      "# TYPE vigil_http_limit_hits_total counter\n";
  t += "vigil_http_limit_hits_total{limit=\"max_body_bytes\"} " + std::to_string(h.max_body_bytes) + "\n";
  t += "vigil_http_limit_hits_total{limit=\"max_connections\"} " + std::to_string(h.max_connections) + "\n";
  t += "vigil_http_limit_hits_total{limit=\"max_streams\"} " + std::to_string(h.max_streams) + "\n";
  return t;
}

}  // namespace vigil
