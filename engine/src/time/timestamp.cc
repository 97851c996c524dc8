// Timestamp and duration parsing: exact decimal conversion of number text to
// epoch milliseconds, an RFC 3339 reader and writer built on Howard Hinnant's
// days-from-civil algorithms, and duration literals.
//
// Thread-safety: pure functions, no global state. Nothing here allocates
// except the Format* functions.
#include "vigil/engine/timestamp.h"

#include <array>
#include <cstdio>
#include <limits>

namespace vigil {
namespace {

constexpr int64_t kMillisPerSecond = 1000;
constexpr int64_t kMillisPerMinute = 60 * kMillisPerSecond;
constexpr int64_t kMillisPerHour = 60 * kMillisPerMinute;
constexpr int64_t kMillisPerDay = 24 * kMillisPerHour;

// Exponents beyond this are clamped while scanning: any number whose
// exponent gets there is either 0 or an overflow, and clamping keeps the
// later arithmetic on digit counts far away from int64 limits.
constexpr int64_t kExponentClamp = 1'000'000'000'000'000;

// Magnitude of uint64 results that still fit in int64 (for the negative
// side, one more).
constexpr uint64_t kMaxPositive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
constexpr uint64_t kMaxNegative = kMaxPositive + 1;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A decimal number as its text: value = sign * int_digits.frac_digits * 10^exponent.
struct DecimalText {
  bool negative = false;
  std::string_view int_digits;   // One or more digits.
  std::string_view frac_digits;  // Zero or more digits.
  int64_t exponent = 0;          // Clamped to +-kExponentClamp.
};

// Scans the whole of `text` as a JSON number (optionally allowing leading
// zeros in the integer part). nullopt if any character does not fit.
std::optional<DecimalText> ScanDecimal(std::string_view text, bool allow_leading_zeros) noexcept {
  DecimalText d;
  size_t pos = 0;
  if (pos < text.size() && text[pos] == '-') {
    d.negative = true;
    ++pos;
  }
  const size_t int_begin = pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  d.int_digits = text.substr(int_begin, pos - int_begin);
  if (d.int_digits.empty()) return std::nullopt;
  if (!allow_leading_zeros && d.int_digits.size() > 1 && d.int_digits[0] == '0') return std::nullopt;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t frac_begin = pos;
    while (pos < text.size() && IsDigit(text[pos])) ++pos;
    d.frac_digits = text.substr(frac_begin, pos - frac_begin);
    if (d.frac_digits.empty()) return std::nullopt;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool exp_negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      exp_negative = text[pos] == '-';
      ++pos;
    }
    const size_t exp_begin = pos;
    int64_t exponent = 0;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (exponent < kExponentClamp) exponent = exponent * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == exp_begin) return std::nullopt;
    if (exponent > kExponentClamp) exponent = kExponentClamp;
    d.exponent = exp_negative ? -exponent : exponent;
  }
  if (pos != text.size()) return std::nullopt;
  return d;
}

// The significant digits of a DecimalText (integer and fraction digits
// joined, leading zeros dropped), indexable without copying.
class SignificantDigits {
 public:
  explicit SignificantDigits(const DecimalText& d) noexcept : int_(d.int_digits), frac_(d.frac_digits) {
    const size_t total = int_.size() + frac_.size();
    while (skip_ < total && Raw(skip_) == '0') ++skip_;
    size_ = static_cast<int64_t>(total - skip_);
  }
  int64_t size() const { return size_; }
  int operator[](int64_t i) const { return Raw(skip_ + static_cast<size_t>(i)) - '0'; }

 private:
  char Raw(size_t i) const { return i < int_.size() ? int_[i] : frac_[i - int_.size()]; }
  std::string_view int_;
  std::string_view frac_;
  size_t skip_ = 0;
  int64_t size_ = 0;
};

