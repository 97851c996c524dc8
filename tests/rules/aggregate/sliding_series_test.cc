// Tests of SlidingSeries (and of the small pieces it is used with: AggKind
// names and Ewma): property tests against a brute-force reference computed
// from the definitions of DESIGN.md, edge cases, numerical drift and
// serialization round-trips. Single-threaded.
#include "aggregate/sliding_series.h"

#include <gtest/gtest.h>

#include <iomanip>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "aggregate/agg_kind.h"
#include "aggregate/ewma.h"

namespace vigil::rules {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Sample {
  int64_t ts;
  double value;
};

// numpy.percentile(values, p) with the default "linear" method, written from
// numpy's definition (virtual index (n - 1) * q, _lerp).
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

// Every aggregate straight from its definition, naive loops, long double
// where rounding matters.
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
    case AggKind::kRate: {
      if (n < 2 || samples.back().ts == samples.front().ts) return kNaN;
      return (values.back() - values.front()) /
             (static_cast<double>(samples.back().ts - samples.front().ts) / 1000.0);
    }
    case AggKind::kChanges: {
      int changes = 0;
      for (size_t i = 1; i < n; ++i) changes += values[i] != values[i - 1];
      return changes;
    }
    default: return ReferenceQuantile(values, QuantileOf(kind));
  }
}

bool IsRounded(AggKind kind) {
  return kind == AggKind::kAvg || kind == AggKind::kSum || kind == AggKind::kStddev;
}

// Rounded kinds: 1e-9 relative, with an absolute floor of 1e-15 times the
// largest magnitude in the buffer (a sum that cancels to ~0 cannot be known
// better than that in double). Every other kind must match exactly.
::testing::AssertionResult Matches(double actual, double expected, AggKind kind,
                                   const std::vector<Sample>& samples) {
  if (std::isnan(expected) || std::isnan(actual)) {
    if (std::isnan(expected) && std::isnan(actual)) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << AggKindName(kind) << ": actual " << actual << " expected " << expected;
  }
  double tolerance = 0.0;
  if (IsRounded(kind)) {
    double magnitude = 0.0;
    for (const Sample& s : samples) magnitude = std::max(magnitude, std::abs(s.value));
    tolerance = 1e-9 * std::max(std::abs(expected), 1e-6 * magnitude);
  }
  if (std::abs(actual - expected) <= tolerance) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure();
  failure << std::setprecision(17);
  failure << AggKindName(kind) << ": actual " << actual << " expected " << expected << " (n=" << samples.size()
          << ", diff " << std::abs(actual - expected) << ")";
  if (samples.size() <= 8) {
    for (const Sample& s : samples) failure << " {" << s.ts << ", " << s.value << "}";
  }
  return failure;
}

// The reference buffer: arrival order, front eviction.
void ReferenceEvict(std::deque<Sample>* buffer, int64_t now_ts, int64_t window_ms) {
  while (!buffer->empty() && buffer->front().ts <= now_ts - window_ms) buffer->pop_front();
}

// Random streams covering what sensors do: equal timestamps, bursts, gaps
// that empty the window, late samples, ts on a grid that lands exactly on
// the eviction boundary; values of every magnitude, negative, repeated.
class StreamGenerator {
 public:
  explicit StreamGenerator(uint64_t seed) : rng_(seed) {}

  int64_t PickWindow() {
    static constexpr int64_t kWindows[] = {1, 7, 100, 1000, 5000, 60000, 300000};
    return kWindows[Uniform(0, std::size(kWindows) - 1)];
  }

  std::vector<Sample> Stream(int64_t window_ms) {
    size_t length = Uniform(1, 3) == 1 ? Uniform(1, 12) : Uniform(20, 400);
    int ts_mode = static_cast<int>(Uniform(0, 2));
    int value_mode = static_cast<int>(Uniform(0, 6));
    double scale = std::pow(10.0, static_cast<double>(Uniform(0, 8)) * 3.0 - 12.0);  // 1e-12 .. 1e12
    int64_t ts = static_cast<int64_t>(Uniform(0, 2'000'000'000'000));
    std::vector<Sample> out;
    for (size_t i = 0; i < length; ++i) {
      ts += NextStep(ts_mode, window_ms);
      out.push_back({ts, NextValue(value_mode, scale)});
    }
    return out;
  }

  AggMask PickMask() {
    if (Uniform(0, 1) == 0) return kAllAggKinds;
    return static_cast<AggMask>(Uniform(0, kAllAggKinds));
  }

  uint64_t Uniform(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }
  double Real(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }

