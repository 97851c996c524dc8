// Tests for vigil/engine/alert_dispatcher.h and alert.h: the alert JSON of
// DESIGN.md ("Alerts") parsed back with simdjson (fields in order, value null
// for NaN, escapes), the message template, deterministic ids (a clear carries
// the id of its raise), and the dispatcher's fan-out to sinks.
#include "vigil/engine/alert_dispatcher.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/alert.h"

namespace vigil {
namespace {

RuleInfo OverheatRule() {
  RuleInfo r;
  r.name = "zone-overheat";
  r.kind = "event";
  r.severity = "critical";
  r.labels = {{"team", "ops"}, {"floor", "2"}};
  r.when = "temp > 30";
  r.key_tags = {"zone", "sensor"};
  return r;
}

KeyInfo Key(std::vector<std::string> values) {
  KeyInfo k;
  k.values = std::move(values);
  return k;
}

AlertRecord Raised(int64_t ts, double value, uint32_t count = 1) {
  AlertRecord a;
  a.state = AlertState::kRaised;
  a.ts = ts;
  a.raise_ts = ts;
  a.value = value;
  a.count = count;
  return a;
}

// The parsed alert object; fails the test when `json` is not valid JSON.
struct Parsed {
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  bool ok = false;
};

void ParseAlert(const std::string& json, Parsed* p) {
  simdjson::dom::element doc;
  auto error = p->parser.parse(json).get(doc);
  ASSERT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error) << "\n" << json;
  error = doc.get_object().get(p->object);
  ASSERT_EQ(error, simdjson::SUCCESS) << json;
  p->ok = true;
}

std::vector<std::string> KeysInOrder(simdjson::dom::object o) {
  std::vector<std::string> keys;
  for (auto field : o) keys.emplace_back(field.key);
  return keys;
}

std::string Str(simdjson::dom::object o, std::string_view key) {
  std::string_view s;
  EXPECT_EQ(o[key].get_string().get(s), simdjson::SUCCESS) << key;
  return std::string(s);
}

// ---------------------------------------------------------------- RenderJson

TEST(AlertDispatcherTest, RenderJsonHasDesignFieldsInOrder) {
  const RuleInfo rule = OverheatRule();
  const KeyInfo key = Key({"nord", "t1"});
  const std::string json =
      AlertDispatcher::RenderJson(Raised(1732233600358, 31.5, 3), rule, key, "0123456789abcdef", "hot!");
  Parsed p;
  ParseAlert(json, &p);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(KeysInOrder(p.object), (std::vector<std::string>{"id", "rule", "key", "state", "severity", "ts", "value",
                                                             "count", "labels", "message"}));
  EXPECT_EQ(Str(p.object, "id"), "0123456789abcdef");
  EXPECT_EQ(Str(p.object, "rule"), "zone-overheat");
  EXPECT_EQ(Str(p.object, "state"), "raised");
  EXPECT_EQ(Str(p.object, "severity"), "critical");
  EXPECT_EQ(Str(p.object, "message"), "hot!");
  int64_t ts = 0;
  ASSERT_EQ(p.object["ts"].get_int64().get(ts), simdjson::SUCCESS);
  EXPECT_EQ(ts, 1732233600358);
  double value = 0;
  ASSERT_EQ(p.object["value"].get_double().get(value), simdjson::SUCCESS);
  EXPECT_EQ(value, 31.5);
  uint64_t count = 0;
  ASSERT_EQ(p.object["count"].get_uint64().get(count), simdjson::SUCCESS);
  EXPECT_EQ(count, 3u);

  simdjson::dom::object k;
  ASSERT_EQ(p.object["key"].get_object().get(k), simdjson::SUCCESS);
  EXPECT_EQ(KeysInOrder(k), (std::vector<std::string>{"zone", "sensor"}));  // the rule's key order
  EXPECT_EQ(Str(k, "zone"), "nord");
  EXPECT_EQ(Str(k, "sensor"), "t1");
  simdjson::dom::object labels;
  ASSERT_EQ(p.object["labels"].get_object().get(labels), simdjson::SUCCESS);
  EXPECT_EQ(labels.size(), 2u);
  EXPECT_EQ(Str(labels, "team"), "ops");
  EXPECT_EQ(Str(labels, "floor"), "2");  // a string, as written
}

TEST(AlertDispatcherTest, RenderJsonClearedAndEmptyKeyAndLabels) {
  RuleInfo rule;
  rule.name = "heartbeat";
  AlertRecord a = Raised(5000, 1);
  a.state = AlertState::kCleared;
  const std::string json = AlertDispatcher::RenderJson(a, rule, Key({}), "id", "m");
  Parsed p;
  ParseAlert(json, &p);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Str(p.object, "state"), "cleared");
  EXPECT_EQ(Str(p.object, "severity"), "warning");  // the default
  simdjson::dom::object k, labels;
  ASSERT_EQ(p.object["key"].get_object().get(k), simdjson::SUCCESS);
  ASSERT_EQ(p.object["labels"].get_object().get(labels), simdjson::SUCCESS);
  EXPECT_EQ(k.size(), 0u);
  EXPECT_EQ(labels.size(), 0u);
}

