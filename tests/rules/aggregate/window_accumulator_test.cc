// Tests of WindowAccumulator: property tests against a brute-force reference
// computed from the definitions of DESIGN.md, edge cases and serialization
// round-trips. Single-threaded.
#include "aggregate/window_accumulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aggregate/agg_kind.h"

namespace vigil::rules {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Sample {
  int64_t ts;
  double value;
};

// numpy.percentile(values, p), default "linear" method.
double ReferenceQuantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  double index = static_cast<double>(n - 1) * q;
  double previous = std::floor(index);
  size_t lo = static_cast<size_t>(previous);
  size_t hi = std::min(lo + 1, n - 1);
  double gamma = index - previous;
  double a = values[lo];
  double b = values[hi];
  double diff = b - a;
  return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
}

// Every aggregate straight from its definition (arrival order), naive loops,
// long double where rounding matters.
double ReferenceValue(const std::vector<Sample>& samples, AggKind kind) {
  size_t n = samples.size();
  if (kind == AggKind::kCount) return static_cast<double>(n);
  if (n == 0) return kNaN;
  std::vector<double> values;
  for (const Sample& s : samples) values.push_back(s.value);
  long double sum = 0;
  for (double v : values) sum += v;
  long double mean = sum / n;
  switch (kind) {
    case AggKind::kAvg: return static_cast<double>(mean);
    case AggKind::kSum: return static_cast<double>(sum);
    case AggKind::kMin: return *std::min_element(values.begin(), values.end());
    case AggKind::kMax: return *std::max_element(values.begin(), values.end());
    case AggKind::kStddev: {
      long double squares = 0;
      for (double v : values) squares += (v - mean) * (v - mean);
      return static_cast<double>(std::sqrt(squares / n));
    }
    case AggKind::kFirst: return values.front();
    case AggKind::kLast: return values.back();
    case AggKind::kDelta: return values.back() - values.front();
    case AggKind::kRate:
      if (n < 2 || samples.back().ts == samples.front().ts) return kNaN;
      return (values.back() - values.front()) /
             (static_cast<double>(samples.back().ts - samples.front().ts) / 1000.0);
    case AggKind::kChanges: {
      int changes = 0;
      for (size_t i = 1; i < n; ++i) changes += values[i] != values[i - 1];
      return changes;
    }
    default: return ReferenceQuantile(values, QuantileOf(kind));
  }
}

// Rounded kinds (avg, sum, stddev): 1e-9 relative with an absolute floor of
// 1e-15 times the largest magnitude; every other kind exactly.
::testing::AssertionResult Matches(double actual, double expected, AggKind kind,
                                   const std::vector<Sample>& samples) {
  if (std::isnan(expected) || std::isnan(actual)) {
    if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << AggKindName(kind) << ": actual " << actual << " expected " << expected;
  }
  double tolerance = 0.0;
  if (kind == AggKind::kAvg || kind == AggKind::kSum || kind == AggKind::kStddev) {
    double magnitude = 0.0;
    for (const Sample& s : samples) magnitude = std::max(magnitude, std::abs(s.value));
    tolerance = 1e-9 * std::max(std::abs(expected), 1e-6 * magnitude);
  }
  if (std::abs(actual - expected) <= tolerance) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << std::setprecision(17) << AggKindName(kind) << ": actual " << actual
                                       << " expected " << expected << " (n=" << samples.size() << ")";
}

std::vector<Sample> RandomWindow(std::mt19937_64& rng) {
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto real = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  size_t length = uniform(0, 2) == 0 ? uniform(1, 10) : uniform(10, 600);
  int value_mode = static_cast<int>(uniform(0, 5));
  double scale = std::pow(10.0, static_cast<double>(uniform(0, 8)) * 3.0 - 12.0);
  int64_t ts = uniform(0, 2'000'000'000'000);
  std::vector<Sample> out;
  for (size_t i = 0; i < length; ++i) {
    int64_t roll = uniform(0, 99);
    if (roll < 5) {
      ts -= uniform(1, 5000);  // late, still inside the open window
    } else if (roll >= 30) {
      ts += uniform(1, 2000);
    }  // else same ts
    double v;
    switch (value_mode) {
      case 0: v = real(-1.0, 1.0) * scale; break;
      case 1: v = 1e6 + real(-1e-3, 1e-3); break;
      case 2: v = static_cast<double>(uniform(-2, 2)); break;
      case 3: v = (uniform(0, 1) ? 1.0 : -1.0) * std::pow(10.0, real(-12.0, 12.0)); break;
      case 4: v = scale * (1.0 + real(0.0, 1e-6)); break;
      default: v = uniform(0, 9) == 0 ? real(-1.0, 1.0) * scale : 42.0; break;
    }
    out.push_back({ts, v});
  }
  return out;
}

