// SpscRing: events per second between two threads, for 8-byte items and for
// 64-byte event-sized items, and batch hand-offs as the pipeline uses it.
#include <benchmark/benchmark.h>

#include <array>
#include <thread>
#include <vector>

#include "vigil/engine/spsc_ring.h"

namespace vigil::bench {
namespace {

template <typename T>
void RingThroughput(benchmark::State& state) {
  const int64_t n = 1 << 22;
  for (auto _ : state) {
    SpscRing<T> ring(1024);
    std::thread consumer([&] {
      T item{};
      for (int64_t i = 0; i < n; ++i) ring.Pop(&item);
      benchmark::DoNotOptimize(item);
    });
    for (int64_t i = 0; i < n; ++i) {
      T item{};
      item[0] = static_cast<uint64_t>(i);
      ring.Push(item);
    }
    consumer.join();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_Ring8Bytes(benchmark::State& state) { RingThroughput<std::array<uint64_t, 1>>(state); }
void BM_Ring64Bytes(benchmark::State& state) { RingThroughput<std::array<uint64_t, 8>>(state); }
BENCHMARK(BM_Ring8Bytes)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Ring64Bytes)->UseRealTime()->Unit(benchmark::kMillisecond);

// As the pipeline uses it: batches of 256 64-byte events handed over by
// pointer through a ring of 16, with a free ring returning them. Items are
// events.
void BM_RingBatchesOf256Events(benchmark::State& state) {
  using Event64 = std::array<uint64_t, 8>;
  constexpr size_t kBatch = 256, kBatches = 16;
  const int64_t n_batches = (1 << 22) / kBatch;
  for (auto _ : state) {
    std::vector<std::vector<Event64>> storage(kBatches + 2, std::vector<Event64>(kBatch));
    SpscRing<std::vector<Event64>*> full(kBatches), free_ring(kBatches + 4);
    for (auto& b : storage) free_ring.Push(&b);
    std::thread consumer([&] {
      uint64_t sum = 0;
      std::vector<Event64>* b = nullptr;
      for (int64_t i = 0; i < n_batches; ++i) {
        full.Pop(&b);
        for (const Event64& e : *b) sum += e[0];
        free_ring.Push(b);
      }
      benchmark::DoNotOptimize(sum);
    });
    std::vector<Event64>* b = nullptr;
    for (int64_t i = 0; i < n_batches; ++i) {
      free_ring.Pop(&b);
      for (size_t k = 0; k < kBatch; ++k) (*b)[k][0] = static_cast<uint64_t>(i * kBatch + k);
      full.Push(b);
    }
    consumer.join();
  }
  state.SetItemsProcessed(state.iterations() * n_batches * static_cast<int64_t>(kBatch));
}
BENCHMARK(BM_RingBatchesOf256Events)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::bench
