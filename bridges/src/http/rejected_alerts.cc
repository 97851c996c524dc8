// RejectedAlerts.
#include "http/rejected_alerts.h"

namespace vigil::bridges {

RejectedAlerts::RejectedAlerts(std::string sink, Logger* logger, RejectedAlertHandler handler)
    : sink_(std::move(sink)), logger_(logger), handler_(std::move(handler)) {}

std::string RejectedAlerts::Reason(const HttpReply& reply) {
  std::string r = "HTTP " + std::to_string(reply.status);
  if (reply.body.empty()) return r;
  r += ": ";
  for (char c : std::string_view(reply.body).substr(0, 200)) {
    r += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
  }
  while (r.back() == ' ') r.pop_back();
  return r;
}

void RejectedAlerts::Request(const std::string& reason, size_t alerts) {
  ++requests_;
  alerts_ += alerts;
  if (logger_ == nullptr || requests_ > kLoggedPerFlush) return;
  logger_->Log(LogLevel::kError, "sink " + sink_ + ": " + std::to_string(alerts) +
                                     " alert(s) rejected for good, not retried, sent to the dead letters: " + reason);
}

void RejectedAlerts::Alert(std::string_view json, std::string_view reason) {
  if (handler_) handler_(json, reason);
}

void RejectedAlerts::EndFlush() {
  if (logger_ != nullptr && requests_ > kLoggedPerFlush) {
    logger_->Log(LogLevel::kError, "sink " + sink_ + ": " + std::to_string(requests_ - kLoggedPerFlush) +
                                       " more request(s) rejected in this flush (" + std::to_string(alerts_) +
                                       " alerts rejected in all)");
  }
  requests_ = 0;
  alerts_ = 0;
}

}  // namespace vigil::bridges
