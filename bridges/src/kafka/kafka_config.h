// The `kafka:` entries of a rules file's `sources:` and `sinks:`: checking
// (every error with its position, for `vigil check`) and building.
//
//   sources:
//     - name: plant
//       kafka: {brokers: "127.0.0.1:9092", topics: [sensors, "^site-.*"], group: vigil,
//               key_tag: device, start: earliest,
//               properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN, sasl.username: vigil},
//               password_env: KAFKA_PASSWORD}
//   sinks:
//     - kafka: {brokers: "127.0.0.1:9092", topic: alerts, timeout: 10s}
//     - kafka: {topic: alerts}     # brokers and security of the first kafka source
//
// Load-time only; single-threaded.
#pragma once

#include <memory>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/source.h"

namespace vigil::bridges {

void CheckKafkaSource(const SourceSettings& s, ConfigErrors& errors);
// A sink without `brokers` takes the brokers and security settings (sasl.*,
// ssl.*, connection properties, password_env/password_file) of the first
// kafka source, else 127.0.0.1:9092; the sink's own properties win.
void CheckKafkaSink(const SinkSettings& s, ConfigErrors& errors);

// Expect a checked entry. Errors: a password that cannot be read, a
// configuration librdkafka refuses. `logger` may be null.
Result<std::unique_ptr<Source>> BuildKafkaSource(const SourceSettings& s, const RulesFile& file, Logger* logger);
Result<std::unique_ptr<Sink>> BuildKafkaSink(const SinkSettings& s, const RulesFile& file, Logger* logger);

}  // namespace vigil::bridges
