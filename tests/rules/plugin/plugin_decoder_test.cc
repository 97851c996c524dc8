// Decoder plugins (vigil::rules::LoadDecoders + the JSON parser's decoder
// step): the example hex-frame decoder turns payloads into fields, refuses
// bad frames with decode_error and its reason, applies only to matching
// messages, and its load errors name the plugin and the line.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/json_parser.h"
#include "vigil/engine/rules_file.h"
#include "vigil/rules/plugin_loader.h"
#include "vigil/rules/rule_loader.h"

namespace vigil::rules {
namespace {

struct Loaded {
  RulesFile file;
  Schema schema;
  TagInterner tags;
  ConfigErrors errors{"rules.yaml"};
};

void Load(const std::string& decoder, Loaded* l) {
  const std::string text = "sources:\n  - name: lora\n    file: {path: x.ndjson}\n    decoder: " + decoder +
                           "\nrules:\n  - {name: hot, key: [deviceid], when: temperature > 30 or battery < 10}\n"
                           "  - {name: wet, key: [deviceid], when: humidity > 90}\n"
                           "  - {name: kind, key: [model], when: tamper > 0}\n";
  ASSERT_TRUE(LoadRulesText(text, "rules.yaml", &l->file, l->errors));
  (void)CompileRules(l->file.rules, &l->schema, &l->tags, l->errors);
  LoadDecoders(&l->file, l->errors);
}

// th-v1 frame (see examples/plugins/decoder_hexframe.cc) with its check byte.
std::string Frame(int temp_centi, int hum_centi, int battery, int flags) {
  const uint8_t b[6] = {static_cast<uint8_t>((temp_centi >> 8) & 255), static_cast<uint8_t>(temp_centi & 255),
                        static_cast<uint8_t>(hum_centi >> 8), static_cast<uint8_t>(hum_centi & 255),
                        static_cast<uint8_t>(battery), static_cast<uint8_t>(flags)};
  uint8_t check = 0;
  std::string hex;
  char buf[3];
  for (uint8_t v : b) {
    check ^= v;
    snprintf(buf, sizeof buf, "%02X", v);
    hex += buf;
  }
  snprintf(buf, sizeof buf, "%02X", check);
  return hex + buf;
}

double Field(const Loaded& l, const ParsedMessage& m, const char* name) {
  const int slot = l.schema.FindField(name);
  return slot < 0 ? -12345 : m.fields[slot];
}

TEST(PluginDecoderTest, HexFramesBecomeFields) {
  Loaded l;
  Load(std::string("{path: ") + VIGIL_HEXFRAME_PLUGIN + ", match: {devicetype: th-v1}, config: {layout: th-v1}}", &l);
  ASSERT_TRUE(l.errors.empty()) << l.errors.Formatted()[0];
  ASSERT_EQ(l.file.sources[0].format.decoders.size(), 1u);
  JsonMessageParser parser(l.schema, l.file.sources[0].format, &l.tags);
  ParsedMessage m;
  std::string msg = R"({"ts": 1000, "deviceid": "a1", "devicetype": "th-v1", "payload": ")" + Frame(-1250, 6700, 91, 1) +
                    R"("})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(Field(l, m, "temperature"), -12.5);
  EXPECT_DOUBLE_EQ(Field(l, m, "humidity"), 67.0);
  EXPECT_DOUBLE_EQ(Field(l, m, "battery"), 91.0);
  EXPECT_DOUBLE_EQ(Field(l, m, "tamper"), 1.0);
  EXPECT_EQ(l.tags.Get(m.tags[l.schema.FindTag("deviceid")]), "a1");
  EXPECT_EQ(m.ts, 1000000);

  // Another device type: not decoded, not refused.
  msg = R"({"deviceid": "b2", "devicetype": "other", "payload": "zz", "temperature": 4})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(Field(l, m, "temperature"), 4.0);
  EXPECT_TRUE(std::isnan(Field(l, m, "humidity")));

  // Bad frames: decode_error with the plugin's reason.
  for (const auto& [payload, why] : std::vector<std::pair<std::string, std::string>>{
           {"08FC", "th-v1 frame must be 14 hex digits, got 4"},
           {"08FC1A2C5B00XX", "non-hex digit in frame at position 12"},
           {"08FC1A2C5B0098", "check byte mismatch (frame corrupted)"}}) {
    msg = R"({"deviceid": "a1", "devicetype": "th-v1", "payload": ")" + payload + R"("})";
    EXPECT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kDecodeError) << payload;
    EXPECT_EQ(parser.last_decode_error(), "decoder 'hexframe': " + why);
    EXPECT_EQ(parser.Annotate(RejectReason::kDecodeError, "x.ndjson:3"), "x.ndjson:3 (decoder 'hexframe': " + why + ")");
  }
  // A matching message without its payload field, or with a number there.
  for (const char* text : {R"({"deviceid": "a1", "devicetype": "th-v1"})",
                           R"({"deviceid": "a1", "devicetype": "th-v1", "payload": {"x": 1}})"}) {
    msg = text;
    EXPECT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kDecodeError) << text;
    EXPECT_EQ(parser.last_decode_error(), "decoder 'hexframe': the message has no string field 'payload'");
  }
  // Valid again after failures (no state leaks from one message to the next).
  msg = R"({"deviceid": "a1", "devicetype": "th-v1", "payload": ")" + Frame(3100, 100, 5, 0) + R"("})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(Field(l, m, "temperature"), 31.0);
  EXPECT_STREQ(RejectReasonName(RejectReason::kDecodeError), "decode_error");
}

