// Fuzz target: CSV input (engine/src/parse/csv_reader.h and
// vigil/engine/csv_decoder.h): a header line, then data rows decoded into
// messages, as the file source reads a .csv file.
//
// Input: byte 0 picks the time unit (bits 0-2), whether lines keep their
// "\n" (bit 3) and the timestamp column list (bit 4); the rest is the file,
// split at '\n'. Oracles, besides the sanitizers:
//  - a line that splits re-splits to the same cells once each cell is
//    quoted RFC-4180 style and joined with ',';
//  - a cell ParseCsvNumber reads as a finite number other than true/false
//    reads the same with strtod (exact decimal-to-double conversion);
//  - a decoded row fills every slot of the schema with a value or null.
// Thread-safety: single-threaded.
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "parse/csv_reader.h"
#include "vigil/engine/csv_decoder.h"

namespace {

vigil::Schema MakeSchema() {
  vigil::Schema schema;
  for (const char* f : {"temp", "hum", "ts", "payload.temp"}) schema.AddField(f);
  for (const char* t : {"device", "zone", "temp"}) schema.AddTag(t);
  return schema;
}

bool IsBoolWord(std::string_view s) {
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "true" || lower == "false";
}

void CheckNumber(std::string_view cell) {
  const std::optional<double> v = vigil::ParseCsvNumber(cell);
  if (!v) return;
  const std::string_view t = vigil::TrimCsvSpaces(cell);
  FUZZ_CHECK(!t.empty());
  if (IsBoolWord(t)) return;
  const std::string text(t);
  char* end = nullptr;
  const double expected = std::strtod(text.c_str(), &end);
  FUZZ_CHECK(end == text.c_str() + text.size());
  FUZZ_CHECK(std::isfinite(*v));
  FUZZ_CHECK(*v == expected);
}

void CheckSplit(std::string_view line) {
  vigil::CsvRow row;
  if (!row.Split(line).ok()) return;
  FUZZ_CHECK(row.size() >= 1);
  std::vector<std::string> cells;
  std::string joined;
  for (size_t i = 0; i < row.size(); ++i) {
    cells.emplace_back(row[i]);
    CheckNumber(row[i]);
    if (i) joined += ',';
    joined += '"';
    for (char c : row[i]) {
      if (c == '"') joined += '"';  // a quote inside a quoted cell is doubled
      joined += c;
    }
    joined += '"';
  }
  // A cell holding '\r' or '\n' at the end would be taken for a line end.
  if (joined.find_first_of("\r\n") != std::string::npos) return;
  vigil::CsvRow again;
  FUZZ_CHECK(again.Split(joined).ok());
  FUZZ_CHECK(again.size() == cells.size());
  for (size_t i = 0; i < cells.size(); ++i) FUZZ_CHECK(again[i] == cells[i]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr vigil::TimeUnit kUnits[] = {vigil::TimeUnit::kAuto,   vigil::TimeUnit::kSeconds,
                                               vigil::TimeUnit::kMillis, vigil::TimeUnit::kMicros,
                                               vigil::TimeUnit::kNanos,  vigil::TimeUnit::kIso,
                                               vigil::TimeUnit::kAuto,   vigil::TimeUnit::kIso};
  vigil::MessageFormat format;
  format.unit = kUnits[data[0] & 7];
  const bool keep_newline = data[0] & 8;
  if (data[0] & 16) format.ts_fields = {"time", "ts"};
  format.max_message_bytes = 512;
  const std::string_view file(reinterpret_cast<const char*>(data) + 1, size - 1);

  // One schema and interner for every file, as in the engine (the interner is
  // renewed now and then so that it does not grow without bound); one
  // decoder per file.
  static const vigil::Schema schema = MakeSchema();
  static vigil::TagInterner tags;
  if (tags.size() > 100000) tags.Clear();
  vigil::CsvMessageDecoder decoder(schema, format, &tags);

  vigil::ParsedMessage message;
  size_t start = 0;
  while (start < file.size()) {
    size_t nl = file.find('\n', start);
    const size_t end = nl == std::string_view::npos ? file.size() : (keep_newline ? nl + 1 : nl);
    const std::string_view line = file.substr(start, end - start);
    start = nl == std::string_view::npos ? file.size() : nl + 1;
    CheckSplit(line);
    if (!decoder.has_header()) {
      (void)decoder.SetHeader(line);  // a bad header is an error the file source reports, not a finding
      continue;
    }
    if (decoder.Decode(line, &message) != vigil::RejectReason::kNone) continue;
    FUZZ_CHECK(message.fields.size() == schema.field_count());
    FUZZ_CHECK(message.tags.size() == schema.tag_count());
    for (uint32_t id : message.tags) FUZZ_CHECK(id <= tags.size());
  }
  return 0;
}
