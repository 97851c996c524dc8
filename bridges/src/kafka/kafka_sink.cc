// KafkaSink: produce alerts, confirm them by delivery report in Flush().
#include "kafka/kafka_sink.h"

#include <algorithm>

namespace vigil::bridges {

namespace {
using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPollSlice{50};

int RemainingMs(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, kPollSlice.count()));
}
}  // namespace

KafkaSink::KafkaSink(KafkaSinkOptions options) : options_(std::move(options)), name_("kafka:" + options_.topic) {}

Result<std::unique_ptr<KafkaSink>> KafkaSink::Create(KafkaSinkOptions options) {
  std::unique_ptr<KafkaSink> sink(new KafkaSink(std::move(options)));
  Status st = sink->Start();
  if (!st.ok()) return st;
  return sink;
}

KafkaSink::~KafkaSink() {
  if (rk_ == nullptr) return;
  // The engine flushed at exit; wait a little for stragglers, bounded.
  (void)rd_kafka_flush(rk_, static_cast<int>(std::min<int64_t>(options_.timeout.count(), 2000)));
  Stop();
}

Status KafkaSink::Start() {
  kafka::ConfPtr conf(rd_kafka_conf_new());
  const kafka::Properties own = {
      {"bootstrap.servers", options_.brokers},
      {"client.id", "vigil"},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"message.timeout.ms", std::to_string(std::max<int64_t>(1, options_.timeout.count()))},
      {"linger.ms", "5"},
  };
  Status st = kafka::SetProperties(conf.get(), own);
  if (st.ok()) st = kafka::SetProperties(conf.get(), options_.properties);
  if (!st.ok()) return st;
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &KafkaSink::OnDelivery);
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaSink::OnLog);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSink::OnError);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (rk_ == nullptr) return Status::InvalidArgument(std::string("cannot create the Kafka producer: ") + err);
  (void)conf.release();  // owned by rk_ now
  rkt_ = rd_kafka_topic_new(rk_, options_.topic.c_str(), nullptr);
  if (rkt_ == nullptr) {
    const std::string why = rd_kafka_err2str(rd_kafka_last_error());
    Stop();
    return Status::InvalidArgument("kafka topic '" + options_.topic + "': " + why);
  }
  return Status::Ok();
}

void KafkaSink::Stop() {
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
  if (rk_ != nullptr) {
    (void)rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk_);
  }
  rk_ = nullptr;
}

Status KafkaSink::Write(const AlertView& a) {
  if (rk_ == nullptr) {
    Status st = Start();
    if (!st.ok()) return st;
  }
  key_.clear();
  for (size_t k = 0; k < a.key.values.size(); ++k) {
    if (k) key_ += '/';
    key_ += a.key.values[k];
  }
  if (a.key.values.empty()) key_ = a.rule.name;
  const char* state = a.record.state == AlertState::kRaised ? "raised" : "cleared";
  const auto deadline = Clock::now() + options_.timeout;
  while (true) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(3);
    rd_kafka_header_add(headers, "vigil-id", -1, a.id.data(), static_cast<ssize_t>(a.id.size()));
    rd_kafka_header_add(headers, "vigil-rule", -1, a.rule.name.data(), static_cast<ssize_t>(a.rule.name.size()));
    rd_kafka_header_add(headers, "vigil-state", -1, state, -1);
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<char*>(a.json.data()), a.json.size()),
        RD_KAFKA_V_KEY(key_.data(), key_.size()), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(batch_))), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {  // the message owns the headers now
      ++written_;
      rd_kafka_poll(rk_, 0);  // serve delivery reports as we go
      return Status::Ok();
    }
    rd_kafka_headers_destroy(headers);
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || Clock::now() >= deadline) {
      return Status::IoError("kafka topic '" + options_.topic + "': cannot queue alert " + a.id + ": " +
                             rd_kafka_err2str(err));
    }
    rd_kafka_poll(rk_, RemainingMs(deadline));  // make room: deliveries free the queue
  }
}

Status KafkaSink::Flush() {
  if (rk_ == nullptr) return Status::Ok();
  if (written_ == 0) {
    rd_kafka_poll(rk_, 0);
    return Status::Ok();
  }
  const auto deadline = Clock::now() + options_.timeout;
  while (confirmed_ + failed_ < written_ && Clock::now() < deadline) rd_kafka_poll(rk_, RemainingMs(deadline));
  const uint64_t written = written_, confirmed = confirmed_, failed = failed_;
  std::string why = first_failure_;
  ++batch_;  // reports of this batch arriving later are ignored
  written_ = confirmed_ = failed_ = 0;
  first_failure_.clear();
  if (confirmed == written) return Status::Ok();
  if (why.empty()) {
    why = "no delivery report within " + std::to_string(options_.timeout.count()) + " ms (is the cluster reachable?)";
  }
  char fatal[512];
  if (rd_kafka_fatal_error(rk_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    why += std::string("; fatal producer error, the producer is recreated: ") + fatal;
    Stop();
  }
  return Status::IoError("kafka topic '" + options_.topic + "': " + std::to_string(written - confirmed) + " of " +
                         std::to_string(written) + " alert(s) not confirmed (" + std::to_string(failed) +
                         " failed): " + why);
}

void KafkaSink::OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const bool ok = m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  (ok ? self->delivered_ : self->delivery_failures_).Add();
  if (reinterpret_cast<uintptr_t>(m->_private) != self->batch_) return;  // an older batch
  if (ok) {
    ++self->confirmed_;
    return;
  }
  ++self->failed_;
  if (self->first_failure_.empty()) self->first_failure_ = rd_kafka_err2str(m->err);
}

void KafkaSink::OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  auto* self = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
  if (self == nullptr || std::string_view(facility) == "FAIL") return;  // failures arrive through OnError
  kafka::LogFromKafka(self->options_.logger, "sink '" + self->name_ + "'", level, facility, text);
}

void KafkaSink::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (self->options_.logger != nullptr) {
    self->options_.logger->Log(LogLevel::kWarn, "kafka sink '" + self->name_ + "': " + reason);
  }
}

void KafkaSink::ReportMetrics(std::vector<BridgeMetric>* out) const {
  out->push_back(BridgeMetric{"vigil_kafka_produced_total", "Alerts confirmed by Kafka delivery reports.",
                              BridgeMetric::Type::kCounter, {{"sink", name_}}, static_cast<double>(delivered_.Get())});
  out->push_back(BridgeMetric{"vigil_kafka_delivery_failures_total",
                              "Alerts whose Kafka delivery failed (re-sent by the caller).",
                              BridgeMetric::Type::kCounter, {{"sink", name_}},
                              static_cast<double>(delivery_failures_.Get())});
}

}  // namespace vigil::bridges
