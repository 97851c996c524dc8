// WarehouseGenerator and the `vigil sim` options: value model, anomaly plan,
// event-time merge and line formatting.
//
// Determinism across platforms rests on three choices: a hand-written PRNG
// (xoshiro256** seeded by splitmix64), a value model in integers only
// (temperature in hundredths of °C, humidity in tenths of %, a parabolic
// day curve instead of sin, Irwin–Hall noise instead of Box–Muller), and a
// fixed number of PRNG draws per reading so that enabling an anomaly never
// shifts the random stream of readings it does not touch. Each device owns
// its PRNG; each anomaly kind plans from its own PRNG. Single-threaded.
#include "sim/warehouse_sim.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <limits>
#include <utility>

namespace vigil::sim {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;
constexpr int kMaxDevices = 1000000;
constexpr size_t kMaxZoneName = 64;
// 9999-12-31T23:59:59.999Z: the last time ISO-8601 output can spell.
constexpr int64_t kMaxTimeMs = 253402300799999;
constexpr size_t kChunkBytes = 1 << 20;
constexpr size_t kMaxLine = 512;
// ,"device":"d-999999","zone":"" (31 bytes) plus a zone name.
constexpr size_t kMaxPrefix = 32 + kMaxZoneName;
// Relative heap times stay below 2^43 ms: a run (see SpanFits) lasts at most
// a quarter of that, about 69 years.
constexpr int64_t kMaxRelativeMs = int64_t{1} << 43;

// Per-million chances, per reading.
constexpr int64_t kMissingTempPpm = 5000;
constexpr int64_t kMissingHumPpm = 5000;
constexpr int64_t kMalformedPpm = 2000;

constexpr std::array<std::string_view, 5> kAnomalyNames = {"spike", "drift", "dropout", "stuck",
                                                           "malformed"};

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Mixes a stream id into the seed so that streams are independent.
uint64_t StreamSeed(uint64_t seed, uint64_t stream) {
  uint64_t s = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
  return SplitMix64(&s);
}

// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) {
    for (auto& word : s_) word = SplitMix64(&seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [lo, hi] (modulo bias below 2^-40 for the ranges used here).
  int64_t Uniform(int64_t lo, int64_t hi) {
    const uint64_t range = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Next() % range);
  }

  // Approximately normal with standard deviation `sigma`, rounded to an
  // integer: the sum of four 16-bit uniforms (Irwin–Hall), so tails stop at
  // about 3.46 sigma.
  int64_t Normal(int64_t sigma) {
    const uint64_t x = Next();
    const int64_t sum = static_cast<int64_t>((x & 0xffff) + ((x >> 16) & 0xffff) +
                                             ((x >> 32) & 0xffff) + (x >> 48));
    const int64_t centered = sum - 131070;  // 4 * 65535 / 2
    constexpr int64_t kSd = 37837;          // 65536 * sqrt(4 / 12)
    const int64_t scaled = 2 * centered * sigma;
    return (scaled + (scaled >= 0 ? kSd : -kSd)) / (2 * kSd);
  }

