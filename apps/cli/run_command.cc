// `vigil run RULES.yaml`: the long-running engine. SIGINT/SIGTERM stop it
// cleanly (exit 0).
#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "cli/commands.h"
#include "cli/http_api.h"
#include "cli/loaded_config.h"
#include "cli/log_options.h"
#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/bridge_factory.h"
#include "vigil/bridges/http_ingest_source.h"
#include "vigil/engine/alert_board.h"
#include "vigil/engine/engine.h"
#include "vigil/engine/http_server.h"
#include "vigil/engine/state_store.h"

namespace vigil::cli {

namespace {

// The bearer token of the HTTP API: http.token_env names an environment
// variable, http.token_file a file (first line); neither: no token.
Result<std::string> ReadToken(const RulesFile& file) {
  const HttpSettings& h = file.http;
  if (!h.token_env.empty()) {
    const char* v = std::getenv(h.token_env.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument("http.token_env names '" + h.token_env +
                                     "', which is not set in the environment (export it, or remove token_env)");
    }
    return std::string(v);
  }
  if (!h.token_file.empty()) {
    const std::string path = bridges::ResolvePath(file.directory, h.token_file);
    std::ifstream in(path);
    std::string line;
    if (!in || !std::getline(in, line) || line.empty()) {
      return Status::InvalidArgument("http.token_file '" + path + "' cannot be read or is empty");
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line;
  }
  return std::string();
}

struct RunArgs {
  std::string rules;
  uint32_t shards = 0;
  std::string dead_letter;
  bool reset_state = false;
  LogOptions log;
};

// Loads and checks the rules file; errors (all of them) into `errors`.
std::unique_ptr<LoadedConfig> LoadForRun(const std::string& path, ConfigErrors& errors) {
  auto cfg = LoadConfig(path, errors, /*check_bridges=*/true);
  if (errors.empty() && cfg->file.sources.empty()) {
    errors.Add(1, 1, "no sources: add one under 'sources:', e.g. - {name: data, file: {path: data.ndjson, follow: true}}");
  }
  return errors.empty() ? std::move(cfg) : nullptr;
}

// A reload asked by SIGHUP or POST /-/reload: the rules file is read and
// checked first; a broken file is refused with its errors and the running
// rules stay. A good one is kept here and the running engine is stopped
// (final checkpoint); RunEngine then starts the next with the new rules,
// restoring the state of every rule that did not change.
class ReloadSlot {
 public:
  ReloadSlot(std::string path, Logger* logger) : path_(std::move(path)), logger_(logger) {}

  Status Request(Engine& engine) {
    ConfigErrors errors(path_);
    auto cfg = LoadForRun(path_, errors);
    if (cfg == nullptr) {
      std::string all;
      for (const auto& e : errors.Formatted()) all += (all.empty() ? "" : "\n") + e;
      logger_->Log(LogLevel::kError, "reload refused, the running rules stay: " + std::to_string(errors.size()) +
                                         " error(s) in " + path_ + ":\n" + all);
      return Status::InvalidArgument(all);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      next_ = std::move(cfg);
    }
    logger_->Log(LogLevel::kInfo, "reload: " + path_ + " is valid; restarting the rules (state of unchanged rules kept)");
    engine.RequestStop();
    return Status::Ok();
  }
  std::unique_ptr<LoadedConfig> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(next_);
  }

 private:
  std::string path_;
  Logger* logger_;
  std::mutex mu_;
  std::unique_ptr<LoadedConfig> next_;
};

struct RunResult {
  int exit_code = kExitOk;
  std::unique_ptr<LoadedConfig> reload;  // set: run again with it
};

// What lives across reloads: the state store, the dead letters, the alert
// board, the HTTP port.
struct RunShared {
  const RunArgs* args = nullptr;
  StateStore* store = nullptr;
  std::string state_dir;
  bridges::DeadLetterFile* dead = nullptr;
  AlertBoard* board = nullptr;
  Logger* logger = nullptr;
  ReloadSlot* reload = nullptr;
  sigset_t signals;
  int http_port = -1;  // the port bound by the first run, reused after a reload
  // SIGINT/SIGTERM arrived: no reload may start another run after this one
  // (a stop signal that lands while a reload is restarting is not lost).
  std::atomic<bool> stop_requested{false};
};

RunResult RunOnce(std::unique_ptr<LoadedConfig> cfg, RunShared& sh) {
  RunResult result;
  const RunArgs& a = *sh.args;
  bridges::BridgeContext bridge_context;
  bridge_context.logger = sh.logger;
  bridge_context.state = sh.store;
  bridge_context.state_dir = sh.state_dir;
  bridges::DeadLetterFile* dead = sh.dead;
  bridge_context.on_rejected = [dead](std::string_view sink, std::string_view alert_json, std::string_view reason) {
    dead->WriteRejectedAlert(sink, alert_json, reason);
  };
  auto sources = bridges::BuildSources(cfg->file, bridge_context);
  if (!sources.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", sources.status().message().c_str());
    result.exit_code = kExitRuntime;
    return result;
  }
  auto sinks = bridges::BuildSinks(cfg->file, isatty(STDOUT_FILENO) != 0, bridge_context);
  if (!sinks.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", sinks.status().message().c_str());
    // A secret the rules file names is missing: a usage error, like http.token_env.
    result.exit_code = sinks.status().code() == Status::Code::kInvalidArgument ? kExitUsage : kExitRuntime;
    return result;
  }
  if (sinks->empty()) {
    sinks->push_back(std::make_unique<bridges::StreamSink>("stdout", stdout, bridges::StreamSink::Format::kJson, false));
  }

  // The HTTP server (http.listen): /metrics, the API, the live page, ingest.
  std::string token;
  if (!cfg->file.http.listen.empty()) {
    Result<std::string> t = ReadToken(cfg->file);
    if (!t.ok()) {
      std::fprintf(stderr, "vigil run: %s\n", t.status().message().c_str());
      result.exit_code = kExitUsage;
      return result;
    }
    token = std::move(t).value();
  }
  bridges::HttpIngestSource* ingest = nullptr;
  if (!cfg->file.http.listen.empty()) {
    sinks->push_back(sh.board->MakeSink());
    for (auto& s : *sources) {
      if (auto* h = dynamic_cast<bridges::HttpIngestSource*>(s.get())) ingest = h;
    }
  }

  EngineOptions eo;
  eo.shards = a.shards != 0 ? a.shards : cfg->file.engine.shards;
  eo.key_ttl_ms = cfg->file.engine.key_ttl_ms;
  eo.max_keys_per_rule = cfg->file.engine.max_keys_per_rule;
  eo.max_window_samples = cfg->file.engine.max_window_samples;
  eo.max_tag_values = cfg->file.engine.max_tag_values;
  eo.max_key_tuples = cfg->file.engine.max_key_tuples;
  eo.track_latest = !cfg->file.http.listen.empty();  // only GET /api/v1/series/latest reads them
  eo.state = sh.store;
  eo.checkpoint_interval_ms = cfg->file.engine.checkpoint_interval_ms;
  eo.version = VIGIL_VERSION;
  eo.commit = VIGIL_COMMIT;
  Engine engine(std::move(cfg->schema), std::move(cfg->tags), cfg->rules, std::move(sources).value(),
                std::move(sinks).value(), sh.dead, sh.logger, eo);

  HttpServer server(sh.logger);
  ApiContext api;
  if (!cfg->file.http.listen.empty()) {
    api.rules = [&engine] { return engine.rules(); };
    api.rule_counters = [&engine] { return engine.RuleCountersJson(); };
    api.board = sh.board;
    api.ingest = ingest;
    api.metrics_text = [&engine, &server] { return engine.MetricsText() + server.LimitMetricsText(); };
    api.ready = [&engine] { return engine.ready(); };
    api.latest_series = [&engine](const SeriesQuery& q) { return engine.LatestSeriesJson(q); };
    api.on_manual_alert = [&engine](ExternalAlert t) { return engine.SubmitAlert(std::move(t)); };
    ReloadSlot* reload = sh.reload;
    api.reload = [reload, &engine] { return reload->Request(engine); };
    RegisterApiRoutes(server, api);
    HttpServerOptions ho;
    ho.listen = cfg->file.http.listen;
    if (sh.http_port > 0) ho.listen = ho.listen.substr(0, ho.listen.rfind(':') + 1) + std::to_string(sh.http_port);
    ho.token = token;
    ho.protect_metrics = cfg->file.http.protect_metrics;
    ho.allow_remote = cfg->file.http.allow_remote;
    ho.max_body_bytes = cfg->file.http.max_body_bytes;
    ho.max_connections = cfg->file.http.max_connections;
    if (!cfg->file.http.tls_cert.empty()) {
      ho.tls_cert = bridges::ResolvePath(cfg->file.directory, cfg->file.http.tls_cert);
      ho.tls_key = bridges::ResolvePath(cfg->file.directory, cfg->file.http.tls_key);
      ho.tls_min_version = cfg->file.http.tls13_only ? TlsVersion::k1_3 : TlsVersion::k1_2;
    }
    Status st = server.Start(ho);
    if (!st.ok()) {
      std::fprintf(stderr, "vigil run: HTTP server on %s: %s\n", ho.listen.c_str(), st.message().c_str());
      result.exit_code = kExitRuntime;
      return result;
    }
    sh.http_port = server.port();
    const std::string host = ho.listen.substr(0, ho.listen.rfind(':'));
    const std::string base = (ho.tls_cert.empty() ? "http://" : "https://") + host + ":" + std::to_string(server.port());
    sh.logger->Log(LogLevel::kInfo, "live page " + base + "/  metrics " + base + "/metrics  API " + base +
                                        "/api/v1/" + (token.empty() ? "" : " (bearer token required)"));
  }
  sh.logger->Log(LogLevel::kInfo, "vigil run: " + std::to_string(cfg->rules.size()) + " rules, " +
                                      std::to_string(engine.shards()) + " shards; Ctrl-C to stop, SIGHUP to reload");
  const sigset_t set = sh.signals;
  ReloadSlot* reload = sh.reload;
  std::atomic<bool>* stop_requested = &sh.stop_requested;
  std::thread waiter([&engine, set, reload, stop_requested] {
    while (true) {
      int sig = 0;
      sigwait(&set, &sig);
      if (sig == SIGUSR2) return;
      if (sig == SIGHUP) {
        if (reload->Request(engine).ok()) return;
        continue;  // broken file: keep running, keep listening
      }
      stop_requested->store(true);
      engine.RequestStop();
      return;
    }
  });
  Status st = engine.Run();
  // Wake the signal thread if the engine finished on its own.
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  if (ingest != nullptr) ingest->Close();
  server.Stop();
  const EngineStats& s = engine.stats();
  char checkpoints[200];
  std::snprintf(checkpoints, sizeof checkpoints,
                "; state restored in %.3f s, %llu checkpoints (%llu failed), %.1f ms mean, %.1f ms max, %llu bytes mean",
                s.restore_seconds, static_cast<unsigned long long>(s.checkpoints),
                static_cast<unsigned long long>(s.checkpoints_failed), s.checkpoint_seconds_mean * 1e3,
                s.checkpoint_seconds_max * 1e3, static_cast<unsigned long long>(s.checkpoint_bytes_mean));
  sh.logger->Log(LogLevel::kInfo, "vigil run: stopped after " + std::to_string(s.messages) + " messages (" +
                                      std::to_string(s.rejected_total()) + " rejected), " + std::to_string(s.alerts) +
                                      " alerts in " + std::to_string(s.seconds) + " s" + checkpoints);
  if (!st.ok()) {
    sh.logger->Log(LogLevel::kError, st.message());
    result.exit_code = kExitRuntime;
    return result;
  }
  result.reload = reload->Take();
  if (sh.stop_requested.load()) result.reload = nullptr;  // stopped while a reload was pending
  return result;
}

int RunEngine(const RunArgs& a) {
  // Signals go to one waiting thread, which asks the engine to stop (or
  // reload). Blocked first, so that every thread started later (RocksDB's
  // included) inherits the mask and a signal is never delivered to a thread
  // that would die of it.
  RunShared sh;
  sigemptyset(&sh.signals);
  sigaddset(&sh.signals, SIGINT);
  sigaddset(&sh.signals, SIGTERM);
  sigaddset(&sh.signals, SIGHUP);
  sigaddset(&sh.signals, SIGUSR2);  // used to wake the waiter when the engine ends by itself
  pthread_sigmask(SIG_BLOCK, &sh.signals, nullptr);
  // A SIGPIPE (a closed stdout or socket) is an error to report, not a death.
  signal(SIGPIPE, SIG_IGN);

  ConfigErrors errors(a.rules);
  auto cfg = LoadForRun(a.rules, errors);
  if (cfg == nullptr) {
    for (const auto& e : errors.Formatted()) std::fprintf(stderr, "%s\n", e.c_str());
    return kExitUsage;
  }
  SpdLogger logger(a.log);
  // The state dir (not reloadable): RocksDB state (restored at start,
  // checkpointed while running) and, by default, the dead-letter file.
  const std::string state_dir = bridges::ResolvePath(cfg->file.directory, cfg->file.engine.state_dir);
  {
    std::error_code ec;
    std::filesystem::create_directories(state_dir, ec);
    if (ec) {
      std::fprintf(stderr, "vigil run: cannot create the state directory '%s': %s\n", state_dir.c_str(),
                   ec.message().c_str());
      return kExitRuntime;
    }
  }
  if (a.reset_state) {
    Status st = StateStore::Destroy(state_dir);
    if (!st.ok()) {
      std::fprintf(stderr, "vigil run: %s\n", st.message().c_str());
      return kExitRuntime;
    }
    logger.Log(LogLevel::kWarn, "--reset-state: the stored state in " + state_dir + " was deleted; starting over");
  }
  // Test seam (tests/faults/rocksdb_write_error_test.sh): the free space a
  // state write must leave; 0 hands every write to RocksDB, so that RocksDB
  // itself meets a disk another process filled.
  uint64_t min_free = StateStore::kMinFreeBytes;
  if (const char* v = std::getenv("VIGIL_TEST_STATE_MIN_FREE_BYTES"); v != nullptr && *v != '\0') {
    min_free = std::strtoull(v, nullptr, 10);
  }
  auto opened = StateStore::Open(state_dir, /*read_only=*/false, min_free);
  if (!opened.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", opened.status().message().c_str());
    return kExitRuntime;
  }
  std::unique_ptr<StateStore> store = std::move(opened).value();
  // Rejected messages are never silently lost: by default they go to
  // <state_dir>/dead-letter.ndjson (DESIGN.md), with their reason.
  const std::string dead_path = a.dead_letter.empty() ? state_dir + "/dead-letter.ndjson" : a.dead_letter;
  auto dead = bridges::DeadLetterFile::Open(dead_path);
  if (!dead.ok()) {
    std::fprintf(stderr, "vigil run: %s\n", dead.status().message().c_str());
    return kExitRuntime;
  }
  AlertBoard board;
  ReloadSlot reload(a.rules, &logger);
  sh.args = &a;
  sh.store = store.get();
  sh.state_dir = state_dir;
  sh.dead = dead->get();
  sh.board = &board;
  sh.logger = &logger;
  sh.reload = &reload;
  int code = kExitOk;
  while (cfg != nullptr) {
    RunResult r = RunOnce(std::move(cfg), sh);
    code = r.exit_code;
    cfg = std::move(r.reload);
  }
  board.Close();
  return code;
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
  AddLogOptions(sub, &a->log);
  sub->add_flag("--reset-state", a->reset_state,
               "Delete the stored state (rule state, source positions) of engine.state_dir and start over");
  sub->callback([a, exit_code] { *exit_code = RunEngine(*a); });
}

}  // namespace vigil::cli
