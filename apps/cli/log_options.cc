// SpdLogger: lifecycle logs on stderr through spdlog, text or JSON lines.
#include "cli/log_options.h"

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/timestamp.h"

namespace vigil::cli {

namespace {

constexpr const char* kLevelNames[] = {"debug", "info", "warn", "error"};

LogLevel ParseLevel(const std::string& s) {
  if (s == "debug") return LogLevel::kDebug;
  if (s == "warn") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

spdlog::level::level_enum ToSpd(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void AddLogOptions(CLI::App* sub, LogOptions* options) {
  sub->add_option("--log-level", options->level, "Least severe log lines shown: debug, info (default), warn, error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  sub->add_option("--log-format", options->format,
                  "Log lines on stderr as text (default) or json (one object per line)")
      ->check(CLI::IsMember({"text", "json"}));
}

SpdLogger::SpdLogger(const LogOptions& options)
    : logger_(std::make_shared<spdlog::logger>("vigil", std::make_shared<spdlog::sinks::stderr_sink_mt>())),
      min_(ParseLevel(options.level)),
      json_(options.format == "json") {
  // The line is formatted here (ISO time in UTC, JSON escaping); spdlog
  // serialises and writes it.
  logger_->set_pattern("%v");
  logger_->set_level(ToSpd(min_));
  logger_->flush_on(spdlog::level::debug);
}

SpdLogger::~SpdLogger() = default;

void SpdLogger::Log(LogLevel level, std::string_view message) {
  if (level < min_) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  std::string line;
  if (json_) {
    line = "{\"ts\":\"" + FormatIsoMillis(now) + "\",\"level\":\"" + kLevelNames[static_cast<int>(level)] +
           "\",\"msg\":";
    AppendJsonString(&line, message);
    line += '}';
  } else {
    line = FormatIsoMillis(now) + " " + kLevelNames[static_cast<int>(level)] + " " + std::string(message);
  }
  logger_->log(ToSpd(level), "{}", line);
}

}  // namespace vigil::cli