  bool Chance(int64_t ppm) { return static_cast<int64_t>(Next() % 1000000) < ppm; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

enum class AnomalyKind { kSpike, kDrift, kDropout, kStuck };

struct Episode {
  AnomalyKind kind;
  int64_t begin_ms;
  int64_t end_ms;  // exclusive
  int64_t magnitude;  // spike: target temp; drift: full offset (hundredths °C)
  int64_t ramp_ms = 0;  // drift: time to reach the full offset
  bool Covers(int64_t ts) const { return ts >= begin_ms && ts < end_ms; }
};

// Hot fields first; the JSON prefix lives inline so that formatting a line
// touches one device record and nothing else.
struct Device {
  Rng rng;
  int64_t phase_ms = 0;
  int64_t next_k = 0;
  int64_t base_temp = 0;   // hundredths °C
  int64_t temp_amp = 0;    // day curve amplitude, hundredths °C
  int64_t base_hum = 0;    // tenths %
  int64_t hum_amp = 0;     // tenths %
  int64_t day_shift_ms = 0;
  int64_t wander = 0;      // AR(1) slow wander, hundredths °C
  int64_t stuck_temp = 0;
  bool stuck_active = false;
  uint8_t prefix_len = 0;
  int zone = 0;
  std::vector<Episode> episodes;
  char prefix[kMaxPrefix];  // ,"device":"d-0017","zone":"sud"
  std::string name;         // d-0017
};

// Heap key: event time relative to the start above the device index, so one
// integer comparison orders by (ts, device). ValidateSimOptions keeps
// relative times below 2^43 ms and devices below 2^20.
constexpr int kDeviceBits = 20;

uint64_t HeapKey(int64_t relative_ts, int device) {
  return (static_cast<uint64_t>(relative_ts) << kDeviceBits) | static_cast<uint64_t>(device);
}

enum class Malformation { kNone, kTruncated, kBracket, kTrailingBrace };

struct Reading {
  int64_t temp = 0;  // hundredths °C
  int64_t hum = 0;   // tenths %
  bool has_temp = true;
  bool has_hum = true;
  Malformation malformation = Malformation::kNone;
  uint64_t cut = 0;  // where a truncated line ends, before reduction
};

char* AppendInt(char* p, int64_t v) { return std::to_chars(p, p + 24, v).ptr; }

char* AppendDigits(char* p, int64_t v, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + width;
}

// Writes v / 10^decimals the way Python's repr writes round(x, decimals):
// trailing zeros dropped, but at least one decimal ("22.0", "22.4", "23.41").
char* AppendFixed(char* p, int64_t v, int decimals) {
  if (v < 0) {
    *p++ = '-';
    v = -v;
  }
  const int64_t scale = decimals == 2 ? 100 : 10;
  p = AppendInt(p, v / scale);
  *p++ = '.';
  int64_t frac = v % scale;
  if (decimals == 2 && frac % 10 == 0) {
    frac /= 10;
    decimals = 1;
  }
  return AppendDigits(p, frac, decimals);
}

std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto part : parts) s.append(part);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// Writes "YYYY-MM-DDT" for a day count >= 0 (H. Hinnant's civil_from_days).
char* AppendIsoDate(char* p, int64_t days) {
  const int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2);
  p = AppendDigits(p, y, 4);
  *p++ = '-';
  p = AppendDigits(p, m, 2);
  *p++ = '-';
  p = AppendDigits(p, d, 2);
  *p++ = 'T';
  return p;
}

// The day curve, in thousandths: about sin(2π(t − 9h)/24h), zero at 09:00
// and 21:00 UTC, +1000 at 15:00, −1000 at 03:00. Two parabolas (within 6%
// of the sine), integers only.
int64_t DayCurve(int64_t time_of_day_ms) {
  constexpr int64_t kHalf = kDay / 2;
  int64_t u = ((time_of_day_ms - 9 * kHour) % kDay + kDay) % kDay;
  int64_t sign = 1;
  if (u >= kHalf) {
    u -= kHalf;
    sign = -1;
  }
  return sign * (4000 * u * (kHalf - u) / (kHalf * kHalf));
}

int AlertLevel(int64_t temp) {
  if (temp >= 3500) return 3;
  if (temp >= 3000) return 2;
  if (temp >= 2700) return 1;
  return 0;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string ValidAnomalyList() {
  std::string s;
  for (auto name : kAnomalyNames) s.append(name).append(", ");
  return s + "all";
}

bool IsBadZoneChar(unsigned char c) {
  return c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '/' || c == '+' || c == '#';
}

Status ValidateZone(const std::string& zone) {
  if (zone.empty()) return Status::InvalidArgument("--zones: empty zone name; expected names like nord,sud");
  if (zone.size() > kMaxZoneName) {
    return Status::InvalidArgument(Cat({"--zones: zone name '", zone, "' is longer than 64 bytes"}));
  }
  for (unsigned char c : zone) {
    if (IsBadZoneChar(c)) {
      return Status::InvalidArgument(
          Cat({"--zones: zone name '", zone,
               "' contains a character that is not allowed ('\"', '\\', '/', '+', '#' or a control character)"}));
    }
  }
  return Status::Ok();
}

// Event time covered by the run: duration, or in count mode enough periods
// for every device to report ceil(count / devices) times, plus one.
int64_t PlannedSpan(const SimOptions& opts) {
  if (opts.count <= 0) return opts.duration_ms;
  const int64_t rounds = opts.count / opts.devices + 2;
  return rounds * opts.period_ms;
}

// Silences all end within the planned span, so a count run needs at most
// twice the span plus a period; a quarter of the room leaves margin.
bool SpanFits(const SimOptions& opts) {
  const int64_t quarter = std::min(kMaxTimeMs - opts.start_ms, kMaxRelativeMs) / 4;
  if (opts.period_ms > quarter) return false;
  if (opts.count <= 0) return opts.duration_ms <= quarter;
  const int64_t rounds = opts.count / opts.devices + 2;
  return rounds <= quarter / opts.period_ms;
}

}  // namespace

