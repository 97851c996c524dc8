// Tests for vigil/engine/json_parser.h (JsonMessageParser): timestamp forms
// and field priority, nested paths, fields vs tags, duplicated names, string
// escapes, every rejection reason, and buffers with and without padding.
// Expected epoch values were computed independently (`date -u`, Python), not
// with the code under test.
#include "vigil/engine/json_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/topic_filter.h"

namespace vigil {

// Readable reasons in assertion messages.
inline void PrintTo(RejectReason r, std::ostream* os) { *os << RejectReasonName(r); }

namespace {

constexpr int64_t kNov22 = 1732233600000;  // 2024-11-22T00:00:00Z

// A schema, an interner and a parser over them, plus the last parsed message.
class Harness {
 public:
  explicit Harness(std::vector<std::string> fields = {"temp", "hum", "on", "payload.temp", "device"},
                   std::vector<std::string> tag_names = {"zone", "sensor", "device"}, MessageFormat format = {}) {
    for (const auto& f : fields) schema_.AddField(f);
    for (const auto& t : tag_names) schema_.AddTag(t);
    parser_ = std::make_unique<JsonMessageParser>(schema_, std::move(format), &tags_);
  }

  // Parses a copy of `json` whose capacity is exactly its length (so the
  // parser must pad it itself).
  RejectReason Parse(std::string_view json) {
    std::unique_ptr<char[]> exact(new char[json.size() == 0 ? 1 : json.size()]);
    if (!json.empty()) std::memcpy(exact.get(), json.data(), json.size());
    return parser_->Parse(exact.get(), json.size(), json.size(), &msg_);
  }

  std::optional<int64_t> Ts(std::string_view json) {
    RejectReason r = Parse(json);
    EXPECT_EQ(r, RejectReason::kNone) << json;
    if (r != RejectReason::kNone || !msg_.has_ts) return std::nullopt;
    return msg_.ts;
  }

  double Field(const std::string& path) const {
    const int slot = schema_.FindField(path);
    EXPECT_GE(slot, 0) << path;
    return msg_.fields.at(static_cast<size_t>(slot));
  }
  // The tag's string, or "<absent>".
  std::string Tag(const std::string& name) const {
    const int slot = schema_.FindTag(name);
    EXPECT_GE(slot, 0) << name;
    const uint32_t id = msg_.tags.at(static_cast<size_t>(slot));
    return id == kNoTag ? "<absent>" : tags_.Get(id);
  }

  JsonMessageParser& parser() { return *parser_; }
  const ParsedMessage& msg() const { return msg_; }
  ParsedMessage* mutable_msg() { return &msg_; }
  const TagInterner& tags() const { return tags_; }

 private:
  Schema schema_;
  TagInterner tags_;
  std::unique_ptr<JsonMessageParser> parser_;
  ParsedMessage msg_;
};

MessageFormat FormatWithTs(std::vector<std::string> ts_fields, TimeUnit unit = TimeUnit::kAuto) {
  MessageFormat f;
  f.ts_fields = std::move(ts_fields);
  f.unit = unit;
  return f;
}

// `depth` nested objects in total (the message itself included), the
// innermost holding {"temp":1}: Nest(1) is {"temp":1}.
std::string NestObjects(int depth) {
  std::string s;
  for (int i = 1; i < depth; ++i) s += "{\"a\":";
  s += "{\"temp\":1}";
  for (int i = 1; i < depth; ++i) s += "}";
  return s;
}

// ---------------------------------------------------------------- timestamps

TEST(JsonMessageParserTest, EpochMillis) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":1732233600358})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600000,"temp":1})"), kNov22);
}

TEST(JsonMessageParserTest, EpochSecondsWithFraction) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":1732233600})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600.358})"), kNov22 + 358);  // exact, not ...357
  EXPECT_EQ(h.Ts(R"({"ts":1732233600.5})"), kNov22 + 500);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600.0004})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600.0005})"), kNov22 + 1);  // half away from zero
  EXPECT_EQ(h.Ts(R"({"ts":1.7322336e9})"), kNov22);
}

TEST(JsonMessageParserTest, EpochMicrosAndNanos) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":1732233600358123})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600358500})"), kNov22 + 359);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600358123456})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":1732233600358499999})"), kNov22 + 358);
}

