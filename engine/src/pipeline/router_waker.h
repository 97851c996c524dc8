// RouterWaker: how the router thread waits when every source is idle — up
// to a bound (so timers and the wall-clock watermark still advance), or
// less when a live source signals new data (SourceWaker::Wake), so a
// message arriving on an idle engine is picked up at once instead of after
// the rest of a fixed sleep.
//
// Thread-safety: Wake() from any thread; WaitFor() from the router thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "vigil/engine/source.h"

namespace vigil {

class RouterWaker final : public SourceWaker {
 public:
  void Wake() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = true;
    }
    cv_.notify_one();
  }
  // Returns at once if a Wake() came since the last wait, else after
  // `timeout` or at the next Wake().
  void WaitFor(std::chrono::microseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return pending_; });
    pending_ = false;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;
};

}  // namespace vigil
