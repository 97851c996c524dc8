// RejectedAlerts: what an HTTP sink does with alerts its peer refused for
// good (a 4xx other than 408/429): each one goes to the `on_rejected`
// callback (the dead letters) with the reason, and the operator's log gets
// the first few refused requests of each flush plus a count of the rest,
// so a peer that refuses everything cannot flood the log.
//
// Thread-safety: used by the thread that flushes the sink only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "http/http_client.h"
#include "vigil/engine/logger.h"

namespace vigil::bridges {

// Receives an alert (its JSON, DESIGN.md's alert object) rejected for good,
// with the reason ("HTTP 400: <first 200 bytes of the response body>").
// Called on the thread that flushes the sink, during Flush().
using RejectedAlertHandler = std::function<void(std::string_view json, std::string_view reason)>;

class RejectedAlerts {
 public:
  // `logger` may be null (nothing logged); it must outlive this object.
  RejectedAlerts(std::string sink, Logger* logger, RejectedAlertHandler handler);

  // The reason of a refused request: "HTTP <status>: <body>" (body cut at
  // 200 bytes, control characters replaced by spaces).
  static std::string Reason(const HttpReply& reply);

  // One refused request carrying `alerts` alerts: logged (rate-limited).
  void Request(const std::string& reason, size_t alerts);
  // One alert of it: handed to the handler.
  void Alert(std::string_view json, std::string_view reason);
  // At the end of a Flush(): logs how many refused requests were not logged.
  void EndFlush();

 private:
  static constexpr size_t kLoggedPerFlush = 3;
  std::string sink_;
  Logger* logger_;
  RejectedAlertHandler handler_;
  size_t requests_ = 0;
  size_t alerts_ = 0;
};

}  // namespace vigil::bridges
