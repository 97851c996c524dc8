// The subcommands of the `vigil` binary. Each Add*Command registers its
// options on `app` and, when chosen, runs and stores its exit code:
// 0 success, 2 usage or rules-file error, 1 runtime failure.
#pragma once

namespace CLI {
class App;
}

namespace vigil::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitUsage = 2;

void AddCheckCommand(CLI::App& app, int* exit_code);
void AddReplayCommand(CLI::App& app, int* exit_code);
void AddRunCommand(CLI::App& app, int* exit_code);
void AddSimCommand(CLI::App& app, int* exit_code);
void AddStateCommand(CLI::App& app, int* exit_code);
void AddVersionCommand(CLI::App& app, int* exit_code);
// Register last: it describes the commands registered before it.
void AddCompletionCommand(CLI::App& app, int* exit_code);

}  // namespace vigil::cli
