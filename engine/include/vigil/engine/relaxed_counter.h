// RelaxedCounter: a counter with one writer thread and any number of
// readers (the metrics scrape). The writer adds with a relaxed load and store
// — no locked read-modify-write, so the hot path pays nothing for it — and
// readers see a recent value. Never share one between two writers.
#pragma once

#include <atomic>
#include <cstdint>

namespace vigil {

class RelaxedCounter {
 public:
  void Add(uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void Set(uint64_t n) noexcept { v_.store(n, std::memory_order_relaxed); }
  uint64_t Get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace vigil
