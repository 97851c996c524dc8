// WebhookSink.
#include "http/webhook_sink.h"

#include <strings.h>

#include <algorithm>

#include "http/http_url.h"

namespace vigil::bridges {

namespace {

bool HasHeader(const std::vector<std::pair<std::string, std::string>>& headers, const char* name) {
  return std::any_of(headers.begin(), headers.end(),
                     [name](const auto& h) { return strcasecmp(h.first.c_str(), name) == 0; });
}

}  // namespace

Result<std::unique_ptr<WebhookSink>> WebhookSink::Create(WebhookSinkOptions options) {
  std::string why;
  std::optional<HttpUrl> url = ParseHttpUrl(options.url, &why);
  if (!url) return Status::InvalidArgument("webhook sink: url: " + why);
  std::string name = options.name.empty() ? "webhook:" + url->Origin() : options.name;
  HttpClientOptions co;
  co.timeout = options.timeout;
  if (!HasHeader(options.headers, "Content-Type")) co.headers.push_back("Content-Type: application/json");
  for (const auto& [k, v] : options.headers) co.headers.push_back(k + ": " + v);
  if (!options.bearer_token.empty()) co.headers.push_back("Authorization: Bearer " + options.bearer_token);
  auto client = HttpClient::Create(std::move(co));
  if (!client.ok()) return client.status();
  if (options.max_batch == 0) options.max_batch = 1;
  return std::unique_ptr<WebhookSink>(new WebhookSink(std::move(options), std::move(name), std::move(client).value()));
}

WebhookSink::WebhookSink(WebhookSinkOptions options, std::string name, std::unique_ptr<HttpClient> client)
    : options_(std::move(options)),
      name_(std::move(name)),
      client_(std::move(client)),
      probe_(name_),
      rejected_(name_, options_.logger, options_.on_rejected) {}

Status WebhookSink::Write(const AlertView& alert) {
  pending_.push_back(alert.json);
  return Status::Ok();
}

Status WebhookSink::Flush() {
  if (pending_.empty()) return Status::Ok();
  const size_t per_request = options_.batch ? options_.max_batch : 1;
  Status st;
  for (size_t begin = 0; begin < pending_.size() && st.ok(); begin += per_request) {
    st = Send(begin, std::min(pending_.size(), begin + per_request));
    if (!st.ok()) {
      st = Status::IoError(st.message() + " (" + std::to_string(pending_.size() - begin) + " of " +
                           std::to_string(pending_.size()) + " alerts of this flush not sent)");
    }
  }
  rejected_.EndFlush();
  pending_.clear();
  return st;
}

Status WebhookSink::Send(size_t begin, size_t end) {
  std::string_view body = pending_[begin];
  if (options_.batch) {
    body_.clear();
    body_ += '[';
    for (size_t i = begin; i < end; ++i) {
      if (i > begin) body_ += ',';
      body_ += pending_[i];
    }
    body_ += ']';
    body = body_;
  }
  Result<HttpReply> reply = client_->Post(options_.url, body);
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
  for (size_t i = begin; i < end; ++i) rejected_.Alert(pending_[i], reason);
  probe_.AlertsRejected(end - begin);
  return Status::Ok();
}

}  // namespace vigil::bridges
