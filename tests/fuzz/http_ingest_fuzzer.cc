// Fuzz target: the body parsing of the HTTP ingest endpoint
// (bridges/src/http/http_ingest_source.cc): a request body split into
// messages (one JSON object, a JSON array, NDJSON, NDJSON sent as JSON),
// each checked at request time, then drained by the router and parsed with
// JsonMessageParser.
//
// Input: byte 0 picks the Content-Type (bits 0-2; 7 = the input's first
// line is the Content-Type), a small max_depth (bit 3), a small
// max_message_bytes (bit 4) and a short error list (bit 5); the rest is the
// body. Oracles, besides the sanitizers:
//  - the answer is 202, 400 or 415 with a body that is valid JSON;
//  - Poll() hands over exactly accepted + rejected messages, in order;
//  - a message accepted at request time is not rejected later for its JSON
//    syntax (the request-time check and the parser agree on what is JSON).
// Thread-safety: single-threaded (Submit and Poll on one thread).
#include <simdjson.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "vigil/bridges/http_ingest_source.h"

namespace {

vigil::Schema MakeSchema() {
  vigil::Schema schema;
  schema.AddField("temp");
  schema.AddField("payload.hum");
  schema.AddTag("zone");
  return schema;
}

bool SyntaxReason(vigil::RejectReason r) {
  return r == vigil::RejectReason::kInvalidJson || r == vigil::RejectReason::kNotObject ||
         r == vigil::RejectReason::kTrailingGarbage || r == vigil::RejectReason::kTooDeep ||
         r == vigil::RejectReason::kTooLarge;
}

class CountingHandler final : public vigil::MessageHandler {
 public:
  void OnMessage(vigil::ParsedMessage& message) override { ++messages; }
  void OnReject(vigil::RejectReason reason, std::string_view raw, std::string_view where) override {
    ++rejects;
    if (SyntaxReason(reason)) {
      ++syntax_rejects;
      std::string line(vigil::RejectReasonName(reason));
      line.append(": ").append(raw.substr(0, 200));
      syntax_rejected.push_back(std::move(line));
    }
  }
  size_t messages = 0;
  size_t rejects = 0;
  size_t syntax_rejects = 0;
  std::vector<std::string> syntax_rejected;  // "reason: message" (printed when a check fails)
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr const char* kTypes[] = {"",           "application/json",       "application/x-ndjson",
                                           "application/json; charset=utf-8",      "text/plain",
                                           "application/vnd.vigil+json",           "APPLICATION/JSONL"};
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string content_type;
  if ((data[0] & 7) == 7) {
    const size_t nl = rest.find('\n');
    content_type = std::string(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  } else {
    content_type = kTypes[data[0] & 7];
  }

  vigil::bridges::HttpIngestSourceOptions options;
  options.name = "fuzz";
  if (data[0] & 8) options.format.max_depth = 3;
  if (data[0] & 16) options.format.max_message_bytes = 100;
  if (data[0] & 32) options.max_listed_errors = 2;
  options.enqueue_timeout = std::chrono::milliseconds(0);
  vigil::bridges::HttpIngestSource source(options);
  static const vigil::Schema schema = MakeSchema();
  static vigil::TagInterner tags;  // one per engine (renewed now and then: it only grows)
  if (tags.size() > 100000) tags.Clear();
  FUZZ_CHECK(source.Open(schema, &tags).ok());

  const vigil::bridges::IngestResponse response = source.Submit(std::string(rest), content_type);
  FUZZ_CHECK(response.status == 202 || response.status == 400 || response.status == 415);
  simdjson::dom::parser json;
  simdjson::dom::element body;
  FUZZ_CHECK(json.parse(response.body).get(body) == simdjson::SUCCESS);
  FUZZ_CHECK(body.is_object());
  if (response.status != 202) {
    FUZZ_CHECK(response.accepted == 0 && response.rejected == 0);
    return 0;
  }

  // Drain in small polls, as the router does.
  CountingHandler handler;
  while (true) {
    auto state = source.Poll(handler, 3);
    FUZZ_CHECK(state.ok());
    if (*state == vigil::PollState::kIdle) break;
  }
  FUZZ_CHECK(handler.messages + handler.rejects == response.accepted + response.rejected);
  // Request-time rejections are all syntax ones, reported again by Poll();
  // a message accepted then may only fail on its content (a bad timestamp).
  if (handler.syntax_rejects != response.rejected) {
    std::fprintf(stderr, "response: %s\nrejected for their syntax when parsed:\n", response.body.c_str());
    for (const std::string& line : handler.syntax_rejected) std::fprintf(stderr, "  %s\n", line.c_str());
  }
  FUZZ_CHECK(handler.syntax_rejects == response.rejected);
  return 0;
}
