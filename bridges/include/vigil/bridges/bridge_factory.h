// Bridge factory: checks the `sources:` and `sinks:` entries of a rules file
// against the bridges this build has, and builds them.
//
// CheckBridges only validates (used by `vigil check` and before a run);
// BuildSources/BuildSinks open files and connections. Relative paths are
// resolved against the rules file's directory. Load-time only.
#pragma once

#include <memory>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/source.h"

namespace vigil::bridges {

void CheckBridges(const RulesFile& file, ConfigErrors& errors);
// `logger` (not owned, may be null) receives what broker bridges report
// while running (connection loss, failed commits); it must outlive them.
Result<std::vector<std::unique_ptr<Source>>> BuildSources(const RulesFile& file, Logger* logger = nullptr);
// `interactive`: stdout is a terminal (text sinks may use colour).
Result<std::vector<std::unique_ptr<Sink>>> BuildSinks(const RulesFile& file, bool interactive,
                                                      Logger* logger = nullptr);

// Resolves `path` against `dir` unless it is absolute or "-".
std::string ResolvePath(const std::string& dir, const std::string& path);

}  // namespace vigil::bridges
