// LatencyHistogram: log-linear buckets of nanosecond latencies (HDR-like, 16
// sub-buckets per power of two: ~6% relative error), mergeable.
//
// Thread-safety: one writer (Record uses a relaxed load and store, no locked
// read-modify-write); any thread may read a slightly stale view.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace vigil {

class LatencyHistogram {
 public:
  static constexpr int kSub = 16;
  static constexpr int kBuckets = 64 * kSub;

  void Record(uint64_t ns) noexcept {
    auto& c = counts_[Index(ns)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
  }
  // Samples whose bucket lies entirely at or below `ns` (for Prometheus buckets).
  uint64_t CountAtMost(uint64_t ns) const noexcept {
    uint64_t n = 0;
    for (int i = 0; i < kBuckets && UpperBound(i) <= ns; ++i) n += counts_[i].load(std::memory_order_relaxed);
    return n;
  }
  uint64_t SumNs() const noexcept { return sum_ns_.load(std::memory_order_relaxed); }
  void Merge(const LatencyHistogram& o) noexcept {
    for (int i = 0; i < kBuckets; ++i) {
      counts_[i].fetch_add(o.counts_[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
    }
    sum_ns_.fetch_add(o.sum_ns_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  uint64_t Count() const noexcept {
    uint64_t n = 0;
    for (const auto& c : counts_) n += c.load(std::memory_order_relaxed);
    return n;
  }
  // Upper bound of the bucket holding quantile q (0..1), in ns; 0 when empty.
  uint64_t Quantile(double q) const noexcept {
    uint64_t total = Count();
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= rank) return UpperBound(i);
    }
    return UpperBound(kBuckets - 1);
  }

 private:
  static int Index(uint64_t v) noexcept {
    if (v < kSub) return static_cast<int>(v);
    int msb = 63 - std::countl_zero(v);        // >= 4
    int shift = msb - 4;
    int sub = static_cast<int>((v >> shift) & (kSub - 1));
    return (shift + 1) * kSub + sub;
  }
  static uint64_t UpperBound(int index) noexcept {
    if (index < kSub) return static_cast<uint64_t>(index);
    int shift = index / kSub - 1;
    uint64_t sub = static_cast<uint64_t>(index % kSub);
    return ((kSub + sub + 1) << shift) - 1;
  }

  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace vigil