AggMask RandomMask(std::mt19937_64& rng) {
  if (rng() % 2 == 0) return kAllAggKinds;
  return static_cast<AggMask>(rng() % (kAllAggKinds + 1));
}

TEST(WindowAccumulatorTest, MatchesReferenceOnRandomWindows) {
  std::mt19937_64 rng(31337);
  for (int window = 0; window < 4000; ++window) {
    AggMask mask = RandomMask(rng);
    WindowAccumulator acc(mask);
    std::vector<Sample> samples = RandomWindow(rng);
    std::vector<Sample> seen;
    for (const Sample& s : samples) {
      acc.Add(s.ts, s.value);
      seen.push_back(s);
      if (rng() % 16 != 0 && seen.size() != samples.size()) continue;  // evaluate now and then, and at close
      for (int k = 0; k < kAggKindCount; ++k) {
        auto kind = static_cast<AggKind>(k);
        double expected = ReferenceValue(seen, kind);
        if (IsPercentile(kind) && (mask & kPercentileKinds) == 0) expected = kNaN;  // values not kept
        ASSERT_TRUE(Matches(acc.Value(kind), expected, kind, seen)) << "window " << window << " mask " << mask;
      }
    }
  }
}

TEST(WindowAccumulatorTest, Empty) {
  WindowAccumulator acc(kAllAggKinds);
  EXPECT_EQ(acc.Value(AggKind::kCount), 0.0);
  for (int k = 0; k < kAggKindCount; ++k) {
    auto kind = static_cast<AggKind>(k);
    if (kind == AggKind::kCount) continue;
    EXPECT_TRUE(std::isnan(acc.Value(kind))) << AggKindName(kind);
  }
}