 private:
  int64_t NextStep(int ts_mode, int64_t window_ms) {
    uint64_t roll = Uniform(0, 99);
    if (roll < 3) return window_ms + static_cast<int64_t>(Uniform(0, 3 * window_ms));  // gap: empties
    if (roll < 8) return -static_cast<int64_t>(Uniform(1, window_ms + 1));             // late sample
    if (roll < 25) return 0;                                                            // same ts / burst
    switch (ts_mode) {
      case 0: return static_cast<int64_t>(Uniform(1, std::max<int64_t>(1, window_ms / 8)));
      case 1: {  // grid: multiples of W/4 hit ts == now - W exactly
        int64_t quarter = std::max<int64_t>(1, window_ms / 4);
        return quarter * static_cast<int64_t>(Uniform(1, 2)) + (Uniform(0, 9) == 0 ? 1 : 0);
      }
      default: return static_cast<int64_t>(Uniform(1, std::max<int64_t>(1, window_ms / 2)));
    }
  }

  double NextValue(int value_mode, double scale) {
    switch (value_mode) {
      case 0: return Real(-1.0, 1.0) * scale;
      case 1: return 1e6 + Real(-1e-3, 1e-3);                             // offset + small noise
      case 2: return static_cast<double>(static_cast<int>(Uniform(0, 4)) - 2);  // ties, changes
      case 3: {                                                           // every magnitude at once
        double v = std::pow(10.0, Real(-12.0, 12.0));
        return Uniform(0, 1) ? v : -v;
      }
      case 4: return scale * (1.0 + Real(0.0, 1e-6));  // large offset, tiny relative spread
      case 5: return Uniform(0, 9) == 0 ? Real(-1.0, 1.0) * scale : 42.0;
      default: return scale * static_cast<double>(Uniform(0, 1000));  // trend-free integers
    }
  }

  std::mt19937_64 rng_;
};

std::vector<Sample> ToVector(const std::deque<Sample>& buffer) { return {buffer.begin(), buffer.end()}; }

void ExpectAllKinds(const SlidingSeries& series, const std::deque<Sample>& buffer, const std::string& context) {
  std::vector<Sample> samples = ToVector(buffer);
  for (int k = 0; k < kAggKindCount; ++k) {
    auto kind = static_cast<AggKind>(k);
    ASSERT_TRUE(Matches(series.Value(kind), ReferenceValue(samples, kind), kind, samples)) << context;
  }
}