TEST(AlertDispatcherTest, ValueIsNullForNanAndInfinity) {
  const RuleInfo rule = OverheatRule();
  for (double v : {std::numeric_limits<double>::quiet_NaN(), NullValue(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity()}) {
    const std::string json = AlertDispatcher::RenderJson(Raised(1, v), rule, Key({"a", "b"}), "id", "m");
    Parsed p;
    ParseAlert(json, &p);
    ASSERT_TRUE(p.ok);
    EXPECT_TRUE(p.object["value"].is_null()) << json;
  }
}

TEST(AlertDispatcherTest, ValueRoundTrips) {
  const RuleInfo rule = OverheatRule();
  for (double v : {0.0, -0.0, 0.1, -1.5, 1e300, 5e-324, 123456789.125, 1.0 / 3.0, 1e21}) {
    const std::string json = AlertDispatcher::RenderJson(Raised(1, v), rule, Key({"a", "b"}), "id", "m");
    Parsed p;
    ParseAlert(json, &p);
    ASSERT_TRUE(p.ok);
    double back = 0;
    ASSERT_EQ(p.object["value"].get_double().get(back), simdjson::SUCCESS) << json;
    EXPECT_EQ(back, v) << json;
  }
}

TEST(AlertDispatcherTest, StringsAreEscaped) {
  RuleInfo rule = OverheatRule();
  rule.name = "say \"hi\"\\now";
  rule.labels = {{"quote\"key", "tab\there"}};
  const std::string nasty = "caf\xc3\xa9 \"q\" back\\slash\nnew\rline\x01\x1f end";
  const KeyInfo key = Key({nasty, "/slash/"});
  const std::string message = "line1\nline2 \"quoted\" \\";
  const std::string json = AlertDispatcher::RenderJson(Raised(1, 2), rule, key, "id", message);
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one line";
  Parsed p;
  ParseAlert(json, &p);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Str(p.object, "rule"), rule.name);
  EXPECT_EQ(Str(p.object, "message"), message);
  simdjson::dom::object k, labels;
  ASSERT_EQ(p.object["key"].get_object().get(k), simdjson::SUCCESS);
  EXPECT_EQ(Str(k, "zone"), nasty);
  EXPECT_EQ(Str(k, "sensor"), "/slash/");
  ASSERT_EQ(p.object["labels"].get_object().get(labels), simdjson::SUCCESS);
  EXPECT_EQ(Str(labels, "quote\"key"), "tab\there");
}

TEST(AlertDispatcherTest, InvalidUtf8StillGivesValidJson) {
  // Tags from CSV cells (and topics) are bytes nobody validated: the alert
  // must still be JSON that sinks can parse. Invalid bytes become U+FFFD.
  const RuleInfo rule = OverheatRule();
  const KeyInfo key = Key({"bad\xff", std::string("cut\xc3") /* truncated 2-byte sequence */});
  const std::string json = AlertDispatcher::RenderJson(Raised(1, 2), rule, key, "id", "overlong \xc0\xaf ok \xc3\xa9");
  Parsed p;
  ParseAlert(json, &p);
  ASSERT_TRUE(p.ok);
  simdjson::dom::object k;
  ASSERT_EQ(p.object["key"].get_object().get(k), simdjson::SUCCESS);
  EXPECT_EQ(Str(k, "zone"), "bad\xef\xbf\xbd");
  EXPECT_EQ(Str(k, "sensor"), "cut\xef\xbf\xbd");
  EXPECT_EQ(Str(p.object, "message"), "overlong \xef\xbf\xbd\xef\xbf\xbd ok \xc3\xa9");  // valid UTF-8 kept as is
}

