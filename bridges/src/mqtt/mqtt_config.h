// The rules file's `mqtt:` sources and sinks: checks (vigil check) and
// construction. Load-time only.
#pragma once

#include <memory>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/source.h"

namespace vigil::bridges {

void CheckMqttSource(const SourceSettings& s, const RulesFile& file, ConfigErrors& errors);
void CheckMqttSink(const SinkSettings& s, const RulesFile& file, ConfigErrors& errors);
// `journal_dir`: where the source journals what it accepted (empty: no journal).
Result<std::unique_ptr<Source>> BuildMqttSource(const SourceSettings& s, const RulesFile& file, Logger* logger,
                                                const std::string& journal_dir = {});
// The sink alone (no outbox: the caller wraps it).
Result<std::unique_ptr<Sink>> BuildMqttSink(const SinkSettings& s, const RulesFile& file, Logger* logger);

}  // namespace vigil::bridges