TEST(PluginDecoderTest, AListIsTriedInOrderAndInputIsConfigurable) {
  Loaded l;
  Load(std::string("[{path: ") + VIGIL_HEXFRAME_PLUGIN + ", match: {devicetype: th-v1, fw: 2}, input: data}, {path: " +
           VIGIL_HEXFRAME_PLUGIN + ", input: payload}]",
       &l);
  ASSERT_TRUE(l.errors.empty()) << l.errors.Formatted()[0];
  JsonMessageParser parser(l.schema, l.file.sources[0].format, &l.tags);
  ParsedMessage m;
  // fw 2 (a number in JSON, compared as its text): the first binding reads `data`.
  std::string msg = R"({"devicetype": "th-v1", "fw": 2, "data": ")" + Frame(2000, 0, 50, 0) + R"(", "payload": ")" +
                    Frame(1000, 0, 50, 0) + R"("})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(Field(l, m, "temperature"), 20.0);
  // fw 1: falls to the second, unconditional binding.
  msg = R"({"devicetype": "th-v1", "fw": 1, "data": ")" + Frame(2000, 0, 50, 0) + R"(", "payload": ")" +
        Frame(1000, 0, 50, 0) + R"("})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(Field(l, m, "temperature"), 10.0);
}

TEST(PluginDecoderTest, TheHostSanitizesWhatADecoderHandsBack) {
  Loaded l;
  Load(std::string("{path: ") + VIGIL_MIRROR_PLUGIN + "}", &l);
  ASSERT_TRUE(l.errors.empty()) << l.errors.Formatted()[0];
  JsonMessageParser parser(l.schema, l.file.sources[0].format, &l.tags);
  ParsedMessage m;
  // Non-finite values leave the field absent; unknown and empty names are
  // ignored; a name given twice keeps the last value; tags are interned.
  std::string msg = R"({"payload": "temperature=inf;humidity=nan;battery=1e999;tamper=2;tamper=3;=5;nope=1;model=th\u0000x"})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kNone);
  EXPECT_TRUE(std::isnan(Field(l, m, "temperature")));
  EXPECT_TRUE(std::isnan(Field(l, m, "humidity")));
  EXPECT_TRUE(std::isnan(Field(l, m, "battery")));
  EXPECT_DOUBLE_EQ(Field(l, m, "tamper"), 3.0);
  EXPECT_EQ(l.tags.Get(m.tags[l.schema.FindTag("model")]), std::string("th\0x", 4));
  // A refusal's reason is kept byte for byte.
  msg = R"({"payload": "!bad frame \u00e9"})";
  ASSERT_EQ(parser.Parse(msg.data(), msg.size(), msg.size(), &m), RejectReason::kDecodeError);
  EXPECT_EQ(parser.last_decode_error(), "decoder 'mirror': bad frame \xc3\xa9");
}

TEST(PluginDecoderTest, LoadErrors) {
  Loaded a;
  Load(std::string("{path: ") + VIGIL_HEXFRAME_PLUGIN + ", config: {layout: th-v9}, mach: {x: 1}}", &a);
  auto e = a.errors.Formatted();
  ASSERT_EQ(e.size(), 2u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("decoder of source 'lora': plugin 'hexframe' refused its config: unknown layout 'th-v9' "
                      "(known: th-v1)"),
            std::string::npos)
      << e[0];
  EXPECT_NE(e[1].find("unknown key 'mach' in decoder of source 'lora' (did you mean 'match'?)"), std::string::npos)
      << e[1];

  Loaded b;
  Load(std::string("{path: ") + VIGIL_KURTOSIS_PLUGIN + "}", &b);
  e = b.errors.Formatted();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("rules.yaml:4:21: decoder of source 'lora': plugin '"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("is a rule plugin, expected a decoder plugin"), std::string::npos) << e[0];

  Loaded c;
  Load("{match: {a: b}}", &c);
  e = c.errors.Formatted();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("needs a 'path'"), std::string::npos) << e[0];
}

}  // namespace
}  // namespace vigil::rules
