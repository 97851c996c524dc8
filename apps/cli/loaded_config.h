// LoadedConfig: a rules file read, checked and compiled — what every
// subcommand that takes RULES.yaml starts from.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/rules_file.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::cli {

struct LoadedConfig {
  RulesFile file;
  Schema schema;
  std::unique_ptr<TagInterner> tags = std::make_unique<TagInterner>();
  std::vector<std::shared_ptr<const Rule>> rules;
};

// Loads `path`; every error goes to `errors` (file:line:column: message).
// `check_bridges`: also validate sources and sinks.
std::unique_ptr<LoadedConfig> LoadConfig(const std::string& path, ConfigErrors& errors, bool check_bridges);

}  // namespace vigil::cli
