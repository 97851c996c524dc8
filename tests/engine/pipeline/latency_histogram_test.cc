// Tests for vigil/engine/latency_histogram.h (LatencyHistogram): quantiles of
// known distributions within the stated relative error (16 sub-buckets per
// power of two: the reported upper bound is at most 1/16 = 6.25% above the
// true value, never below it), exact small values, merging, extremes.
#include "vigil/engine/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <vector>

namespace vigil {
namespace {

constexpr double kMaxRelativeError = 1.0 / 16;
constexpr double kQuantiles[] = {0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0};

// The histogram is large (1024 atomics): keep it off the stack.
std::unique_ptr<LatencyHistogram> Record(const std::vector<uint64_t>& values) {
  auto h = std::make_unique<LatencyHistogram>();
  for (uint64_t v : values) h->Record(v);
  return h;
}

// The value of rank floor(q * (n - 1)) in sorted order (the sample the
// histogram's quantile names), and the check that the histogram reports it
// within the error bound.
void ExpectQuantilesWithinError(std::vector<uint64_t> values) {
  const auto h = Record(values);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h->Count(), values.size());
  for (double q : kQuantiles) {
    const uint64_t truth = values[static_cast<size_t>(q * static_cast<double>(values.size() - 1))];
    const uint64_t got = h->Quantile(q);
    EXPECT_GE(got, truth) << "q=" << q;
    EXPECT_LE(static_cast<double>(got), static_cast<double>(truth) * (1 + kMaxRelativeError)) << "q=" << q;
  }
}

TEST(LatencyHistogramTest, EmptyIsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Quantile(0.5), 0u);
  EXPECT_EQ(h.Quantile(0.99), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  for (uint64_t v = 0; v < 32; ++v) {
    LatencyHistogram h;
    h.Record(v);
    EXPECT_EQ(h.Quantile(0.5), v);
  }
}

TEST(LatencyHistogramTest, SingleValueWithinError) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 2000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    LatencyHistogram h;
    h.Record(v);
    const uint64_t got = h.Quantile(0.5);
    ASSERT_GE(got, v);
    ASSERT_LE(static_cast<double>(got - v), static_cast<double>(v) * kMaxRelativeError) << v;
  }
}

TEST(LatencyHistogramTest, UniformDistribution) {
  std::vector<uint64_t> values;
  for (uint64_t v = 1; v <= 100000; ++v) values.push_back(v * 1000);  // 1 us .. 100 ms
  ExpectQuantilesWithinError(values);
  const auto h = Record(values);
  EXPECT_NEAR(static_cast<double>(h->Quantile(0.5)), 50e6, 50e6 * kMaxRelativeError);
  EXPECT_NEAR(static_cast<double>(h->Quantile(0.99)), 99e6, 99e6 * kMaxRelativeError);
}

TEST(LatencyHistogramTest, ExponentialDistribution) {
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> dist(1.0 / 250000.0);  // mean 250 us
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) values.push_back(static_cast<uint64_t>(dist(rng)) + 1);
  ExpectQuantilesWithinError(values);
  // Against the distribution itself: median = mean * ln 2, p99 = mean * ln 100.
  const auto h = Record(values);
  EXPECT_NEAR(static_cast<double>(h->Quantile(0.5)), 250000 * std::log(2.0), 250000 * std::log(2.0) * 0.08);
  EXPECT_NEAR(static_cast<double>(h->Quantile(0.99)), 250000 * std::log(100.0), 250000 * std::log(100.0) * 0.08);
}

TEST(LatencyHistogramTest, LogNormalWideRange) {
  std::mt19937_64 rng(2024);
  std::lognormal_distribution<double> dist(12.0, 3.0);  // ns .. seconds
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) values.push_back(static_cast<uint64_t>(std::min(dist(rng), 1e15)));
  ExpectQuantilesWithinError(values);
}

TEST(LatencyHistogramTest, BimodalDistribution) {
  // 90% fast (~10 us), 10% slow (~50 ms): p50 fast, p95 slow.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> fast(10000, 500), slow(50e6, 1e6);
  std::vector<uint64_t> values;
  for (int i = 0; i < 100000; ++i) {
    const double v = (i % 10 == 0) ? slow(rng) : fast(rng);
    values.push_back(static_cast<uint64_t>(std::max(v, 1.0)));
  }
  ExpectQuantilesWithinError(values);
  const auto h = Record(values);
  EXPECT_LT(h->Quantile(0.5), 20000u);
  EXPECT_GT(h->Quantile(0.95), 40000000u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(11);
  std::vector<uint64_t> a, b;
  for (int i = 0; i < 50000; ++i) a.push_back(rng() % 1000000);
  for (int i = 0; i < 30000; ++i) b.push_back(rng() % 100000000);
  auto merged = Record(a);
  const auto other = Record(b);
  merged->Merge(*other);
  std::vector<uint64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  const auto together = Record(all);
  EXPECT_EQ(merged->Count(), 80000u);
  for (double q : kQuantiles) EXPECT_EQ(merged->Quantile(q), together->Quantile(q)) << q;
  ExpectQuantilesWithinError(all);
}

TEST(LatencyHistogramTest, Extremes) {
  auto h = std::make_unique<LatencyHistogram>();
  h->Record(0);
  h->Record(std::numeric_limits<uint64_t>::max());
  h->Record(uint64_t{1} << 63);
  EXPECT_EQ(h->Count(), 3u);
  EXPECT_EQ(h->Quantile(0.0), 0u);
  EXPECT_EQ(h->Quantile(1.0), std::numeric_limits<uint64_t>::max());
  const uint64_t mid = h->Quantile(0.5);
  EXPECT_GE(mid, uint64_t{1} << 63);
  EXPECT_LE(static_cast<double>(mid), std::ldexp(1.0, 63) * (1 + kMaxRelativeError));
}

}  // namespace
}  // namespace vigil
