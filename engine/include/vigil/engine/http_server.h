// HttpServer: the one small HTTP/1.1 server of a vigil process (civetweb
// underneath), serving /metrics, /healthz, /readyz, the REST API under
// /api/v1, admin endpoints under /-/ and the live page.
//
// Routes are registered before Start(), by method and path pattern
// ("/api/v1/alerts/{id}/ack": a `{name}` segment matches one non-empty path
// segment and is handed to the handler as a path parameter). The server does
// the common work before any handler runs:
//   * bearer-token authentication (constant-time comparison) of every /api/
//     and /-/ route when a token is set, and of /metrics, /healthz and
//     /readyz too with `protect_metrics` (401 JSON otherwise);
//   * the request body limit (413 JSON beyond `max_body_bytes`, read or not);
//   * 404 JSON for an unknown path, 405 JSON (with Allow) for a known path
//     with another method; 500 JSON when a handler throws.
// Every error body is `{"error": "..."}`.
//
// Server-sent events: RouteStream() registers a handler that receives an
// SseStream and writes events to it until the client goes away or the server
// stops. Each stream holds one worker thread for its whole life, so streams
// are capped (`max_streams`, 503 beyond).
//
// TLS (tls_cert/tls_key): see HttpServerOptions; the limits and timeouts
// below apply the same way (the terminator adds a handshake timeout and
// closes a connection on which nothing moved for twice the longest of
// request_timeout, keep_alive_timeout and sse_heartbeat).
//
// Thread-safety: Route/RouteStream before Start() only (not synchronised);
// Start/Stop from one controlling thread; handlers run concurrently on the
// server's worker threads (up to `max_connections`), so whatever they touch
// must be thread-safe. port() and running() may be called from any thread.
// Libraries never print: civetweb's own messages go to the Logger given at
// construction (if any), and a failed Start() returns them in its Status.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/status.h"

namespace vigil {

enum class TlsVersion { k1_2, k1_3 };

struct HttpServerOptions {
  // "host:port" (IPv4) to listen on; port 0 picks a free port (see port()).
  // Default: 127.0.0.1:9464. Not reloadable.
  std::string listen = "127.0.0.1:9464";
  // Listening on anything but a loopback address (127.0.0.0/8, localhost)
  // is refused unless this is set. Default: false.
  bool allow_remote = false;
  // Bearer token required on /api/ and /-/ routes; empty = no
  // authentication. Default: empty.
  std::string token;
  // Also require the token on /metrics, /healthz and /readyz. Default: false.
  bool protect_metrics = false;
  // Largest request body accepted (413 beyond). Default: 8 MiB.
  size_t max_body_bytes = 8u << 20;
  // Largest request line + headers (civetweb answers 413/400 beyond).
  // Default: 16 KiB.
  size_t max_header_bytes = 16u << 10;
  // Worker threads, i.e. connections served at the same time (a kept-alive
  // connection holds its worker until keep_alive_timeout); further
  // connections wait in the accept queue. Default: 16.
  uint32_t max_connections = 16;
  // Concurrent server-sent-event streams (each holds a worker thread);
  // 503 beyond. 0 = max_connections / 2. Default: 0.
  uint32_t max_streams = 0;
  // Timeout of each socket read/write of a request or response. Default: 30 s.
  std::chrono::milliseconds request_timeout{30000};
  // How long an idle kept-alive connection stays open. Default: 5 s.
  std::chrono::milliseconds keep_alive_timeout{5000};
  // Server-sent events: a `:` comment is sent after this much silence, which
  // keeps proxies from closing the stream and detects clients that left.
  // Default: 15 s.
  std::chrono::milliseconds sse_heartbeat{15000};
  // How often a stream handler should come back to SseStream::KeepAlive()
  // (bounds how long Stop() waits for streams). Default: 250 ms.
  std::chrono::milliseconds sse_poll{250};
  // TLS: PEM certificate (the server's first, then its chain) and
  // unencrypted PEM private key files; both or neither. With them the server
  // speaks HTTPS only (TLS 1.2+) on `listen`: an in-process terminator
  // (OpenSSL 3) does TLS and forwards to civetweb on an internal ephemeral
  // 127.0.0.1 port, which answers only connections coming through the
  // terminator. Read at Start(). Default: empty (plain HTTP).
  std::string tls_cert;
  std::string tls_key;
  // Oldest TLS version accepted. Default: 1.2.
  TlsVersion tls_min_version = TlsVersion::k1_2;
  // A TLS client must complete its handshake within this. Default: 10 s.
  std::chrono::milliseconds tls_handshake_timeout{10000};
};

// One request, as a handler sees it. Names of headers compare
// case-insensitively; query values and the path are URL-decoded.
struct HttpRequest {
  std::string method;                                        // "GET", "POST", ...
  std::string path;                                          // "/api/v1/alerts/3f2a/ack"
  std::vector<std::pair<std::string, std::string>> params;   // path parameters: {"id", "3f2a"}
  std::vector<std::pair<std::string, std::string>> query;    // in request order, repeats kept
  std::vector<std::pair<std::string, std::string>> headers;  // in request order
  std::string body;
  std::string remote_addr;  // the client's IPv4 address (also behind TLS)

