// Fuzz target: one message through JsonMessageParser (JSON -> event), with
// every timestamp unit and zone.
//
// Input: byte 0 picks the source's MessageFormat (bits 0-2 the time unit,
// bits 3-4 the default zone, bit 5 the timestamp field list, bit 6 a small
// max_depth, bit 7 a small max_message_bytes); the rest is the message. The
// schema names flat, nested and long (> 16 bytes) fields, tags (one numeric
// id), and a topic-filter tag the parser must skip.
// Oracles, besides the sanitizers: the message is parsed twice, once from a
// buffer without padding (the parser copies it) and once from a buffer whose
// padding is garbage ('}' and '"'); both must give the same reason, fields,
// tags and timestamp. An accepted message has every slot filled with a value
// or null, and only interned tag ids. The parser is reused from message to
// message, as a source does (a finding still reproduces from its one input:
// nothing a message leaves behind changes how the next one parses).
// Thread-safety: single-threaded.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_check.h"
#include "vigil/engine/json_parser.h"
#include "vigil/engine/topic_filter.h"

namespace {

constexpr size_t kPadding = 64;  // simdjson::SIMDJSON_PADDING

vigil::MessageFormat FormatFrom(uint8_t b) {
  static constexpr vigil::TimeUnit kUnits[] = {vigil::TimeUnit::kAuto,   vigil::TimeUnit::kSeconds,
                                               vigil::TimeUnit::kMillis, vigil::TimeUnit::kMicros,
                                               vigil::TimeUnit::kNanos,  vigil::TimeUnit::kIso,
                                               vigil::TimeUnit::kAuto,   vigil::TimeUnit::kIso};
  static constexpr int kOffsets[] = {0, 120, -330, 14 * 60};
  vigil::MessageFormat f;
  f.unit = kUnits[b & 7];
  f.default_offset_minutes = kOffsets[(b >> 3) & 3];
  if (b & 0x20) f.ts_fields = {"payload.ts", "t", "ts"};
  if (b & 0x40) f.max_depth = 3;
  if (b & 0x80) f.max_message_bytes = 200;
  return f;
}

vigil::Schema MakeSchema() {
  vigil::Schema s;
  for (const char* f : {"temp", "hum", "payload.temp", "payload.deep.x", "a.b.c.d", "a_field_name_longer_than_16",
                        "a_field_name_longer_than_1X", "ts"}) {
    s.AddField(f);
  }
  for (const char* t : {"device", "zone", "payload.site", "id", "temp"}) s.AddTag(t);
  s.AddTag(vigil::TopicFilterTag("entrepot/+/v1"));
  return s;
}

bool SameValue(double a, double b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // As in a source: one schema, interner and parser for many messages (here
  // one parser per format byte, built when first needed). The interner is
  // renewed now and then so that it does not grow without bound.
  static const vigil::Schema schema = MakeSchema();
  static auto interner = std::make_unique<vigil::TagInterner>();
  static std::unique_ptr<vigil::JsonMessageParser> parsers[256];
  if (interner->size() > 100000) {
    for (auto& p : parsers) p.reset();
    interner = std::make_unique<vigil::TagInterner>();
  }
  vigil::TagInterner& tags = *interner;
  std::unique_ptr<vigil::JsonMessageParser>& slot = parsers[data[0]];
  if (slot == nullptr) slot = std::make_unique<vigil::JsonMessageParser>(schema, FormatFrom(data[0]), &tags);
  vigil::JsonMessageParser& parser = *slot;
  const std::string message(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Exactly the message: too little padding, so the parser copies it.
  const std::vector<char> exact(message.begin(), message.end());
  vigil::ParsedMessage copied;
  const vigil::RejectReason r1 = parser.Parse(exact.data(), exact.size(), exact.size(), &copied);

  // The message followed by padding that must not be read as content.
  std::string padded = message;
  for (size_t i = 0; i < kPadding; ++i) padded += (i % 2) ? '}' : '"';
  vigil::ParsedMessage in_place;
  const vigil::RejectReason r2 = parser.Parse(padded.data(), message.size(), padded.size(), &in_place);

  if (r1 != r2) {
    std::fprintf(stderr, "copied: %s, padded with garbage: %s\n", vigil::RejectReasonName(r1),
                 vigil::RejectReasonName(r2));
  }
  FUZZ_CHECK(r1 == r2);
  if (r1 != vigil::RejectReason::kNone) return 0;
  FUZZ_CHECK(copied.fields.size() == schema.field_count());
  FUZZ_CHECK(copied.tags.size() == schema.tag_count());
  FUZZ_CHECK(copied.has_ts == in_place.has_ts);
  FUZZ_CHECK(!copied.has_ts || copied.ts == in_place.ts);
  for (size_t i = 0; i < copied.fields.size(); ++i) FUZZ_CHECK(SameValue(copied.fields[i], in_place.fields[i]));
  for (size_t i = 0; i < copied.tags.size(); ++i) {
    FUZZ_CHECK(copied.tags[i] == in_place.tags[i]);
    FUZZ_CHECK(copied.tags[i] <= tags.size());
  }
  // The topic-filter tag never comes from the payload.
  FUZZ_CHECK(copied.tags.back() == vigil::kNoTag);
  return 0;
}
