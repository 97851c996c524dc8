// InfluxDbSink: writes alerts as points to InfluxDB over HTTP (libcurl), in
// line protocol: `/write` of InfluxDB 1.x (db, retention policy, basic
// authentication) or `/api/v2/write` of 2.x (org, bucket, token).
//
// Each alert is one point of measurement `vigil_alerts` with tags rule,
// severity, state, id and the key's tags (empty values skipped; a key tag
// named like one of the fixed tags, or `time`, becomes key_<name>), fields
// value (float; absent when null) and count (integer), at the alert's ts in
// milliseconds (precision=ms). A replayed alert is the same point (same
// series and time), so re-sending overwrites instead of duplicating.
//
// The outbox contract: Write() only buffers the alert's line (and its JSON,
// for the dead letters). Flush() POSTs what was written since the previous
// Flush(), `max_batch` lines per request, one attempt each and no retry loop,
// each bounded by `timeout`:
//   * 2xx (InfluxDB answers 204): delivered;
//   * 4xx other than 408/429 (bad line, unknown database, wrong
//     credentials, body too large): rejected for good, never retried: logged
//     (status and the first 200 bytes of the response body) and every alert
//     of that request handed to `on_rejected` (a 1.x "partial write" is
//     rejected whole, though InfluxDB kept its good points); Flush() still
//     returns OK for them;
//   * 408, 429, 5xx, any other status, or no answer: Flush() stops and
//     returns an IoError; none of this Flush()'s alerts counts as delivered
//     (the outbox writes them all again later; points are idempotent).
// After a Flush(), successful or not, the buffer is empty. The destructor
// sends nothing.
//
// With `forward`, measurement_sink() is an InfluxDbPointWriter writing the
// measurements themselves to the same URL (see influxdb_point_writer.h).
//
// Thread-safety: Write/Flush/Sync from one thread at a time; ReportMetrics
// from any.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/http_client.h"
#include "http/http_sink_probe.h"
#include "http/influxdb_point_writer.h"
#include "http/rejected_alerts.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

struct InfluxDbSinkOptions {
  // For logs and metrics. Default: "influxdb:" + the URL's origin + "/" +
  // the database (1.x) or bucket (2.x).
  std::string name;
  // Base URL of the server, e.g. http://127.0.0.1:8086 (a path prefix, as
  // behind a proxy, is kept; no query string).
  std::string url;
  // 1: POST /write?db=&rp=&precision=ms. 2: POST /api/v2/write?org=&bucket=&precision=ms.
  int version = 1;
  // 1.x: database (required), retention policy (empty: the database's
  // default), basic authentication when `username` is set.
  std::string db;
  std::string retention_policy;
  std::string username;
  std::string password;
  // 2.x: organisation and bucket (required); "Authorization: Token <token>"
  // when the token is set. Never logged.
  std::string org;
  std::string bucket;
  std::string token;
  // Points per POST. Default: 5000.
  size_t max_batch = 5000;
  // Bound on each request, connecting included. Default: 5 s.
  std::chrono::milliseconds timeout{5000};
  // Where rejections are logged (may be null); must outlive the sink.
  Logger* logger = nullptr;
  // Alerts rejected for good (see RejectedAlertHandler). May be empty.
  RejectedAlertHandler on_rejected;
  // `forward: raw | window:<d>`: also write the measurements, through an
  // InfluxDbPointWriter (its own queue and thread; not the outbox).
  std::optional<ForwardSpec> forward;
  size_t forward_queue = 1000000;  // points held in memory at most
};

class InfluxDbSink final : public Sink {
 public:
  static constexpr const char* kMeasurement = "vigil_alerts";

  // Errors: InvalidArgument for a bad URL, a version other than 1 or 2, a
  // missing db (1.x) or org/bucket (2.x); Internal when libcurl cannot be
  // set up. Nothing is sent yet.
  static Result<std::unique_ptr<InfluxDbSink>> Create(InfluxDbSinkOptions options);

  // Appends the alert's point (one line, no newline) to `out`.
  static void AppendAlertLine(const AlertView& alert, std::string* out);

  const std::string& name() const override { return name_; }
  // The URL points are POSTed to (without credentials).
  const std::string& write_url() const { return write_url_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  void ReportMetrics(std::vector<BridgeMetric>* out) const override {
    probe_.Report(out);
    if (points_ != nullptr) points_->ReportMetrics(out);
  }
  MeasurementSink* measurement_sink() override { return points_.get(); }

 private:
  struct Pending {
    std::string line;
    std::string json;
  };
  InfluxDbSink(InfluxDbSinkOptions options, std::string name, std::string write_url,
               std::unique_ptr<HttpClient> client);
  // Sends pending_[begin, end) as one request; an error when not delivered
  // nor rejected.
  Status Send(size_t begin, size_t end);

  InfluxDbSinkOptions options_;
  std::string name_;
  std::string write_url_;
  std::unique_ptr<HttpClient> client_;
  HttpSinkProbe probe_;
  RejectedAlerts rejected_;
  std::vector<Pending> pending_;
  std::string body_;
  std::unique_ptr<InfluxDbPointWriter> points_;  // with `forward` only
};

}  // namespace vigil::bridges
