// WindowAccumulator: the aggregates of one field inside one window of a
// window rule (`avg(temp)`, `p95(lat)` ...). Add-only: a window gains samples
// until it closes and is then evaluated and dropped or Clear()ed.
//
// Thread-safety: none. Owned by the shard that owns the window's key; Value()
// is const but may sort the retained values in place (mutable), so even
// concurrent readers need the owning thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "aggregate/agg_kind.h"
#include "aggregate/agg_math.h"

namespace vigil::rules {

// Every kind except the percentiles costs O(1) memory and time per Add and
// is always maintained. Raw values are retained only when `kinds` holds a
// percentile; Value() of a percentile not configured returns NaN.
// Definitions are exactly those of SlidingSeries (first/last/changes in
// arrival order). Copyable and movable.
class WindowAccumulator {
 public:
  explicit WindowAccumulator(AggMask kinds);

  // `v` must not be NaN.
  void Add(int64_t ts, double v);

  // count of nothing is 0, anything else of nothing NaN; see SlidingSeries.
  double Value(AggKind kind) const;

  // Empties the accumulator for the next window, keeping its buffer.
  void Clear();

  uint64_t count() const { return count_; }
  AggMask kinds() const { return kinds_; }
  size_t MemoryBytes() const;

  // Appends the state to `*out`. Deserialize() into an accumulator built
  // with the same kinds restores it exactly; it returns false, leaving this
  // unchanged, on truncated, trailing or mismatched input.
  void Serialize(std::string* out) const;
  bool Deserialize(std::string_view in);

 private:
  AggMask kinds_;
  bool keep_values_;

  uint64_t count_ = 0;
  CompensatedSum sum_;
  // Moments on v - shift_, shift_ = the first value: since shift_ is a
  // sample, (mean - shift)^2 <= n * variance, which bounds the cancellation.
  double shift_ = 0.0;
  CompensatedSum shifted_sum_;
  CompensatedSum shifted_squares_;
  double min_ = 0.0;
  double max_ = 0.0;
  double first_ = 0.0;
  double last_ = 0.0;
  int64_t first_ts_ = 0;
  int64_t last_ts_ = 0;
  uint64_t changes_ = 0;
  // Arrival order until a percentile is asked, then sorted in place.
  mutable std::vector<double> values_;
  mutable bool values_sorted_ = true;
};

}  // namespace vigil::rules
