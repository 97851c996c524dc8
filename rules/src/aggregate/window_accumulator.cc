// WindowAccumulator implementation; see window_accumulator.h. Single-threaded:
// owned by one shard.
#include "aggregate/window_accumulator.h"

#include <algorithm>
#include <cmath>

#include "vigil/engine/codec.h"

namespace vigil::rules {
namespace {

constexpr uint8_t kSerialVersion = 1;

}  // namespace

WindowAccumulator::WindowAccumulator(AggMask kinds)
    : kinds_(kinds & kAllAggKinds), keep_values_((kinds & kPercentileKinds) != 0) {}

void WindowAccumulator::Add(int64_t ts, double v) {
  if (count_ == 0) {
    shift_ = v;
    min_ = max_ = first_ = v;
    first_ts_ = ts;
  } else {
    if (v != last_) ++changes_;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  last_ = v;
  last_ts_ = ts;
  ++count_;
  sum_.Add(v);
  double d = v - shift_;
  shifted_sum_.Add(d);
  shifted_squares_.Add(d * d);
  if (keep_values_) {
    values_.push_back(v);
    values_sorted_ = values_.size() == 1;
  }
}

double WindowAccumulator::Value(AggKind kind) const {
  if (kind == AggKind::kCount) return static_cast<double>(count_);
  if (count_ == 0) return kNull;
  double n = static_cast<double>(count_);
  switch (kind) {
    case AggKind::kAvg: return sum_.Value() / n;
    case AggKind::kSum: return sum_.Value();
    case AggKind::kMin: return min_;
    case AggKind::kMax: return max_;
    case AggKind::kStddev: {
      if (count_ == 1) return 0.0;
      double mean_d = shifted_sum_.Value() / n;
      double var = shifted_squares_.Value() / n - mean_d * mean_d;
      return var > 0.0 ? std::sqrt(var) : 0.0;
    }
    case AggKind::kFirst: return first_;
    case AggKind::kLast: return last_;
    case AggKind::kDelta: return last_ - first_;
    case AggKind::kRate:
      if (count_ < 2 || last_ts_ == first_ts_) return kNull;
      return (last_ - first_) / (static_cast<double>(last_ts_ - first_ts_) / 1000.0);
    case AggKind::kChanges: return static_cast<double>(changes_);
    case AggKind::kP50:
    case AggKind::kP90:
    case AggKind::kP95:
    case AggKind::kP99:
      if (!keep_values_) return kNull;
      if (!values_sorted_) {
        std::sort(values_.begin(), values_.end());
        values_sorted_ = true;
      }
      return LinearQuantileSorted(values_.data(), values_.size(), QuantileOf(kind));
    case AggKind::kCount: break;
  }
  return kNull;
}

void WindowAccumulator::Clear() {
  AggMask kinds = kinds_;
  std::vector<double> values = std::move(values_);
  values.clear();
  *this = WindowAccumulator(kinds);
  values_ = std::move(values);
}

size_t WindowAccumulator::MemoryBytes() const { return sizeof(*this) + values_.capacity() * sizeof(double); }

// Layout (little-endian): u8 version, u32 kinds, u64 count, f64 sum, sum
// comp, shift, shifted sum, comp, shifted squares, comp, min, max, first,
// last, i64 first_ts, last_ts, u64 changes, u64 value count, f64 values.
void WindowAccumulator::Serialize(std::string* out) const {
  PutFixed8(out, kSerialVersion);
  PutFixed32(out, kinds_);
  PutFixed64(out, count_);
  PutDouble(out, sum_.sum);
  PutDouble(out, sum_.comp);
  PutDouble(out, shift_);
  PutDouble(out, shifted_sum_.sum);
  PutDouble(out, shifted_sum_.comp);
  PutDouble(out, shifted_squares_.sum);
  PutDouble(out, shifted_squares_.comp);
  PutDouble(out, min_);
  PutDouble(out, max_);
  PutDouble(out, first_);
  PutDouble(out, last_);
  PutInt64(out, first_ts_);
  PutInt64(out, last_ts_);
  PutFixed64(out, changes_);
  PutFixed64(out, values_.size());
  for (double v : values_) PutDouble(out, v);
}

bool WindowAccumulator::Deserialize(std::string_view in) {
  Decoder dec(in);
  uint8_t version = 0;
  uint32_t kinds = 0;
  if (!dec.GetFixed8(&version) || version != kSerialVersion) return false;
  if (!dec.GetFixed32(&kinds) || kinds != kinds_) return false;
  WindowAccumulator restored(kinds_);
  uint64_t value_count = 0;
  bool ok = dec.GetFixed64(&restored.count_) && dec.GetDouble(&restored.sum_.sum) &&
            dec.GetDouble(&restored.sum_.comp) && dec.GetDouble(&restored.shift_) &&
            dec.GetDouble(&restored.shifted_sum_.sum) && dec.GetDouble(&restored.shifted_sum_.comp) &&
            dec.GetDouble(&restored.shifted_squares_.sum) && dec.GetDouble(&restored.shifted_squares_.comp) &&
            dec.GetDouble(&restored.min_) && dec.GetDouble(&restored.max_) && dec.GetDouble(&restored.first_) &&
            dec.GetDouble(&restored.last_) && dec.GetInt64(&restored.first_ts_) &&
            dec.GetInt64(&restored.last_ts_) && dec.GetFixed64(&restored.changes_) &&
            dec.GetFixed64(&value_count);
  if (!ok) return false;
  uint64_t expected_values = keep_values_ ? restored.count_ : 0;
  if (value_count != expected_values || value_count > dec.remaining() / 8) return false;
  restored.values_.resize(value_count);
  for (double& v : restored.values_) {
    if (!dec.GetDouble(&v) || std::isnan(v)) return false;
  }
  if (!dec.AtEnd()) return false;
  restored.values_sorted_ = std::is_sorted(restored.values_.begin(), restored.values_.end());
  *this = std::move(restored);
  return true;
}

}  // namespace vigil::rules
