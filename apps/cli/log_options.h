// The binary's Logger on spdlog: `--log-level debug|info|warn|error` and
// `--log-format text|json` of `vigil run` / `vigil replay`.
//
// Text: "2026-12-02T18:31:06.984Z info message" on stderr. JSON: one object
// per line, {"ts":"...","level":"info","msg":"..."}, for log shippers.
// vigil logs lifecycle events only (start, connections, checkpoint
// failures, reload, stop, rejection summaries), never one line per message,
// and never a secret. The spdlog logger is owned by this object (not put in
// spdlog's global registry).
//
// Thread-safety: Log() from any thread (spdlog's _mt sink serialises lines).
#pragma once

#include <memory>
#include <string>

#include "vigil/engine/logger.h"

namespace CLI {
class App;
}

namespace spdlog {
class logger;
}

namespace vigil::cli {

struct LogOptions {
  std::string level = "info";
  std::string format = "text";
};

// Adds --log-level and --log-format to a subcommand.
void AddLogOptions(CLI::App* sub, LogOptions* options);

class SpdLogger final : public Logger {
 public:
  explicit SpdLogger(const LogOptions& options);
  ~SpdLogger() override;
  void Log(LogLevel level, std::string_view message) override;

 private:
  std::shared_ptr<spdlog::logger> logger_;
  LogLevel min_;
  bool json_;
};

}  // namespace vigil::cli