TEST(AlertDispatcherTest, AppendJsonStringKeepsValidUtf8) {
  for (std::string_view valid : {"caf\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xf4\x8f\xbf\xbf"}) {
    std::string out;
    AppendJsonString(&out, valid);
    EXPECT_EQ(out, "\"" + std::string(valid) + "\"");
  }
  // Surrogates, code points above U+10FFFF, stray continuation bytes.
  for (std::string_view invalid : {"\xed\xa0\x80", "\xf4\x90\x80\x80", "\x80", "\xf8\x88\x80\x80\x80"}) {
    std::string out;
    AppendJsonString(&out, invalid);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    EXPECT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
    EXPECT_NE(out.find("\xef\xbf\xbd"), std::string::npos) << out;
  }
}

TEST(AlertDispatcherTest, AppendJsonStringEscapesControlCharacters) {
  std::string out;
  AppendJsonString(&out, std::string("a\"b\\c\n\r\t\x01\x1f\x7f", 11));
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u001f\x7f\"");
}

// ---------------------------------------------------------------- RenderMessage

TEST(AlertDispatcherTest, MessageTemplatePlaceholders) {
  const RuleInfo rule = OverheatRule();
  const KeyInfo key = Key({"nord", "t1"});
  AlertRecord a = Raised(1732233600358, 31.5, 4);
  EXPECT_EQ(AlertDispatcher::RenderMessage("{rule} in {zone}/{sensor}: {value} x{count} {state} {severity} at {ts}",
                                           a, rule, key),
            "zone-overheat in nord/t1: 31.5 x4 raised critical at 1732233600358");
  a.state = AlertState::kCleared;
  EXPECT_EQ(AlertDispatcher::RenderMessage("{zone} {state}", a, rule, key), "nord cleared");
}

TEST(AlertDispatcherTest, UnknownPlaceholdersStay) {
  const RuleInfo rule = OverheatRule();
  const KeyInfo key = Key({"nord", "t1"});
  const AlertRecord a = Raised(1, 2);
  EXPECT_EQ(AlertDispatcher::RenderMessage("{device} in {zone} {} {nope", a, rule, key), "{device} in nord {} {nope");
  EXPECT_EQ(AlertDispatcher::RenderMessage("no placeholders", a, rule, key), "no placeholders");
  EXPECT_EQ(AlertDispatcher::RenderMessage("}{zone}{", a, rule, key), "}nord{");
}

TEST(AlertDispatcherTest, MessageValueNullAndDefaultMessage) {
  const RuleInfo rule = OverheatRule();
  const KeyInfo key = Key({"nord", "t1"});
  EXPECT_EQ(AlertDispatcher::RenderMessage("v={value}", Raised(1, NullValue()), rule, key), "v=null");
  EXPECT_EQ(AlertDispatcher::RenderMessage("", Raised(1, 31.5), rule, key), "zone-overheat raised: temp > 30 (value 31.5)");
  AlertRecord cleared = Raised(1, NullValue());
  cleared.state = AlertState::kCleared;
  EXPECT_EQ(AlertDispatcher::RenderMessage("", cleared, rule, key), "zone-overheat cleared: temp > 30");
}

// ---------------------------------------------------------------- AlertId

std::string Id(const std::string& rule, const std::vector<std::string>& names, const std::vector<std::string>& values,
               int64_t raise_ts) {
  return AlertId(rule, names.data(), values.data(), names.size(), raise_ts);
}

TEST(AlertIdTest, DeterministicSixteenHexDigits) {
  const std::string id = Id("zone-overheat", {"zone", "sensor"}, {"nord", "t1"}, 1732233600358);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
  EXPECT_EQ(Id("zone-overheat", {"zone", "sensor"}, {"nord", "t1"}, 1732233600358), id);
}

TEST(AlertIdTest, DiffersWithRuleKeyAndRaiseTs) {
  const std::string base = Id("r", {"zone"}, {"nord"}, 1000);
  EXPECT_NE(Id("r2", {"zone"}, {"nord"}, 1000), base);
  EXPECT_NE(Id("r", {"zone"}, {"sud"}, 1000), base);
  EXPECT_NE(Id("r", {"site"}, {"nord"}, 1000), base);
  EXPECT_NE(Id("r", {"zone"}, {"nord"}, 1001), base);
  EXPECT_NE(Id("r", {"zone"}, {"nord"}, -1000), base);
  EXPECT_NE(Id("r", {}, {}, 1000), base);
  EXPECT_NE(Id("r", {"zone", "sensor"}, {"nord", "t1"}, 1000), Id("r", {"zone", "sensor"}, {"nord", "t2"}, 1000));
  // Concatenations that read alike stay apart.
  EXPECT_NE(Id("ab", {"zone"}, {"c"}, 1), Id("a", {"zone"}, {"bc"}, 1));
  EXPECT_NE(Id("r", {"zone"}, {"1"}, 23), Id("r", {"zone"}, {"12"}, 3));
}