TEST(JsonMessageParserTest, DigitStrings) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":"1732233600"})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":"1732233600358"})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":"1732233600.358"})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":"1732233600358123"})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":"1732233600358123456"})"), kNov22 + 358);
}

TEST(JsonMessageParserTest, IsoWithZuluAndOffsets) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22T00:00:00Z"})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22T00:00:00.358Z"})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":"2019-04-28T12:59:36.599Z"})"), 1556456376599);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22T02:00:00.358+02:00"})"), kNov22 + 358);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-21T19:30:00-04:30"})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22T01:00:00+0100"})"), kNov22);
}

TEST(JsonMessageParserTest, IsoWithSpaceAndNoZoneIsUtc) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22 00:00:00"})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22 13:14:15"})"), kNov22 + (13 * 3600 + 14 * 60 + 15) * 1000);
}

TEST(JsonMessageParserTest, LocalTimeUsesTheConfiguredZone) {
  MessageFormat f;
  f.default_offset_minutes = 120;  // UTC+02:00
  Harness h({"temp"}, {"zone"}, f);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22 02:00:00"})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"ts":"2024-11-22T00:00:00Z"})"), kNov22);  // an explicit zone wins
}

TEST(JsonMessageParserTest, ExplicitUnits) {
  Harness seconds({"temp"}, {"zone"}, FormatWithTs({"ts"}, TimeUnit::kSeconds));
  EXPECT_EQ(seconds.Ts(R"({"ts":1732233600358})"), 1732233600358000);
  Harness millis({"temp"}, {"zone"}, FormatWithTs({"ts"}, TimeUnit::kMillis));
  EXPECT_EQ(millis.Ts(R"({"ts":1000})"), 1000);
  EXPECT_EQ(millis.Ts(R"({"ts":"1000"})"), 1000);
  Harness iso({"temp"}, {"zone"}, FormatWithTs({"ts"}, TimeUnit::kIso));
  EXPECT_EQ(iso.Ts(R"({"ts":1732233600})"), kNov22);  // a number with unit iso reads as auto
  EXPECT_EQ(iso.Ts(R"({"ts":"2024-11-22T00:00:00Z"})"), kNov22);
}

TEST(JsonMessageParserTest, DefaultTimestampFieldsEach) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"timestamp":1732233600})"), kNov22);
  EXPECT_EQ(h.Ts(R"({"time":"2024-11-22T00:00:00Z"})"), kNov22);
}

TEST(JsonMessageParserTest, TsBeatsTimestampBeatsTime) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"time":1,"timestamp":2,"ts":3})"), 3000);
  EXPECT_EQ(h.Ts(R"({"ts":3,"timestamp":2,"time":1})"), 3000);
  EXPECT_EQ(h.Ts(R"({"time":1,"timestamp":2})"), 2000);
  EXPECT_EQ(h.Ts(R"({"timestamp":2,"time":1})"), 2000);
  EXPECT_EQ(h.Ts(R"({"time":1,"temp":5})"), 1000);
}

TEST(JsonMessageParserTest, ConfiguredDottedTimestampField) {
  Harness h({"temp"}, {"zone"}, FormatWithTs({"meta.at"}));
  // The default names are no longer candidates.
  EXPECT_EQ(h.Ts(R"({"ts":5,"meta":{"src":"x","at":"2024-11-22T00:00:00.001Z"},"temp":1})"), kNov22 + 1);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
  EXPECT_EQ(h.Parse(R"({"ts":5,"temp":1})"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);
  EXPECT_EQ(h.Parse(R"({"meta":5})"), RejectReason::kNone);  // not an object: no timestamp
  EXPECT_FALSE(h.msg().has_ts);
}

TEST(JsonMessageParserTest, ConfiguredTimestampFieldListKeepsItsOrder) {
  Harness h({"temp"}, {"zone"}, FormatWithTs({"at", "ts"}));
  EXPECT_EQ(h.Ts(R"({"ts":1,"at":2})"), 2000);
  EXPECT_EQ(h.Ts(R"({"ts":1})"), 1000);
}

TEST(JsonMessageParserTest, NoTimestampMeansHasTsFalse) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"ts":1732233600,"temp":1})"), RejectReason::kNone);
  ASSERT_TRUE(h.msg().has_ts);
  ASSERT_EQ(h.Parse(R"({"temp":1,"zone":"nord"})"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
}

TEST(JsonMessageParserTest, DuplicatedTimestampFirstWins) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":1,"ts":2})"), 1000);
  EXPECT_EQ(h.Ts(R"({"timestamp":9,"ts":1,"ts":2})"), 1000);
  // The first one decides even when the second would be bad, and vice versa.
  EXPECT_EQ(h.Ts(R"({"ts":1,"ts":"yesterday"})"), 1000);
  EXPECT_EQ(h.Parse(R"({"ts":"yesterday","ts":1})"), RejectReason::kBadTimestamp);
}

