// Fuzz target: payload decoder plugins as a source uses them — the JSON
// parser's decoder step (capture of the `input` and `match` fields, the
// call across the plugin ABI, the host's handling of what the plugin hands
// back) with two real plugins: the example hex-frame decoder
// (examples/plugins/decoder_hexframe.cc) and mirror_decoder.cc, which turns
// its payload into arbitrary field and tag names and values, or a refusal
// with an arbitrary reason.
//
// Input: byte 0 picks the mode; the rest is either a whole JSON message
// (mode 0), or the payload of a th-v1 message (mode 1) or of a mirror
// message (mode 2), escaped into a JSON string.
// Oracles, besides the sanitizers: a th-v1 payload is accepted exactly when
// a reference check says it is a valid frame (14 hex digits, check byte),
// and then its fields are the reference values; a refusal is decode_error
// with the decoder's name in its reason; decoded fields are never infinite;
// every tag id is interned. Thread-safety: single-threaded.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "fuzz_check.h"
#include "vigil/engine/config_errors.h"
#include "vigil/engine/json_parser.h"
#include "vigil/engine/rules_file.h"
#include "vigil/rules/plugin_loader.h"
#include "vigil/rules/rule_loader.h"

namespace {

struct Setup {
  vigil::RulesFile file;
  vigil::Schema schema;
  vigil::TagInterner tags;
  std::unique_ptr<vigil::JsonMessageParser> parser;
  int temperature = -1, humidity = -1, battery = -1, tamper = -1;

  Setup() {
    const std::string text = std::string(R"(sources:
  - name: lora
    file: {path: x.ndjson}
    decoder:
      - {path: )") + VIGIL_HEXFRAME_PLUGIN + R"(, match: {devicetype: th-v1}}
      - {path: )" + VIGIL_MIRROR_PLUGIN + R"(, match: {devicetype: mirror}}
rules:
  - {name: a, key: [deviceid], when: temperature > 30 or humidity > 90 or battery < 5 or tamper > 0}
  - {name: b, key: [model, site], when: a > 1 or b > 2 or a_field_name_longer_than_16_bytes > 3}
)";
    vigil::ConfigErrors errors("fuzz");
    FUZZ_CHECK(vigil::LoadRulesText(text, "fuzz", &file, errors));
    (void)vigil::rules::CompileRules(file.rules, &schema, &tags, errors);
    vigil::rules::LoadDecoders(&file, errors);
    if (!errors.empty()) std::fprintf(stderr, "%s\n", errors.Formatted()[0].c_str());
    FUZZ_CHECK(errors.empty());
    parser = std::make_unique<vigil::JsonMessageParser>(schema, file.sources[0].format, &tags);
    temperature = schema.FindField("temperature");
    humidity = schema.FindField("humidity");
    battery = schema.FindField("battery");
    tamper = schema.FindField("tamper");
  }
};

// `bytes` as the body of a JSON string; *seen gets what the parser will
// hand the decoder (bytes >= 0x80 become U+0080..U+00FF in UTF-8).
std::string Escape(const uint8_t* data, size_t size, std::string* seen) {
  std::string out;
  char buf[8];
  for (size_t i = 0; i < size; ++i) {
    const uint8_t c = data[i];
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
    if (c < 0x80) {
      seen->push_back(static_cast<char>(c));
    } else {
      seen->push_back(static_cast<char>(0xC0 | (c >> 6)));
      seen->push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The reference reading of a th-v1 frame; false when it is not one.
bool ReferenceFrame(const std::string& p, double* temp, double* hum, double* batt, double* tamper) {
  if (p.size() != 14) return false;
  uint8_t b[7];
  for (int i = 0; i < 7; ++i) {
    const int hi = Hex(p[2 * i]), lo = Hex(p[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    b[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if ((b[0] ^ b[1] ^ b[2] ^ b[3] ^ b[4] ^ b[5]) != b[6]) return false;
  *temp = static_cast<int16_t>(b[0] << 8 | b[1]) / 100.0;
  *hum = static_cast<uint16_t>(b[2] << 8 | b[3]) / 100.0;
  *batt = b[4];
  *tamper = b[5] & 1;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Setup* s = new Setup();  // kept for the process, like a source's parser
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  std::string msg, seen;
  if (mode == 0) {
    msg.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    msg = std::string(R"({"deviceid": "d1", "model": "m", "devicetype": ")") + (mode == 1 ? "th-v1" : "mirror") +
          R"(", "payload": ")" + Escape(data + 1, size - 1, &seen) + "\"}";
  }
  vigil::ParsedMessage m;
  const vigil::RejectReason r = s->parser->Parse(msg.data(), msg.size(), msg.size(), &m);
  if (r == vigil::RejectReason::kDecodeError) {
    FUZZ_CHECK(s->parser->last_decode_error().rfind("decoder '", 0) == 0);
    FUZZ_CHECK(s->parser->Annotate(r, "x").size() > 1);
  }
  if (mode != 0) FUZZ_CHECK(r == vigil::RejectReason::kNone || r == vigil::RejectReason::kDecodeError);
  if (mode == 1) {
    double t = 0, h = 0, b = 0, k = 0;
    const bool valid = ReferenceFrame(seen, &t, &h, &b, &k);
    FUZZ_CHECK(valid == (r == vigil::RejectReason::kNone));
    if (valid) {
      FUZZ_CHECK(m.fields[s->temperature] == t && m.fields[s->humidity] == h);
      FUZZ_CHECK(m.fields[s->battery] == b && m.fields[s->tamper] == k);
    }
  }
  if (r != vigil::RejectReason::kNone) return 0;
  for (double v : m.fields) FUZZ_CHECK(!std::isinf(v));
  for (uint32_t id : m.tags) FUZZ_CHECK(id <= s->tags.size());
  return 0;
}
