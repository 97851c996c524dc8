// `vigil replay RULES.yaml INPUT...`: run files through the rules in event
// time, as fast as possible, as one source; alerts as NDJSON; a JSON summary.
#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "cli/commands.h"
#include "cli/loaded_config.h"
#include "cli/log_options.h"
#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/file_source.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/engine.h"

namespace vigil::cli {

namespace {

struct ReplayArgs {
  std::string rules;
  std::vector<std::string> inputs;
  std::string out;
  std::string stats;
  std::string dead_letter;
  uint32_t shards = 0;
  bool no_progress = false;
  std::string format = "json";
  LogOptions log;
};

std::string StatsJson(const EngineStats& s, uint32_t shards) {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  std::string j = "{\"messages\":" + std::to_string(s.messages) + ",\"rejected\":{";
  bool first = true;
  for (size_t r = 1; r < s.rejected.size(); ++r) {
    if (s.rejected[r] == 0) continue;
    if (!first) j += ",";
    first = false;
    AppendJsonString(&j, RejectReasonName(static_cast<RejectReason>(r)));
    j += ":" + std::to_string(s.rejected[r]);
  }
  j += "},\"rejected_total\":" + std::to_string(s.rejected_total());
  j += ",\"alerts\":" + std::to_string(s.alerts);
  j += ",\"seconds\":";
  AppendJsonNumber(&j, s.seconds);
  j += ",\"events_per_second\":";
  AppendJsonNumber(&j, s.seconds > 0 ? static_cast<double>(s.messages) / s.seconds : 0.0);
  j += ",\"shards\":" + std::to_string(shards);
  j += ",\"keys\":" + std::to_string(s.keys);
  j += ",\"state_bytes\":" + std::to_string(s.state_bytes);
  j += ",\"late_events\":" + std::to_string(s.late_events);
  j += ",\"evicted_keys\":" + std::to_string(s.evicted_keys);
  j += ",\"tag_values_refused\":" + std::to_string(s.tag_values_refused);
  j += ",\"key_tuples_refused\":" + std::to_string(s.key_tuples_refused);
  j += ",\"cpu_seconds\":";
  AppendJsonNumber(&j, cpu);
  j += ",\"cpu_us_per_message\":";
  AppendJsonNumber(&j, s.messages ? cpu * 1e6 / static_cast<double>(s.messages) : 0.0);
  j += ",\"latency_p50_us\":";
  AppendJsonNumber(&j, s.event_latency_p50_ns / 1000.0);
  j += ",\"latency_p99_us\":";
  AppendJsonNumber(&j, s.event_latency_p99_ns / 1000.0);
  j += ",\"latency_max_us\":";
  AppendJsonNumber(&j, s.event_latency_max_ns / 1000.0);
  j += ",\"peak_rss_bytes\":" + std::to_string(static_cast<long long>(ru.ru_maxrss) * 1024);
  j += "}";
  return j;
}

// Prints a progress bar on stderr while `done` is false.
void ProgressLoop(const bridges::FileSource* src, const std::atomic<bool>* done) {
  const auto t0 = std::chrono::steady_clock::now();
  while (!done->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const uint64_t total = src->bytes_total(), read = src->bytes_read();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double frac = total ? static_cast<double>(read) / static_cast<double>(total) : 0.0;
    const int width = 30, filled = static_cast<int>(frac * width);
    std::fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %.1f MB/s ", filled, "==============================",
                 width - filled, "", frac * 100, secs > 0 ? read / secs / 1e6 : 0.0);
  }
  std::fprintf(stderr, "\r%*s\r", 60, "");
}

int RunReplay(const ReplayArgs& a) {
  ConfigErrors errors(a.rules);
  auto cfg = LoadConfig(a.rules, errors, /*check_bridges=*/false);
  if (!errors.empty()) {
    for (const auto& e : errors.Formatted()) std::fprintf(stderr, "%s\n", e.c_str());
    return kExitUsage;
  }
  SpdLogger logger(a.log);
  bridges::FileSourceOptions so;
  so.name = cfg->file.sources.empty() ? "replay" : cfg->file.sources[0].name;
  so.paths = a.inputs;
  if (!cfg->file.sources.empty()) {
    so.format = cfg->file.sources[0].format;
    so.allowed_lateness_ms = cfg->file.sources[0].allowed_lateness_ms;
  }
  auto source = std::make_unique<bridges::FileSource>(so);
  const bridges::FileSource* source_view = source.get();
  std::vector<std::unique_ptr<Source>> sources;
  sources.push_back(std::move(source));

  std::vector<std::unique_ptr<Sink>> sinks;
  if (a.out.empty() || a.out == "-") {
    const bool text = a.format == "text";
    sinks.push_back(std::make_unique<bridges::StreamSink>(
        "stdout", stdout, text ? bridges::StreamSink::Format::kText : bridges::StreamSink::Format::kJson,
        text && isatty(STDOUT_FILENO)));
  } else {
    std::remove(a.out.c_str());
    auto sink = bridges::FileSink::Open(a.out, false);
    if (!sink.ok()) {
      std::fprintf(stderr, "vigil replay: %s\n", sink.status().message().c_str());
      return kExitRuntime;
    }
    sinks.push_back(std::move(sink).value());
  }
  std::unique_ptr<bridges::DeadLetterFile> dead;
  if (!a.dead_letter.empty()) {
    std::remove(a.dead_letter.c_str());
    auto d = bridges::DeadLetterFile::Open(a.dead_letter);
    if (!d.ok()) {
      std::fprintf(stderr, "vigil replay: %s\n", d.status().message().c_str());
      return kExitRuntime;
    }
    dead = std::move(d).value();
  }
  EngineOptions eo;
  eo.shards = a.shards != 0 ? a.shards : cfg->file.engine.shards;
  eo.key_ttl_ms = cfg->file.engine.key_ttl_ms;
  eo.max_keys_per_rule = cfg->file.engine.max_keys_per_rule;
  eo.max_window_samples = cfg->file.engine.max_window_samples;
  eo.max_tag_values = cfg->file.engine.max_tag_values;
  eo.max_key_tuples = cfg->file.engine.max_key_tuples;
  Engine engine(std::move(cfg->schema), std::move(cfg->tags), cfg->rules, std::move(sources), std::move(sinks),
                dead.get(), &logger, eo);
  std::atomic<bool> done{false};
  std::thread progress;
  if (!a.no_progress && isatty(STDERR_FILENO)) progress = std::thread(ProgressLoop, source_view, &done);
  Status st = engine.Run();
  done = true;
  if (progress.joinable()) progress.join();
  if (!st.ok()) {
    std::fprintf(stderr, "vigil replay: %s\n", st.message().c_str());
    return kExitRuntime;
  }
  const std::string stats = StatsJson(engine.stats(), engine.shards());
  if (!a.stats.empty()) {
    std::ofstream f(a.stats, std::ios::trunc);
    f << stats << "\n";
    if (!f) {
      std::fprintf(stderr, "vigil replay: cannot write stats to '%s'\n", a.stats.c_str());
      return kExitRuntime;
    }
  }
  const EngineStats& s = engine.stats();
  std::fprintf(stderr, "vigil replay: %llu messages (%llu rejected), %llu alerts in %.3f s (%.0f msg/s, %u shards)\n",
               static_cast<unsigned long long>(s.messages), static_cast<unsigned long long>(s.rejected_total()),
               static_cast<unsigned long long>(s.alerts), s.seconds,
               s.seconds > 0 ? static_cast<double>(s.messages) / s.seconds : 0.0, engine.shards());
  return kExitOk;
}

}  // namespace