TEST(JsonMessageParserTest, BadTimestamp) {
  Harness h;
  EXPECT_EQ(h.Parse(R"({"ts":"yesterday","temp":1})"), RejectReason::kBadTimestamp);
  EXPECT_EQ(h.Parse(R"({"ts":"2024-13-01T00:00:00Z"})"), RejectReason::kBadTimestamp);
  EXPECT_EQ(h.Parse(R"({"ts":""})"), RejectReason::kBadTimestamp);
  EXPECT_EQ(h.Parse(R"({"timestamp":"soon"})"), RejectReason::kBadTimestamp);
  // A lower-priority candidate is not read once ts is there and bad.
  EXPECT_EQ(h.Parse(R"({"ts":"yesterday","time":1732233600})"), RejectReason::kBadTimestamp);
  EXPECT_EQ(h.Parse(R"({"ts":[1732233600]})"), RejectReason::kBadTimestamp);
}

// null is a missing field: a null timestamp candidate leaves the choice to
// the next one, or to the ingest time when none is left.
TEST(JsonMessageParserTest, NullTimestampIsMissing) {
  Harness h;
  EXPECT_EQ(h.Ts(R"({"ts":null,"timestamp":1732233600})"), 1732233600000);
  EXPECT_EQ(h.Ts(R"({"time":1732233601,"ts":null})"), 1732233601000);
  ASSERT_EQ(h.Parse(R"({"ts":null,"temp":1})"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);
}

// ---------------------------------------------------------------- fields and tags

TEST(JsonMessageParserTest, NumbersAreFieldsStringsAreTags) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"zone":"nord","sensor":"t1","temp":21.5,"hum":-3e2})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.Tag("sensor"), "t1");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  EXPECT_DOUBLE_EQ(h.Field("hum"), -300);
}

TEST(JsonMessageParserTest, StringInAFieldIsNullAndMissingIsNull) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"temp":"hot","zone":"nord"})"), RejectReason::kNone);
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  EXPECT_TRUE(std::isnan(h.Field("hum")));
  EXPECT_EQ(h.Tag("sensor"), "<absent>");
}

TEST(JsonMessageParserTest, NullObjectAndArrayValuesAreMissing) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"temp":null,"hum":[1,2],"zone":null,"sensor":{"x":"y"}})"), RejectReason::kNone);
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  EXPECT_TRUE(std::isnan(h.Field("hum")));
  EXPECT_EQ(h.Tag("zone"), "<absent>");
  EXPECT_EQ(h.Tag("sensor"), "<absent>");
}

TEST(JsonMessageParserTest, BooleansAreZeroOrOne) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"on":true,"temp":false})"), RejectReason::kNone);
  EXPECT_EQ(h.Field("on"), 1.0);
  EXPECT_EQ(h.Field("temp"), 0.0);
}

TEST(JsonMessageParserTest, NumberNamedAsTagBecomesItsJsonText) {
  Harness h({"temp"}, {"zone", "sensor", "device", "flag"});
  ASSERT_EQ(h.Parse(R"({"device":42,"sensor":1.50 ,"zone":-7e3,"flag":true})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("device"), "42");
  EXPECT_EQ(h.Tag("sensor"), "1.50");  // the text, not a reformatted double
  EXPECT_EQ(h.Tag("zone"), "-7e3");
  EXPECT_EQ(h.Tag("flag"), "true");
}

TEST(JsonMessageParserTest, NameThatIsBothFieldAndTag) {
  Harness h;  // "device" is a field and a tag
  ASSERT_EQ(h.Parse(R"({"device":7})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("device"), 7);
  EXPECT_EQ(h.Tag("device"), "7");
  ASSERT_EQ(h.Parse(R"({"device":"pump-3"})"), RejectReason::kNone);
  EXPECT_TRUE(std::isnan(h.Field("device")));
  EXPECT_EQ(h.Tag("device"), "pump-3");
}

TEST(JsonMessageParserTest, NestedPaths) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"temp":1,"payload":{"hum":9,"temp":21.5,"zone":"x"},"zone":"nord"})"),
            RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("payload.temp"), 21.5);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
  EXPECT_TRUE(std::isnan(h.Field("hum")));  // payload.hum is not hum
  EXPECT_EQ(h.Tag("zone"), "nord");         // payload.zone is not zone
}

