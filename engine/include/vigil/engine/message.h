// Message parsing contract: what a parsed message holds, why one is rejected,
// and how a source tells the parser where its timestamp is.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/event.h"
#include "vigil/engine/payload_decoder.h"
#include "vigil/engine/timestamp.h"

namespace vigil {

enum class RejectReason : uint8_t {
  kNone = 0,
  kInvalidJson,
  kNotObject,
  kTrailingGarbage,
  kTooLarge,
  kTooDeep,
  kBadTimestamp,
  kBadCsv,
  kDecodeError,  // a payload decoder refused the message
  kTooManyFields,  // more name/value pairs than MessageFormat::max_fields
  kCount,
};

// Stable, metric-label-friendly name ("invalid_json", ...).
const char* RejectReasonName(RejectReason r);

// How a source's messages carry their event time.
struct MessageFormat {
  // Candidate timestamp fields, in priority order (dotted paths allowed).
  // Default: ts, timestamp, time.
  std::vector<std::string> ts_fields = {"ts", "timestamp", "time"};
  TimeUnit unit = TimeUnit::kAuto;
  int default_offset_minutes = 0;         // zone for local times without an offset; Default: UTC
  size_t max_message_bytes = 1 << 20;     // Default: 1 MiB
  int max_depth = 64;                     // Default: 64 levels
  // Payload decoders, tried in order (vigil/engine/payload_decoder.h). JSON only.
  std::vector<DecoderBinding> decoders;
  // Name/value pairs in one JSON message, counted at every depth (each is a
  // field, a tag or an object holding more); beyond it the message is
  // rejected as too_many_fields. Default: 1000.
  size_t max_fields = 1000;
};

// One message after parsing: the schema's fields (NaN = absent), tags (0 =
// absent) and the event time, if the message had one.
struct ParsedMessage {
  bool has_ts = false;
  int64_t ts = 0;
  std::vector<double> fields;
  std::vector<uint32_t> tags;
};

}  // namespace vigil
