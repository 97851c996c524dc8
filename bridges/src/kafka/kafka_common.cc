// Kafka helpers shared by the source and the sink.
#include "kafka/kafka_common.h"

namespace vigil::bridges::kafka {

Status SetProperty(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument("kafka property '" + key + "': " + err);
  }
  return Status::Ok();
}

Status SetProperties(rd_kafka_conf_t* conf, const Properties& properties) {
  for (const auto& [key, value] : properties) {
    Status st = SetProperty(conf, key, value);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

void LogFromKafka(Logger* logger, const std::string& who, int level, const char* facility, const char* text) {
  if (logger == nullptr || level > 4) return;  // syslog: 4 = warning
  logger->Log(level <= 3 ? LogLevel::kError : LogLevel::kWarn,
              "kafka " + who + ": [" + std::string(facility) + "] " + std::string(text));
}

std::string MessageWhere(const rd_kafka_message_t* m) {
  std::string w = m->rkt != nullptr ? rd_kafka_topic_name(m->rkt) : "?";
  w += '[';
  w += std::to_string(m->partition);
  w += "]@";
  w += std::to_string(m->offset);
  return w;
}

}  // namespace vigil::bridges::kafka
