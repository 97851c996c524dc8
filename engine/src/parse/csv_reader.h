// CSV records (RFC 4180), one physical line at a time: splitting a line into
// cells, the header that names the columns, and reading a cell as a number.
//
// A CSV row with a header is one message (DESIGN.md, "Messages and events"):
// a cell that ParseCsvNumber accepts is a field, another non-empty cell is a
// tag, an empty cell is a missing field. The file source reads lines, keeps a
// CsvHeader from the first one and a CsvRow per reader, and sends a line
// that does not split to the dead-letter sink with CsvErrorName as reason.
//
// Quoting follows RFC 4180: a cell may be enclosed in double quotes, inside
// which ',' is data and '""' is one '"'. Two leniencies: spaces and tabs
// around a quoted cell are ignored ( `1, "a,b" ,2` is 1 | a,b | 2), and the
// line may end in "\r", "\n" or "\r\n". Not supported: a record spanning
// several lines (a newline inside quotes); its first line fails with
// kUnterminatedQuote. Cells are bytes: no encoding is checked.
//
// Thread-safety: free functions are pure; a CsvRow or CsvHeader is a plain
// value, used by one thread at a time.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/status.h"

namespace vigil {

// Why a line is not a well-formed CSV record.
enum class CsvError {
  kOk,
  kUnterminatedQuote,  // A quoted cell has no closing quote on this line.
  kBareQuote,          // A '"' inside an unquoted cell (quote the cell, double the '"').
  kTextAfterQuote,     // Something other than ',' or spaces after a closing quote.
};

// A short reason for logs and the dead-letter sink: "unterminated quote",
// "bare quote in unquoted cell", "text after closing quote" ("ok" for kOk).
// The view is static.
std::string_view CsvErrorName(CsvError error) noexcept;

// The outcome of splitting one line.
struct [[nodiscard]] CsvSplitResult {
  CsvError error = CsvError::kOk;
  size_t offset = 0;  // Byte offset in the line where the problem is (the opening quote, the bare quote, ...).
  bool ok() const { return error == CsvError::kOk; }
};

// Splits one line into `cells`, replacing their previous contents. A line
// always has at least one cell: "" is one empty cell, "a," is "a" and "".
// Unquoted cells are kept byte for byte (spaces included). Each view points
// into `line` or, for a quoted cell with '""' escapes, into `scratch`; the
// views stay valid until `line` or `scratch` is modified or destroyed (so,
// until the next call with the same scratch). On failure `cells` holds the
// cells before the bad one.
// Allocates only while `cells` and `scratch` grow past their capacity, so a
// reused pair stops allocating after the widest line.
CsvSplitResult SplitCsvLine(std::string_view line, std::vector<std::string_view>* cells, std::string* scratch);

// The cells of one line, with the buffers reused from line to line. One per
// reader thread; cells are valid until the next Split and as long as the
// line passed to it is alive.
class CsvRow {
 public:
  CsvSplitResult Split(std::string_view line) { return SplitCsvLine(line, &cells_, &scratch_); }

  size_t size() const { return cells_.size(); }
  std::string_view operator[](size_t column) const { return cells_[column]; }
  const std::vector<std::string_view>& cells() const { return cells_; }

 private:
  std::vector<std::string_view> cells_;
  std::string scratch_;
};

// The column names from a CSV file's first line. Built once per file, then
// read-only.
class CsvHeader {
 public:
  // Splits `line` as SplitCsvLine does, after dropping a UTF-8 byte order
  // mark, and trims spaces and tabs around each name. Empty and duplicated
  // names are kept (an empty name cannot be looked up; Find returns the
  // first of duplicates, as a JSON object's first duplicated name wins).
  // Errors: InvalidArgument for an empty line or malformed quoting, with the
  // reason and the byte offset.
  static Result<CsvHeader> Parse(std::string_view line);

  size_t size() const { return names_.size(); }
  const std::string& name(size_t column) const { return names_[column]; }
  const std::vector<std::string>& names() const { return names_; }

  // The index of the first column called `name`, or nullopt. Linear: resolve
  // names once per file, not per row.
  std::optional<size_t> Find(std::string_view name) const;

 private:
  std::vector<std::string> names_;
};

// `cell` without the spaces and tabs at both ends. The file source uses it
// before deciding what a cell is: empty after trimming = missing field.
std::string_view TrimCsvSpaces(std::string_view cell) noexcept;

// Reads a cell as a number: exactly the JSON number grammar ("-1.5e3",
// "0.25", not "01", ".5", "5.", "inf", "nan", "0x1") plus an optional
// leading '+', after trimming spaces and tabs at both ends; "true" and
// "false" (any letter case, as spreadsheets write TRUE) are 1 and 0.
// Returns nullopt for an empty or all-space cell (a missing field) and for
// anything else, including a number too large for a double ("1e400"); a
// number too small for one ("1e-400") is 0. noexcept, no allocation.
std::optional<double> ParseCsvNumber(std::string_view cell) noexcept;

}  // namespace vigil
