// HttpSinkProbe::Report.
#include "http/http_sink_probe.h"

namespace vigil::bridges {

void HttpSinkProbe::Report(std::vector<BridgeMetric>* out) const {
  auto counter = [&](const char* name, const char* help, std::vector<std::pair<std::string, std::string>> labels,
                     const std::atomic<uint64_t>& v) {
    BridgeMetric m;
    m.name = name;
    m.help = help;
    m.type = BridgeMetric::Type::kCounter;
    m.labels = std::move(labels);
    m.value = static_cast<double>(v.load(std::memory_order_relaxed));
    out->push_back(std::move(m));
  };
  const char* requests_help = "HTTP requests of an HTTP sink by result (delivered, retry, rejected, failed).";
  counter("vigil_sink_http_requests_total", requests_help, {{"sink", sink_}, {"result", "delivered"}}, delivered_);
  counter("vigil_sink_http_requests_total", requests_help, {{"sink", sink_}, {"result", "retry"}}, retry_);
  counter("vigil_sink_http_requests_total", requests_help, {{"sink", sink_}, {"result", "rejected"}}, rejected_);
  counter("vigil_sink_http_requests_total", requests_help, {{"sink", sink_}, {"result", "failed"}}, failed_);
  counter("vigil_sink_alerts_delivered_total", "Alerts an HTTP sink delivered (2xx).", {{"sink", sink_}},
          alerts_delivered_);
  counter("vigil_sink_alerts_rejected_total",
          "Alerts an HTTP sink's peer rejected for good (4xx), handed to the dead letters.", {{"sink", sink_}},
          alerts_rejected_);
}

}  // namespace vigil::bridges
