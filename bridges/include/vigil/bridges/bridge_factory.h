// Bridge factory: checks the `sources:` and `sinks:` entries of a rules file
// against the bridges this build has, and builds them.
//
// CheckBridges only validates (used by `vigil check` and before a run);
// BuildSources/BuildSinks open files and connections. Relative paths are
// resolved against the rules file's directory. Load-time only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/source.h"
#include "vigil/engine/state_store.h"

namespace vigil::bridges {

// What building bridges may use: where broker bridges log connection
// events, and the state store that holds sink outboxes (null: outboxes in
// memory). Both outlive the bridges.
struct BridgeContext {
  Logger* logger = nullptr;
  StateStore* state = nullptr;
  // The state dir: push sources (HTTP ingest, MQTT) journal what they
  // accept under STATE_DIR/journal/<source> (empty: no journal).
  std::string state_dir;
  // An alert a sink's peer rejected for good (HTTP 4xx): never retried.
  // Called on the thread that flushes the sink, with the sink's name, the
  // alert JSON and the reason. Optional (they are logged anyway).
  std::function<void(std::string_view sink, std::string_view alert_json, std::string_view reason)> on_rejected;
};

// What the HTTP sinks (webhook, InfluxDB) are built with.
struct SinkEnvironment {
  Logger* logger = nullptr;
  std::function<void(std::string_view sink, std::string_view alert_json, std::string_view reason)> on_rejected;
};

void CheckBridges(const RulesFile& file, ConfigErrors& errors);
Result<std::vector<std::unique_ptr<Source>>> BuildSources(const RulesFile& file, const BridgeContext& context = {});
// `interactive`: stdout is a terminal (text sinks may use colour). Sinks
// that can fail (mqtt, kafka, webhook, influxdb) come wrapped in a durable
// outbox (OutboxSink). Secrets named by the file (token_env, token_file,
// password_env...) are read here: a missing one is an InvalidArgument
// naming its position.
Result<std::vector<std::unique_ptr<Sink>>> BuildSinks(const RulesFile& file, bool interactive,
                                                      const BridgeContext& context = {});

// Where a push source journals what it accepted: STATE_DIR/journal/<name>,
// the name made safe for a file name (empty when `state_dir` is).
std::string JournalDir(const std::string& state_dir, const std::string& source);

// Resolves `path` against `dir` unless it is absolute or "-".
std::string ResolvePath(const std::string& dir, const std::string& path);

}  // namespace vigil::bridges
