// LoadConfig: rules file -> LoadedConfig.
#include "cli/loaded_config.h"

#include "vigil/bridges/bridge_factory.h"
#include "vigil/rules/plugin_loader.h"
#include "vigil/rules/rule_loader.h"

namespace vigil::cli {

std::unique_ptr<LoadedConfig> LoadConfig(const std::string& path, ConfigErrors& errors, bool check_bridges) {
  auto cfg = std::make_unique<LoadedConfig>();
  if (!LoadRulesFile(path, &cfg->file, errors)) return cfg;
  rules::RuleLoadOptions options;
  options.directory = cfg->file.directory;
  cfg->rules = rules::CompileRules(cfg->file.rules, &cfg->schema, cfg->tags.get(), errors, options);
  rules::LoadDecoders(&cfg->file, errors);
  if (check_bridges) bridges::CheckBridges(cfg->file, errors);
  return cfg;
}

}  // namespace vigil::cli
