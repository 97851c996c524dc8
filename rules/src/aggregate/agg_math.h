// Numeric building blocks shared by SlidingSeries and WindowAccumulator: an
// error-free-transformation (TwoSum) compensated sum that also supports
// removal, numpy's default ("linear") quantile on a sorted range, and the
// NULL value. They rely on IEEE-754 semantics: never build this code with
// -ffast-math (it would fold the compensation away). Thread-safety: plain
// values, no shared state.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

namespace vigil::rules {

// NULL of the expression language.
inline constexpr double kNull = std::numeric_limits<double>::quiet_NaN();

// Sum with a running compensation term (Knuth's TwoSum, branch-free): the
// rounding error of every addition is captured exactly and accumulated in
// `comp`, so adding then removing (adding the negation of) the same values
// leaves an error of a few ulps of the true sum instead of a drift that grows
// with the number of operations.
struct CompensatedSum {
  double sum = 0.0;
  double comp = 0.0;

  void Add(double x) {
    double t = sum + x;
    double bp = t - sum;
    comp += (sum - (t - bp)) + (x - bp);
    sum = t;
  }
  double Value() const { return sum + comp; }
};

// numpy.quantile(a, q) with the default method "linear": position
// q * (n - 1), interpolated between the two closest ranks exactly as numpy's
// _lerp does (from the upper rank when the fraction is >= 0.5). `sorted`
// holds n >= 1 values in ascending order.
inline double LinearQuantileSorted(const double* sorted, size_t n, double q) {
  double pos = q * static_cast<double>(n - 1);
  size_t lo = static_cast<size_t>(pos);  // pos >= 0: truncation is floor
  double gamma = pos - static_cast<double>(lo);
  if (lo > n - 1) lo = n - 1;
  size_t hi = std::min(lo + 1, n - 1);
  double a = sorted[lo];
  double b = sorted[hi];
  double diff = b - a;
  if (gamma >= 0.5) return b - diff * (1.0 - gamma);
  return a + diff * gamma;
}

}  // namespace vigil::rules