TEST(JsonMessageParserTest, DeeplyNestedPath) {
  Harness h({"a.b.c.d"}, {"x.y"});
  ASSERT_EQ(h.Parse(R"({"a":{"b":{"z":1,"c":{"d":4.5}}},"x":{"y":"deep"}})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("a.b.c.d"), 4.5);
  EXPECT_EQ(h.Tag("x.y"), "deep");
  ASSERT_EQ(h.Parse(R"({"a":{"b":7}})"), RejectReason::kNone);  // path ends early: missing
  EXPECT_TRUE(std::isnan(h.Field("a.b.c.d")));
}

TEST(JsonMessageParserTest, OnlySchemaNamesAreExtracted) {
  Harness h({"temp"}, {"zone"});
  ASSERT_EQ(h.Parse(R"({"zone":"nord","other":"not-interned","nested":{"zone":"also-not"},"temp":2})"),
            RejectReason::kNone);
  EXPECT_EQ(h.msg().fields.size(), 1u);
  EXPECT_EQ(h.msg().tags.size(), 1u);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.tags().size(), 1u);
  EXPECT_EQ(h.tags().Find("not-interned"), 0u);
  EXPECT_EQ(h.tags().Find("also-not"), 0u);
}

TEST(JsonMessageParserTest, DuplicatedNameFirstOccurrenceWins) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"temp":1,"temp":2,"zone":"a","zone":"b"})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
  EXPECT_EQ(h.Tag("zone"), "a");
  ASSERT_EQ(h.Parse(R"({"temp":null,"temp":2})"), RejectReason::kNone);  // null is an occurrence
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  ASSERT_EQ(h.Parse(R"({"payload":{"temp":1},"payload":{"temp":2}})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("payload.temp"), 1);
  ASSERT_EQ(h.Parse(R"({"payload":{"temp":1,"temp":2}})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("payload.temp"), 1);
}

TEST(JsonMessageParserTest, EscapedKeyMatchesItsUnescapedName) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"z\u006fne":"nord","te\u006dp":3})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 3);
}

// Keys and strings without escapes are read from the input in place (no
// unescaping copy); anything with a backslash goes through simdjson's
// unescaping, which also validates it.
TEST(JsonMessageParserTest, InvalidEscapesAreRejectedInKeysAndUnusedStrings) {
  Harness h;
  EXPECT_EQ(h.Parse(R"({"zone":"a","note":"bad \x escape"})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"zone":"a","no\qte":1})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"zone":"a\u12"})"), RejectReason::kInvalidJson);
  ASSERT_EQ(h.Parse(R"({"zone":"a","note":"fine \" escape"})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "a");
}

TEST(JsonMessageParserTest, KeysOfEveryLengthMatchExactly) {
  // 1, 8, 9, 16, 17 and 21 bytes: the prefix words and the compared tail.
  Harness h({"a", "abcdefgh", "abcdefghi", "abcdefghijklmnop", "abcdefghijklmnopq", "abcdefghijklmnopqrstu"}, {});
  ASSERT_EQ(h.Parse(R"({"abcdefghijklmnopqrstv":9,"abcdefghijklmnopqrstu":6,"abcdefghijklmnopr":0,)"
                    R"("abcdefghijklmnopq":5,"abcdefghijklmnop":4,"abcdefghi":3,"abcdefgh":2,"a":1,"ab":7})"),
            RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("a"), 1);
  EXPECT_DOUBLE_EQ(h.Field("abcdefgh"), 2);
  EXPECT_DOUBLE_EQ(h.Field("abcdefghi"), 3);
  EXPECT_DOUBLE_EQ(h.Field("abcdefghijklmnop"), 4);
  EXPECT_DOUBLE_EQ(h.Field("abcdefghijklmnopq"), 5);
  EXPECT_DOUBLE_EQ(h.Field("abcdefghijklmnopqrstu"), 6);
}

