// InfluxDbSink.
#include "http/influxdb_sink.h"

#include <algorithm>

#include "http/http_url.h"
#include "http/line_protocol.h"

namespace vigil::bridges {

namespace {

// Tag keys the point sets itself; `time` is not a valid InfluxDB tag key.
bool ReservedTagKey(std::string_view k) {
  return k == "rule" || k == "severity" || k == "state" || k == "id" || k == "time";
}

// ",key=value", unless the escaped value is empty.
void AppendTag(std::string* out, std::string_view prefix, std::string_view key, std::string_view value) {
  const size_t mark = out->size();
  *out += ',';
  *out += prefix;
  AppendLineProtocolKey(out, key);
  *out += '=';
  const size_t value_at = out->size();
  AppendLineProtocolKey(out, value);
  if (out->size() == value_at) out->resize(mark);
}

Result<std::string> WriteUrl(const InfluxDbSinkOptions& o) {
  std::string base = o.url;
  if (base.find('?') != std::string::npos) {
    return Status::InvalidArgument("influxdb sink: url must not have a query string (got one)");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (o.version == 1) {
    if (o.db.empty()) return Status::InvalidArgument("influxdb sink: version 1 needs a db");
    std::string u = base + "/write?db=" + PercentEncode(o.db);
    if (!o.retention_policy.empty()) u += "&rp=" + PercentEncode(o.retention_policy);
    return u + "&precision=ms";
  }
  if (o.version == 2) {
    if (o.org.empty() || o.bucket.empty()) return Status::InvalidArgument("influxdb sink: version 2 needs org and bucket");
    return base + "/api/v2/write?org=" + PercentEncode(o.org) + "&bucket=" + PercentEncode(o.bucket) +
           "&precision=ms";
  }
  return Status::InvalidArgument("influxdb sink: version must be 1 or 2, got " + std::to_string(o.version));
}

}  // namespace

Result<std::unique_ptr<InfluxDbSink>> InfluxDbSink::Create(InfluxDbSinkOptions options) {
  std::string why;
  std::optional<HttpUrl> url = ParseHttpUrl(options.url, &why);
  if (!url) return Status::InvalidArgument("influxdb sink: url: " + why);
  Result<std::string> write_url = WriteUrl(options);
  if (!write_url.ok()) return write_url.status();
  std::string name = options.name.empty()
                         ? "influxdb:" + url->Origin() + "/" + (options.version == 1 ? options.db : options.bucket)
                         : options.name;
  HttpClientOptions co;
  co.timeout = options.timeout;
  co.headers.push_back("Content-Type: text/plain; charset=utf-8");
  if (options.version == 2 && !options.token.empty()) co.headers.push_back("Authorization: Token " + options.token);
  if (options.version == 1) {
    co.username = options.username;
    co.password = options.password;
  }
  auto client = HttpClient::Create(co);
  if (!client.ok()) return client.status();
  if (options.max_batch == 0) options.max_batch = 1;
  std::unique_ptr<InfluxDbPointWriter> points;
  if (options.forward) {
    auto point_client = HttpClient::Create(std::move(co));
    if (!point_client.ok()) return point_client.status();
    InfluxDbPointWriterOptions po;
    po.name = name;
    po.write_url = *write_url;
    po.spec = *options.forward;
    po.max_batch = options.max_batch;
    po.max_queue = options.forward_queue;
    po.logger = options.logger;
    points = std::make_unique<InfluxDbPointWriter>(std::move(po), std::move(point_client).value());
  }
  auto sink = std::unique_ptr<InfluxDbSink>(new InfluxDbSink(std::move(options), std::move(name),
                                                             std::move(write_url).value(), std::move(client).value()));
  sink->points_ = std::move(points);
  return sink;
}

InfluxDbSink::InfluxDbSink(InfluxDbSinkOptions options, std::string name, std::string write_url,
                           std::unique_ptr<HttpClient> client)
    : options_(std::move(options)),
      name_(std::move(name)),
      write_url_(std::move(write_url)),
      client_(std::move(client)),
      probe_(name_),
      rejected_(name_, options_.logger, options_.on_rejected) {}

void InfluxDbSink::AppendAlertLine(const AlertView& a, std::string* out) {
  AppendLineProtocolMeasurement(out, kMeasurement);
  AppendTag(out, "", "rule", a.rule.name);
  AppendTag(out, "", "severity", a.rule.severity);
  AppendTag(out, "", "state", a.record.state == AlertState::kRaised ? "raised" : "cleared");
  AppendTag(out, "", "id", a.id);
  for (size_t k = 0; k < a.rule.key_tags.size() && k < a.key.values.size(); ++k) {
    const std::string& tag = a.rule.key_tags[k];
    AppendTag(out, ReservedTagKey(tag) ? "key_" : "", tag, a.key.values[k]);
  }
  *out += ' ';
  const size_t value_at = out->size();
  *out += "value=";
  if (AppendLineProtocolFloat(out, a.record.value)) {
    *out += ',';
  } else {
    out->resize(value_at);
  }
  *out += "count=";
  AppendLineProtocolInteger(out, a.record.count);
  *out += ' ';
  *out += std::to_string(a.record.ts);
}

Status InfluxDbSink::Write(const AlertView& alert) {
  Pending p;
  AppendAlertLine(alert, &p.line);
  p.json = alert.json;
  pending_.push_back(std::move(p));
  return Status::Ok();
}

Status InfluxDbSink::Flush() {
  if (pending_.empty()) return Status::Ok();
  Status st;
  for (size_t begin = 0; begin < pending_.size() && st.ok(); begin += options_.max_batch) {
    st = Send(begin, std::min(pending_.size(), begin + options_.max_batch));
    if (!st.ok()) {
      st = Status::IoError(st.message() + " (" + std::to_string(pending_.size() - begin) + " of " +
                           std::to_string(pending_.size()) + " alerts of this flush not written)");
    }
  }
  rejected_.EndFlush();
  pending_.clear();
  return st;
}

Status InfluxDbSink::Send(size_t begin, size_t end) {
  body_.clear();
  for (size_t i = begin; i < end; ++i) {
    body_ += pending_[i].line;
    body_ += '\n';
  }
  Result<HttpReply> reply = client_->Post(write_url_, body_);
  if (!reply.ok()) {
    probe_.Failed();
    return Status::IoError("POST failed: " + reply.status().message());
  }
  const ReplyClass c = ClassifyStatus(reply->status);
  probe_.Answered(c);
  if (c == ReplyClass::kDelivered) {
    probe_.AlertsDelivered(end - begin);
    return Status::Ok();
  }
  const std::string reason = RejectedAlerts::Reason(*reply);
  if (c == ReplyClass::kRetry) return Status::IoError("answered " + reason + "; will be retried");
  rejected_.Request(reason, end - begin);
  for (size_t i = begin; i < end; ++i) rejected_.Alert(pending_[i].json, reason);
  probe_.AlertsRejected(end - begin);
  return Status::Ok();
}

}  // namespace vigil::bridges