TEST(WindowAccumulatorTest, OneSample) {
  WindowAccumulator acc(kAllAggKinds);
  acc.Add(60'000, 7.25);
  for (AggKind kind : {AggKind::kAvg, AggKind::kMin, AggKind::kMax, AggKind::kSum, AggKind::kFirst, AggKind::kLast,
                       AggKind::kP50, AggKind::kP99}) {
    EXPECT_EQ(acc.Value(kind), 7.25) << AggKindName(kind);
  }
  EXPECT_EQ(acc.Value(AggKind::kCount), 1.0);
  EXPECT_EQ(acc.Value(AggKind::kStddev), 0.0);
  EXPECT_EQ(acc.Value(AggKind::kDelta), 0.0);
  EXPECT_EQ(acc.Value(AggKind::kChanges), 0.0);
  EXPECT_TRUE(std::isnan(acc.Value(AggKind::kRate)));
}

TEST(WindowAccumulatorTest, ArrivalOrderForFirstLastChanges) {
  WindowAccumulator acc(kAllAggKinds);
  acc.Add(2000, 1.0);
  acc.Add(1000, 3.0);  // late but still in the window: arrival order counts
  acc.Add(2000, 3.0);
  acc.Add(4000, 2.0);
  EXPECT_EQ(acc.Value(AggKind::kFirst), 1.0);
  EXPECT_EQ(acc.Value(AggKind::kLast), 2.0);
  EXPECT_EQ(acc.Value(AggKind::kDelta), 1.0);
  EXPECT_EQ(acc.Value(AggKind::kRate), 0.5);
  EXPECT_EQ(acc.Value(AggKind::kChanges), 2.0);
}

TEST(WindowAccumulatorTest, PercentilesOnlyWhenConfigured) {
  WindowAccumulator without(AggBit(AggKind::kAvg));
  WindowAccumulator with(AggBit(AggKind::kP90));
  for (int i = 1; i <= 10; ++i) {
    without.Add(i, i);
    with.Add(i, 11 - i);
  }
  EXPECT_TRUE(std::isnan(without.Value(AggKind::kP90)));
  EXPECT_EQ(without.MemoryBytes(), sizeof(WindowAccumulator));
  EXPECT_DOUBLE_EQ(with.Value(AggKind::kP90), 9.1);
  EXPECT_DOUBLE_EQ(with.Value(AggKind::kP50), 5.5);  // any percentile once values are kept
  with.Add(11, 100.0);                                // Add after a sorted read
  EXPECT_DOUBLE_EQ(with.Value(AggKind::kP50), 6.0);
}

TEST(WindowAccumulatorTest, ClearKeepsConfiguration) {
  WindowAccumulator acc(kAllAggKinds);
  for (int i = 0; i < 100; ++i) acc.Add(i, i);
  acc.Clear();
  EXPECT_EQ(acc.Value(AggKind::kCount), 0.0);
  EXPECT_TRUE(std::isnan(acc.Value(AggKind::kP50)));
  acc.Add(5, 2.0);
  acc.Add(6, 4.0);
  EXPECT_EQ(acc.Value(AggKind::kAvg), 3.0);
  EXPECT_EQ(acc.Value(AggKind::kP50), 3.0);
  EXPECT_EQ(acc.Value(AggKind::kChanges), 1.0);
  EXPECT_EQ(acc.Value(AggKind::kFirst), 2.0);
}

TEST(WindowAccumulatorTest, StddevStableOnLargeOffset) {
  WindowAccumulator acc(AggBit(AggKind::kStddev) | AggBit(AggKind::kAvg));
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> noise(-1e-3, 1e-3);
  std::vector<Sample> samples;
  for (int i = 0; i < 1'000'000; ++i) {
    double v = 1e6 + noise(rng);
    acc.Add(i, v);
    samples.push_back({i, v});
  }
  for (AggKind kind : {AggKind::kAvg, AggKind::kStddev}) {
    double expected = ReferenceValue(samples, kind);
    EXPECT_NEAR(acc.Value(kind), expected, 1e-9 * std::abs(expected)) << AggKindName(kind);
  }
}

TEST(WindowAccumulatorTest, SerializeRoundTrips) {
  std::mt19937_64 rng(77);
  for (int window = 0; window < 300; ++window) {
    AggMask mask = RandomMask(rng);
    WindowAccumulator original(mask);
    std::vector<Sample> samples = RandomWindow(rng);
    size_t cut = rng() % (samples.size() + 1);
    for (size_t i = 0; i < cut; ++i) original.Add(samples[i].ts, samples[i].value);
    if (rng() % 2) (void)original.Value(AggKind::kP50);  // sometimes sorted before saving
    std::string bytes;
    original.Serialize(&bytes);
    WindowAccumulator restored(mask);
    ASSERT_TRUE(restored.Deserialize(bytes));
    std::string again;
    restored.Serialize(&again);
    EXPECT_EQ(again, bytes);
    for (size_t i = cut; i <= samples.size(); ++i) {
      for (int k = 0; k < kAggKindCount; ++k) {
        auto kind = static_cast<AggKind>(k);
        ASSERT_EQ(std::bit_cast<uint64_t>(original.Value(kind)), std::bit_cast<uint64_t>(restored.Value(kind)))
            << AggKindName(kind);
      }
      if (i == samples.size()) break;
      original.Add(samples[i].ts, samples[i].value);
      restored.Add(samples[i].ts, samples[i].value);
    }
  }
}

TEST(WindowAccumulatorTest, DeserializeRejectsBadInput) {
  WindowAccumulator original(kAllAggKinds);
  for (int i = 0; i < 10; ++i) original.Add(i, i * 0.5);
  std::string bytes;
  original.Serialize(&bytes);
  WindowAccumulator target(kAllAggKinds);
  target.Add(1, 99.0);
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(target.Deserialize(std::string_view(bytes).substr(0, len))) << len;
  }
  EXPECT_FALSE(target.Deserialize(bytes + "x"));
  EXPECT_EQ(target.Value(AggKind::kLast), 99.0);  // unchanged on failure
  WindowAccumulator other_kinds(AggBit(AggKind::kAvg));
  EXPECT_FALSE(other_kinds.Deserialize(bytes));
}

}  // namespace
}  // namespace vigil::rules
