// WebhookSink: POSTs alerts to an HTTP endpoint (libcurl), one alert JSON
// per request or, with `batch`, a JSON array of up to `max_batch` alerts.
//
// The outbox contract: Write() only buffers a copy of the alert's JSON.
// Flush() sends what was written since the previous Flush(), in order, one
// attempt per request and no retry loop, each request bounded by `timeout`:
//   * 2xx: delivered;
//   * 4xx other than 408/429: rejected for good, never retried: logged
//     (status and the first 200 bytes of the response body) and each alert
//     handed to `on_rejected`; Flush() still returns OK for them;
//   * 408, 429, 5xx, any other status, or no answer (connection refused,
//     timeout): Flush() stops at once and returns an IoError — none of the
//     alerts of this Flush() counts as delivered: the caller (the outbox)
//     writes them all again later, so the peer may see an alert twice
//     (ids are deterministic: de-duplicate on id + state).
// Stopping at the first failure keeps the order of alerts per key. After a
// Flush(), successful or not, the buffer is empty. The destructor sends
// nothing.
//
// Thread-safety: Write/Flush/Sync from one thread at a time (the engine's
// alert thread or the outbox's delivery thread); ReportMetrics from any.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/http_client.h"
#include "http/http_sink_probe.h"
#include "http/rejected_alerts.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

struct WebhookSinkOptions {
  // For logs and metrics. Default: "webhook:" + the URL's origin (the path
  // may be a secret and is never shown).
  std::string name;
  // http:// or https:// URL the alerts are POSTed to.
  std::string url;
  // Extra request headers, sent as given (Content-Type: application/json
  // unless one is given here).
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as "Authorization: Bearer <token>" when not empty; never logged.
  std::string bearer_token;
  // false: one POST per alert, its JSON as the body. true: one POST of a
  // JSON array per `max_batch` alerts. Default: false.
  bool batch = false;
  // Alerts per POST with `batch`. Default: 100.
  size_t max_batch = 100;
  // Bound on each request, connecting included. Default: 5 s.
  std::chrono::milliseconds timeout{5000};
  // Where rejections are logged (may be null); must outlive the sink.
  Logger* logger = nullptr;
  // Alerts rejected for good (see RejectedAlertHandler). May be empty.
  RejectedAlertHandler on_rejected;
};

class WebhookSink final : public Sink {
 public:
  // Errors: InvalidArgument for a URL that is not http(s); Internal when
  // libcurl cannot be set up. Nothing is sent yet.
  static Result<std::unique_ptr<WebhookSink>> Create(WebhookSinkOptions options);

  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  void ReportMetrics(std::vector<BridgeMetric>* out) const override { probe_.Report(out); }

 private:
  WebhookSink(WebhookSinkOptions options, std::string name, std::unique_ptr<HttpClient> client);
  // Sends pending_[begin, end) as one request; an error when not delivered
  // nor rejected.
  Status Send(size_t begin, size_t end);

  WebhookSinkOptions options_;
  std::string name_;
  std::unique_ptr<HttpClient> client_;
  HttpSinkProbe probe_;
  RejectedAlerts rejected_;
  std::vector<std::string> pending_;  // alert JSON, in Write order
  std::string body_;
};

}  // namespace vigil::bridges
