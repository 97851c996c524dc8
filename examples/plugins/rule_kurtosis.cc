// rule_kurtosis: raises when the rolling excess kurtosis of a vibration
// field over the last `samples` readings of a key exceeds `limit`, and
// clears once it falls back to `clear_below` (default: limit), a sign of
// impulsive bearing faults that an average or a threshold misses.
//
//   - name: bearing-impulses
//     key: [device]
//     plugin:
//       path: ./librule_kurtosis.so
//       config: {field: vib, samples: 64, limit: 4, clear_below: 3}
//
// State per key (the last `samples` readings) is snapshotted at every
// checkpoint and restored after a restart, so a kill -9 loses nothing.
#include <vigil/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace {

class Kurtosis final : public vigil::plugin::Rule {
 public:
  static constexpr const char* kName = "kurtosis";
  static constexpr const char* kVersion = "1.0.0";
  static constexpr const char* kDescription = "rolling excess kurtosis of a field over the last N samples";
  static constexpr vigil_config_key kConfig[] = {
      {"field", VIGIL_CONFIG_STRING, 1, "the numeric field to watch, e.g. vib"},
      {"samples", VIGIL_CONFIG_INTEGER, 0, "window length in readings, 8..100000 (default 64)"},
      {"limit", VIGIL_CONFIG_NUMBER, 1, "raise when the excess kurtosis exceeds this"},
      {"clear_below", VIGIL_CONFIG_NUMBER, 0, "clear when it falls to this or below (default: limit)"},
  };

  explicit Kurtosis(const vigil::plugin::Host& host)
      : Rule(host),
        field_(host.Field(host.StringOr("field", ""))),
        samples_(static_cast<size_t>(host.NumberOr("samples", 64))),
        limit_(host.NumberOr("limit", 0)),
        clear_below_(host.NumberOr("clear_below", limit_)) {
    if (samples_ < 8 || samples_ > 100000) throw vigil::plugin::Error("samples must be between 8 and 100000");
    if (clear_below_ > limit_) throw vigil::plugin::Error("clear_below must not exceed limit");
  }

  void OnEvent(const vigil::plugin::Event& e, vigil::plugin::Emitter& emit) override {
    const auto v = e.field(field_);
    if (!v) return;
    Window& w = windows_[e.key()];
    w.Add(*v, samples_);
    if (w.values.size() < samples_) return;
    const double k = w.ExcessKurtosis();
    if (k > limit_) {
      emit.Raise(e.key(), e.ts(), k);
    } else if (k <= clear_below_) {
      emit.Clear(e.key(), e.ts(), k);
    }
  }

  // Snapshot: the count, the ring position, then the readings.
  void Snapshot(uint64_t key, vigil::plugin::Buffer& out) override {
    auto it = windows_.find(key);
    if (it == windows_.end()) return;
    const Window& w = it->second;
    out.Put<uint32_t>(static_cast<uint32_t>(w.values.size()));
    out.Put<uint32_t>(static_cast<uint32_t>(w.next));
    for (double x : w.values) out.Put<double>(x);
  }

  void Restore(uint64_t key, vigil::plugin::Reader& in) override {
    const uint32_t n = in.Get<uint32_t>();
    const uint32_t next = in.Get<uint32_t>();
    if (n > samples_ || next > n || in.remaining() != n * sizeof(double)) {
      throw vigil::plugin::Error("snapshot does not fit samples=" + std::to_string(samples_));
    }
    Window w;
    w.values.resize(n);
    for (uint32_t i = 0; i < n; ++i) w.values[i] = in.Get<double>();
    w.next = next;
    windows_[key] = std::move(w);
  }

  void Forget(uint64_t key) override { windows_.erase(key); }

 private:
  // The last N readings of one key (a ring once full).
  struct Window {
    std::vector<double> values;
    size_t next = 0;
    void Add(double x, size_t n) {
      if (values.size() < n) {
        values.push_back(x);
        return;
      }
      values[next] = x;
      next = (next + 1) % n;
    }
    // Sample excess kurtosis m4 / m2^2 - 3 (0 for a constant signal).
    double ExcessKurtosis() const {
      double mean = 0;
      for (double x : values) mean += x;
      mean /= static_cast<double>(values.size());
      double m2 = 0, m4 = 0;
      for (double x : values) {
        const double d = (x - mean) * (x - mean);
        m2 += d;
        m4 += d * d;
      }
      m2 /= static_cast<double>(values.size());
      m4 /= static_cast<double>(values.size());
      return m2 > 0 ? m4 / (m2 * m2) - 3.0 : 0.0;
    }
  };

  int32_t field_;
  size_t samples_;
  double limit_;
  double clear_below_;
  std::unordered_map<uint64_t, Window> windows_;
};

}  // namespace

VIGIL_PLUGIN(Kurtosis)
