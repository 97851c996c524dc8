// CSV line splitting, header and number cells; see csv_reader.h.
//
// Thread-safety: pure functions; CsvRow/CsvHeader are plain values.
#include "parse/csv_reader.h"

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

namespace vigil {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

size_t SkipSpaces(std::string_view line, size_t pos) {
  while (pos < line.size() && IsSpace(line[pos])) ++pos;
  return pos;
}

std::string_view StripLineEnd(std::string_view line) {
  if (line.ends_with('\n')) line.remove_suffix(1);
  if (line.ends_with('\r')) line.remove_suffix(1);
  return line;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != lower[i]) return false;
  }
  return true;
}

// Where a JSON number (no sign) in `text` stands: the number of digits of its
// integer part once leading zeros are gone, adjusted by the exponent. Used
// only to tell an overflow (> 0) from an underflow (<= 0). nullopt when
// `text` is not exactly an unsigned JSON number.
std::optional<int64_t> JsonNumberOrder(std::string_view text) {
  size_t pos = 0;
  const size_t int_begin = pos;
  while (pos < text.size() && IsDigit(text[pos])) ++pos;
  const size_t int_size = pos - int_begin;
  if (int_size == 0 || (int_size > 1 && text[int_begin] == '0')) return std::nullopt;
  size_t leading_zeros = 0;  // Over integer and fraction digits.
  bool seen_nonzero = false;
  for (size_t i = int_begin; i < pos; ++i) {
    if (text[i] != '0') seen_nonzero = true;
    if (!seen_nonzero) ++leading_zeros;
  }
  if (pos < text.size() && text[pos] == '.') {
    const size_t frac_begin = ++pos;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (text[pos] != '0') seen_nonzero = true;
      if (!seen_nonzero) ++leading_zeros;
      ++pos;
    }
    if (pos == frac_begin) return std::nullopt;
  }
  int64_t exponent = 0;
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    ++pos;
    bool negative = false;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) negative = text[pos++] == '-';
    const size_t exp_begin = pos;
    while (pos < text.size() && IsDigit(text[pos])) {
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == exp_begin) return std::nullopt;
    if (negative) exponent = -exponent;
  }
  if (pos != text.size()) return std::nullopt;
  return static_cast<int64_t>(int_size) - static_cast<int64_t>(leading_zeros) + exponent;
}

}  // namespace

std::string_view CsvErrorName(CsvError error) noexcept {
  switch (error) {
    case CsvError::kOk: return "ok";
    case CsvError::kUnterminatedQuote: return "unterminated quote";
    case CsvError::kBareQuote: return "bare quote in unquoted cell";
    case CsvError::kTextAfterQuote: return "text after closing quote";
  }
  return "unknown";
}

CsvSplitResult SplitCsvLine(std::string_view line, std::vector<std::string_view>* cells, std::string* scratch) {
  cells->clear();
  scratch->clear();
  // Unescaped text is never longer than the line, so with this capacity the
  // appends below never reallocate and earlier views into scratch survive.
  scratch->reserve(line.size());
  line = StripLineEnd(line);
  size_t pos = 0;
  while (true) {
    const size_t quote_begin = SkipSpaces(line, pos);
    if (quote_begin == line.size() || line[quote_begin] != '"') {
      // Unquoted: up to the next comma, byte for byte.
      const size_t stop = line.find_first_of(",\"", pos);
      if (stop != std::string_view::npos && line[stop] == '"') return {CsvError::kBareQuote, stop};
      const size_t end = stop == std::string_view::npos ? line.size() : stop;
      cells->push_back(line.substr(pos, end - pos));
      if (end == line.size()) return {};
      pos = end + 1;
      continue;
    }
    // Quoted: view into the line unless a '""' forces a copy into scratch.
    const size_t content_begin = quote_begin + 1;
    size_t scan = content_begin;
    size_t scratch_begin = std::string::npos;
    std::string_view cell;
    while (true) {
      const size_t quote = line.find('"', scan);
      if (quote == std::string_view::npos) return {CsvError::kUnterminatedQuote, quote_begin};
      if (quote + 1 < line.size() && line[quote + 1] == '"') {
        if (scratch_begin == std::string::npos) scratch_begin = scratch->size();
        scratch->append(line.substr(scan, quote + 1 - scan));  // Keeps one '"'.
        scan = quote + 2;
        continue;
      }
      if (scratch_begin == std::string::npos) {
        cell = line.substr(content_begin, quote - content_begin);
      } else {
        scratch->append(line.substr(scan, quote - scan));
        cell = std::string_view(*scratch).substr(scratch_begin);
      }
      pos = quote + 1;
      break;
    }
    pos = SkipSpaces(line, pos);
    if (pos < line.size() && line[pos] != ',') return {CsvError::kTextAfterQuote, pos};
    cells->push_back(cell);
    if (pos == line.size()) return {};
    ++pos;
  }
}

Result<CsvHeader> CsvHeader::Parse(std::string_view line) {
  if (line.starts_with(kUtf8Bom)) line.remove_prefix(kUtf8Bom.size());
  if (StripLineEnd(line).empty()) return Status::InvalidArgument("CSV header: the line is empty (expected column names)");
  std::vector<std::string_view> cells;
  std::string scratch;
  const CsvSplitResult split = SplitCsvLine(line, &cells, &scratch);
  if (!split.ok()) {
    return Status::InvalidArgument("CSV header: " + std::string(CsvErrorName(split.error)) + " at byte " +
                                   std::to_string(split.offset));
  }
  CsvHeader header;
  header.names_.reserve(cells.size());
  for (std::string_view cell : cells) header.names_.emplace_back(TrimCsvSpaces(cell));
  return header;
}

std::optional<size_t> CsvHeader::Find(std::string_view name) const {
  if (name.empty()) return std::nullopt;
  for (size_t column = 0; column < names_.size(); ++column) {
    if (names_[column] == name) return column;
  }
  return std::nullopt;
}

std::string_view TrimCsvSpaces(std::string_view cell) noexcept {
  while (!cell.empty() && IsSpace(cell.front())) cell.remove_prefix(1);
  while (!cell.empty() && IsSpace(cell.back())) cell.remove_suffix(1);
  return cell;
}

std::optional<double> ParseCsvNumber(std::string_view cell) noexcept {
  cell = TrimCsvSpaces(cell);
  if (cell.empty()) return std::nullopt;
  if (EqualsIgnoreCase(cell, "true")) return 1.0;
  if (EqualsIgnoreCase(cell, "false")) return 0.0;
  bool negative = false;
  std::string_view unsigned_part = cell;
  if (cell.front() == '+' || cell.front() == '-') {
    negative = cell.front() == '-';
    unsigned_part.remove_prefix(1);
  }
  // Check the grammar first: from_chars would also take "inf", "nan", ".5", "01".
  const std::optional<int64_t> order = JsonNumberOrder(unsigned_part);
  if (!order) return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(unsigned_part.data(), unsigned_part.data() + unsigned_part.size(), value);
  if (ec == std::errc::result_out_of_range) {
    if (*order > 0) return std::nullopt;  // Beyond DBL_MAX.
    value = 0;                            // Below the smallest subnormal.
  } else if (ec != std::errc() || end != unsigned_part.data() + unsigned_part.size()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

}  // namespace vigil
