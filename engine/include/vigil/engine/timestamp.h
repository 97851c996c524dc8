// Event timestamps: reading them from message fields, and durations.
//
// Every event time in vigil is an int64 count of milliseconds since the Unix
// epoch (UTC). This header turns what a source finds in a message (a JSON
// number token, a JSON string holding digits or an ISO-8601 date-time) into
// that count, and reads/writes the duration literals of rules files and
// expressions ("250ms 30s 5m 1h 1d"). Conversions are exact: digits are
// handled as decimal text, never through a double, so "1732233600.358"
// seconds is 1732233600358 ms whatever its binary value. Times are rounded
// to the nearest millisecond, half away from zero.
//
// Thread-safety: free functions on their arguments only; no global state (no
// libc time zone, no locale). The parsing functions are noexcept and never
// allocate, so they are safe on the hot path; the Format* functions allocate
// their result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil {

// How a source reads its timestamp field. Set per source (`timestamp:
// {field: ts, unit: auto}`). Default: kAuto.
enum class TimeUnit {
  kAuto,     // By magnitude: < 1e11 seconds, < 1e14 ms, < 1e17 us, else ns.
  kSeconds,  // Epoch seconds, fraction allowed.
  kMillis,   // Epoch milliseconds.
  kMicros,   // Epoch microseconds.
  kNanos,    // Epoch nanoseconds.
  kIso,      // ISO-8601 string; a number (or a digit string) is read as kAuto.
};

// Parses a unit name as written in a rules file: "auto", "s", "ms", "us",
// "ns", "iso", or the long forms "seconds", "milliseconds", "microseconds",
// "nanoseconds", "iso8601". Case-sensitive. Returns nullopt for anything
// else (the caller reports it with TimeUnitName's list as suggestions).
std::optional<TimeUnit> ParseTimeUnit(std::string_view name);

// The short name of `unit` ("auto", "s", "ms", "us", "ns", "iso"); it
// round-trips through ParseTimeUnit. The view is static.
std::string_view TimeUnitName(TimeUnit unit) noexcept;

// Converts the raw text of a JSON number token ("1732233600.358",
// "1732233600215000", "1.7e12", "-5") to epoch milliseconds, rounded to the
// nearest ms (half away from zero) with exact decimal arithmetic. The text
// must match the JSON number grammar exactly: no '+', no leading zeros, no
// spaces, no "inf"/"nan". kAuto picks the unit from the magnitude of the
// value (see TimeUnit); kIso is read as kAuto, since a number cannot be
// ISO-8601. Returns nullopt if the text is not a JSON number or the result
// does not fit in int64 ms.
std::optional<int64_t> TimestampFromNumberText(std::string_view text, TimeUnit unit) noexcept;

// Converts a timestamp given as a JSON string (the unescaped content, no
// quotes) to epoch milliseconds.
//  - A number ("1732233600", "-5", "1732233600.358", "1.7e12"; leading zeros
//    allowed, nothing else around it) is read as TimestampFromNumberText
//    does, with `unit` (kIso -> kAuto).
//  - Anything else must be ISO-8601 / RFC 3339, whatever `unit` says:
//      YYYY-MM-DD('T'|'t'|' ')HH:MM:SS[.fraction][zone]
//    with any number of fraction digits (rounded half up to the ms) and
//    zone 'Z', 'z', "+HH:MM", "+HHMM" or "+HH" (or '-'). Without a zone the
//    time is local to UTC+`default_offset_minutes` (0 = UTC). Ranges are
//    checked: year 0000-9999, month 1-12, day valid for the month (leap years
//    included), hour < 24, minute < 60, second <= 60 (a leap second reads
//    as the next minute's :00), offset hour < 24 and minute < 60.
// Returns nullopt on anything else (empty text, a date without a time, a
// time without a date, surrounding spaces, trailing characters).
std::optional<int64_t> TimestampFromString(std::string_view text, TimeUnit unit,
                                           int default_offset_minutes = 0) noexcept;

// Formats epoch ms as RFC 3339 UTC with exactly 3 fraction digits:
// "2024-11-22T00:00:00.999Z". Years outside 0000-9999 are written with a
// sign ("+10000-01-01T...", "-0001-12-31T..."); those do not parse back.
std::string FormatIsoMillis(int64_t epoch_ms);

// Parses a duration: one or more <number><unit> parts with units "ms", "s",
// "m", "h", "d" in strictly decreasing order ("250ms", "30s", "1.5s",
// "1h30m"), or the bare "0". A fraction is allowed when the part is a whole
// number of milliseconds ("1.5s", "0.25m"; not "1.5ms", "0.0001s"). No sign,
// no spaces. Returns milliseconds, or nullopt if the text is not such a
// duration or exceeds int64 ms.
std::optional<int64_t> ParseDurationMs(std::string_view text) noexcept;

// Formats `ms` with the largest unit that divides it exactly ("1d", "90m",
// "90s", "250ms"; 0 is "0s"). Non-negative output round-trips through
// ParseDurationMs; a negative duration is written with a leading '-', which
// ParseDurationMs rejects.
std::string FormatDurationMs(int64_t ms);

}  // namespace vigil