// Power of ten that turns a value in `unit` into milliseconds.
int MillisExponent(TimeUnit unit) {
  switch (unit) {
    case TimeUnit::kSeconds: return 3;
    case TimeUnit::kMillis: return 0;
    case TimeUnit::kMicros: return -3;
    case TimeUnit::kNanos: return -6;
    case TimeUnit::kAuto:
    case TimeUnit::kIso: break;
  }
  return 0;
}

// kAuto by magnitude. `integer_digits` is the number of digits of the
// value's integer part (the value lies in [10^(n-1), 10^n)), so "value <
// 1e11" is "at most 11 integer digits".
TimeUnit UnitForMagnitude(int64_t integer_digits) {
  if (integer_digits <= 11) return TimeUnit::kSeconds;
  if (integer_digits <= 14) return TimeUnit::kMillis;
  if (integer_digits <= 17) return TimeUnit::kMicros;
  return TimeUnit::kNanos;
}

std::optional<int64_t> DecimalToMillis(const DecimalText& d, TimeUnit unit) noexcept {
  const SignificantDigits digits(d);
  const int64_t n = digits.size();
  if (n == 0) return 0;
  // value = digits * 10^exp10, with digits[0] != 0.
  const int64_t exp10 = d.exponent - static_cast<int64_t>(d.frac_digits.size());
  if (unit == TimeUnit::kAuto || unit == TimeUnit::kIso) unit = UnitForMagnitude(n + exp10);
  // The value in ms has `kept` integer digits: digits[0..kept) then zeros.
  const int64_t kept = n + exp10 + MillisExponent(unit);
  if (kept > 19) return std::nullopt;  // >= 1e19 ms overflows int64.
  uint64_t magnitude = 0;
  for (int64_t i = 0; i < kept; ++i) magnitude = magnitude * 10 + static_cast<uint64_t>(i < n ? digits[i] : 0);
  // Half away from zero on the magnitude: only the first dropped digit counts.
  const int first_dropped = (kept >= 0 && kept < n) ? digits[kept] : 0;
  if (first_dropped >= 5) ++magnitude;
  if (magnitude > (d.negative ? kMaxNegative : kMaxPositive)) return std::nullopt;
  if (!d.negative) return static_cast<int64_t>(magnitude);
  return magnitude == kMaxNegative ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(magnitude);
}

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic
// Gregorian date (month 1-12, day 1-31).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) noexcept {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);                    // [0, 399]
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                  // [0, 146096]
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's civil_from_days, the inverse of DaysFromCivil.
CivilDate CivilFromDays(int64_t days) noexcept {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto doe = static_cast<unsigned>(days - era * 146097);                  // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const unsigned day = doy - (153 * mp + 2) / 5 + 1;                           // [1, 31]
  const unsigned month = mp < 10 ? mp + 3 : mp - 9;                            // [1, 12]
  const int64_t year = static_cast<int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

bool IsLeapYear(int64_t year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

unsigned DaysInMonth(int64_t year, unsigned month) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Reads the ISO-8601 forms documented in timestamp.h, front to back.
class IsoReader {
 public:
  explicit IsoReader(std::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ == text_.size(); }

  // Exactly `count` digits.
  bool Digits(int count, unsigned* value) {
    if (text_.size() - pos_ < static_cast<size_t>(count)) return false;
    unsigned v = 0;
    for (int i = 0; i < count; ++i) {
      const char c = text_[pos_ + static_cast<size_t>(i)];
      if (!IsDigit(c)) return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += static_cast<size_t>(count);
    *value = v;
    return true;
  }

  bool Char(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }

  bool OneOf(std::string_view chars) {
    if (AtEnd() || chars.find(text_[pos_]) == std::string_view::npos) return false;
    ++pos_;
    return true;
  }

  // A '.' and one or more digits, rounded half up to milliseconds (0-1000).
  // Returns true with 0 when there is no fraction.
  bool FractionMillis(int64_t* millis) {
    *millis = 0;
    if (!Char('.')) return true;
    int count = 0;
    int64_t ms = 0;
    int round_digit = 0;
    while (!AtEnd() && IsDigit(text_[pos_])) {
      const int digit = text_[pos_] - '0';
      if (count < 3) ms = ms * 10 + digit;
      if (count == 3) round_digit = digit;
      ++count;
      ++pos_;
    }
    if (count == 0) return false;
    for (int i = count; i < 3; ++i) ms *= 10;
    *millis = ms + (round_digit >= 5 ? 1 : 0);
    return true;
  }

  // The zone designator, as minutes east of UTC. `*present` is false when
  // the text ends without one.
  bool ZoneMinutes(bool* present, int* minutes) {
    *present = false;
    *minutes = 0;
    if (AtEnd()) return true;
    if (OneOf("Zz")) {
      *present = true;
      return true;
    }
    const char sign = text_[pos_];
    if (!OneOf("+-")) return false;
    unsigned hours = 0;
    unsigned mins = 0;
    if (!Digits(2, &hours)) return false;
    if (!AtEnd()) {
      const bool colon = Char(':');
      if (!Digits(2, &mins) && (colon || !AtEnd())) return false;
    }
    if (hours >= 24 || mins >= 60) return false;
    *present = true;
    *minutes = static_cast<int>(hours * 60 + mins) * (sign == '-' ? -1 : 1);
    return true;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<int64_t> IsoToMillis(std::string_view text, int default_offset_minutes) noexcept {
  IsoReader r(text);
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!r.Digits(4, &year) || !r.Char('-') || !r.Digits(2, &month) || !r.Char('-') || !r.Digits(2, &day)) {
    return std::nullopt;
  }
  if (!r.OneOf("Tt ")) return std::nullopt;
  if (!r.Digits(2, &hour) || !r.Char(':') || !r.Digits(2, &minute) || !r.Char(':') || !r.Digits(2, &second)) {
    return std::nullopt;
  }
  int64_t fraction_ms = 0;
  bool has_zone = false;
  int zone_minutes = 0;
  if (!r.FractionMillis(&fraction_ms) || !r.ZoneMinutes(&has_zone, &zone_minutes) || !r.AtEnd()) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month)) return std::nullopt;
  if (hour >= 24 || minute >= 60 || second > 60) return std::nullopt;
  const int offset_minutes = has_zone ? zone_minutes : default_offset_minutes;
  const int64_t days = DaysFromCivil(year, month, day);
  const int64_t local_ms = days * kMillisPerDay + hour * kMillisPerHour + minute * kMillisPerMinute +
                           second * kMillisPerSecond + fraction_ms;
  return local_ms - static_cast<int64_t>(offset_minutes) * kMillisPerMinute;
}

// "YYYY" or, outside 0000-9999, a signed expanded year.
int FormatYear(char* buf, size_t size, int64_t year) {
  if (year < 0) return std::snprintf(buf, size, "-%04lld", static_cast<long long>(-year));
  if (year > 9999) return std::snprintf(buf, size, "+%lld", static_cast<long long>(year));
  return std::snprintf(buf, size, "%04lld", static_cast<long long>(year));
}

struct DurationUnit {
  std::string_view suffix;
  int64_t millis;
};

// Largest first; "ms" before "m" so the longer suffix matches first.
constexpr std::array<DurationUnit, 5> kDurationUnits = {{
    {"d", kMillisPerDay},
    {"h", kMillisPerHour},
    {"ms", 1},
    {"m", kMillisPerMinute},
    {"s", kMillisPerSecond},
}};

// Rank for the "strictly decreasing units" rule: larger unit, higher rank.
int DurationRank(const DurationUnit& unit) {
  switch (unit.millis) {
    case kMillisPerDay: return 4;
    case kMillisPerHour: return 3;
    case kMillisPerMinute: return 2;
    case kMillisPerSecond: return 1;
    default: return 0;
  }
}

// One "<digits>[.<digits>]<unit>" part of a duration, in ms; advances *pos.
std::optional<int64_t> DurationPartMs(std::string_view text, size_t* pos, int* rank) noexcept {
  size_t p = *pos;
  const size_t int_begin = p;
  while (p < text.size() && IsDigit(text[p])) ++p;
  const std::string_view int_digits = text.substr(int_begin, p - int_begin);
  if (int_digits.empty()) return std::nullopt;
  std::string_view frac_digits;
  if (p < text.size() && text[p] == '.') {
    const size_t frac_begin = ++p;
    while (p < text.size() && IsDigit(text[p])) ++p;
    frac_digits = text.substr(frac_begin, p - frac_begin);
    if (frac_digits.empty()) return std::nullopt;
  }
  const DurationUnit* unit = nullptr;
  for (const DurationUnit& u : kDurationUnits) {
    if (text.substr(p).starts_with(u.suffix)) {
      unit = &u;
      break;
    }
  }
  if (unit == nullptr) return std::nullopt;
  p += unit->suffix.size();

  int64_t ms = 0;
  for (char c : int_digits) {
    if (ms > (std::numeric_limits<int64_t>::max() - (c - '0')) / 10) return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  if (ms > std::numeric_limits<int64_t>::max() / unit->millis) return std::nullopt;
  ms *= unit->millis;

  while (!frac_digits.empty() && frac_digits.back() == '0') frac_digits.remove_suffix(1);
  if (!frac_digits.empty()) {
    // A fraction that is a whole number of ms has at most 10 digits once its
    // trailing zeros are gone: every unit divides 86400000 = 2^10 * 3^3 * 5^5,
    // so 10^11 | f * unit would need both 2 | f and 5 | f. With f < 10^10,
    // f * unit < 8.64e17 fits in uint64.
    if (frac_digits.size() > 10) return std::nullopt;
    uint64_t numerator = 0;
    uint64_t denominator = 1;
    for (char c : frac_digits) {
      numerator = numerator * 10 + static_cast<uint64_t>(c - '0');
      denominator *= 10;
    }
    numerator *= static_cast<uint64_t>(unit->millis);
    if (numerator % denominator != 0) return std::nullopt;
    const auto frac_ms = static_cast<int64_t>(numerator / denominator);  // < unit->millis.
    if (ms > std::numeric_limits<int64_t>::max() - frac_ms) return std::nullopt;
    ms += frac_ms;
  }
  *pos = p;
  *rank = DurationRank(*unit);
  return ms;
}

}  // namespace

std::optional<TimeUnit> ParseTimeUnit(std::string_view name) {
  struct Name {
    std::string_view text;
    TimeUnit unit;
  };
  static constexpr std::array<Name, 11> kNames = {{
      {"auto", TimeUnit::kAuto},
      {"s", TimeUnit::kSeconds},
      {"seconds", TimeUnit::kSeconds},
      {"ms", TimeUnit::kMillis},
      {"milliseconds", TimeUnit::kMillis},
      {"us", TimeUnit::kMicros},
      {"microseconds", TimeUnit::kMicros},
      {"ns", TimeUnit::kNanos},
      {"nanoseconds", TimeUnit::kNanos},
      {"iso", TimeUnit::kIso},
      {"iso8601", TimeUnit::kIso},
  }};
  for (const Name& n : kNames) {
    if (n.text == name) return n.unit;
  }
  return std::nullopt;
}

std::string_view TimeUnitName(TimeUnit unit) noexcept {
  switch (unit) {
    case TimeUnit::kAuto: return "auto";
    case TimeUnit::kSeconds: return "s";
    case TimeUnit::kMillis: return "ms";
    case TimeUnit::kMicros: return "us";
    case TimeUnit::kNanos: return "ns";
    case TimeUnit::kIso: return "iso";
  }
  return "auto";
}

// The common case on the hot path: a plain non-negative integer of at most
// 18 digits (no sign, fraction, exponent or leading zero), read with integer
// arithmetic. Returns nullopt when the text is not of that form (the general
// decimal path then decides), never a different value than that path.
static std::optional<int64_t> PlainIntegerToMillis(std::string_view text, TimeUnit unit) noexcept {
  if (text.empty() || text.size() > 18 || (text[0] == '0' && text.size() > 1)) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (unit == TimeUnit::kAuto || unit == TimeUnit::kIso) {
    unit = v < 100000000000ULL ? TimeUnit::kSeconds
           : v < 100000000000000ULL ? TimeUnit::kMillis
           : v < 100000000000000000ULL ? TimeUnit::kMicros
                                       : TimeUnit::kNanos;
  }
  switch (unit) {
    case TimeUnit::kSeconds:
      if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 1000)) return std::nullopt;
      return static_cast<int64_t>(v * 1000);
    case TimeUnit::kMillis: return static_cast<int64_t>(v);
    case TimeUnit::kMicros: return static_cast<int64_t>((v + 500) / 1000);          // half away from zero
    case TimeUnit::kNanos: return static_cast<int64_t>((v + 500000) / 1000000);
    default: return std::nullopt;
  }
}

