// InfluxDbPointWriter.
#include "http/influxdb_point_writer.h"

#include <algorithm>

#include "http/line_protocol.h"
#include "http/rejected_alerts.h"

namespace vigil::bridges {

InfluxDbPointWriter::InfluxDbPointWriter(InfluxDbPointWriterOptions options, std::unique_ptr<HttpClient> client)
    : options_(std::move(options)), client_(std::move(client)) {
  if (options_.max_batch == 0) options_.max_batch = 1;
  if (options_.max_queue == 0) options_.max_queue = 1;
  thread_ = std::thread([this] { Run(); });
}

InfluxDbPointWriter::~InfluxDbPointWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void InfluxDbPointWriter::AppendLine(const std::string& measurement, const MeasurementPoint& p, std::string* out) {
  AppendLineProtocolMeasurement(out, measurement);
  for (const auto& t : p.tags) {
    const size_t mark = out->size();
    *out += ',';
    if (t.name == "time") *out += "key_";
    AppendLineProtocolKey(out, t.name);
    *out += '=';
    const size_t value_at = out->size();
    AppendLineProtocolKey(out, t.value);
    if (out->size() == value_at) out->resize(mark);  // an empty tag value is no tag
  }
  char sep = ' ';
  for (const auto& f : p.fields) {
    const size_t mark = out->size();
    *out += sep;
    if (f.name == "time" && f.suffix.empty()) *out += "field_";
    AppendLineProtocolKey(out, f.name);
    *out += f.suffix;
    *out += '=';
    if (f.integer) {
      AppendLineProtocolInteger(out, static_cast<int64_t>(f.value));
    } else if (!AppendLineProtocolFloat(out, f.value)) {  // inf: not representable
      out->resize(mark);
      continue;
    }
    sep = ',';
  }
  *out += ' ';
  *out += std::to_string(p.ts);
}

void InfluxDbPointWriter::Write(const std::vector<MeasurementPoint>& points) noexcept {
  try {
    size_t dropped = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (const MeasurementPoint& p : points) {
      line_.clear();
      AppendLine(options_.spec.measurement, p, &line_);
      queue_.push_back(line_);
      if (queue_.size() > options_.max_queue) {
        queue_.pop_front();
        ++dropped;
      }
    }
    depth_.store(queue_.size(), std::memory_order_relaxed);
    if (dropped > 0) dropped_.fetch_add(dropped, std::memory_order_relaxed);
  } catch (...) {  // out of memory: the points are lost, counted
    dropped_.fetch_add(points.size(), std::memory_order_relaxed);
    return;
  }
  cv_.notify_all();
}

void InfluxDbPointWriter::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool drained = cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
  if (!drained) {
    Log(LogLevel::kWarn, "sink '" + options_.name + "' forward: " + std::to_string(queue_.size() + batch_.size()) +
                             " point(s) not delivered within " + std::to_string(timeout.count()) +
                             " ms at the end of the run; dropped");
  }
}

void InfluxDbPointWriter::Run() {
  std::chrono::milliseconds backoff{0};
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    const size_t n = std::min(queue_.size(), options_.max_batch);
    batch_.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    depth_.store(queue_.size(), std::memory_order_relaxed);
    busy_ = true;
    while (true) {
      lock.unlock();
      const bool done = Send();
      lock.lock();
      if (done || stop_) break;
      backoff = std::clamp(backoff * 2, options_.retry_min, options_.retry_max);
      if (cv_.wait_for(lock, backoff, [this] { return stop_; })) break;
    }
    if (!stop_) backoff = std::chrono::milliseconds{0};
    batch_.clear();
    busy_ = false;
    cv_.notify_all();
  }
}

bool InfluxDbPointWriter::Send() {
  body_.clear();
  for (const std::string& l : batch_) {
    body_ += l;
    body_ += '\n';
  }
  Result<HttpReply> reply = client_->Post(options_.write_url, body_);
  if (!reply.ok()) {
    if (failures_.fetch_add(1, std::memory_order_relaxed) == 0) {
      Log(LogLevel::kWarn, "sink '" + options_.name + "' forward: POST failed: " + reply.status().message() +
                               "; retrying with backoff");
    }
    return false;
  }
  const ReplyClass c = ClassifyStatus(reply->status);
  if (c == ReplyClass::kDelivered) {
    delivered_.fetch_add(batch_.size(), std::memory_order_relaxed);
    return true;
  }
  const std::string reason = RejectedAlerts::Reason(*reply);
  if (c == ReplyClass::kRetry) {
    if (failures_.fetch_add(1, std::memory_order_relaxed) == 0) {
      Log(LogLevel::kWarn, "sink '" + options_.name + "' forward: answered " + reason + "; retrying with backoff");
    }
    return false;
  }
  rejected_.fetch_add(batch_.size(), std::memory_order_relaxed);
  Log(LogLevel::kError, "sink '" + options_.name + "' forward: " + std::to_string(batch_.size()) +
                            " point(s) rejected for good: " + reason);
  return true;
}

void InfluxDbPointWriter::Log(LogLevel level, const std::string& message) const {
  if (options_.logger != nullptr) options_.logger->Log(level, message);
}

void InfluxDbPointWriter::ReportMetrics(std::vector<BridgeMetric>* out) const {
  auto add = [&](const char* name, const char* help, BridgeMetric::Type type,
                 std::vector<std::pair<std::string, std::string>> labels, uint64_t v) {
    BridgeMetric m;
    m.name = name;
    m.help = help;
    m.type = type;
    m.labels = std::move(labels);
    m.value = static_cast<double>(v);
    out->push_back(std::move(m));
  };
  const char* points_help = "Points forwarded by a sink (forward: raw or window), by result.";
  add("vigil_forward_points_total", points_help, BridgeMetric::Type::kCounter,
      {{"sink", options_.name}, {"result", "delivered"}}, delivered_.load(std::memory_order_relaxed));
  add("vigil_forward_points_total", points_help, BridgeMetric::Type::kCounter,
      {{"sink", options_.name}, {"result", "rejected"}}, rejected_.load(std::memory_order_relaxed));
  add("vigil_forward_points_total", points_help, BridgeMetric::Type::kCounter,
      {{"sink", options_.name}, {"result", "dropped"}}, dropped_.load(std::memory_order_relaxed));
  add("vigil_forward_queue_depth", "Points a forwarding sink holds in memory, waiting for delivery.",
      BridgeMetric::Type::kGauge, {{"sink", options_.name}}, depth_.load(std::memory_order_relaxed));
  add("vigil_forward_failures_total", "Failed attempts to deliver forwarded points (retried).",
      BridgeMetric::Type::kCounter, {{"sink", options_.name}}, failures_.load(std::memory_order_relaxed));
}

}  // namespace vigil::bridges
