// The Kafka side of `vigil sim`: produce the warehouse data to a topic
// (keyed by device, Kafka timestamp = event time), and a librdkafka mock
// cluster (real Kafka protocol on loopback) to try the Kafka path with no
// Kafka installed.
//
// Thread-safety: plain objects for one thread. Nothing here prints or exits.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sim/warehouse_sim.h"
#include "vigil/engine/status.h"

namespace vigil::sim {

struct KafkaProduceOptions {
  std::string brokers;  // bootstrap.servers
  std::string topic;
  // Messages per second; 0 = as fast as the producer goes. Default: 0.
  double rate = 0;
  // How long the final flush may wait for delivery reports. Default: 60 s.
  int flush_timeout_ms = 60000;
};

// Produces every line of the simulation (malformed ones too) as one message.
// Returns the number of messages confirmed by the cluster, or an error
// naming the first delivery failure. Stops early (OK) when *stop is set.
Result<int64_t> ProduceWarehouseToKafka(const SimOptions& sim, const KafkaProduceOptions& kafka,
                                        const std::atomic<bool>* stop = nullptr);

// A librdkafka mock cluster on 127.0.0.1 (random ports), alive as long as
// the object. Its partitions keep only a few MiB each (older messages are
// dropped): use several partitions for larger data.
class KafkaMockCluster {
 public:
  // Starts `brokers` brokers and creates `topics` with `partitions` each
  // (other topics are created on first use with the mock's default).
  static Result<std::unique_ptr<KafkaMockCluster>> Start(int brokers, const std::vector<std::string>& topics,
                                                         int partitions);
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:PORT[,...]"
  const std::string& bootstrap() const { return bootstrap_; }

 private:
  KafkaMockCluster() = default;
  struct Handle;
  std::unique_ptr<Handle> handle_;
  std::string bootstrap_;
};

}  // namespace vigil::sim
