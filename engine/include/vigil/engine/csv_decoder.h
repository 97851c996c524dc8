// CsvMessageDecoder: CSV rows (with a header row) -> ParsedMessage, with the
// same meaning as JSON messages: numeric cells are fields, other cells tags,
// an empty cell a missing field, the timestamp column read like a JSON
// timestamp (numbers, digit strings, ISO-8601).
//
// Thread-safety: one instance per input file, used by one thread; it interns
// tags into the TagInterner it was given (not owned).
#pragma once

#include <memory>
#include <string_view>

#include "vigil/engine/message.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/status.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

class CsvMessageDecoder {
 public:
  CsvMessageDecoder(const Schema& schema, MessageFormat format, TagInterner* tags);
  ~CsvMessageDecoder();

  // The first line of the file. Errors name the problem (unterminated quote...).
  Status SetHeader(std::string_view line);
  bool has_header() const;
  // One data row. Returns kNone and fills `out`, or the rejection reason.
  RejectReason Decode(std::string_view line, ParsedMessage* out) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil
