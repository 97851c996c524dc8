// `vigil check RULES.yaml`: validate, print every error, exit 2 when any.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "cli/loaded_config.h"

namespace vigil::cli {

void AddCheckCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("check", "Validate a rules file: every error as file:line:column: message");
  auto path = std::make_shared<std::string>();
  sub->add_option("rules", *path, "The rules file (YAML)")->required();
  sub->callback([path, exit_code] {
    ConfigErrors errors(*path);
    auto cfg = LoadConfig(*path, errors, /*check_bridges=*/true);
    if (!errors.empty()) {
      for (const auto& e : errors.Formatted()) std::fprintf(stderr, "%s\n", e.c_str());
      std::fprintf(stderr, "%zu error%s\n", errors.size(), errors.size() == 1 ? "" : "s");
      *exit_code = kExitUsage;
      return;
    }
    std::printf("%s: ok (%zu rule%s, %zu source%s, %zu sink%s)\n", path->c_str(), cfg->rules.size(),
                cfg->rules.size() == 1 ? "" : "s", cfg->file.sources.size(), cfg->file.sources.size() == 1 ? "" : "s",
                cfg->file.sinks.size(), cfg->file.sinks.size() == 1 ? "" : "s");
    *exit_code = kExitOk;
  });
}

}  // namespace vigil::cli
