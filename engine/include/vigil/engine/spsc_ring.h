// SpscRing<T>: a bounded, lock-free, single-producer/single-consumer ring.
//
// Thread-safety: one producer thread calls TryPush/Push, one consumer thread
// calls TryPop/Pop. Push blocks (spin, then sleep on an atomic wait) while the
// ring is full, so backpressure reaches the producer and nothing is dropped;
// Pop blocks while it is empty. Head and tail live on separate cache lines and
// each side caches the other's index to avoid touching the shared line.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <thread>
#include <utility>

namespace vigil {

template <typename T>
class SpscRing {
 public:
  // `capacity` is rounded up to a power of two (minimum 2).
  explicit SpscRing(size_t capacity) {
    size_t cap = 2;
    while (cap < capacity) cap <<= 1;
    mask_ = cap - 1;
    slots_ = std::make_unique<T[]>(cap);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  size_t capacity() const { return mask_ + 1; }
  // Approximate number of queued items; any thread.
  size_t SizeApprox() const {
    return head_.value.load(std::memory_order_acquire) - tail_.value.load(std::memory_order_acquire);
  }

  bool TryPush(T&& item) {
    const uint64_t head = head_.value.load(std::memory_order_relaxed);
    if (head - cached_tail_ > mask_) {
      cached_tail_ = tail_.value.load(std::memory_order_acquire);
      if (head - cached_tail_ > mask_) return false;
    }
    slots_[head & mask_] = std::move(item);
    head_.value.store(head + 1, std::memory_order_seq_cst);
    if (consumer_waiting_.value.load(std::memory_order_seq_cst)) head_.value.notify_one();
    return true;
  }

  void Push(T item) {
    for (int spin = 0; !TryPush(std::move(item)); ++spin) {
      if (spin < 128) continue;
      const uint64_t tail = tail_.value.load(std::memory_order_seq_cst);
      producer_waiting_.value.store(true, std::memory_order_seq_cst);
      if (head_.value.load(std::memory_order_relaxed) - tail_.value.load(std::memory_order_seq_cst) > mask_) {
        tail_.value.wait(tail, std::memory_order_seq_cst);
      }
      producer_waiting_.value.store(false, std::memory_order_relaxed);
    }
  }

  bool TryPop(T* out) {
    const uint64_t tail = tail_.value.load(std::memory_order_relaxed);
    if (tail == cached_head_) {
      cached_head_ = head_.value.load(std::memory_order_acquire);
      if (tail == cached_head_) return false;
    }
    *out = std::move(slots_[tail & mask_]);
    tail_.value.store(tail + 1, std::memory_order_seq_cst);
    if (producer_waiting_.value.load(std::memory_order_seq_cst)) tail_.value.notify_one();
    return true;
  }

  // Blocks until an item is available.
  void Pop(T* out) {
    for (int spin = 0; !TryPop(out); ++spin) {
      if (spin < 128) continue;
      WaitNonEmpty();  // sleep in the kernel rather than yield: the producer needs the core
    }
  }

  // Blocks until the ring is non-empty (consumer side).
  void WaitNonEmpty() {
    const uint64_t head = head_.value.load(std::memory_order_seq_cst);
    consumer_waiting_.value.store(true, std::memory_order_seq_cst);
    if (head == tail_.value.load(std::memory_order_relaxed) &&
        head_.value.load(std::memory_order_seq_cst) == head) {
      head_.value.wait(head, std::memory_order_seq_cst);
    }
    consumer_waiting_.value.store(false, std::memory_order_relaxed);
  }

 private:
  struct alignas(64) PaddedIndex { std::atomic<uint64_t> value{0}; };
  struct alignas(64) PaddedFlag { std::atomic<bool> value{false}; };

  PaddedIndex head_;            // written by producer
  PaddedIndex tail_;            // written by consumer
  PaddedFlag consumer_waiting_;
  PaddedFlag producer_waiting_;
  alignas(64) uint64_t cached_tail_ = 0;  // producer's view of tail_
  alignas(64) uint64_t cached_head_ = 0;  // consumer's view of head_
  size_t mask_ = 0;
  std::unique_ptr<T[]> slots_;
};

}  // namespace vigil