Status ValidateSimOptions(const SimOptions& opts) {
  if (opts.devices < 1 || opts.devices > kMaxDevices) {
    return Status::InvalidArgument("--devices: expected 1..1000000, found " + std::to_string(opts.devices));
  }
  if (opts.zones.empty()) return Status::InvalidArgument("--zones: expected at least one zone name");
  for (size_t i = 0; i < opts.zones.size(); ++i) {
    Status s = ValidateZone(opts.zones[i]);
    if (!s.ok()) return s;
    for (size_t j = 0; j < i; ++j) {
      if (opts.zones[j] == opts.zones[i]) {
        return Status::InvalidArgument(Cat({"--zones: zone '", opts.zones[i], "' is listed twice"}));
      }
    }
  }
  if (opts.period_ms <= 0) {
    return Status::InvalidArgument("--period: expected a positive duration such as 10s, found " +
                                   std::to_string(opts.period_ms) + " ms");
  }
  if (opts.count < 0) {
    return Status::InvalidArgument("--count: expected a number of lines >= 0, found " + std::to_string(opts.count));
  }
  if (opts.count == 0 && opts.duration_ms <= 0) {
    return Status::InvalidArgument("--duration: expected a positive duration such as 6h, found " +
                                   std::to_string(opts.duration_ms) + " ms (or give --count N)");
  }
  if (opts.start_ms < 0 || opts.start_ms > kMaxTimeMs) {
    return Status::InvalidArgument("--start: expected an epoch-ms time between 1970 and 9999, found " +
                                   std::to_string(opts.start_ms));
  }
  if (!SpanFits(opts)) {
    return Status::InvalidArgument(
        "--duration/--count/--period: the run would last more than 69 years or end after year 9999; shorten it");
  }
  for (const auto& name : opts.anomalies) {
    if (name == "all" ||
        std::find(kAnomalyNames.begin(), kAnomalyNames.end(), name) != kAnomalyNames.end()) {
      continue;
    }
    std::string msg = Cat({"--anomalies: unknown anomaly '", name, "'"});
    std::string_view best;
    size_t best_distance = 3;
    for (auto candidate : kAnomalyNames) {
      const size_t d = EditDistance(name, candidate);
      if (d < best_distance) {
        best_distance = d;
        best = candidate;
      }
    }
    if (!best.empty()) msg += Cat({" (did you mean '", best, "'?)"});
    return Status::InvalidArgument(msg + "; valid: " + ValidAnomalyList());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------

struct WarehouseGenerator::Impl {
  SimOptions opts;
  std::vector<Device> devices;
  std::vector<std::vector<Episode>> zone_dropouts;  // indexed by zone
  std::vector<uint64_t> heap;                         // 4-ary min-heap of HeapKey
  int64_t end_ms = 0;                                 // duration mode only
  int64_t emitted = 0;
  int last_device = -1;
  bool malformed_on = false;
  int64_t iso_day = -1;  // cached date prefix for kIso
  char iso_date[12] = {};

  explicit Impl(const SimOptions& o);
  void MakeDevices();
  void PlanAnomalies();
  int64_t ScheduleTs(Device& d, int64_t k);
  bool IsSilent(const Device& d, int64_t ts) const;
  Reading Sample(Device& d, int64_t ts);
  size_t Format(const Device& d, int64_t ts, const Reading& r, char* buf);
  char* AppendTs(char* p, int64_t ts);
  void SiftDown();
  size_t Produce(char* buf, int64_t* ts_ms);
};

WarehouseGenerator::Impl::Impl(const SimOptions& o) : opts(o) {
  for (const auto& name : opts.anomalies) malformed_on |= name == "malformed" || name == "all";
  end_ms = opts.start_ms + opts.duration_ms;
  MakeDevices();
  PlanAnomalies();
  heap.reserve(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    heap.push_back(HeapKey(ScheduleTs(devices[i], 0) - opts.start_ms, static_cast<int>(i)));
  }
  std::sort(heap.begin(), heap.end());  // a sorted array is a heap
}

void WarehouseGenerator::Impl::MakeDevices() {
  devices.resize(opts.devices);
  const int64_t zones = static_cast<int64_t>(opts.zones.size());
  for (int i = 0; i < opts.devices; ++i) {
    Device& d = devices[i];
    d.rng = Rng(StreamSeed(opts.seed, 1000 + static_cast<uint64_t>(i)));
    char digits[24];
    char* end = AppendInt(digits, i);
    const size_t n = end - digits;
    d.name = "d-" + std::string(n < 4 ? 4 - n : 0, '0') + std::string(digits, n);
    d.zone = static_cast<int>(i % zones);
    const std::string prefix = Cat({",\"device\":\"", d.name, "\",\"zone\":\"", opts.zones[d.zone], "\""});
    std::memcpy(d.prefix, prefix.data(), prefix.size());
    d.prefix_len = static_cast<uint8_t>(prefix.size());
    // Reading k lands in [k*period, (k+1)*period): phase below 0.8 period,
    // jitter below 0.2 period.
    d.phase_ms = d.rng.Uniform(0, std::max<int64_t>(0, opts.period_ms * 4 / 5 - 1));
    d.base_temp = d.rng.Uniform(1900, 2600);
    d.temp_amp = d.rng.Uniform(40, 120);
    d.base_hum = d.rng.Uniform(300, 650);
    d.hum_amp = d.rng.Uniform(20, 50);
    d.day_shift_ms = d.rng.Uniform(-kHour, kHour);
    d.wander = d.rng.Normal(25);
  }
}

void WarehouseGenerator::Impl::PlanAnomalies() {
  bool on[5] = {};
  for (const auto& name : opts.anomalies) {
    for (size_t i = 0; i < kAnomalyNames.size(); ++i) on[i] |= name == kAnomalyNames[i] || name == "all";
  }
  const int64_t span = PlannedSpan(opts);
  // A few episodes per kind: more for longer runs and larger fleets.
  const int64_t base = 2 + span / (2 * kHour);
  const int64_t per_kind = std::min<int64_t>(64, base * (1 + opts.devices / 100));
  const int64_t per_device_kind = std::min<int64_t>(per_kind, opts.devices);
  const int64_t period = opts.period_ms;
  auto place = [&](Rng& rng, int64_t len) {
    len = std::max<int64_t>(1, std::min(len, std::max<int64_t>(1, span / 2)));
    const int64_t lo = span / 20;
    const int64_t hi = std::max(lo, span - len - span / 20);
    const int64_t begin = opts.start_ms + rng.Uniform(lo, hi);
    return std::pair<int64_t, int64_t>(begin, begin + len);
  };
  auto add = [&](Rng& rng, AnomalyKind kind, int64_t len, int64_t magnitude) -> Episode& {
    const int64_t device = rng.Uniform(0, opts.devices - 1);
    auto [begin, end] = place(rng, len);
    return devices[device].episodes.emplace_back(Episode{kind, begin, end, magnitude});
  };

  if (on[0]) {  // spike: 7..14 periods at 31..39 °C, so `for: 30s` fires
    Rng rng(StreamSeed(opts.seed, 1));
    for (int64_t i = 0; i < per_device_kind; ++i) {
      const int64_t len = rng.Uniform(7, 14) * period;
      add(rng, AnomalyKind::kSpike, len, rng.Uniform(3100, 3900));
    }
  }
  if (on[1]) {  // drift: ±3..6 °C over 20..60 min (at least 10 periods), then stays off
    Rng rng(StreamSeed(opts.seed, 2));
    for (int64_t i = 0; i < per_device_kind; ++i) {
      const int64_t len = std::max(rng.Uniform(20, 60) * kMinute, 10 * period);
      const int64_t offset = rng.Uniform(300, 600) * (rng.Uniform(0, 3) == 0 ? -1 : 1);
      Episode& e = add(rng, AnomalyKind::kDrift, len, offset);
      e.ramp_ms = e.end_ms - e.begin_ms;
      e.end_ms = std::numeric_limits<int64_t>::max();  // a drifted sensor is not fixed within the run
    }
  }
  if (on[2]) {  // dropout: devices, and whole zones, silent 3..10 min (>= 6 periods)
    Rng rng(StreamSeed(opts.seed, 3));
    auto silence = [&] { return std::max(rng.Uniform(3, 10) * kMinute, 6 * period); };
    for (int64_t i = 0; i < per_device_kind; ++i) add(rng, AnomalyKind::kDropout, silence(), 0);
    const int64_t populated = std::min<int64_t>(opts.devices, static_cast<int64_t>(opts.zones.size()));
    const int64_t zone_episodes = std::min<int64_t>(populated, 1 + span / (12 * kHour));
    zone_dropouts.resize(opts.zones.size());
    for (int64_t i = 0; i < zone_episodes; ++i) {
      const int64_t zone = rng.Uniform(0, populated - 1);
      auto [begin, end] = place(rng, silence());
      zone_dropouts[zone].push_back({AnomalyKind::kDropout, begin, end, 0});
    }
  }
  if (on[3]) {  // stuck: the same temp for 10..40 readings
    Rng rng(StreamSeed(opts.seed, 4));
    for (int64_t i = 0; i < per_device_kind; ++i) add(rng, AnomalyKind::kStuck, rng.Uniform(10, 40) * period, 0);
  }
}

int64_t WarehouseGenerator::Impl::ScheduleTs(Device& d, int64_t k) {
  const int64_t jitter = d.rng.Uniform(0, std::max<int64_t>(0, opts.period_ms / 5 - 1));
  return opts.start_ms + k * opts.period_ms + d.phase_ms + jitter;
}

bool WarehouseGenerator::Impl::IsSilent(const Device& d, int64_t ts) const {
  for (const Episode& e : d.episodes) {
    if (e.kind == AnomalyKind::kDropout && e.Covers(ts)) return true;
  }
  if (zone_dropouts.empty()) return false;
  for (const Episode& e : zone_dropouts[d.zone]) {
    if (e.Covers(ts)) return true;
  }
  return false;
}

// Always makes the same PRNG draws, whatever the anomalies, so a reading's
// normal value does not depend on which anomalies are enabled.
Reading WarehouseGenerator::Impl::Sample(Device& d, int64_t ts) {
  Reading r;
  d.wander = d.wander * 97 / 100 + d.rng.Normal(6);
  const int64_t curve = DayCurve(ts + d.day_shift_ms);
  r.temp = d.base_temp + d.temp_amp * curve / 1000 + d.wander + d.rng.Normal(4);
  r.hum = d.base_hum - d.hum_amp * curve / 1000 + d.rng.Normal(4);
  r.hum = std::clamp<int64_t>(r.hum, 0, 1000);
  const int64_t spike_noise = d.rng.Normal(30);
  const int64_t missing = d.rng.Uniform(0, 999999);
  r.has_temp = missing >= kMissingTempPpm;
  r.has_hum = missing < kMissingTempPpm || missing >= kMissingTempPpm + kMissingHumPpm;
  const uint64_t malformed = d.rng.Next();
  if (malformed_on && static_cast<int64_t>(malformed % 1000000) < kMalformedPpm) {
    r.malformation = static_cast<Malformation>(1 + (malformed >> 20) % 3);
    r.cut = malformed >> 32;
  }

  bool stuck = false;
  for (const Episode& e : d.episodes) {
    if (!e.Covers(ts)) continue;
    switch (e.kind) {
      case AnomalyKind::kSpike:
        r.temp = std::max(r.temp, std::max<int64_t>(3050, e.magnitude + spike_noise));
        break;
      case AnomalyKind::kDrift:
        r.temp += e.magnitude * std::min(ts - e.begin_ms, e.ramp_ms) / e.ramp_ms;
        break;
      case AnomalyKind::kStuck:
        stuck = true;
        break;
      case AnomalyKind::kDropout:
        break;
    }
  }
  if (stuck && !d.stuck_active) d.stuck_temp = r.temp;
  d.stuck_active = stuck;
  if (stuck) r.temp = d.stuck_temp;
  return r;
}

char* WarehouseGenerator::Impl::AppendTs(char* p, int64_t ts) {
  switch (opts.ts_format) {
    case TsFormat::kMillis:
      std::memcpy(p, "\"ts\":", 5);
      return AppendInt(p + 5, ts);
    case TsFormat::kSeconds:
      std::memcpy(p, "\"ts\":", 5);
      p = AppendInt(p + 5, ts / 1000);
      *p++ = '.';
      return AppendDigits(p, ts % 1000, 3);
    case TsFormat::kIso:
      break;
  }
  const int64_t day = ts / kDay;
  if (day != iso_day) {
    iso_day = day;
    AppendIsoDate(iso_date, day);
  }
  std::memcpy(p, "\"timestamp\":\"", 13);
  p += 13;
  std::memcpy(p, iso_date, 11);
  p += 11;
  const int64_t ms = ts % kDay;
  p = AppendDigits(p, ms / kHour, 2);
  *p++ = ':';
  p = AppendDigits(p, ms / kMinute % 60, 2);
  *p++ = ':';
  p = AppendDigits(p, ms / kSecond % 60, 2);
  *p++ = '.';
  p = AppendDigits(p, ms % 1000, 3);
  std::memcpy(p, "Z\"", 2);
  return p + 2;
}

size_t WarehouseGenerator::Impl::Format(const Device& d, int64_t ts, const Reading& r, char* buf) {
  char* p = buf;
  *p++ = '{';
  p = AppendTs(p, ts);
  std::memcpy(p, d.prefix, d.prefix_len);
  p += d.prefix_len;
  if (r.has_temp) {
    std::memcpy(p, ",\"temp\":", 8);
    p = AppendFixed(p + 8, r.temp, 2);
  }
  if (r.has_hum) {
    std::memcpy(p, ",\"hum\":", 7);
    p = AppendFixed(p + 7, r.hum, 1);
  }
  std::memcpy(p, ",\"alert_level\":", 15);
  p += 15;
  *p++ = static_cast<char>('0' + AlertLevel(r.temp));
  std::memcpy(p, ",\"version\":\"v1\"}", 16);
  p += 16;
  size_t len = p - buf;
  switch (r.malformation) {
    case Malformation::kNone:
      break;
    case Malformation::kTruncated:  // any proper prefix of an object is invalid JSON
      len = 2 + r.cut % (len - 3);
      break;
    case Malformation::kBracket:
      buf[0] = '[';
      break;
    case Malformation::kTrailingBrace:
      buf[len++] = '}';
      break;
  }
  return len;
}

// Restores the heap after heap[0] got a later time. 4-ary: half the depth
// of a binary heap, and the four children share a cache line or two.
void WarehouseGenerator::Impl::SiftDown() {
  const size_t n = heap.size();
  const uint64_t moving = heap[0];
  size_t i = 0;
  while (true) {
    const size_t first = 4 * i + 1;
    if (first >= n) break;
    size_t best = first;
    const size_t last = std::min(first + 4, n);
    for (size_t c = first + 1; c < last; ++c) {
      if (heap[c] < heap[best]) best = c;
    }
    if (heap[best] >= moving) break;
    heap[i] = heap[best];
    i = best;
  }
  heap[i] = moving;
}

// Writes the next line (no newline) into buf, which holds kMaxLine bytes;
// returns its length, or 0 at the end of the run.
size_t WarehouseGenerator::Impl::Produce(char* buf, int64_t* ts_ms) {
  const bool by_count = opts.count > 0;
  while (true) {
    if (by_count && emitted >= opts.count) return 0;
    const int64_t ts = opts.start_ms + static_cast<int64_t>(heap[0] >> kDeviceBits);
    const int device = static_cast<int>(heap[0] & ((uint64_t{1} << kDeviceBits) - 1));
    if (!by_count && ts >= end_ms) return 0;
    Device& d = devices[device];
    ++d.next_k;
    heap[0] = HeapKey(ScheduleTs(d, d.next_k) - opts.start_ms, device);
    SiftDown();
    const Reading r = Sample(d, ts);
    if (IsSilent(d, ts)) continue;
    *ts_ms = ts;
    last_device = device;
    ++emitted;
    return Format(d, ts, r, buf);
  }
}

// ---------------------------------------------------------------------------

WarehouseGenerator::WarehouseGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WarehouseGenerator::WarehouseGenerator(WarehouseGenerator&&) noexcept = default;
WarehouseGenerator& WarehouseGenerator::operator=(WarehouseGenerator&&) noexcept = default;
WarehouseGenerator::~WarehouseGenerator() = default;

Result<WarehouseGenerator> WarehouseGenerator::Create(const SimOptions& opts) {
  Status s = ValidateSimOptions(opts);
  if (!s.ok()) return s;
  return WarehouseGenerator(std::make_unique<Impl>(opts));
}

bool WarehouseGenerator::Next(std::string* line, int64_t* ts_ms) {
  char buf[kMaxLine];
  int64_t ts = 0;
  const size_t len = impl_->Produce(buf, &ts);
  if (len == 0) return false;
  line->assign(buf, len);
  *ts_ms = ts;
  return true;
}

std::string_view WarehouseGenerator::device() const {
  if (impl_->last_device < 0) return {};
  return impl_->devices[impl_->last_device].name;
}

std::string_view WarehouseGenerator::zone() const {
  if (impl_->last_device < 0) return {};
  return impl_->opts.zones[impl_->devices[impl_->last_device].zone];
}

int64_t WarehouseGenerator::lines_emitted() const { return impl_->emitted; }

// Formats straight into the output chunk: no per-line string.
Result<int64_t> GenerateWarehouse(const SimOptions& opts, std::ostream& out) {
  auto created = WarehouseGenerator::Create(opts);
  if (!created.ok()) return created.status();
  WarehouseGenerator::Impl& gen = *created.value().impl_;
  std::vector<char> chunk(kChunkBytes + kMaxLine + 1);
  size_t used = 0;
  int64_t ts = 0;
  auto flush = [&] {
    out.write(chunk.data(), static_cast<std::streamsize>(used));
    used = 0;
    return static_cast<bool>(out);
  };
  while (true) {
    const size_t len = gen.Produce(chunk.data() + used, &ts);
    if (len == 0) break;
    used += len;
    chunk[used++] = '\n';
    if (used >= kChunkBytes && !flush()) return Status::IoError("sim: writing the output failed");
  }
  if (!flush()) return Status::IoError("sim: writing the output failed");
  out.flush();
  if (!out) return Status::IoError("sim: flushing the output failed");
  return gen.emitted;
}

// ---------------------------------------------------------------------------

namespace {

// Reads a run of digits at *pos (at most `max_digits`); false if none.
bool ReadNumber(std::string_view s, size_t* pos, int max_digits, int64_t* value) {
  size_t start = *pos;
  int64_t v = 0;
  while (*pos < s.size() && s[*pos] >= '0' && s[*pos] <= '9' && static_cast<int>(*pos - start) < max_digits) {
    v = v * 10 + (s[*pos] - '0');
    ++*pos;
  }
  *value = v;
  return *pos > start;
}

bool ReadFixedDigits(std::string_view s, size_t* pos, int digits, int64_t* value) {
  const size_t start = *pos;
  return ReadNumber(s, pos, digits, value) && static_cast<int>(*pos - start) == digits;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || s[*pos] != c) return false;
  ++*pos;
  return true;
}

// ISO-8601 date, optional time, optional offset; false if malformed.
bool ParseIso(std::string_view s, int64_t* ms) {
  size_t pos = 0;
  int64_t y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
  if (!ReadFixedDigits(s, &pos, 4, &y) || !Expect(s, &pos, '-') || !ReadFixedDigits(s, &pos, 2, &mo) ||
      !Expect(s, &pos, '-') || !ReadFixedDigits(s, &pos, 2, &d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  const int64_t next_month = mo < 12 ? DaysFromCivil(y, mo + 1, 1) : DaysFromCivil(y + 1, 1, 1);
  if (DaysFromCivil(y, mo, d) >= next_month) return false;  // e.g. 2024-02-30
  if (pos < s.size() && (s[pos] == 'T' || s[pos] == ' ')) {
    ++pos;
    if (!ReadFixedDigits(s, &pos, 2, &h) || !Expect(s, &pos, ':') || !ReadFixedDigits(s, &pos, 2, &mi)) return false;
    if (Expect(s, &pos, ':')) {
      if (!ReadFixedDigits(s, &pos, 2, &sec)) return false;
      if (Expect(s, &pos, '.')) {
        const size_t start = pos;
        int64_t digits = 0;
        if (!ReadNumber(s, &pos, 9, &digits)) return false;
        int64_t scale = 1;
        for (size_t i = pos - start; i < 3; ++i) digits *= 10;
        for (size_t i = 3; i < pos - start; ++i) scale *= 10;
        frac = (digits + scale / 2) / scale;  // nearest millisecond
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;  // beyond ns
      }
    }
    if (h > 23 || mi > 59 || sec > 59) return false;
  }
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      const int64_t sign = s[pos] == '-' ? -1 : 1;
      ++pos;
      int64_t oh, om = 0;
      if (!ReadFixedDigits(s, &pos, 2, &oh)) return false;
      Expect(s, &pos, ':');
      if (pos < s.size() && !ReadFixedDigits(s, &pos, 2, &om)) return false;
      if (oh > 23 || om > 59) return false;
      offset_min = sign * (oh * 60 + om);
    }
  }
  if (pos != s.size()) return false;
  *ms = DaysFromCivil(y, mo, d) * kDay + h * kHour + mi * kMinute + sec * kSecond + frac - offset_min * kMinute;
  return true;
}

}  // namespace

Result<int64_t> ParseSimDuration(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument(Cat({"expected a duration such as 250ms, 10s, 5m, 6h, 1d or 1h30m, found '",
                                        text, "'"}));
  };
  if (text.empty()) return bad();
  size_t pos = 0;
  int64_t total = 0;
  while (pos < text.size()) {
    int64_t n = 0;
    if (!ReadNumber(text, &pos, 12, &n)) return bad();
    int64_t unit = 0;
    if (text.substr(pos, 2) == "ms") {
      unit = 1;
      pos += 2;
    } else if (pos < text.size()) {
      switch (text[pos]) {
        case 's': unit = kSecond; break;
        case 'm': unit = kMinute; break;
        case 'h': unit = kHour; break;
        case 'd': unit = kDay; break;
        default: return bad();
      }
      ++pos;
    } else {
      return bad();
    }
    if (n > (std::numeric_limits<int64_t>::max() / 2 - total) / unit) return bad();
    total += n * unit;
  }
  return total;
}

