// ReconnectLoop: connect, wait while up, back off while down.
#include "mqtt/reconnect_loop.h"

#include <algorithm>

namespace vigil::bridges {

void ReconnectLoop::Run(const std::function<std::string()>& attempt, const std::function<bool()>& up) {
  int64_t backoff = settings_.min_ms;
  bool logged_down = false;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      lost_ = false;  // a loss reported before this attempt is the one it repairs
    }
    const std::string error = attempt();
    if (error.empty()) {
      logged_down = false;
      backoff = settings_.min_ms;
      const bool keep = up();
      std::unique_lock<std::mutex> lock(mu_);
      if (!keep) lost_ = true;
      wake_.wait(lock, [&] { return stopping_ || lost_; });
      if (stopping_) return;
      continue;  // lost: reconnect at once, then back off
    }
    if (settings_.logger != nullptr && !logged_down) {
      settings_.logger->Log(LogLevel::kWarn, settings_.what + ": cannot connect to " + settings_.url + ": " + error +
                                                 "; retrying every " + std::to_string(settings_.min_ms) +
                                                 " ms up to " + std::to_string(settings_.max_ms) + " ms");
      logged_down = true;
    }
    std::unique_lock<std::mutex> lock(mu_);
    ++failures_;
    wake_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, settings_.max_ms);
  }
}

void ReconnectLoop::MarkLost() {
  std::lock_guard<std::mutex> lock(mu_);
  lost_ = true;
  wake_.notify_all();
}

void ReconnectLoop::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  wake_.notify_all();
}

bool ReconnectLoop::stopping() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

uint64_t ReconnectLoop::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

}  // namespace vigil::bridges