void AddReplayCommand(CLI::App& app, int* exit_code) {
  auto* sub = app.add_subcommand("replay", "Run NDJSON/CSV files through the rules in event time, as fast as possible");
  auto a = std::make_shared<ReplayArgs>();
  sub->add_option("rules", a->rules, "The rules file (YAML)")->required();
  sub->add_option("inputs", a->inputs, "Input files: .ndjson/.json lines, .csv with a header row, - for stdin")
      ->required();
  sub->add_option("--out,-o", a->out, "Write alerts (NDJSON) to FILE instead of stdout");
  sub->add_option("--stats", a->stats, "Write a JSON summary to FILE");
  sub->add_option("--dead-letter", a->dead_letter, "Write rejected lines with their reason to FILE");
  sub->add_option("--shards", a->shards, "Number of shards (default: engine.shards, else the number of cores)")
      ->check(CLI::Range(1, 64));
  sub->add_option("--format", a->format, "Alerts on stdout as json (NDJSON, default) or text (readable)")
      ->check(CLI::IsMember({"json", "text"}));
  sub->add_flag("--no-progress", a->no_progress, "Do not show a progress bar on a terminal");
  AddLogOptions(sub, &a->log);
  sub->callback([a, exit_code] { *exit_code = RunReplay(*a); });
}

}  // namespace vigil::cli
