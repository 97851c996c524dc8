// The `webhook:` and `influxdb:` entries of a rules file's `sinks:`: checked
// (CheckBridges, `vigil check`) and built (BuildSinks).
//
// Checking reports every problem at its position (unknown keys, a URL that
// is not http(s), a missing db or bucket, both token_env and token_file,
// `forward:`, which is not available yet) and reads nothing from the
// environment or the disk, so a file can be checked where its secrets are
// absent. Building reads the secrets (token_env/token_file,
// password_env/password_file): an unset variable or an unreadable file is an
// InvalidArgument "file:line:column: ..." naming the variable or file,
// never the secret. Load-time only; single-threaded.
#pragma once

#include <memory>

#include "vigil/bridges/bridge_factory.h"
#include "vigil/engine/config_errors.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

void CheckWebhookSink(const SinkSettings& s, ConfigErrors& errors);
void CheckInfluxDbSink(const SinkSettings& s, ConfigErrors& errors);

// `file` gives the path for messages and the directory token/password files
// are relative to.
Result<std::unique_ptr<Sink>> BuildWebhookSink(const SinkSettings& s, const RulesFile& file,
                                               const SinkEnvironment& env);
Result<std::unique_ptr<Sink>> BuildInfluxDbSink(const SinkSettings& s, const RulesFile& file,
                                                const SinkEnvironment& env);

}  // namespace vigil::bridges
