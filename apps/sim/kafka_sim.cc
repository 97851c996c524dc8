// Producing simulated data to Kafka; the mock cluster.
#include "sim/kafka_sim.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <thread>

namespace vigil::sim {

namespace {

struct DeliveryTally {
  int64_t confirmed = 0;
  int64_t failed = 0;
  std::string first_error;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* t = static_cast<DeliveryTally*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++t->confirmed;
    return;
  }
  if (t->failed++ == 0) t->first_error = rd_kafka_err2str(m->err);
}

// librdkafka's own log lines are not wanted on stdout/stderr of `vigil sim`
// (connection retries are reported as delivery failures instead).
void Quiet(const rd_kafka_t*, int, const char*, const char*) {}

Result<rd_kafka_t*> NewProducer(const std::vector<std::pair<std::string, std::string>>& props, void* opaque) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Status::InvalidArgument("kafka property '" + k + "': " + err);
    }
  }
  rd_kafka_conf_set_opaque(conf, opaque);
  rd_kafka_conf_set_dr_msg_cb(conf, &OnDelivery);
  rd_kafka_conf_set_log_cb(conf, &Quiet);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("cannot create a Kafka producer: ") + err);
  }
  return rk;
}

}  // namespace

Result<int64_t> ProduceWarehouseToKafka(const SimOptions& sim, const KafkaProduceOptions& kafka,
                                        const std::atomic<bool>* stop) {
  auto gen = WarehouseGenerator::Create(sim);
  if (!gen.ok()) return gen.status();
  DeliveryTally tally;
  auto made = NewProducer({{"bootstrap.servers", kafka.brokers},
                           {"client.id", "vigil-sim"},
                           {"linger.ms", "20"},
                           {"batch.num.messages", "10000"},
                           {"compression.type", "lz4"},
                           {"message.timeout.ms", std::to_string(kafka.flush_timeout_ms)}},
                          &tally);
  if (!made.ok()) return made.status();
  rd_kafka_t* rk = *made;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, kafka.topic.c_str(), nullptr);
  Status failure;
  std::string line;
  int64_t ts = 0, sent = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while ((stop == nullptr || !stop->load()) && tally.failed == 0 && gen->Next(&line, &ts)) {
    if (kafka.rate > 0) {
      const auto due = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(static_cast<double>(sent) / kafka.rate));
      if (due > std::chrono::steady_clock::now()) std::this_thread::sleep_until(due);
    }
    const std::string_view device = gen->device();
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(line.data(), line.size()),
          RD_KAFKA_V_KEY(const_cast<char*>(device.data()), device.size()), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        failure = Status::IoError(std::string("producing to '") + kafka.topic + "': " + rd_kafka_err2str(err));
        break;
      }
      rd_kafka_poll(rk, 10);
    }
    if (!failure.ok()) break;
    ++sent;
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, kafka.flush_timeout_ms);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  if (!failure.ok()) return failure;
  if (tally.failed > 0 || tally.confirmed < sent) {
    return Status::IoError("Kafka at " + kafka.brokers + ": " + std::to_string(sent - tally.confirmed) + " of " +
                           std::to_string(sent) + " messages not delivered to '" + kafka.topic + "' (" +
                           (tally.first_error.empty() ? "timed out" : tally.first_error) + ")");
  }
  return tally.confirmed;
}

struct KafkaMockCluster::Handle {
  rd_kafka_t* rk = nullptr;
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Handle() {
    if (cluster != nullptr) rd_kafka_mock_cluster_destroy(cluster);
    if (rk != nullptr) rd_kafka_destroy(rk);
  }
};

Result<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Start(int brokers, const std::vector<std::string>& topics,
                                                                   int partitions) {
  std::unique_ptr<KafkaMockCluster> m(new KafkaMockCluster());
  m->handle_ = std::make_unique<Handle>();
  // The mock cluster lives inside a client handle; this one never connects.
  auto made = NewProducer({{"bootstrap.servers", "127.0.0.1:1"}}, nullptr);
  if (!made.ok()) return made.status();
  m->handle_->rk = *made;
  m->handle_->cluster = rd_kafka_mock_cluster_new(m->handle_->rk, brokers);
  if (m->handle_->cluster == nullptr) return Status::IoError("cannot start the Kafka mock cluster");
  for (const auto& t : topics) {
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(m->handle_->cluster, t.c_str(), partitions, 1);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::IoError("mock cluster: cannot create topic '" + t + "': " + rd_kafka_err2str(err));
    }
  }
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->handle_->cluster);
  return m;
}

KafkaMockCluster::~KafkaMockCluster() = default;

}  // namespace vigil::sim