TEST(AggKindTest, NamesRoundTrip) {
  for (int k = 0; k < kAggKindCount; ++k) {
    auto kind = static_cast<AggKind>(k);
    auto parsed = AggKindFromName(AggKindName(kind));
    ASSERT_TRUE(parsed.has_value()) << AggKindName(kind);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_FALSE(AggKindFromName("ewma").has_value());
  EXPECT_FALSE(AggKindFromName("AVG").has_value());
  EXPECT_FALSE(AggKindFromName("").has_value());
  EXPECT_FALSE(AggKindFromName("p95 ").has_value());
}

TEST(SlidingSeriesTest, MatchesReferenceOnRandomStreams) {
  StreamGenerator gen(20240601);
  for (int stream = 0; stream < 4000; ++stream) {
    int64_t window_ms = gen.PickWindow();
    AggMask mask = gen.PickMask();
    SlidingSeries series(window_ms, mask);
    std::deque<Sample> buffer;
    std::vector<Sample> samples = gen.Stream(window_ms);
    for (size_t i = 0; i < samples.size(); ++i) {
      series.Add(samples[i].ts, samples[i].value);
      series.Evict(samples[i].ts);
      buffer.push_back(samples[i]);
      ReferenceEvict(&buffer, samples[i].ts, window_ms);
      ASSERT_EQ(series.size(), buffer.size());
      ExpectAllKinds(series, buffer,
                     "stream " + std::to_string(stream) + " step " + std::to_string(i) + " W=" +
                         std::to_string(window_ms) + " mask=" + std::to_string(mask));
    }
  }
}

// Evict() is also called without a new sample (e.g. by another field's
// message); contents must still follow the reference.
TEST(SlidingSeriesTest, MatchesReferenceWithIndependentEvictions) {
  StreamGenerator gen(7);
  for (int stream = 0; stream < 1000; ++stream) {
    int64_t window_ms = gen.PickWindow();
    SlidingSeries series(window_ms, kAllAggKinds);
    std::deque<Sample> buffer;
    std::vector<Sample> samples = gen.Stream(window_ms);
    for (const Sample& s : samples) {
      series.Add(s.ts, s.value);
      buffer.push_back(s);
      if (gen.Uniform(0, 2) == 0) continue;  // several Adds before an Evict
      int64_t now = s.ts + static_cast<int64_t>(gen.Uniform(0, window_ms));
      series.Evict(now);
      ReferenceEvict(&buffer, now, window_ms);
      ExpectAllKinds(series, buffer, "stream " + std::to_string(stream));
    }
  }
}

TEST(SlidingSeriesTest, EmptySeries) {
  SlidingSeries series(1000, kAllAggKinds);
  EXPECT_EQ(series.Value(AggKind::kCount), 0.0);
  for (int k = 0; k < kAggKindCount; ++k) {
    auto kind = static_cast<AggKind>(k);
    if (kind == AggKind::kCount) continue;
    EXPECT_TRUE(std::isnan(series.Value(kind))) << AggKindName(kind);
  }
  series.Evict(123456);  // nothing to evict
  EXPECT_TRUE(series.empty());
}

TEST(SlidingSeriesTest, OneSample) {
  SlidingSeries series(1000, kAllAggKinds);
  series.Add(5000, -2.5);
  series.Evict(5000);
  EXPECT_EQ(series.Value(AggKind::kCount), 1.0);
  for (AggKind kind : {AggKind::kAvg, AggKind::kMin, AggKind::kMax, AggKind::kSum, AggKind::kFirst, AggKind::kLast,
                       AggKind::kP50, AggKind::kP90, AggKind::kP95, AggKind::kP99}) {
    EXPECT_EQ(series.Value(kind), -2.5) << AggKindName(kind);
  }
  EXPECT_EQ(series.Value(AggKind::kStddev), 0.0);
  EXPECT_EQ(series.Value(AggKind::kDelta), 0.0);
  EXPECT_EQ(series.Value(AggKind::kChanges), 0.0);
  EXPECT_TRUE(std::isnan(series.Value(AggKind::kRate)));
}

TEST(SlidingSeriesTest, EvictsAtExactlyNowMinusWindow) {
  SlidingSeries series(1000, kAllAggKinds);
  series.Add(0, 1.0);
  series.Add(1, 2.0);
  series.Evict(999);
  EXPECT_EQ(series.size(), 2u);
  series.Evict(1000);  // ts 0 == now - W: out; ts 1 == now - W + 1: in
  EXPECT_EQ(series.size(), 1u);
  EXPECT_EQ(series.Value(AggKind::kFirst), 2.0);
  series.Evict(1001);
  EXPECT_TRUE(series.empty());
  EXPECT_TRUE(std::isnan(series.Value(AggKind::kAvg)));
}

TEST(SlidingSeriesTest, LateSampleKeepsArrivalOrder) {
  SlidingSeries series(1000, kAllAggKinds);
  series.Add(1000, 10.0);
  series.Add(200, 20.0);  // late
  series.Add(1500, 30.0);
  series.Evict(1500);  // cutoff 500: front (ts 1000) stays, so the late one stays too
  EXPECT_EQ(series.size(), 3u);
  EXPECT_EQ(series.Value(AggKind::kFirst), 10.0);
  EXPECT_EQ(series.Value(AggKind::kLast), 30.0);
  EXPECT_EQ(series.Value(AggKind::kChanges), 2.0);
  EXPECT_EQ(series.Value(AggKind::kMin), 10.0);
  EXPECT_DOUBLE_EQ(series.Value(AggKind::kRate), 20.0 / 0.5);
  series.Evict(2000);  // cutoff 1000: ts 1000 out, then the late ts 200 reaches the front: out
  EXPECT_EQ(series.size(), 1u);
  EXPECT_EQ(series.Value(AggKind::kFirst), 30.0);
}

TEST(SlidingSeriesTest, RateAndDelta) {
  SlidingSeries series(60000, kAllAggKinds);
  series.Add(1000, 5.0);
  series.Add(1000, 7.0);
  EXPECT_TRUE(std::isnan(series.Value(AggKind::kRate)));  // same ts
  EXPECT_EQ(series.Value(AggKind::kDelta), 2.0);
  series.Add(3000, 11.0);
  EXPECT_EQ(series.Value(AggKind::kRate), 3.0);  // (11 - 5) / 2 s
  series.Add(500, 1.0);                           // late: negative span
  EXPECT_EQ(series.Value(AggKind::kRate), (1.0 - 5.0) / -0.5);
}

TEST(SlidingSeriesTest, PercentilesFollowNumpyLinear) {
  SlidingSeries series(1'000'000, kPercentileKinds);
  for (int i = 1; i <= 10; ++i) series.Add(i, static_cast<double>(11 - i));
  EXPECT_DOUBLE_EQ(series.Value(AggKind::kP50), 5.5);  // numpy.percentile(range(1, 11), 50)
  EXPECT_DOUBLE_EQ(series.Value(AggKind::kP90), 9.1);
  EXPECT_DOUBLE_EQ(series.Value(AggKind::kP95), 9.55);
  EXPECT_DOUBLE_EQ(series.Value(AggKind::kP99), 9.91);
}

TEST(SlidingSeriesTest, ChangesCountsDifferingNeighbours) {
  SlidingSeries series(1000, AggBit(AggKind::kChanges));
  for (double v : {1.0, 1.0, 2.0, 2.0, 1.0, 1.0}) series.Add(10, v);
  EXPECT_EQ(series.Value(AggKind::kChanges), 2.0);
}

// Kinds outside the mask are still answered (O(n) scan).
TEST(SlidingSeriesTest, UnconfiguredKindsAreScanned) {
  SlidingSeries series(1000, AggBit(AggKind::kCount));
  for (int i = 0; i < 5; ++i) series.Add(i, static_cast<double>(i * i));
  EXPECT_EQ(series.Value(AggKind::kSum), 30.0);
  EXPECT_EQ(series.Value(AggKind::kMax), 16.0);
  EXPECT_EQ(series.Value(AggKind::kP50), 4.0);
  EXPECT_EQ(series.Value(AggKind::kChanges), 4.0);
}

// 5 million samples around 1e6 through a 100-sample window: the running sums
// must not drift from an exact recomputation.
TEST(SlidingSeriesTest, NoDriftAfterMillionsOfUpdates) {
  for (double noise : {1e-3, 1.0}) {
    constexpr int64_t kWindow = 100;
    SlidingSeries series(kWindow, AggBit(AggKind::kAvg) | AggBit(AggKind::kStddev) | AggBit(AggKind::kSum));
    std::deque<Sample> buffer;
    std::mt19937_64 rng(99);
    std::uniform_real_distribution<double> jitter(-noise, noise);
    for (int64_t i = 0; i < 5'000'000; ++i) {
      double v = 1e6 + jitter(rng);
      series.Add(i, v);
      series.Evict(i);
      buffer.push_back({i, v});
      ReferenceEvict(&buffer, i, kWindow);
      if (i % 500'000 != 499'999) continue;
      std::vector<Sample> samples = ToVector(buffer);
      for (AggKind kind : {AggKind::kAvg, AggKind::kStddev, AggKind::kSum}) {
        double expected = ReferenceValue(samples, kind);
        EXPECT_NEAR(series.Value(kind), expected, 1e-9 * std::abs(expected))
            << AggKindName(kind) << " noise " << noise << " at " << i;
      }
    }
  }
}

// A ramp keeps moving the mean away from the shift: stddev must stay exact.
TEST(SlidingSeriesTest, StddevStableOnTrend) {
  SlidingSeries series(50, AggBit(AggKind::kStddev));
  std::deque<Sample> buffer;
  for (int64_t i = 0; i < 200'000; ++i) {
    double v = 1e9 + 0.5 * static_cast<double>(i) + 1e-3 * static_cast<double>(i % 7);
    series.Add(i, v);
    series.Evict(i);
    buffer.push_back({i, v});
    ReferenceEvict(&buffer, i, 50);
    if (i % 997 != 0) continue;
    double expected = ReferenceValue(ToVector(buffer), AggKind::kStddev);
    ASSERT_NEAR(series.Value(AggKind::kStddev), expected, 1e-9 * expected) << i;
  }
}

void ExpectBitIdentical(const SlidingSeries& a, const SlidingSeries& b) {
  ASSERT_EQ(a.size(), b.size());
  for (int k = 0; k < kAggKindCount; ++k) {
    auto kind = static_cast<AggKind>(k);
    EXPECT_EQ(std::bit_cast<uint64_t>(a.Value(kind)), std::bit_cast<uint64_t>(b.Value(kind))) << AggKindName(kind);
  }
}

TEST(SlidingSeriesTest, SerializeRoundTrips) {
  StreamGenerator gen(4242);
  for (int stream = 0; stream < 300; ++stream) {
    int64_t window_ms = gen.PickWindow();
    AggMask mask = gen.PickMask();
    SlidingSeries original(window_ms, mask);
    std::vector<Sample> samples = gen.Stream(window_ms);
    size_t cut = gen.Uniform(0, samples.size());
    for (size_t i = 0; i < cut; ++i) {
      original.Add(samples[i].ts, samples[i].value);
      original.Evict(samples[i].ts);
    }
    std::string bytes;
    original.Serialize(&bytes);
    SlidingSeries restored(window_ms, mask);
    ASSERT_TRUE(restored.Deserialize(bytes));
    ExpectBitIdentical(original, restored);
    std::string again;
    restored.Serialize(&again);
    EXPECT_EQ(again, bytes);
    // Both continue identically.
    for (size_t i = cut; i < samples.size(); ++i) {
      original.Add(samples[i].ts, samples[i].value);
      original.Evict(samples[i].ts);
      restored.Add(samples[i].ts, samples[i].value);
      restored.Evict(samples[i].ts);
      ExpectBitIdentical(original, restored);
    }
  }
}

TEST(SlidingSeriesTest, DeserializeRejectsBadInput) {
  SlidingSeries original(1000, kAllAggKinds);
  for (int i = 0; i < 20; ++i) original.Add(i * 10, i * 1.5);
  std::string bytes;
  original.Serialize(&bytes);

  SlidingSeries target(1000, kAllAggKinds);
  target.Add(1, 99.0);
  for (size_t len = 0; len < bytes.size(); ++len) {
    EXPECT_FALSE(target.Deserialize(std::string_view(bytes).substr(0, len))) << len;
  }
  EXPECT_FALSE(target.Deserialize(bytes + "x"));
  EXPECT_EQ(target.size(), 1u);  // unchanged on failure
  EXPECT_EQ(target.Value(AggKind::kLast), 99.0);

  SlidingSeries other_window(2000, kAllAggKinds);
  EXPECT_FALSE(other_window.Deserialize(bytes));
  SlidingSeries other_kinds(1000, AggBit(AggKind::kAvg));
  EXPECT_FALSE(other_kinds.Deserialize(bytes));
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_FALSE(target.Deserialize(bad_version));
}

TEST(SlidingSeriesTest, MemoryGrowsAndShrinks) {
  SlidingSeries series(1000, kAllAggKinds);
  size_t empty_bytes = series.MemoryBytes();
  for (int i = 0; i < 10000; ++i) series.Add(0, i);
  size_t burst_bytes = series.MemoryBytes();
  EXPECT_GT(burst_bytes, empty_bytes + 10000 * 16);
  series.Add(2000, 1.0);
  series.Evict(2000);
  EXPECT_EQ(series.size(), 1u);
  EXPECT_LT(series.MemoryBytes(), burst_bytes / 2);
}

TEST(EwmaTest, FollowsDefinition) {
  Ewma ewma(/*tau_ms=*/10'000);
  EXPECT_TRUE(std::isnan(ewma.Value()));
  ewma.Add(1000, 10.0);
  EXPECT_EQ(ewma.Value(), 10.0);
  ewma.Add(1000, 50.0);  // same ts: weight 0
  EXPECT_EQ(ewma.Value(), 10.0);
  ewma.Add(11'000, 20.0);  // dt = tau
  double expected = 10.0 + (1.0 - std::exp(-1.0)) * 10.0;
  EXPECT_NEAR(ewma.Value(), expected, 1e-12);
  ewma.Add(5000, 1000.0);  // late: weight 0, time does not go back
  EXPECT_NEAR(ewma.Value(), expected, 1e-12);
  ewma.Add(12'000, 0.0);  // dt = 1 s since the newest sample (11 s)
  expected += (1.0 - std::exp(-0.1)) * (0.0 - expected);
  EXPECT_NEAR(ewma.Value(), expected, 1e-12);
}

TEST(EwmaTest, SerializeRoundTrips) {
  Ewma ewma(60'000);
  std::string empty_bytes;
  ewma.Serialize(&empty_bytes);
  ewma.Add(100, 3.0);
  ewma.Add(700, 9.0);
  std::string bytes;
  ewma.Serialize(&bytes);
  Ewma restored(60'000);
  ASSERT_TRUE(restored.Deserialize(bytes));
  EXPECT_EQ(std::bit_cast<uint64_t>(restored.Value()), std::bit_cast<uint64_t>(ewma.Value()));
  EXPECT_EQ(restored.last_ts, 700);
  ASSERT_TRUE(restored.Deserialize(empty_bytes));
  EXPECT_TRUE(std::isnan(restored.Value()));
  EXPECT_FALSE(restored.Deserialize(bytes.substr(1)));
}

}  // namespace
}  // namespace vigil::rules
