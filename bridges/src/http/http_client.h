// HttpClient: one reused libcurl easy handle that POSTs request bodies for
// the HTTP sinks (webhook, InfluxDB).
//
// Each Post() is exactly one attempt, bounded by `timeout` (connecting and
// the whole exchange): no retries (the outbox retries, with backoff), no
// redirects followed, http and https only. The handle keeps its connection
// open between calls (HTTP keep-alive) and reconnects when the peer closed
// it. Header values (an Authorization token among them) are never logged
// nor put in an error message.
//
// libcurl's global initialisation (curl_global_init) is process-wide and not
// thread-safe; the first Create() does it once, through a function-local
// static (initialised once even when threads race), and it is never undone:
// curl_global_cleanup at exit could race with a sink still running.
//
// Thread-safety: a client is used by one thread at a time (the thread that
// flushes its sink); separate clients are independent.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/status.h"

namespace vigil::bridges {

struct HttpClientOptions {
  // "Name: value" lines sent with every request.
  std::vector<std::string> headers;
  // HTTP basic authentication when `username` is not empty.
  std::string username;
  std::string password;
  // Bound on each request, connecting included. Default: 5 s.
  std::chrono::milliseconds timeout{5000};
  // Bytes of a response body kept for error messages. Default: 200.
  size_t max_reply_body = 200;
};

// The peer's answer to one request.
struct HttpReply {
  long status = 0;   // HTTP status code
  std::string body;  // the first max_reply_body bytes of the response body
};

// How a sink treats an answer (the outbox contract): 2xx delivered;
// 408, 429, 5xx (and anything else unexpected: 1xx, 3xx) retried later;
// every other 4xx rejected for good (dead-lettered, never retried).
enum class ReplyClass { kDelivered, kRetry, kRejected };
ReplyClass ClassifyStatus(long status);

class HttpClient {
 public:
  // Errors: Internal when libcurl cannot be initialised.
  static Result<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `url` (one attempt). Returns the reply whatever its
  // status, or IoError when no reply came (connection refused, timeout,
  // TLS failure) with libcurl's reason. `body` need only live during the call.
  Result<HttpReply> Post(const std::string& url, std::string_view body);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::bridges
