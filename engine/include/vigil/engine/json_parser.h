// JsonMessageParser: one JSON message -> ParsedMessage, with simdjson
// on-demand.
//
// Extracts only what the Schema names (numeric fields by dotted path, tags by
// name, the timestamp), and still validates the whole document: a message
// that is not valid JSON, not an object, has trailing content, is larger than
// MessageFormat::max_message_bytes or deeper than max_depth is rejected with a
// reason. In an object with a duplicated name the first occurrence wins.
// Numbers become fields, strings become tags; a number or boolean named as a
// tag becomes a tag too (its JSON text), so numeric ids work as keys.
//
// Thread-safety: one instance per thread (it owns a simdjson parser and
// interns tags into the TagInterner it was given, which it does not own).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/engine/message.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

class JsonMessageParser {
 public:
  JsonMessageParser(const Schema& schema, MessageFormat format, TagInterner* tags);
  ~JsonMessageParser();
  JsonMessageParser(const JsonMessageParser&) = delete;
  JsonMessageParser& operator=(const JsonMessageParser&) = delete;

  // Parses `data[0..len)`. `capacity` is how many bytes starting at `data`
  // may be read (simdjson reads up to 64 bytes past the end); when it is
  // too small the message is copied first. On success returns kNone and
  // fills `out` (reusing its vectors). Never throws.
  RejectReason Parse(const char* data, size_t len, size_t capacity, ParsedMessage* out) noexcept;

  const MessageFormat& format() const { return format_; }
  // After Parse returned kDecodeError: which decoder refused and why.
  const std::string& last_decode_error() const;
  // `where` of a rejection, with the decoder's reason when `r` is kDecodeError.
  std::string Annotate(RejectReason r, std::string where) const {
    if (r == RejectReason::kDecodeError) where += " (" + last_decode_error() + ")";
    return where;
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  MessageFormat format_;
};

}  // namespace vigil
