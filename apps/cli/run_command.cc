// `vigil run RULES.yaml`: the long-running engine. SIGINT/SIGTERM stop it
// cleanly (exit 0).
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include "cli/commands.h"
#include "cli/loaded_config.h"
#include "cli/stderr_logger.h"
#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/bridge_factory.h"
#include "vigil/engine/engine.h"

namespace vigil::cli {

namespace {

struct RunArgs {
  std::string rules;
  uint32_t shards = 0;
  std::string dead_letter;
};

int RunEngine(const RunArgs& a) {
  ConfigErrors errors(a.rules);
  auto cfg = LoadConfig(a.rules, errors, /*check_bridges=*/true);
  if (errors.empty() && cfg->file.sources.empty()) {
    errors.Add(1, 1, "no sources: add one under 'sources:', e.g. - {name: data, file: {path: data.ndjson, follow: true}}");
  }
  if (!errors.empty()) {
    for (const auto& e : errors.Formatted()) std::fprintf(stderr, "%s\n", e.c_str());
    return kExitUsage;
  }
  StderrLogger logger;
  auto sources = bridges::BuildSources(cfg->file);
  if (!sources.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", sources.status().message().c_str());
    return kExitRuntime;
  }
  auto sinks = bridges::BuildSinks(cfg->file, isatty(STDOUT_FILENO) != 0);
  if (!sinks.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", sinks.status().message().c_str());
    return kExitRuntime;
  }
  if (sinks->empty()) {
    sinks->push_back(std::make_unique<bridges::StreamSink>("stdout", stdout, bridges::StreamSink::Format::kJson, false));
  }
  // Rejected messages are never silently lost: by default they go to
  // <state_dir>/dead-letter.ndjson (DESIGN.md), with their reason.
  std::string dead_path = a.dead_letter;
  if (dead_path.empty()) {
    const std::string dir = bridges::ResolvePath(cfg->file.directory, cfg->file.engine.state_dir);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      std::fprintf(stderr, "vigil run: cannot create the state directory '%s': %s\n", dir.c_str(),
                   ec.message().c_str());
      return kExitRuntime;
    }
    dead_path = dir + "/dead-letter.ndjson";
  }
  std::unique_ptr<bridges::DeadLetterFile> dead;
  {
    auto d = bridges::DeadLetterFile::Open(dead_path);
    if (!d.ok()) {
      std::fprintf(stderr, "vigil run: %s\n", d.status().message().c_str());
      return kExitRuntime;
    }
    dead = std::move(d).value();
  }

  // Signals go to one waiting thread, which asks the engine to stop.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);  // used to wake the waiter when the engine ends by itself
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  EngineOptions eo;
  eo.shards = a.shards != 0 ? a.shards : cfg->file.engine.shards;
  eo.key_ttl_ms = cfg->file.engine.key_ttl_ms;
  Engine engine(std::move(cfg->schema), std::move(cfg->tags), cfg->rules, std::move(sources).value(),
                std::move(sinks).value(), dead.get(), &logger, eo);
  logger.Log(LogLevel::kInfo, "vigil run: " + std::to_string(cfg->rules.size()) + " rules, " +
                                  std::to_string(engine.shards()) + " shards; Ctrl-C to stop");
  std::thread waiter([&engine, set] {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGUSR2) engine.RequestStop();
  });
  Status st = engine.Run();
  // Wake the signal thread if the engine finished on its own.
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  const EngineStats& s = engine.stats();
  logger.Log(LogLevel::kInfo, "vigil run: stopped after " + std::to_string(s.messages) + " messages (" +
                                  std::to_string(s.rejected_total()) + " rejected), " + std::to_string(s.alerts) +
                                  " alerts");
  if (!st.ok()) {
    logger.Log(LogLevel::kError, st.message());
    return kExitRuntime;
  }
  return kExitOk;
}

}  // namespace

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("run", "Run the engine on the sources, rules and sinks of a rules file");
  auto a = std::make_shared<RunArgs>();
  sub->add_option("rules", a->rules, "The rules file (YAML)")->required();
  sub->add_option("--shards", a->shards, "Number of shards (default: engine.shards, else the number of cores)")
      ->check(CLI::Range(1, 64));
  sub->add_option("--dead-letter", a->dead_letter,
                  "Append rejected messages with their reason to FILE (default: STATE_DIR/dead-letter.ndjson)");
  sub->callback([a, exit_code] { *exit_code = RunEngine(*a); });
}

}  // namespace vigil::cli