// A Rule that only carries its info, for the dispatcher.
class InfoRule final : public Rule {
 public:
  explicit InfoRule(RuleInfo info) : info_(std::move(info)) {}
  const RuleInfo& info() const override { return info_; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext&) const override { return nullptr; }

 private:
  RuleInfo info_;
};

// Records every alert it is given; fails on demand.
class RecordingSink final : public Sink {
 public:
  struct Seen {
    AlertState state;
    std::string id, message, json;
  };
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override {
    seen.push_back({alert.record.state, alert.id, alert.message, alert.json});
    return fail ? Status::IoError("disk full") : Status::Ok();
  }
  Status Flush() override {
    ++flushes;
    return Status::Ok();
  }
  std::vector<Seen> seen;
  int flushes = 0;
  bool fail = false;

 private:
  std::string name_ = "recording";
};

class CountingLogger final : public Logger {
 public:
  void Log(LogLevel level, std::string_view message) override {
    if (level == LogLevel::kError) errors.emplace_back(message);
  }
  std::vector<std::string> errors;
};

TEST(AlertDispatcherTest, ClearCarriesTheIdOfItsRaise) {
  RuleInfo info = OverheatRule();
  info.message = "{zone}/{sensor} {state}";
  std::vector<std::shared_ptr<const Rule>> rules = {std::make_shared<InfoRule>(info)};
  KeyTable keys(2);
  TagInterner tags;
  const uint32_t ids[] = {tags.Intern("nord"), tags.Intern("t1")};
  const KeyId key = keys.Intern(0, ids, 2, tags);
  RecordingSink sink;
  CountingLogger logger;
  AlertDispatcher dispatcher(rules, keys, {&sink}, &logger);

  AlertRecord raise = Raised(1000, 31);
  raise.key = key;
  AlertRecord clear = raise;
  clear.state = AlertState::kCleared;
  clear.ts = 9000;  // raise_ts stays 1000
  AlertRecord next = Raised(20000, 32);
  next.key = key;
  dispatcher.Consume(raise);
  dispatcher.Consume(clear);
  dispatcher.Consume(next);

  ASSERT_EQ(sink.seen.size(), 3u);
  EXPECT_EQ(sink.seen[0].id, Id("zone-overheat", {"zone", "sensor"}, {"nord", "t1"}, 1000));
  EXPECT_EQ(sink.seen[1].id, sink.seen[0].id);
  EXPECT_NE(sink.seen[2].id, sink.seen[0].id);  // a new episode
  EXPECT_EQ(sink.seen[0].message, "nord/t1 raised");
  EXPECT_EQ(sink.seen[1].message, "nord/t1 cleared");
  Parsed p;
  ParseAlert(sink.seen[1].json, &p);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(Str(p.object, "id"), sink.seen[0].id);
  EXPECT_EQ(Str(p.object, "state"), "cleared");
  int64_t ts = 0;
  ASSERT_EQ(p.object["ts"].get_int64().get(ts), simdjson::SUCCESS);
  EXPECT_EQ(ts, 9000);  // the clear's own time
  EXPECT_EQ(dispatcher.alerts(), 3u);
  EXPECT_EQ(dispatcher.sink_errors(), 0u);
}

TEST(AlertDispatcherTest, SinkErrorsAreCountedAndLoggedAndOtherSinksStillWritten) {
  std::vector<std::shared_ptr<const Rule>> rules = {std::make_shared<InfoRule>(OverheatRule())};
  KeyTable keys(1);
  TagInterner tags;
  const uint32_t ids[] = {tags.Intern("nord"), tags.Intern("t1")};
  AlertRecord a = Raised(1000, 31);
  a.key = keys.Intern(0, ids, 2, tags);
  RecordingSink failing, healthy;
  failing.fail = true;
  CountingLogger logger;
  AlertDispatcher dispatcher(rules, keys, {&failing, &healthy}, &logger);
  dispatcher.Consume(a);
  dispatcher.Idle();
  EXPECT_EQ(failing.seen.size(), 1u);
  EXPECT_EQ(healthy.seen.size(), 1u);
  EXPECT_EQ(dispatcher.sink_errors(), 1u);
  EXPECT_EQ(dispatcher.alerts(), 1u);
  ASSERT_EQ(logger.errors.size(), 1u);
  EXPECT_NE(logger.errors[0].find("disk full"), std::string::npos) << logger.errors[0];
  EXPECT_EQ(healthy.flushes, 1);
}

}  // namespace
}  // namespace vigil