Result<int64_t> ParseSimStart(std::string_view text) {
  const bool all_digits =
      !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (all_digits && text.size() <= 15) {
    int64_t v = 0;
    std::from_chars(text.data(), text.data() + text.size(), v);
    return v;
  }
  int64_t ms = 0;
  if (!all_digits && ParseIso(text, &ms) && ms >= 0) return ms;
  return Status::InvalidArgument(
      Cat({"expected epoch milliseconds or an ISO-8601 time such as 2024-11-22T00:00:00Z, found '", text, "'"}));
}

void AddSimOptions(CLI::App* sub, SimOptions* opts, std::string* out_path) {
  auto duration_check = CLI::Validator(
      [](std::string& s) {
        auto r = ParseSimDuration(s);
        return r.ok() ? std::string() : r.status().message();
      },
      "");
  auto start_check = CLI::Validator(
      [](std::string& s) {
        auto r = ParseSimStart(s);
        return r.ok() ? std::string() : r.status().message();
      },
      "");

  sub->add_option("--devices", opts->devices, "Number of devices d-0000.. (default 30)");
  sub->add_option("--zones", opts->zones, "Comma-separated zone names; devices are spread round-robin "
                                          "(default nord,sud,est,ouest)")
      ->delimiter(',')
      ->type_name("NAMES");
  sub->add_option_function<std::string>(
         "--duration", [opts](const std::string& s) { opts->duration_ms = ParseSimDuration(s).value(); },
         "Event-time length of the run, e.g. 30m, 6h, 1d (default 1h; ignored with --count)")
      ->check(duration_check)
      ->type_name("DURATION");
  sub->add_option("--count", opts->count, "Write exactly N lines instead of a duration");
  sub->add_option_function<std::string>(
         "--period", [opts](const std::string& s) { opts->period_ms = ParseSimDuration(s).value(); },
         "How often each device reports, e.g. 10s (default 10s)")
      ->check(duration_check)
      ->type_name("DURATION");
  sub->add_option("--seed", opts->seed, "PRNG seed; same options and seed give the same bytes (default 42)");
  sub->add_option("--anomalies", opts->anomalies,
                  "Comma-separated anomalies to inject: spike,drift,dropout,stuck,malformed or all")
      ->delimiter(',')
      ->type_name("NAMES");
  sub->add_option_function<std::string>(
         "--ts",
         [opts](const std::string& s) {
           opts->ts_format = s == "iso" ? TsFormat::kIso : s == "s" ? TsFormat::kSeconds : TsFormat::kMillis;
         },
         "Timestamp format: ms (epoch ms in 'ts'), s (epoch seconds in 'ts'), iso (ISO-8601 in 'timestamp') "
         "(default ms)")
      ->check(CLI::IsMember({"ms", "s", "iso"}))
      ->type_name("FORMAT");
  sub->add_option_function<std::string>(
         "--start", [opts](const std::string& s) { opts->start_ms = ParseSimStart(s).value(); },
         "First event time: epoch ms or ISO-8601 (default 2024-11-22T00:00:00Z)")
      ->check(start_check)
      ->type_name("TIME");
  sub->add_option("--out", *out_path, "Output file, '-' for stdout (default -)")->type_name("FILE");
}

}  // namespace vigil::sim