std::optional<int64_t> TimestampFromNumberText(std::string_view text, TimeUnit unit) noexcept {
  if (std::optional<int64_t> fast = PlainIntegerToMillis(text, unit)) return fast;
  const std::optional<DecimalText> d = ScanDecimal(text, /*allow_leading_zeros=*/false);
  if (!d) return std::nullopt;
  return DecimalToMillis(*d, unit);
}

std::optional<int64_t> TimestampFromString(std::string_view text, TimeUnit unit, int default_offset_minutes) noexcept {
  if (text.empty()) return std::nullopt;
  if (const std::optional<DecimalText> d = ScanDecimal(text, /*allow_leading_zeros=*/true)) {
    return DecimalToMillis(*d, unit);
  }
  return IsoToMillis(text, default_offset_minutes);
}

std::string FormatIsoMillis(int64_t epoch_ms) {
  // Floor division, so times before the epoch fall on the previous day.
  int64_t days = epoch_ms / kMillisPerDay;
  int64_t ms_of_day = epoch_ms % kMillisPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMillisPerDay;
    --days;
  }
  const CivilDate date = CivilFromDays(days);
  char buf[64];
  int len = FormatYear(buf, sizeof(buf), date.year);
  len += std::snprintf(buf + len, sizeof(buf) - static_cast<size_t>(len), "-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                       date.month, date.day, static_cast<long long>(ms_of_day / kMillisPerHour),
                       static_cast<long long>(ms_of_day / kMillisPerMinute % 60),
                       static_cast<long long>(ms_of_day / kMillisPerSecond % 60),
                       static_cast<long long>(ms_of_day % kMillisPerSecond));
  return std::string(buf, static_cast<size_t>(len));
}

std::optional<int64_t> ParseDurationMs(std::string_view text) noexcept {
  if (text == "0") return 0;
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  int previous_rank = 5;  // Above every unit.
  size_t pos = 0;
  while (pos < text.size()) {
    int rank = 0;
    const std::optional<int64_t> part = DurationPartMs(text, &pos, &rank);
    if (!part || rank >= previous_rank) return std::nullopt;
    if (total > std::numeric_limits<int64_t>::max() - *part) return std::nullopt;
    total += *part;
    previous_rank = rank;
  }
  return total;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out = ms < 0 ? "-" : "";
  // Magnitude in uint64 so INT64_MIN has one.
  const uint64_t magnitude = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  static constexpr std::array<DurationUnit, 5> kLargestFirst = {{
      {"d", kMillisPerDay},
      {"h", kMillisPerHour},
      {"m", kMillisPerMinute},
      {"s", kMillisPerSecond},
      {"ms", 1},
  }};
  for (const DurationUnit& unit : kLargestFirst) {
    const auto unit_ms = static_cast<uint64_t>(unit.millis);
    if (magnitude % unit_ms == 0) {
      out += std::to_string(magnitude / unit_ms);
      out += unit.suffix;
      break;
    }
  }
  return out;
}

}  // namespace vigil
