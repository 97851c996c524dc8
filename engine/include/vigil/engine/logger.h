// Logger: where libraries report what the operator should know. Injected by
// main (libraries never print); the default writes nothing.
//
// Thread-safety: implementations must accept calls from any thread.
#pragma once

#include <string_view>

namespace vigil {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

class NullLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view) override {}
};

}  // namespace vigil
