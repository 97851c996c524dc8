// The `vigil` binary: subcommands check, replay, run, sim, state, version, completion.
// Exit codes: 0 success, 2 usage or rules-file error, 1 runtime failure.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/commands.h"
#include "sys/huge_pages.h"

int main(int argc, char** argv) {
#if defined(VIGIL_REQUIRES_AVX2) && (defined(__x86_64__) || defined(__i386__))
  if (!__builtin_cpu_supports("avx2")) {
    std::fprintf(stderr, "vigil: this build needs a CPU with AVX2 (x86-64-v3); rebuild with -DVIGIL_X86_64_V3=OFF\n");
    return 1;
  }
#endif
  vigil::cli::ReexecWithHugePages(argc, argv);
  CLI::App app{"vigil — a stream-processing rules engine for sensor data"};
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::help);
  int exit_code = vigil::cli::kExitOk;
  vigil::cli::AddCheckCommand(app, &exit_code);
  vigil::cli::AddReplayCommand(app, &exit_code);
  vigil::cli::AddRunCommand(app, &exit_code);
  vigil::cli::AddSimCommand(app, &exit_code);
  vigil::cli::AddStateCommand(app, &exit_code);
  vigil::cli::AddVersionCommand(app, &exit_code);
  vigil::cli::AddCompletionCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? vigil::cli::kExitOk : vigil::cli::kExitUsage;
  }
  return exit_code;
}
