// Ewma: the state behind `ewma(x, tau)` of event rules, an exponentially
// weighted moving average in event time. Thread-safety: none; owned by the
// shard that owns the key.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "aggregate/agg_math.h"
#include "vigil/engine/codec.h"

namespace vigil::rules {

// s starts at the first sample; each later sample moves it by
// (1 - exp(-dt / tau)) * (x - s), where dt = ts - last_ts clamped to >= 0.
// last_ts is the highest ts seen so far, so a sample with the same ts as the
// previous one, or a late one (ts below last_ts), has weight 0 and does not
// move time back: the next on-time sample weighs only the time since the
// newest sample, not the time since the late one.
struct Ewma {
  explicit Ewma(int64_t tau_ms) : tau_ms(tau_ms) {}

  void Add(int64_t ts, double x) {
    if (!has_value) {
      s = x;
      last_ts = ts;
      has_value = true;
      return;
    }
    if (ts <= last_ts) return;  // weight 0
    double dt = static_cast<double>(ts - last_ts);
    // 1 - exp(-dt/tau), accurate for dt << tau. tau <= 0 (rejected at load)
    // degenerates to "follow the newest sample".
    double weight = tau_ms > 0 ? -std::expm1(-dt / static_cast<double>(tau_ms)) : 1.0;
    s += weight * (x - s);
    last_ts = ts;
  }

  // NaN (NULL) before the first sample.
  double Value() const { return has_value ? s : kNull; }

  // Appends s, last_ts, has_value (tau is configuration, not state).
  void Serialize(std::string* out) const {
    PutFixed8(out, has_value ? 1 : 0);
    PutDouble(out, s);
    PutInt64(out, last_ts);
  }

  // False, leaving this unchanged, on truncated or trailing input.
  bool Deserialize(std::string_view in) {
    Decoder dec(in);
    uint8_t flag = 0;
    double value = 0.0;
    int64_t ts = 0;
    if (!dec.GetFixed8(&flag) || flag > 1 || !dec.GetDouble(&value) || !dec.GetInt64(&ts) || !dec.AtEnd()) {
      return false;
    }
    has_value = flag == 1;
    s = value;
    last_ts = ts;
    return true;
  }

  int64_t tau_ms;
  double s = 0.0;
  int64_t last_ts = 0;
  bool has_value = false;
};

}  // namespace vigil::rules