TEST(JsonMessageParserTest, UnicodeAndEscapesInTags) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"zone":"caf\u00e9","sensor":"\"q\""})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "caf\xc3\xa9");
  EXPECT_EQ(h.Tag("sensor"), "\"q\"");
  ASSERT_EQ(h.Parse(R"({"zone":"a\\b\/c\n\t","sensor":"\ud83d\ude00"})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "a\\b/c\n\t");
  EXPECT_EQ(h.Tag("sensor"), "\xf0\x9f\x98\x80");
  ASSERT_EQ(h.Parse("{\"zone\":\"caf\xc3\xa9\"}"), RejectReason::kNone);  // raw UTF-8
  EXPECT_EQ(h.Tag("zone"), "caf\xc3\xa9");
  EXPECT_EQ(h.tags().Find("caf\xc3\xa9"), h.msg().tags[0]);  // same string, same id
}

TEST(JsonMessageParserTest, ReusedParserResetsEveryMessage) {
  Harness h;
  ASSERT_EQ(h.Parse(R"({"ts":1732233600,"temp":1,"zone":"a"})"), RejectReason::kNone);
  ASSERT_EQ(h.Parse(R"({"hum":2})"), RejectReason::kNone);
  EXPECT_FALSE(h.msg().has_ts);
  EXPECT_TRUE(std::isnan(h.Field("temp")));
  EXPECT_DOUBLE_EQ(h.Field("hum"), 2);
  EXPECT_EQ(h.Tag("zone"), "<absent>");
  // A message rejected half-way does not leak into the next one.
  ASSERT_EQ(h.Parse(R"({"temp":5,"zone":"b","x":tru})"), RejectReason::kInvalidJson);
  ASSERT_EQ(h.Parse(R"({"temp":6,"temp":7})"), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 6);
  EXPECT_EQ(h.Tag("zone"), "<absent>");
}

// ---------------------------------------------------------------- rejections

TEST(JsonMessageParserTest, InvalidJsonTruncated) {
  Harness h;
  for (std::string_view bad : {R"({"temp":1)", R"({"temp":)", R"({"zone":"nord)", R"({"temp")", "{", ""}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
  }
}

TEST(JsonMessageParserTest, InvalidJsonBadLiteralInUnusedField) {
  Harness h;
  for (std::string_view bad : {R"({"temp":1,"x":tru})", R"({"x":nul,"temp":1})", R"({"x":fals})",
                               R"({"x":01})", R"({"x":1.})", R"({"x":-})", R"({"x":[1,]})", R"({"x":{"y":tru}})",
                               R"({"temp":1,})", R"({"temp" 1})", R"({"x":'a'})"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
  }
}

TEST(JsonMessageParserTest, InvalidJsonBadLiteralInUsedField) {
  Harness h;
  for (std::string_view bad : {R"({"temp":tru})", R"({"temp":01})", R"({"zone":nord})", R"({"ts":1.})"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
  }
}

TEST(JsonMessageParserTest, InvalidJsonBadEscape) {
  Harness h;
  EXPECT_EQ(h.Parse(R"({"zone":"\x"})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"other":"\q","temp":1})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"o\q":1})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"other":"\u12"})"), RejectReason::kInvalidJson);
}

TEST(JsonMessageParserTest, InvalidUtf8IsInvalidJson) {
  Harness h;
  EXPECT_EQ(h.Parse("{\"zone\":\"\xff\"}"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse("{\"other\":\"\xc3\"}"), RejectReason::kInvalidJson);
}

TEST(JsonMessageParserTest, NotObject) {
  Harness h;
  for (std::string_view v : {"[1,2]", "42", "\"text\"", "null", "true", "[]", " [ {\"temp\":1} ] "}) {
    EXPECT_EQ(h.Parse(v), RejectReason::kNotObject) << v;
  }
}

TEST(JsonMessageParserTest, InvalidNonObjectIsInvalidJsonNotNotObject) {
  Harness h;
  for (std::string_view bad : {"[1,2", "[1,tru]", "tru", "nul", "42x", "\"abc", "[1] 2"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
  }
}

// Found by tests/fuzz/json_message_fuzzer: whether a root "null" was read as
// null depended on the byte after the next one, in the padding: "nulln"
// was null (not_object) when a space followed, "null\n" invalid JSON when
// something else did.
TEST(JsonMessageParserTest, RootNullDoesNotDependOnThePadding) {
  Harness h;
  auto parse_with_garbage_padding = [&](std::string_view json) {
    std::string padded(json);
    padded.append(64, '"');
    return h.parser().Parse(padded.data(), json.size(), padded.size(), h.mutable_msg());
  };
  for (std::string_view bad : {"nulln", "nullx", "null1", "nulll ", "null x", "null null"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
    EXPECT_EQ(parse_with_garbage_padding(bad), RejectReason::kInvalidJson) << bad;
  }
  for (std::string_view null : {"null", "null\n", " null \r\n", "null\t"}) {
    EXPECT_EQ(h.Parse(null), RejectReason::kNotObject) << null;
    EXPECT_EQ(parse_with_garbage_padding(null), RejectReason::kNotObject) << null;
  }
}

// Found by tests/fuzz/http_ingest_fuzzer: simdjson's on-demand parser
// refuses exponents of about 20 digits, valid JSON that the HTTP ingest
// source's request check (simdjson DOM) accepts, so such a message was
// answered "accepted" and then dead-lettered as invalid_json.
TEST(JsonMessageParserTest, NumbersWithVeryLongExponentsAreRead) {
  Harness h;
  EXPECT_EQ(h.Parse(R"({"temp":4e-332233853322338500002000,"hum":1})"), RejectReason::kNone);
  EXPECT_EQ(h.Field("temp"), 0.0);
  EXPECT_EQ(h.Field("hum"), 1.0);
  EXPECT_EQ(h.Parse(R"({"temp":-0e99999999999999999999})"), RejectReason::kNone);
  EXPECT_EQ(h.Field("temp"), 0.0);
  EXPECT_EQ(h.Parse(R"({"temp":25e-0000000000000000000001})"), RejectReason::kNone);
  EXPECT_EQ(h.Field("temp"), 2.5);
  EXPECT_EQ(h.Parse(R"({"other":[1e-99999999999999999999], "temp": 3})"), RejectReason::kNone);  // skipped value
  EXPECT_EQ(h.Field("temp"), 3.0);
  // Beyond a double, as 1e400: refused.
  EXPECT_EQ(h.Parse(R"({"temp":1e99999999999999999999})"), RejectReason::kInvalidJson);
  EXPECT_EQ(h.Parse(R"({"other":1e99999999999999999999})"), RejectReason::kInvalidJson);
}

TEST(JsonMessageParserTest, TrailingGarbage) {
  Harness h;
  for (std::string_view bad : {R"({"temp":1}})", R"({"temp":1} x)", R"({"temp":1}{"temp":2})", R"({"temp":1},)",
                               R"({} 1)"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kTrailingGarbage) << bad;
  }
  EXPECT_EQ(h.Parse("{\"temp\":1} \r\n\t "), RejectReason::kNone);  // trailing whitespace is fine
  // Content after something that is not a complete object is not "trailing".
  for (std::string_view bad : {R"({"temp":1 x)", R"({"a":{"b":1} x)", R"({"temp":1,} x)", R"({"temp":tru} x)",
                               R"({"temp":1} "x)"}) {
    EXPECT_EQ(h.Parse(bad), RejectReason::kInvalidJson) << bad;
  }
  EXPECT_EQ(h.Parse(NestObjects(65) + " x"), RejectReason::kTooDeep);
  EXPECT_EQ(h.Parse(" \n{\"temp\":1}"), RejectReason::kNone);
}

TEST(JsonMessageParserTest, TooLarge) {
  MessageFormat f;
  f.max_message_bytes = 32;
  Harness h({"temp"}, {"zone"}, f);
  const std::string exact = R"({"temp":1,"zone":"abcdefghijkl"})";
  ASSERT_EQ(exact.size(), 32u);
  EXPECT_EQ(h.Parse(exact), RejectReason::kNone);
  EXPECT_EQ(h.Parse(R"({"temp":1,"zone":"abcdefghijklm"})"), RejectReason::kTooLarge);
}

TEST(JsonMessageParserTest, DefaultMaxIsOneMebibyte) {
  Harness h({"temp"}, {"zone"});
  EXPECT_EQ(h.parser().format().max_message_bytes, size_t{1} << 20);
  std::string big = R"({"temp":1,"pad":")";
  big += std::string((size_t{1} << 20) - big.size() - 2, 'x');
  big += "\"}";
  ASSERT_EQ(big.size(), size_t{1} << 20);
  EXPECT_EQ(h.Parse(big), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field("temp"), 1);
  big.insert(big.size() - 2, "x");
  EXPECT_EQ(h.Parse(big), RejectReason::kTooLarge);
}

TEST(JsonMessageParserTest, TooDeepObjectsInUnusedField) {
  Harness h;
  EXPECT_EQ(h.Parse(NestObjects(64)), RejectReason::kNone);
  EXPECT_EQ(h.Parse(NestObjects(65)), RejectReason::kTooDeep);
  EXPECT_EQ(h.Parse(NestObjects(200)), RejectReason::kTooDeep);
}

TEST(JsonMessageParserTest, TooDeepArrays) {
  Harness h;
  auto arrays = [](int depth) {  // the message plus depth-1 arrays
    return "{\"a\":" + std::string(static_cast<size_t>(depth - 1), '[') + std::string(static_cast<size_t>(depth - 1), ']') +
           "}";
  };
  EXPECT_EQ(h.Parse(arrays(64)), RejectReason::kNone);
  EXPECT_EQ(h.Parse(arrays(65)), RejectReason::kTooDeep);
}

TEST(JsonMessageParserTest, TooDeepAlongASchemaPath) {
  // A field path 64 names long: its value sits inside the 64th object.
  std::string path = "a";
  for (int i = 1; i < 64; ++i) path += ".a";
  Harness h({path}, {"zone"});
  std::string ok;
  for (int i = 0; i < 63; ++i) ok += "{\"a\":";
  ok += "{\"a\":5}" + std::string(63, '}');
  ASSERT_EQ(h.Parse(ok), RejectReason::kNone);
  EXPECT_DOUBLE_EQ(h.Field(path), 5);
  std::string deep;
  for (int i = 0; i < 64; ++i) deep += "{\"a\":";
  deep += "{\"a\":5}" + std::string(64, '}');
  EXPECT_EQ(h.Parse(deep), RejectReason::kTooDeep);
}

TEST(JsonMessageParserTest, ConfiguredMaxDepth) {
  MessageFormat f;
  f.max_depth = 3;
  Harness h({"temp"}, {"zone"}, f);
  EXPECT_EQ(h.Parse(NestObjects(3)), RejectReason::kNone);
  EXPECT_EQ(h.Parse(NestObjects(4)), RejectReason::kTooDeep);
}

TEST(JsonMessageParserTest, TooManyFieldsIsRejectedAndTheNextMessageParses) {
  MessageFormat f;
  f.max_fields = 4;
  Harness h({"temp"}, {"zone"}, f);
  // Four name/value pairs at any depth pass: ts, zone, temp, and "x" of a nested object.
  EXPECT_EQ(h.Parse(R"({"ts":1732233600,"zone":"nord","temp":21.5})"), RejectReason::kNone);
  EXPECT_EQ(h.Parse(R"({"zone":"nord","o":{"x":1},"temp":2})"), RejectReason::kNone);
  EXPECT_EQ(h.Parse(R"({"zone":"nord","a":1,"b":2,"c":3,"temp":4})"), RejectReason::kTooManyFields);
  // Nested members count as well, wherever they are.
  EXPECT_EQ(h.Parse(R"({"zone":"nord","o":{"x":1,"y":2,"z":3}})"), RejectReason::kTooManyFields);
  EXPECT_EQ(h.Parse(R"({"l":[{"a":1,"b":2},{"c":3,"d":4}]})"), RejectReason::kTooManyFields);
  // The count starts afresh with each message.
  ASSERT_EQ(h.Parse(R"({"zone":"sud","temp":30})"), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "sud");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 30);
}

TEST(JsonMessageParserTest, DefaultMaxFieldsIsAThousand) {
  Harness h({"temp"}, {"zone"});
  auto message = [](int n) {
    std::string j = "{";
    for (int i = 0; i < n; ++i) j += (i ? ",\"f" : "\"f") + std::to_string(i) + "\":1";
    return j + "}";
  };
  EXPECT_EQ(h.Parse(message(1000)), RejectReason::kNone);
  EXPECT_EQ(h.Parse(message(1001)), RejectReason::kTooManyFields);
}

// ---------------------------------------------------------------- buffers

TEST(JsonMessageParserTest, BufferWithoutPaddingWorks) {
  Harness h;
  const std::string json = R"({"ts":1732233600,"zone":"nord","temp":21.5})";
  // Exactly len bytes on the heap: any read past the end is caught by ASan.
  std::unique_ptr<char[]> exact(new char[json.size()]);
  std::memcpy(exact.get(), json.data(), json.size());
  ASSERT_EQ(h.parser().Parse(exact.get(), json.size(), json.size(), h.mutable_msg()), RejectReason::kNone);
  EXPECT_EQ(h.msg().ts, kNov22);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
}

TEST(JsonMessageParserTest, PaddedBufferWithJunkAfterTheMessage) {
  Harness h;
  const std::string json = R"({"zone":"nord","temp":21.5})";
  // The caller's buffer is large enough, so it is parsed in place; the bytes
  // after `len` are not part of the message.
  std::string buffer = json + std::string(128, 'x');
  ASSERT_EQ(h.parser().Parse(buffer.data(), json.size(), buffer.size(), h.mutable_msg()), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_DOUBLE_EQ(h.Field("temp"), 21.5);
  // A truncated message is invalid whatever the bytes after it are.
  buffer = std::string(R"({"temp":1)") + std::string(128, '}');
  EXPECT_EQ(h.parser().Parse(buffer.data(), 9, buffer.size(), h.mutable_msg()), RejectReason::kInvalidJson);
  buffer = std::string(R"({"temp":1)") + std::string(128, 'x');
  EXPECT_EQ(h.parser().Parse(buffer.data(), 9, buffer.size(), h.mutable_msg()), RejectReason::kInvalidJson);
  buffer = json + "}" + std::string(128, ' ');
  EXPECT_EQ(h.parser().Parse(buffer.data(), json.size() + 1, buffer.size(), h.mutable_msg()),
            RejectReason::kTrailingGarbage);
  buffer = json + " x" + std::string(128, '}');
  EXPECT_EQ(h.parser().Parse(buffer.data(), json.size() + 2, buffer.size(), h.mutable_msg()),
            RejectReason::kTrailingGarbage);
}

TEST(JsonMessageParserTest, RejectReasonNames) {
  EXPECT_STREQ(RejectReasonName(RejectReason::kInvalidJson), "invalid_json");
  EXPECT_STREQ(RejectReasonName(RejectReason::kNotObject), "not_object");
  EXPECT_STREQ(RejectReasonName(RejectReason::kTrailingGarbage), "trailing_garbage");
  EXPECT_STREQ(RejectReasonName(RejectReason::kTooLarge), "too_large");
  EXPECT_STREQ(RejectReasonName(RejectReason::kTooDeep), "too_deep");
  EXPECT_STREQ(RejectReasonName(RejectReason::kBadTimestamp), "bad_timestamp");
  EXPECT_STREQ(RejectReasonName(RejectReason::kBadCsv), "bad_csv");
  EXPECT_STREQ(RejectReasonName(RejectReason::kTooManyFields), "too_many_fields");
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

// Topic-filter tags (vigil/engine/topic_filter.h) come only from a topic-
// carrying source: a payload naming one must not set it (the MQTT source
// relies on the parser leaving them empty).
TEST(JsonMessageParserTest, TopicFilterTagsNeverComeFromThePayload) {
  const std::string filter_tag = TopicFilterTag("entrepot/#");
  Harness h({"temp"}, {"zone", filter_tag});
  std::string json = "{\"zone\":\"nord\",\"temp\":1,\"\\u0001topic-matches:entrepot/#\":\"1\"}";
  ASSERT_EQ(h.Parse(json), RejectReason::kNone);
  EXPECT_EQ(h.Tag("zone"), "nord");
  EXPECT_EQ(h.Tag(filter_tag), "<absent>");
}

}  // namespace
}  // namespace vigil