  // The first value of path parameter / query parameter / header `name`, or
  // nullptr. The pointers stay valid as long as the request.
  const std::string* Param(std::string_view name) const;
  const std::string* Query(std::string_view name) const;
  const std::string* Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static HttpResponse Json(int status, std::string body);
  // `{"error": message}` with the given status.
  static HttpResponse Error(int status, std::string_view message);
  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

// The writing end of one server-sent-events response. Implemented by the
// server; used only by the stream handler's thread.
class SseStream {
 public:
  virtual ~SseStream() = default;
  // Answers with an ordinary response instead of a stream (a bad filter: 400).
  // Only before the first Send/KeepAlive; afterwards it returns false.
  virtual bool Reject(const HttpResponse& response) = 0;
  // Writes one event: `id:` (when not empty), `event:` (when not empty) and
  // one `data:` line per line of `data`. The response headers go out with the
  // first write. Returns false once the client is gone or the server stops.
  virtual bool Send(std::string_view event, std::string_view data, std::string_view id = {}) = 0;
  // Sends a `:` heartbeat when nothing was written for the heartbeat
  // interval (and the headers, if nothing was sent yet). Returns false once
  // the client is gone or the server stops: the handler must then return.
  virtual bool KeepAlive() = 0;
  // How long the handler may wait between KeepAlive() calls.
  virtual std::chrono::milliseconds poll_interval() const = 0;
};

// A handler may move from the request (its body, say): it is its own copy.
using HttpHandler = std::function<HttpResponse(HttpRequest&)>;
using SseHandler = std::function<void(const HttpRequest&, SseStream&)>;

class HttpServer {
 public:
  // `logger` (may be null: nothing is logged) must outlive the server.
  explicit HttpServer(Logger* logger = nullptr);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers `handler` for `method` ("GET", "POST", ...) on `pattern`. A
  // later registration of the same method and pattern replaces the earlier.
  // A GET route also answers HEAD (without the body). Before Start() only.
  void Route(std::string method, std::string pattern, HttpHandler handler);
  // Same, for a server-sent-events stream.
  void RouteStream(std::string method, std::string pattern, SseHandler handler);

  // Binds and starts the worker threads. Errors: InvalidArgument for a bad
  // `listen`, a non-loopback address without allow_remote, only one of
  // tls_cert/tls_key, or a certificate or key that cannot be read or used
  // (naming the file and OpenSSL's reason); IoError when the address cannot
  // be bound (in use, no permission), with the reason. Starting a running
  // server is an error.
  Status Start(const HttpServerOptions& options);
  // Ends every stream (within sse_poll), waits for running handlers, closes
  // the socket. Idempotent.
  void Stop();

  // The bound port (the chosen one when listen had port 0); 0 when stopped.
  uint16_t port() const;
  bool running() const;
  // Streams open right now.
  uint32_t active_streams() const;
  // How often each limit was met since construction (any thread). Each is
  // also logged, at most once every 10 s.
  struct LimitHits {
    uint64_t max_connections = 0;  // a request took the last free worker (later connections queue)
    uint64_t max_body_bytes = 0;   // 413
    uint64_t max_streams = 0;      // 503 to an event stream
  };
  LimitHits limit_hits() const;
  // The same as the Prometheus family vigil_http_limit_hits_total (text format).
  std::string LimitMetricsText() const;
  // With TLS: civetweb's internal plain-HTTP port (else port()); for tests.
  uint16_t TEST_backend_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True when `a` and `b` are equal, in time that depends on their lengths
// only (for comparing secrets).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace vigil
