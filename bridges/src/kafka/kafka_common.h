// Helpers shared by the Kafka source and sink: owning handles for
// librdkafka objects, configuration from key/value pairs with errors that
// name the key (never the value: it may be a secret), and forwarding
// librdkafka's log lines to a vigil Logger.
//
// Thread-safety: free functions on objects the caller owns; LogFromKafka may
// be called from librdkafka's threads (Logger accepts any thread).
#pragma once

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/status.h"

namespace vigil::bridges::kafka {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;

// librdkafka properties, in the order they are applied.
using Properties = std::vector<std::pair<std::string, std::string>>;

// Sets `key` to `value`; the error names the key and librdkafka's reason.
Status SetProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value);
Status SetProperties(rd_kafka_conf_t* conf, const Properties& properties);

// Forwards a librdkafka log line (syslog `level`) to `logger` when it is a
// warning or worse, as "kafka <who>: [facility] text".
void LogFromKafka(Logger* logger, const std::string& who, int level, const char* facility, const char* text);

// "topic[partition]@offset", as rejected messages are located.
std::string MessageWhere(const rd_kafka_message_t* m);

}  // namespace vigil::bridges::kafka
