// Micro-benchmarks of the aggregate buffers (rules/src/aggregate): one
// "item" is one update as an event rule does it, Add + Evict + Value, on a
// window that is already full (steady state). Single-threaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "aggregate/agg_kind.h"
#include "aggregate/sliding_series.h"
#include "aggregate/window_accumulator.h"

namespace vigil::rules {
namespace {

constexpr int64_t kFiveMinutes = 5 * 60 * 1000;
constexpr size_t kValuePoolMask = 4095;

// Sensor-like values: a level with noise, precomputed so the RNG is not timed.
std::vector<double> ValuePool() {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(0.0, 2.5);
  std::vector<double> pool(kValuePoolMask + 1);
  for (double& v : pool) v = 21.0 + noise(rng);
  return pool;
}

// Runs Add + Evict + Value(kinds...) with `step_ms` sampling over a 5-minute
// window, after filling it.
template <AggKind... kKinds>
void RunSliding(benchmark::State& state, AggMask mask) {
  const int64_t step_ms = state.range(0);
  const std::vector<double> pool = ValuePool();
  SlidingSeries series(kFiveMinutes, mask);
  int64_t ts = 0;
  size_t i = 0;
  for (; ts < kFiveMinutes; ts += step_ms, ++i) {
    series.Add(ts, pool[i & kValuePoolMask]);
    series.Evict(ts);
  }
  for (auto _ : state) {
    series.Add(ts, pool[i & kValuePoolMask]);
    series.Evict(ts);
    (benchmark::DoNotOptimize(series.Value(kKinds)), ...);
    ts += step_ms;
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["window_samples"] = static_cast<double>(series.size());
  state.counters["bytes"] = static_cast<double>(series.MemoryBytes());
}

void BM_SlidingP95_5m(benchmark::State& state) { RunSliding<AggKind::kP95>(state, AggBit(AggKind::kP95)); }
BENCHMARK(BM_SlidingP95_5m)->ArgName("step_ms")->Arg(10'000)->Arg(1'000)->Arg(100);

void BM_SlidingAvgStddev(benchmark::State& state) {
  RunSliding<AggKind::kAvg, AggKind::kStddev>(state, AggBit(AggKind::kAvg) | AggBit(AggKind::kStddev));
}
BENCHMARK(BM_SlidingAvgStddev)->ArgName("step_ms")->Arg(10'000)->Arg(1'000);

void BM_SlidingMinMax(benchmark::State& state) {
  RunSliding<AggKind::kMin, AggKind::kMax>(state, AggBit(AggKind::kMin) | AggBit(AggKind::kMax));
}
BENCHMARK(BM_SlidingMinMax)->ArgName("step_ms")->Arg(10'000)->Arg(1'000);

// A window rule's accumulator: Add + Value(avg) per item; the window closes
// (Clear) every 300 samples.
void BM_WindowAccumulatorAvg(benchmark::State& state) {
  const std::vector<double> pool = ValuePool();
  WindowAccumulator acc(AggBit(AggKind::kAvg));
  int64_t ts = 0;
  size_t i = 0;
  for (auto _ : state) {
    acc.Add(ts, pool[i & kValuePoolMask]);
    benchmark::DoNotOptimize(acc.Value(AggKind::kAvg));
    if (acc.count() == 300) acc.Clear();
    ts += 1000;
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WindowAccumulatorAvg);

}  // namespace
}  // namespace vigil::rules
