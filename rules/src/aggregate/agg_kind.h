// AggKind: the aggregate functions of the expression language (`avg(x, 5m)`,
// `p95(x)` inside a window rule, ...), their names, and AggMask, the bitmask a
// SlidingSeries or WindowAccumulator is configured with to say which kinds it
// must answer. Thread-safety: constants and pure functions only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vigil::rules {

enum class AggKind {
  kAvg,
  kMin,
  kMax,
  kSum,
  kCount,
  kStddev,
  kFirst,
  kLast,
  kDelta,
  kRate,
  kChanges,
  kP50,
  kP90,
  kP95,
  kP99,
};

inline constexpr int kAggKindCount = 15;

// One bit per AggKind; bit i is AggKind with value i.
using AggMask = uint32_t;

constexpr AggMask AggBit(AggKind kind) { return AggMask{1} << static_cast<int>(kind); }

inline constexpr AggMask kAllAggKinds = (AggMask{1} << kAggKindCount) - 1;
inline constexpr AggMask kPercentileKinds =
    AggBit(AggKind::kP50) | AggBit(AggKind::kP90) | AggBit(AggKind::kP95) | AggBit(AggKind::kP99);

constexpr bool HasKind(AggMask mask, AggKind kind) { return (mask & AggBit(kind)) != 0; }
constexpr bool IsPercentile(AggKind kind) { return HasKind(kPercentileKinds, kind); }

// The quantile of a percentile kind as numpy receives it (p / 100, e.g. 0.95);
// 0 for the other kinds.
constexpr double QuantileOf(AggKind kind) {
  switch (kind) {
    case AggKind::kP50: return 0.50;
    case AggKind::kP90: return 0.90;
    case AggKind::kP95: return 0.95;
    case AggKind::kP99: return 0.99;
    default: return 0.0;
  }
}

// The name used in rules files ("avg", "p95", ...). Never null.
constexpr const char* AggKindName(AggKind kind) {
  switch (kind) {
    case AggKind::kAvg: return "avg";
    case AggKind::kMin: return "min";
    case AggKind::kMax: return "max";
    case AggKind::kSum: return "sum";
    case AggKind::kCount: return "count";
    case AggKind::kStddev: return "stddev";
    case AggKind::kFirst: return "first";
    case AggKind::kLast: return "last";
    case AggKind::kDelta: return "delta";
    case AggKind::kRate: return "rate";
    case AggKind::kChanges: return "changes";
    case AggKind::kP50: return "p50";
    case AggKind::kP90: return "p90";
    case AggKind::kP95: return "p95";
    case AggKind::kP99: return "p99";
  }
  return "?";
}

// Exact, case-sensitive match of a rules-file name; nullopt for anything else
// (including `ewma`, which is not an aggregate over a buffer).
constexpr std::optional<AggKind> AggKindFromName(std::string_view name) {
  for (int i = 0; i < kAggKindCount; ++i) {
    auto kind = static_cast<AggKind>(i);
    if (name == AggKindName(kind)) return kind;
  }
  return std::nullopt;
}

}  // namespace vigil::rules
