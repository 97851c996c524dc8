// `vigil version`.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0"
#endif
#ifndef VIGIL_COMMIT
#define VIGIL_COMMIT "unknown"
#endif

namespace vigil::cli {

void AddVersionCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("version", "Print the version and the commit it was built from");
  sub->callback([exit_code] {
    std::printf("vigil %s (commit %s)\n", VIGIL_VERSION, VIGIL_COMMIT);
    *exit_code = kExitOk;
  });
}

}  // namespace vigil::cli
