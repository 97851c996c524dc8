// Doorbell: how the alert thread sleeps when its rings are empty and is woken
// when there is work, instead of polling with a fixed sleep.
//
// The consumer announces that it is about to sleep, then checks for work
// once more (`has_work`), and only then waits; a producer publishes its work
// first (an SPSC ring push, a counter) and then rings. The announcement and
// the producer's publication are sequentially consistent, so either the
// consumer's last check sees the work or the producer sees the announcement
// and wakes it: no wake-up is lost. A producer that finds nobody asleep
// pays one load; the mutex is only taken to wake a sleeper.
//
// Thread-safety: Ring() from any thread; Wait() from one consumer thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace vigil {

class Doorbell {
 public:
  // After publishing work.
  void Ring() {
    if (!sleeping_.load(std::memory_order_seq_cst)) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rung_ = true;
    }
    cv_.notify_one();
  }
  // Returns at once when has_work() holds, else at the next Ring() or after
  // `timeout` (a safety net, not the wake-up path). Returns whether it slept.
  template <typename HasWork>
  bool Wait(std::chrono::microseconds timeout, HasWork has_work) {
    std::unique_lock<std::mutex> lock(mu_);
    sleeping_.store(true, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool slept = false;
    if (!rung_ && !has_work()) {
      slept = true;
      cv_.wait_for(lock, timeout, [this] { return rung_; });
    }
    sleeping_.store(false, std::memory_order_relaxed);
    rung_ = false;
    return slept;
  }
  bool sleeping() const { return sleeping_.load(std::memory_order_seq_cst); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> sleeping_{false};
  bool rung_ = false;
};

}  // namespace vigil
