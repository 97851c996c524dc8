// Payload decoders: turn a message's raw payload (a hex frame, a vendor
// encoding) into fields, per device model, before the rules see it.
//
// A source may carry DecoderBindings (MessageFormat::decoders): after a JSON
// message parsed, the first binding whose `match` holds (each named field of
// the message equals the given text, e.g. devicetype == "th-v2") receives
// the string value of its `input` field and adds fields and tags to the
// message; a failure rejects the message as `decode_error`. Decoders are
// made by rules/ (plugins) and wired by the binary; the engine only knows
// this interface.
//
// Thread-safety: a DecoderFactory is shared and immutable; each parser
// creates its own PayloadDecoder and calls it from its own thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vigil {

// Where a decoder writes what it decoded. Names the schema does not know
// are ignored.
class DecodedFields {
 public:
  virtual ~DecodedFields() = default;
  virtual void Field(std::string_view name, double value) = 0;
  virtual void Tag(std::string_view name, std::string_view value) = 0;
};

class PayloadDecoder {
 public:
  virtual ~PayloadDecoder() = default;
  // Decodes `payload`. False rejects the message; *error then says why.
  virtual bool Decode(std::string_view payload, DecodedFields& out, std::string* error) noexcept = 0;
};

class DecoderFactory {
 public:
  virtual ~DecoderFactory() = default;
  virtual const std::string& name() const = 0;
  // A decoder for one parser; null (with *error) when it cannot be made.
  virtual std::unique_ptr<PayloadDecoder> Create(std::string* error) const = 0;
};

struct DecoderBinding {
  std::shared_ptr<const DecoderFactory> factory;
  std::string input = "payload";  // field path holding the payload (a JSON string)
  // (field path, text) pairs that must all hold; empty: every message.
  std::vector<std::pair<std::string, std::string>> match;
};

}  // namespace vigil
