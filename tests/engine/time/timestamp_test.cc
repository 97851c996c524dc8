// Tests for vigil/engine/timestamp.h: unit names, exact number-to-ms
// conversion and its auto thresholds, ISO-8601 strings, formatting and
// durations. Expected epoch values were computed independently (Python's
// datetime), not with the code under test.
#include "vigil/engine/timestamp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>

namespace vigil {
namespace {

constexpr int64_t kNov22 = 1732233600000;  // 2024-11-22T00:00:00Z
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

std::optional<int64_t> Num(std::string_view text, TimeUnit unit = TimeUnit::kAuto) {
  return TimestampFromNumberText(text, unit);
}

std::optional<int64_t> Str(std::string_view text, TimeUnit unit = TimeUnit::kAuto, int offset = 0) {
  return TimestampFromString(text, unit, offset);
}

// ---------------------------------------------------------------- units

TEST(TimestampTest, ParsesShortUnitNames) {
  EXPECT_EQ(ParseTimeUnit("auto"), TimeUnit::kAuto);
  EXPECT_EQ(ParseTimeUnit("s"), TimeUnit::kSeconds);
  EXPECT_EQ(ParseTimeUnit("ms"), TimeUnit::kMillis);
  EXPECT_EQ(ParseTimeUnit("us"), TimeUnit::kMicros);
  EXPECT_EQ(ParseTimeUnit("ns"), TimeUnit::kNanos);
  EXPECT_EQ(ParseTimeUnit("iso"), TimeUnit::kIso);
}

TEST(TimestampTest, ParsesLongUnitNames) {
  EXPECT_EQ(ParseTimeUnit("seconds"), TimeUnit::kSeconds);
  EXPECT_EQ(ParseTimeUnit("milliseconds"), TimeUnit::kMillis);
  EXPECT_EQ(ParseTimeUnit("microseconds"), TimeUnit::kMicros);
  EXPECT_EQ(ParseTimeUnit("nanoseconds"), TimeUnit::kNanos);
  EXPECT_EQ(ParseTimeUnit("iso8601"), TimeUnit::kIso);
}

TEST(TimestampTest, RejectsUnknownUnitNames) {
  EXPECT_EQ(ParseTimeUnit(""), std::nullopt);
  EXPECT_EQ(ParseTimeUnit("sec"), std::nullopt);
  EXPECT_EQ(ParseTimeUnit("MS"), std::nullopt);
  EXPECT_EQ(ParseTimeUnit(" ms"), std::nullopt);
  EXPECT_EQ(ParseTimeUnit("ms "), std::nullopt);
  EXPECT_EQ(ParseTimeUnit("m"), std::nullopt);
  EXPECT_EQ(ParseTimeUnit("iso-8601"), std::nullopt);
}

TEST(TimestampTest, UnitNamesRoundTrip) {
  for (TimeUnit unit : {TimeUnit::kAuto, TimeUnit::kSeconds, TimeUnit::kMillis, TimeUnit::kMicros,
                        TimeUnit::kNanos, TimeUnit::kIso}) {
    EXPECT_EQ(ParseTimeUnit(TimeUnitName(unit)), unit) << TimeUnitName(unit);
  }
  EXPECT_EQ(TimeUnitName(TimeUnit::kMillis), "ms");
}

// ---------------------------------------------------------------- numbers

TEST(TimestampTest, FractionalSecondsAreExact) {
  // 1732233600.358 has no exact double; the digits are converted, not a double.
  EXPECT_EQ(Num("1732233600.358"), 1732233600358);
  EXPECT_EQ(Num("1732233600.358", TimeUnit::kSeconds), 1732233600358);
  EXPECT_EQ(Num("1732233600.001"), 1732233600001);
  EXPECT_EQ(Num("1732233600.999"), 1732233600999);
  EXPECT_EQ(Num("1732233600"), kNov22);
  EXPECT_EQ(Num("1732233600.5"), 1732233600500);
}

TEST(TimestampTest, RoundsHalfAwayFromZero) {
  EXPECT_EQ(Num("1732233600.3585"), 1732233600359);
  EXPECT_EQ(Num("1732233600.35849999999"), 1732233600358);
  EXPECT_EQ(Num("1732233600.3584"), 1732233600358);
  EXPECT_EQ(Num("1732233600.9995"), 1732233601000);  // Carries into the seconds.
  EXPECT_EQ(Num("-1732233600.3585"), -1732233600359);
  EXPECT_EQ(Num("-1732233600.3584"), -1732233600358);
  EXPECT_EQ(Num("0.0005", TimeUnit::kSeconds), 1);
  EXPECT_EQ(Num("-0.0005", TimeUnit::kSeconds), -1);
  EXPECT_EQ(Num("0.00049999", TimeUnit::kSeconds), 0);
  EXPECT_EQ(Num("1.5", TimeUnit::kMillis), 2);
  EXPECT_EQ(Num("-1.5", TimeUnit::kMillis), -2);
  EXPECT_EQ(Num("2.5", TimeUnit::kMillis), 3);  // Not banker's rounding.
  EXPECT_EQ(Num("1499", TimeUnit::kMicros), 1);
  EXPECT_EQ(Num("1500", TimeUnit::kMicros), 2);
  EXPECT_EQ(Num("499999", TimeUnit::kNanos), 0);
  EXPECT_EQ(Num("500000", TimeUnit::kNanos), 1);
}

TEST(TimestampTest, ManyFractionDigitsDoNotLosePrecision) {
  EXPECT_EQ(Num("1732233600.358499999999999999999999999"), 1732233600358);
  EXPECT_EQ(Num("1732233600.358500000000000000000000001"), 1732233600359);
  EXPECT_EQ(Num("1732233600.3580000000000000000000000000000000000"), 1732233600358);
}

TEST(TimestampTest, AutoReadsMicrosAndNanos) {
  EXPECT_EQ(Num("1732233600215000"), 1732233600215);
  EXPECT_EQ(Num("1732233600215499"), 1732233600215);
  EXPECT_EQ(Num("1732233600215500"), 1732233600216);
  EXPECT_EQ(Num("1732233600321000000"), 1732233600321);
  EXPECT_EQ(Num("1732233600321499999"), 1732233600321);
  EXPECT_EQ(Num("1732233600321500000"), 1732233600322);
  EXPECT_EQ(Num("1732233600358"), 1732233600358);  // Milliseconds.
}

TEST(TimestampTest, AutoThresholdAt1e11) {
  EXPECT_EQ(Num("99999999999"), 99999999999000);                 // Seconds.
  EXPECT_EQ(Num("99999999999.999"), 99999999999999);             // Still seconds.
  EXPECT_EQ(Num("100000000000"), 100000000000);                  // 1e11: ms.
  EXPECT_EQ(Num("1e11"), 100000000000);
  EXPECT_EQ(Num("1E11"), 100000000000);
  EXPECT_EQ(Num("0.1e12"), 100000000000);
  EXPECT_EQ(Num("99999999999.9999"), 100000000000000);           // Seconds, rounded up.
}

TEST(TimestampTest, AutoThresholdAt1e14) {
  EXPECT_EQ(Num("99999999999999"), 99999999999999);      // ms.
  EXPECT_EQ(Num("99999999999999.4"), 99999999999999);    // ms, rounded down.
  EXPECT_EQ(Num("100000000000000"), 100000000000);       // 1e14: us.
  EXPECT_EQ(Num("1e14"), 100000000000);
}

TEST(TimestampTest, AutoThresholdAt1e17) {
  EXPECT_EQ(Num("99999999999999999"), 100000000000000);  // us, rounds up.
  EXPECT_EQ(Num("99999999999999499"), 99999999999999);   // us.
  EXPECT_EQ(Num("100000000000000000"), 100000000000);    // 1e17: ns.
  EXPECT_EQ(Num("1e17"), 100000000000);
}

TEST(TimestampTest, AutoUsesMagnitudeForNegatives) {
  EXPECT_EQ(Num("-5"), -5000);
  EXPECT_EQ(Num("-99999999999"), -99999999999000);
  EXPECT_EQ(Num("-100000000000"), -100000000000);
  EXPECT_EQ(Num("-1e17"), -100000000000);
}

TEST(TimestampTest, ExplicitUnitsIgnoreMagnitude) {
  EXPECT_EQ(Num("5", TimeUnit::kSeconds), 5000);
  EXPECT_EQ(Num("5", TimeUnit::kMillis), 5);
  EXPECT_EQ(Num("5000", TimeUnit::kMicros), 5);
  EXPECT_EQ(Num("5000000", TimeUnit::kNanos), 5);
  EXPECT_EQ(Num("1732233600358", TimeUnit::kSeconds), 1732233600358000);
  EXPECT_EQ(Num("17322336003580000", TimeUnit::kSeconds), std::nullopt);  // 1.7e19 ms overflows int64.
  EXPECT_EQ(Num("1732233600", TimeUnit::kMillis), 1732233600);
  EXPECT_EQ(Num("1732233600", TimeUnit::kIso), kNov22);  // kIso reads numbers as kAuto.
}

TEST(TimestampTest, ZeroAndNegativeZero) {
  EXPECT_EQ(Num("0"), 0);
  EXPECT_EQ(Num("-0"), 0);
  EXPECT_EQ(Num("0.0"), 0);
  EXPECT_EQ(Num("0e5"), 0);
  EXPECT_EQ(Num("0.000e-3"), 0);
  EXPECT_EQ(Num("0", TimeUnit::kNanos), 0);
}

TEST(TimestampTest, ExponentForms) {
  EXPECT_EQ(Num("1.7e12"), 1700000000000);
  EXPECT_EQ(Num("1.7E+12"), 1700000000000);
  EXPECT_EQ(Num("1.732233600358e9"), 1732233600358);
  EXPECT_EQ(Num("1732233600358e-3"), 1732233600358);  // 1.7e9: seconds.
  EXPECT_EQ(Num("17322336003585e-4", TimeUnit::kSeconds), 1732233600359);
  EXPECT_EQ(Num("1e0"), 1000);
  EXPECT_EQ(Num("5e-4", TimeUnit::kSeconds), 1);
  EXPECT_EQ(Num("4e-4", TimeUnit::kSeconds), 0);
  EXPECT_EQ(Num("1e-400"), 0);
  EXPECT_EQ(Num("-1e-400"), 0);
  EXPECT_EQ(Num("1e000000000000000000000000000000000003", TimeUnit::kMillis), 1000);
  EXPECT_EQ(Num("1.5e18"), 1500000000000);  // ns.
}

TEST(TimestampTest, Int64Limits) {
  EXPECT_EQ(Num("9223372036854775807", TimeUnit::kMillis), kInt64Max);
  EXPECT_EQ(Num("9223372036854775808", TimeUnit::kMillis), std::nullopt);
  EXPECT_EQ(Num("-9223372036854775808", TimeUnit::kMillis), kInt64Min);
  EXPECT_EQ(Num("-9223372036854775809", TimeUnit::kMillis), std::nullopt);
  EXPECT_EQ(Num("9223372036854775807.4", TimeUnit::kMillis), kInt64Max);
  EXPECT_EQ(Num("9223372036854775807.5", TimeUnit::kMillis), std::nullopt);  // Rounds past the max.
  EXPECT_EQ(Num("99999999999999999999", TimeUnit::kMillis), std::nullopt);
  EXPECT_EQ(Num("9223372036854775.807", TimeUnit::kSeconds), kInt64Max);
  EXPECT_EQ(Num("9223372036854776", TimeUnit::kSeconds), std::nullopt);
  // A nanosecond count beyond int64 still converts: only the ms must fit.
  EXPECT_EQ(Num("9223372036854775807", TimeUnit::kNanos), 9223372036855);
  EXPECT_EQ(Num("9223372036854775807000000", TimeUnit::kNanos), kInt64Max);
  EXPECT_EQ(Num("9223372036854775808000000", TimeUnit::kNanos), std::nullopt);
  EXPECT_EQ(Num("1e400"), std::nullopt);
  EXPECT_EQ(Num("-1e400"), std::nullopt);
  EXPECT_EQ(Num("1e99999999999999999999999999"), std::nullopt);
}

TEST(TimestampTest, RejectsTextThatIsNotAJsonNumber) {
  for (std::string_view bad : {"", "abc", "-", "+5", "01", "-01", "00", ".5", "5.", "1.e5", "1e", "1e+",
                               "1e-", "1..2", "1.2.3", " 5", "5 ", "5x", "0x10", "inf", "-inf", "nan",
                               "Infinity", "1,5", "1_000", "--5", "5e5.5", "\"5\"", "true", "1 2"}) {
    EXPECT_EQ(Num(bad), std::nullopt) << "'" << bad << "'";
  }
}

// ---------------------------------------------------------------- strings holding numbers

TEST(TimestampTest, DigitStringsReadAsNumbers) {
  EXPECT_EQ(Str("1732233600"), kNov22);
  EXPECT_EQ(Str("1732233600.358"), 1732233600358);
  EXPECT_EQ(Str("1732233600358"), 1732233600358);
  EXPECT_EQ(Str("1732233600215000"), 1732233600215);
  EXPECT_EQ(Str("1732233600321000000"), 1732233600321);
  EXPECT_EQ(Str("-5"), -5000);
  EXPECT_EQ(Str("0"), 0);
  EXPECT_EQ(Str("1.7e12"), 1700000000000);
}

TEST(TimestampTest, DigitStringsUseTheUnit) {
  EXPECT_EQ(Str("1732233600", TimeUnit::kMillis), 1732233600);
  EXPECT_EQ(Str("5", TimeUnit::kSeconds), 5000);
  EXPECT_EQ(Str("1732233600215000", TimeUnit::kMicros), 1732233600215);
  EXPECT_EQ(Str("1732233600", TimeUnit::kIso), kNov22);  // kIso on digits -> kAuto.
  EXPECT_EQ(Str("1732233600358", TimeUnit::kIso), 1732233600358);
}

TEST(TimestampTest, DigitStringsMayHaveLeadingZeros) {
  EXPECT_EQ(Str("01732233600"), kNov22);  // Magnitude, not digit count, picks the unit.
  EXPECT_EQ(Str("0005", TimeUnit::kMillis), 5);
}

TEST(TimestampTest, RejectsMalformedNumericStrings) {
  for (std::string_view bad : {"", " ", "-", "+5", "5.", ".5", " 1732233600", "1732233600 ", "1732233600x",
                               "1e400", "1,5", "--5"}) {
    EXPECT_EQ(Str(bad), std::nullopt) << "'" << bad << "'";
  }
}

// ---------------------------------------------------------------- ISO-8601

TEST(TimestampTest, IsoUtcWithMillis) {
  EXPECT_EQ(Str("2019-04-28T12:59:36.599Z"), 1556456376599);
  EXPECT_EQ(Str("2019-04-28T12:59:36.599Z", TimeUnit::kIso), 1556456376599);
  EXPECT_EQ(Str("2019-04-28T12:59:36.599Z", TimeUnit::kMillis), 1556456376599);  // ISO whatever the unit.
  EXPECT_EQ(Str("2019-04-28t12:59:36.599z"), 1556456376599);
  EXPECT_EQ(Str("2024-11-22T00:00:00Z"), kNov22);
  EXPECT_EQ(Str("1970-01-01T00:00:00Z"), 0);
}

TEST(TimestampTest, IsoOffsets) {
  EXPECT_EQ(Str("2024-11-22T03:13:20.147+02:00"), 1732238000147);
  EXPECT_EQ(Str("2024-11-22T03:13:20.147+0200"), 1732238000147);
  EXPECT_EQ(Str("2024-11-22T03:13:20.147+02"), 1732238000147);
  EXPECT_EQ(Str("2024-11-22T00:00:00-05:00"), kNov22 + 5 * 3600000);
  EXPECT_EQ(Str("2024-11-22T00:00:00-0530"), kNov22 + 5 * 3600000 + 30 * 60000);
  EXPECT_EQ(Str("2024-11-22T00:00:00+05:45"), kNov22 - 5 * 3600000 - 45 * 60000);
  EXPECT_EQ(Str("2024-11-22T00:00:00+00:00"), kNov22);
  EXPECT_EQ(Str("2024-11-22T00:00:00-00:00"), kNov22);
  EXPECT_EQ(Str("2024-11-22T00:00:00+23:59"), kNov22 - 23 * 3600000 - 59 * 60000);
}

TEST(TimestampTest, IsoOffsetsCrossMidnightAndYears) {
  // 01:00 at UTC+2 is 23:00 the previous day in UTC.
  EXPECT_EQ(Str("2024-11-22T01:00:00+02:00"), 1732230000000);
  EXPECT_EQ(FormatIsoMillis(*Str("2024-11-22T01:00:00+02:00")), "2024-11-21T23:00:00.000Z");
  // 22:00 on New Year's Eve at UTC-5 is 03:00 on January 1st in UTC.
  EXPECT_EQ(Str("2024-12-31T22:00:00-05:00"), 1735700400000);
  EXPECT_EQ(FormatIsoMillis(*Str("2024-12-31T22:00:00-05:00")), "2025-01-01T03:00:00.000Z");
  EXPECT_EQ(Str("1970-01-01T00:00:00+01:00"), -3600000);
}

TEST(TimestampTest, IsoSpaceSeparatorAndNoZone) {
  EXPECT_EQ(Str("2024-11-22 00:00:00"), kNov22);
  EXPECT_EQ(Str("2024-11-22T00:00:00"), kNov22);
  EXPECT_EQ(Str("2024-11-22 03:13:20.147+02:00"), 1732238000147);
  EXPECT_EQ(Str("2024-11-22 00:00:00Z"), kNov22);
}

TEST(TimestampTest, DefaultOffsetAppliesOnlyWithoutZone) {
  EXPECT_EQ(Str("2024-11-22 01:00:00", TimeUnit::kAuto, 120), 1732230000000);
  EXPECT_EQ(Str("2024-11-22T00:00:00", TimeUnit::kIso, -300), kNov22 + 5 * 3600000);
  EXPECT_EQ(Str("2024-11-22T00:00:00Z", TimeUnit::kAuto, 120), kNov22);
  EXPECT_EQ(Str("2024-11-22T00:00:00-01:00", TimeUnit::kAuto, 120), kNov22 + 3600000);
  EXPECT_EQ(Str("1732233600", TimeUnit::kAuto, 120), kNov22);  // Epoch numbers are UTC.
}

TEST(TimestampTest, IsoFractionDigitsRoundToMillis) {
  EXPECT_EQ(Str("2024-11-22T00:00:00.5Z"), kNov22 + 500);
  EXPECT_EQ(Str("2024-11-22T00:00:00.05Z"), kNov22 + 50);
  EXPECT_EQ(Str("2024-11-22T00:00:00.147Z"), kNov22 + 147);
  EXPECT_EQ(Str("2024-11-22T00:00:00.1474Z"), kNov22 + 147);
  EXPECT_EQ(Str("2024-11-22T00:00:00.1475Z"), kNov22 + 148);
  EXPECT_EQ(Str("2024-11-22T00:00:00.147499999Z"), kNov22 + 147);
  EXPECT_EQ(Str("2024-11-22T00:00:00.123456789123Z"), kNov22 + 123);
  EXPECT_EQ(Str("2024-11-22T00:00:00.000000001Z"), kNov22);
  EXPECT_EQ(Str("2024-11-22T23:59:59.9995Z"), kNov22 + 86400000);  // Rounds into the next day.
  EXPECT_EQ(Str("2024-11-22T00:00:00.999+01:00"), kNov22 - 3600000 + 999);
}

TEST(TimestampTest, LeapYears) {
  EXPECT_EQ(Str("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(Str("2000-02-29T00:00:00Z"), 951782400000);  // Divisible by 400.
  EXPECT_EQ(Str("2023-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("1900-02-29T00:00:00Z"), std::nullopt);  // Divisible by 100.
  EXPECT_EQ(Str("2100-02-29T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("1900-03-01T00:00:00Z"), -2203891200000);
  EXPECT_EQ(*Str("2024-03-01T00:00:00Z") - *Str("2024-02-28T00:00:00Z"), 2 * 86400000);
  EXPECT_EQ(*Str("2023-03-01T00:00:00Z") - *Str("2023-02-28T00:00:00Z"), 1 * 86400000);
}

TEST(TimestampTest, IsoDayLimitsPerMonth) {
  EXPECT_NE(Str("2024-01-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-01-32T00:00:00Z"), std::nullopt);
  EXPECT_NE(Str("2024-04-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-04-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-06-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-09-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-11-31T00:00:00Z"), std::nullopt);
  EXPECT_NE(Str("2024-12-31T00:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-02-30 00:00:00"), std::nullopt);
  EXPECT_EQ(Str("2024-11-00T00:00:00Z"), std::nullopt);
}

TEST(TimestampTest, IsoTimeLimits) {
  EXPECT_EQ(Str("2024-11-22T23:59:59Z"), kNov22 + 86399000);
  EXPECT_EQ(Str("2024-11-22T24:00:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-11-22T00:60:00Z"), std::nullopt);
  EXPECT_EQ(Str("2024-11-22T23:59:60Z"), kNov22 + 86400000);  // Leap second.
  EXPECT_EQ(Str("2024-11-22T00:00:61Z"), std::nullopt);
  EXPECT_EQ(Str("2024-11-22T00:00:00+24:00"), std::nullopt);
  EXPECT_EQ(Str("2024-11-22T00:00:00+02:60"), std::nullopt);
}

TEST(TimestampTest, IsoYearRange) {
  EXPECT_EQ(Str("0001-01-01T00:00:00Z"), -62135596800000);
  EXPECT_EQ(Str("0000-01-01T00:00:00Z"), -62135596800000 - 366LL * 86400000);  // Year 0 is leap.
  EXPECT_EQ(Str("9999-12-31T23:59:59.999Z"), 253402300799999);
  EXPECT_EQ(Str("1969-12-31T23:59:59.999Z"), -1);
}

TEST(TimestampTest, RejectsInvalidIso) {
  for (std::string_view bad : {
           "abc",
           "2024-13-01T00:00:00Z",
           "2024-00-01T00:00:00Z",
           "2024-02-30 00:00:00",
           "12:00",
           "12:00:00",
           "2024-11-22",                // Date only.
           "2024-11-22T",               // No time.
           "2024-11-22T00:00",          // No seconds.
           "2024-11-22T00:00:00Zx",     // Trailing garbage.
           "2024-11-22T00:00:00 ",      // Trailing space.
           " 2024-11-22T00:00:00",      // Leading space.
           "2024-11-22T00:00:00.Z",     // Empty fraction.
           "2024-11-22T00:00:00,5Z",    // Comma fraction.
           "2024-11-22T00:00:00+2:00",  // One-digit offset hour.
           "2024-11-22T00:00:00+02:0",
           "2024-11-22T00:00:00+02:",
           "2024-11-22T00:00:00+020",
           "2024-11-22T00:00:00+",
           "2024-11-22T00:00:00UTC",
           "2024-11-22T00:00:00ZZ",
           "2024-11-22T00:00:00+02:00Z",
           "2024-11-22X00:00:00Z",      // Bad separator.
           "2024-11-22  00:00:00",
           "2024/11/22 00:00:00",
           "24-11-22T00:00:00Z",        // Two-digit year.
           "2024-1-22T00:00:00Z",       // One-digit month.
           "2024-11-2T00:00:00Z",
           "2024-11-22T0:00:00Z",
           "2024-11-22T00:0:00Z",
           "2024-11-22T00:00:0Z",
           "+2024-11-22T00:00:00Z",
           "-2024-11-22T00:00:00Z",
           "20241122T000000Z",          // Basic format.
           "2024-11-22T00:00:00.5.5Z",
       }) {
    EXPECT_EQ(Str(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(TimestampTest, ReadsOnlyTheGivenView) {
  // Views into a larger buffer (as simdjson hands them out) end where they say.
  const std::string buffer = "2024-11-22T00:00:00.147Z,1732233600.358";
  const std::string_view view(buffer);
  EXPECT_EQ(Str(view.substr(0, 24)), kNov22 + 147);
  EXPECT_EQ(Str(view.substr(0, 23)), kNov22 + 147);  // No zone: UTC.
  EXPECT_EQ(Str(view.substr(0, 17)), std::nullopt);  // "2024-11-22T00:00:" then "00" past the end.
  EXPECT_EQ(Str(view.substr(0, 18)), std::nullopt);
  EXPECT_EQ(Str(view.substr(0, 20)), std::nullopt);  // Fraction point with its digits past the end.
  EXPECT_EQ(Num(view.substr(25, 10)), kNov22);
  EXPECT_EQ(Num(view.substr(25, 12)), 1732233600300);
  EXPECT_EQ(Num(view.substr(25, 11)), std::nullopt);  // "1732233600." with digits past the end.
  const std::string offset = "2024-11-22T00:00:00+02:00";
  EXPECT_EQ(Str(std::string_view(offset).substr(0, 22)), kNov22 - 2 * 3600000);  // "+02"
  EXPECT_EQ(Str(std::string_view(offset).substr(0, 24)), std::nullopt);          // "+02:0"
  EXPECT_EQ(ParseDurationMs(std::string_view("250ms").substr(0, 4)), 250 * 60000);  // "250m"
}

// ---------------------------------------------------------------- formatting

TEST(TimestampTest, FormatIsoMillisAlwaysThreeDigits) {
  EXPECT_EQ(FormatIsoMillis(kNov22), "2024-11-22T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(kNov22 + 999), "2024-11-22T00:00:00.999Z");
  EXPECT_EQ(FormatIsoMillis(1556456376599), "2019-04-28T12:59:36.599Z");
  EXPECT_EQ(FormatIsoMillis(1732238000147), "2024-11-22T01:13:20.147Z");
  EXPECT_EQ(FormatIsoMillis(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(1709164800000), "2024-02-29T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(253402300799999), "9999-12-31T23:59:59.999Z");
}

TEST(TimestampTest, FormatIsoMillisBeforeEpoch) {
  EXPECT_EQ(FormatIsoMillis(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIsoMillis(-86400000), "1969-12-31T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(-86400001), "1969-12-30T23:59:59.999Z");
  EXPECT_EQ(FormatIsoMillis(-2203891200000), "1900-03-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(-62135596800000), "0001-01-01T00:00:00.000Z");
}

TEST(TimestampTest, FormatIsoMillisOutsideFourDigitYears) {
  EXPECT_EQ(FormatIsoMillis(253402300800000), "+10000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIsoMillis(-62135596800000 - 366LL * 86400000 - 1), "-0001-12-31T23:59:59.999Z");
  // The extremes format without crashing.
  EXPECT_EQ(FormatIsoMillis(kInt64Max).back(), 'Z');
  EXPECT_EQ(FormatIsoMillis(kInt64Min).back(), 'Z');
}

TEST(TimestampTest, FormatParseRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{-1}, kNov22, kNov22 + 1, int64_t{951782400000} - 1,
                     int64_t{253402300799999}, int64_t{-62135596800000}, int64_t{1556456376599}}) {
    EXPECT_EQ(Str(FormatIsoMillis(ms)), ms) << FormatIsoMillis(ms);
  }
  // Every day of a leap and a non-leap year, at an odd time of day.
  for (int64_t ms = *Str("2023-01-01T07:08:09.010Z"); ms < *Str("2025-01-01T00:00:00Z"); ms += 86400000) {
    ASSERT_EQ(Str(FormatIsoMillis(ms)), ms) << FormatIsoMillis(ms);
  }
}

// ---------------------------------------------------------------- durations

TEST(TimestampTest, ParsesDurationUnits) {
  EXPECT_EQ(ParseDurationMs("250ms"), 250);
  EXPECT_EQ(ParseDurationMs("30s"), 30000);
  EXPECT_EQ(ParseDurationMs("5m"), 300000);
  EXPECT_EQ(ParseDurationMs("1h"), 3600000);
  EXPECT_EQ(ParseDurationMs("1d"), 86400000);
  EXPECT_EQ(ParseDurationMs("6h"), 21600000);
  EXPECT_EQ(ParseDurationMs("90s"), 90000);
  EXPECT_EQ(ParseDurationMs("1ms"), 1);
}

TEST(TimestampTest, ParsesZeroDurations) {
  EXPECT_EQ(ParseDurationMs("0"), 0);
  EXPECT_EQ(ParseDurationMs("0s"), 0);
  EXPECT_EQ(ParseDurationMs("0ms"), 0);
  EXPECT_EQ(ParseDurationMs("0d"), 0);
  EXPECT_EQ(ParseDurationMs("0.0s"), 0);
}

TEST(TimestampTest, ParsesFractionalDurationsExactly) {
  EXPECT_EQ(ParseDurationMs("1.5s"), 1500);
  EXPECT_EQ(ParseDurationMs("0.25m"), 15000);
  EXPECT_EQ(ParseDurationMs("1.5h"), 5400000);
  EXPECT_EQ(ParseDurationMs("0.5d"), 43200000);
  EXPECT_EQ(ParseDurationMs("0.001s"), 1);
  EXPECT_EQ(ParseDurationMs("0.358s"), 358);  // Exact, not 357.99...
  EXPECT_EQ(ParseDurationMs("1.500000000000000000000000s"), 1500);
  EXPECT_EQ(ParseDurationMs("0.0000000115740740740740740740740740741d"), std::nullopt);  // ~1 ms, not exact.
  EXPECT_EQ(ParseDurationMs("0.0000000625d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.00000003125d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.0000115740740740740740740740740740741d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.0000231481481481481481481481481481481d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.00003125d"), 2700);  // 1/32000 day = 2700 ms.
}

TEST(TimestampTest, RejectsSubMillisecondDurations) {
  EXPECT_EQ(ParseDurationMs("1.5ms"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.0001s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("0.5ms"), std::nullopt);
}

TEST(TimestampTest, ParsesCompoundDurations) {
  EXPECT_EQ(ParseDurationMs("1h30m"), 5400000);
  EXPECT_EQ(ParseDurationMs("1d2h3m4s5ms"), 86400000 + 2 * 3600000 + 3 * 60000 + 4000 + 5);
  EXPECT_EQ(ParseDurationMs("1m30s"), 90000);
  EXPECT_EQ(ParseDurationMs("1s500ms"), 1500);
  EXPECT_EQ(ParseDurationMs("30m1ms"), 1800001);
}

TEST(TimestampTest, RejectsCompoundDurationsOutOfOrder) {
  EXPECT_EQ(ParseDurationMs("30m1h"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("1s1s"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("1m1m"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("500ms1s"), std::nullopt);
}

TEST(TimestampTest, RejectsInvalidDurations) {
  for (std::string_view bad : {"", "5", "1.5", "00", "s", "ms", "-5s", "+5s", " 5s", "5s ", "5 s", "5S", "5M",
                               "5sec", "5min", "5w", "5y", "5us", "5ns", ".5s", "5.s", "1e3ms", "1h30",
                               "1h 30m", "abc", "5mss", "5smm", "0x10s", "1..5s", "1.5.5s"}) {
    EXPECT_EQ(ParseDurationMs(bad), std::nullopt) << "'" << bad << "'";
  }
}

TEST(TimestampTest, DurationOverflow) {
  EXPECT_EQ(ParseDurationMs("9223372036854775807ms"), kInt64Max);
  EXPECT_EQ(ParseDurationMs("9223372036854775808ms"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("106751991167d"), 106751991167LL * 86400000);
  EXPECT_EQ(ParseDurationMs("106751991168d"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("106751991167d23h"), std::nullopt);
  EXPECT_EQ(ParseDurationMs("99999999999999999999999999s"), std::nullopt);
}

TEST(TimestampTest, FormatsDurationsWithLargestExactUnit) {
  EXPECT_EQ(FormatDurationMs(0), "0s");
  EXPECT_EQ(FormatDurationMs(250), "250ms");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
  EXPECT_EQ(FormatDurationMs(1000), "1s");
  EXPECT_EQ(FormatDurationMs(30000), "30s");
  EXPECT_EQ(FormatDurationMs(90000), "90s");
  EXPECT_EQ(FormatDurationMs(300000), "5m");
  EXPECT_EQ(FormatDurationMs(5400000), "90m");
  EXPECT_EQ(FormatDurationMs(3600000), "1h");
  EXPECT_EQ(FormatDurationMs(90000000), "25h");
  EXPECT_EQ(FormatDurationMs(86400000), "1d");
  EXPECT_EQ(FormatDurationMs(7 * 86400000LL), "7d");
  EXPECT_EQ(FormatDurationMs(-300000), "-5m");
  EXPECT_EQ(FormatDurationMs(kInt64Max), "9223372036854775807ms");
  EXPECT_EQ(FormatDurationMs(kInt64Min), "-9223372036854775808ms");
}

TEST(TimestampTest, DurationsRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{59999}, int64_t{60000},
                     int64_t{3599999}, int64_t{3600000}, int64_t{86399999}, int64_t{86400000}, kInt64Max}) {
    EXPECT_EQ(ParseDurationMs(FormatDurationMs(ms)), ms) << FormatDurationMs(ms);
  }
}

}  // namespace
}  // namespace vigil
