// StderrLogger: the binary's Logger — timestamped lines on stderr, one
// mutex so lines from different threads do not interleave.
#pragma once

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "vigil/engine/logger.h"
#include "vigil/engine/timestamp.h"

namespace vigil::cli {

class StderrLogger final : public Logger {
 public:
  explicit StderrLogger(LogLevel min_level = LogLevel::kInfo) : min_(min_level) {}
  void Log(LogLevel level, std::string_view message) override {
    if (level < min_) return;
    static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    std::string line = FormatIsoMillis(now) + " " + kNames[static_cast<int>(level)] + " " + std::string(message) + "\n";
    std::lock_guard<std::mutex> lock(mu_);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }

 private:
  LogLevel min_;
  std::mutex mu_;
};

}  // namespace vigil::cli
