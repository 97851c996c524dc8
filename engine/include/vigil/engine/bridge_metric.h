// BridgeMetric: a sample a source or sink reports for /metrics beyond the
// engine's own (Kafka consumer lag, outbox depth, bridge errors...).
//
// Bridges fill a vector of these at scrape time (any thread: they read
// their own atomics); the engine groups samples by name into metric
// families. Label values must have bounded cardinality (topics,
// partitions, sink names; never device ids). Plain values.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace vigil {

struct BridgeMetric {
  enum class Type { kCounter, kGauge };
  std::string name;   // e.g. "vigil_kafka_consumer_lag"
  std::string help;   // one sentence; the first sample of a name gives it
  Type type = Type::kGauge;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

}  // namespace vigil
