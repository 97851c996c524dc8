// Fuzz target: the timestamp and duration readers of
// vigil/engine/timestamp.h (every form a message or rules file may use:
// epoch numbers in each unit, digit strings, ISO-8601 with and without zone,
// durations, unit names).
//
// Input: byte 0 picks the unit (bits 0-2) and the default zone (bits 3-5);
// the rest is the text. Oracles, besides the sanitizers:
//  - a text TimestampFromNumberText accepts reads the same as a JSON string
//    (TimestampFromString);
//  - a timestamp written by FormatIsoMillis (years 0000-9999) reads back to
//    itself;
//  - a duration written by FormatDurationMs reads back to itself;
//  - a unit name round-trips through TimeUnitName.
// Thread-safety: single-threaded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "vigil/engine/timestamp.h"

namespace {

void CheckIsoRoundTrip(int64_t ms) {
  const std::string iso = vigil::FormatIsoMillis(ms);
  if (iso.empty() || iso[0] == '+' || iso[0] == '-') return;  // outside 0000-9999: not readable by design
  const std::optional<int64_t> back = vigil::TimestampFromString(iso, vigil::TimeUnit::kIso, 0);
  if (!back || *back != ms) std::fprintf(stderr, "%lld -> %s\n", static_cast<long long>(ms), iso.c_str());
  FUZZ_CHECK(back && *back == ms);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr vigil::TimeUnit kUnits[] = {vigil::TimeUnit::kAuto,   vigil::TimeUnit::kSeconds,
                                               vigil::TimeUnit::kMillis, vigil::TimeUnit::kMicros,
                                               vigil::TimeUnit::kNanos,  vigil::TimeUnit::kIso,
                                               vigil::TimeUnit::kAuto,   vigil::TimeUnit::kIso};
  static constexpr int kOffsets[] = {0, 60, -60, 330, -570, 14 * 60, -12 * 60, 23 * 60 + 59};
  const vigil::TimeUnit unit = kUnits[data[0] & 7];
  const int offset = kOffsets[(data[0] >> 3) & 7];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);

  const std::optional<int64_t> as_number = vigil::TimestampFromNumberText(text, unit);
  const std::optional<int64_t> as_string = vigil::TimestampFromString(text, unit, offset);
  if (as_number) {
    FUZZ_CHECK(as_string && *as_string == *as_number);
    CheckIsoRoundTrip(*as_number);
  }
  if (as_string) CheckIsoRoundTrip(*as_string);

  if (const std::optional<int64_t> d = vigil::ParseDurationMs(text)) {
    FUZZ_CHECK(*d >= 0);
    const std::optional<int64_t> back = vigil::ParseDurationMs(vigil::FormatDurationMs(*d));
    FUZZ_CHECK(back && *back == *d);
  }
  if (const std::optional<vigil::TimeUnit> u = vigil::ParseTimeUnit(text)) {
    FUZZ_CHECK(vigil::ParseTimeUnit(vigil::TimeUnitName(*u)) == u);
  }
  return 0;
}
