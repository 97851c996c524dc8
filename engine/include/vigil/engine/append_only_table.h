// AppendOnlyTable<T>: a table that one writer appends to while readers on
// other threads read entries already published to them.
//
// Thread-safety: exactly one thread calls Append(). Any thread may call Get(i)
// for an index it learned through a release/acquire edge (a ring hand-off)
// after Append() returned i. Entries never move: storage is a fixed array of
// chunk pointers, each chunk allocated once and never freed before the table.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace vigil {

template <typename T, size_t kChunkBits = 12, size_t kMaxChunks = 1 << 14>
class AppendOnlyTable {
 public:
  static constexpr size_t kChunkSize = size_t{1} << kChunkBits;
  static constexpr size_t kCapacity = kChunkSize * kMaxChunks;

  AppendOnlyTable() : chunks_(new std::atomic<T*>[kMaxChunks]) {
    for (size_t i = 0; i < kMaxChunks; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
  ~AppendOnlyTable() {
    for (size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].load(std::memory_order_relaxed);
  }
  AppendOnlyTable(const AppendOnlyTable&) = delete;
  AppendOnlyTable& operator=(const AppendOnlyTable&) = delete;

  // Appends `value`; returns its index, or kCapacity when the table is full.
  size_t Append(T value) {
    size_t i = size_.load(std::memory_order_relaxed);
    if (i >= kCapacity) return kCapacity;
    size_t c = i >> kChunkBits;
    T* chunk = chunks_[c].load(std::memory_order_relaxed);
    if (chunk == nullptr) {
      chunk = new T[kChunkSize];
      chunks_[c].store(chunk, std::memory_order_release);
    }
    chunk[i & (kChunkSize - 1)] = std::move(value);
    size_.store(i + 1, std::memory_order_release);
    return i;
  }

  // Forgets every entry. Only while no other thread reads the table.
  void Clear() {
    for (size_t i = 0; i < kMaxChunks; ++i) delete[] chunks_[i].exchange(nullptr, std::memory_order_relaxed);
    size_.store(0, std::memory_order_release);
  }

  const T& Get(size_t i) const {
    return chunks_[i >> kChunkBits].load(std::memory_order_acquire)[i & (kChunkSize - 1)];
  }
  size_t size() const { return size_.load(std::memory_order_acquire); }

 private:
  std::unique_ptr<std::atomic<T*>[]> chunks_;
  std::atomic<size_t> size_{0};
};

}  // namespace vigil
