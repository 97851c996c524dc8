// CollectingLogger: a Logger for tests that keeps every message, in order,
// for any thread.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/logger.h"

namespace vigil::testing {

class CollectingLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(message);
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace vigil::testing
