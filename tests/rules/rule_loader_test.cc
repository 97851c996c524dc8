// Tests of CompileRules: the loaded definitions (kind, severity, labels,
// key, when text) and, above all, the errors: each with its exact
// file:line:column (1-based, as an editor shows them) and message, and every
// error of a file reported, not only the first. Single-threaded.
#include "vigil/rules/rule_loader.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::rules {
namespace {

struct Loaded {
  std::vector<std::shared_ptr<const Rule>> rules;
  std::vector<std::string> errors;  // "rules.yaml:L:C: message", in file order
};

Loaded Load(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  Schema schema;
  TagInterner tags;
  ConfigErrors errors("rules.yaml");
  errors.SetSource(yaml);  // as LoadRulesText does
  Loaded out;
  out.rules = CompileRules(root["rules"], &schema, &tags, errors);
  out.errors = errors.Formatted();
  return out;
}

// Just the "L:C" of each error.
std::vector<std::string> Positions(const Loaded& l) {
  std::vector<std::string> out;
  for (const std::string& e : l.errors) {
    size_t a = e.find(':');
    size_t b = e.find(':', a + 1);
    size_t c = e.find(':', b + 1);
    out.push_back(e.substr(a + 1, c - a - 1));
  }
  return out;
}

using Strings = std::vector<std::string>;

// ---- loading -----------------------------------------------------------------

TEST(RuleLoaderTest, LoadsEveryKindWithItsDefinition) {
  Loaded l = Load(R"(rules:
  - name: hot
    key: [zone, sensor]
    when: temp > 30
    for: 30s
    clear_when: temp < 28
    severity: critical
    labels: {team: ops}
    message: "too hot"
  - name: avg
    key: zone
    window: {size: 5m, every: 1m}
    when: avg(temp) > 27
  - name: lost
    key: [zone]
    deadman: 90s
)");
  ASSERT_TRUE(l.errors.empty()) << l.errors[0];
  ASSERT_EQ(l.rules.size(), 3u);
  const RuleInfo& hot = l.rules[0]->info();
  EXPECT_EQ(hot.name, "hot");
  EXPECT_EQ(hot.kind, "event");
  EXPECT_EQ(hot.severity, "critical");
  EXPECT_EQ(hot.key_tags, (Strings{"zone", "sensor"}));
  EXPECT_EQ(hot.when, "temp > 30");
  EXPECT_EQ(hot.labels.at("team"), "ops");
  EXPECT_EQ(hot.message, "too hot");
  const RuleInfo& avg = l.rules[1]->info();
  EXPECT_EQ(avg.kind, "window");
  EXPECT_EQ(avg.severity, "warning") << "default severity";
  EXPECT_EQ(avg.key_tags, (Strings{"zone"})) << "a single tag may be a scalar";
  EXPECT_EQ(l.rules[2]->info().kind, "deadman");
  EXPECT_NE(hot.keylist, avg.keylist);
  EXPECT_EQ(avg.keylist, l.rules[2]->info().keylist) << "same tag list, same key-list slot";
}

TEST(RuleLoaderTest, DefinitionHashFollowsTheDefinition) {
  Loaded a = Load("rules:\n  - {name: hot, when: temp > 30}\n");
  Loaded b = Load("rules:\n  - {name: hot, when: temp > 30}\n");
  Loaded c = Load("rules:\n  - {name: hot, when: temp > 31}\n");
  ASSERT_TRUE(a.errors.empty() && b.errors.empty() && c.errors.empty());
  EXPECT_EQ(a.rules[0]->info().definition_hash, b.rules[0]->info().definition_hash);
  EXPECT_NE(a.rules[0]->info().definition_hash, c.rules[0]->info().definition_hash);
}

TEST(RuleLoaderTest, DefinitionHashIgnoresLayoutQuotingAndComments) {
  Loaded flow = Load("rules:\n  - {name: hot, key: [device], when: temp > 30, labels: {team: ops}}\n");
  Loaded block = Load(
      "rules:\n"
      "  - name: \"hot\"   # the same rule, written out\n"
      "    key:\n"
      "      - device\n"
      "    when: 'temp > 30'\n"
      "    labels:\n"
      "      team: ops\n");
  Loaded other_label = Load("rules:\n  - {name: hot, key: [device], when: temp > 30, labels: {team: dev}}\n");
  Loaded label_as_key = Load("rules:\n  - {name: hot, key: [device, team], when: temp > 30}\n");
  ASSERT_TRUE(flow.errors.empty() && block.errors.empty() && other_label.errors.empty() &&
              label_as_key.errors.empty());
  EXPECT_EQ(flow.rules[0]->info().definition_hash, block.rules[0]->info().definition_hash);
  EXPECT_NE(flow.rules[0]->info().definition_hash, other_label.rules[0]->info().definition_hash);
  EXPECT_NE(flow.rules[0]->info().definition_hash, label_as_key.rules[0]->info().definition_hash);
}

// State written before the canonical definition hash holds the hash of the
// rule's YAML::Dump; these are the hashes `vigil state inspect` showed for
// these two rules in a state dir written by vigil at commit 38e0da0.
TEST(RuleLoaderTest, LegacyDefinitionHashIsTheOneEarlierVersionsStored) {
  Loaded l = Load(
      "rules:\n"
      "  - {name: hot, key: [device], when: temp > 30, for: 1m, labels: {team: ops}}\n"
      "  - name: silent\n"
      "    key: [device]\n"
      "    deadman: 2m\n");
  ASSERT_TRUE(l.errors.empty());
  ASSERT_EQ(l.rules.size(), 2u);
  ASSERT_TRUE(l.rules[0]->info().legacy_definition_hash);
  EXPECT_EQ(l.rules[0]->info().legacy_definition_hash(), 0xab86bb8bd9ef5ca2ULL);
  EXPECT_EQ(l.rules[1]->info().legacy_definition_hash(), 0x6ebcf5e27b4b23adULL);
  EXPECT_NE(l.rules[0]->info().definition_hash, 0xab86bb8bd9ef5ca2ULL) << "the new hash is another function";
}

TEST(RuleLoaderTest, EmptyRulesListIsAnError) {
  Loaded l = Load("rules: []\n");
  EXPECT_EQ(l.errors.size(), 1u);
  EXPECT_NE(l.errors[0].find("the rules list is empty"), std::string::npos) << l.errors[0];
}

// ---- one error each, exact position ------------------------------------------

TEST(RuleLoaderTest, UnknownKeyPointsAtTheKeyWithDidYouMean) {
  Loaded l = Load(R"(rules:
  - name: hot
    key: [zone]
    when: temp > 30
    sevrity: major
)");
  EXPECT_EQ(l.errors, (Strings{"rules.yaml:5:5: unknown key 'sevrity' in rule 'hot' (did you mean 'severity'?)"}));
  EXPECT_TRUE(l.rules.empty());
}

TEST(RuleLoaderTest, UnknownKeyWithoutACloseNameListsTheKeys) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30
    threshold: 4
)");
  ASSERT_EQ(Positions(l), (Strings{"4:5"}));
  EXPECT_NE(l.errors[0].find("unknown key 'threshold' in rule 'hot' (expected one of: name description key"),
            std::string::npos)
      << l.errors[0];
}

TEST(RuleLoaderTest, MisspelledWhenIsReportedTwice) {
  Loaded l = Load(R"(rules:
  - name: hot
    key: [zone]
    wehn: temp > 30
)");
  EXPECT_EQ(l.errors,
            (Strings{"rules.yaml:2:5: rule 'hot' needs 'when' (an event rule), 'window' (a window rule) or 'deadman'",
                     "rules.yaml:4:5: unknown key 'wehn' in rule 'hot' (did you mean 'when'?)"}));
}

TEST(RuleLoaderTest, BadSeverityPointsAtTheValue) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30
    severity: critcal
  - name: warm
    when: temp > 25
    severity: urgent
)");
  EXPECT_EQ(l.errors,
            (Strings{"rules.yaml:4:15: rule 'hot': unknown severity 'critcal' (did you mean 'critical'?)",
                     "rules.yaml:7:15: rule 'warm': unknown severity 'urgent' (expected critical, major, warning or "
                     "info)"}));
}

TEST(RuleLoaderTest, BadDurationPointsAtTheValue) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30
    for: 30 seconds
)");
  EXPECT_EQ(l.errors, (Strings{"rules.yaml:4:10: rule 'hot': 'for' must be a duration such as 250ms, 30s, 5m, 1h "
                               "or 1d, got '30 seconds'"}));
}

TEST(RuleLoaderTest, BadDeadmanTimeoutPointsAtTheValue) {
  Loaded l = Load(R"(rules:
  - name: lost
    key: [dev]
    deadman: 0s
  - name: lost2
    key: [dev]
    deadman: soon
)");
  EXPECT_EQ(Positions(l), (Strings{"4:14", "7:14"}));
  EXPECT_NE(l.errors[0].find("'deadman' timeout must be positive"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("'deadman' must be a duration"), std::string::npos) << l.errors[1];
}

TEST(RuleLoaderTest, ExpressionErrorColumnIsInsideTheWhenValue) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30 and foo(temp) > 1
)");
  ASSERT_EQ(l.errors.size(), 1u);
  EXPECT_EQ(l.errors[0].substr(0, l.errors[0].find(" (")),
            "rules.yaml:3:25: rule 'hot': in 'when': unknown function 'foo'");
}

TEST(RuleLoaderTest, ExpressionErrorColumnInAQuotedWhenValue) {
  Loaded dq = Load(R"(rules:
  - name: hot
    when: "temp > 30 and foo(temp) > 1"
)");
  EXPECT_EQ(Positions(dq), (Strings{"3:26"}));
  Loaded sq = Load(R"(rules:
  - name: hot
    when: 'temp > 30 and foo(temp) > 1'
)");
  EXPECT_EQ(Positions(sq), (Strings{"3:26"}));
}

// In a single-quoted YAML scalar '' is one quote: the expression text is
// shorter than the source by one character per escape before the error, and
// the column must still point at the source character (3:33, not 3:31).
TEST(RuleLoaderTest, ExpressionErrorColumnAfterAnEscapedQuote) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: 'zone == ''nord'' and foo(t) > 1'
)");
  EXPECT_EQ(Positions(l), (Strings{"3:33"})) << ::testing::PrintToString(l.errors);
  // Double-quoted: the 4 source characters \x41 are one character (A) of the
  // expression; foo still points at its source column 31 (not 28).
  Loaded d = Load(R"(rules:
  - name: hot
    when: "zone == '\x41' and foo(t) > 1"
)");
  EXPECT_EQ(Positions(d), (Strings{"3:31"})) << ::testing::PrintToString(d.errors);
}

TEST(RuleLoaderTest, ExpressionErrorColumnInClearWhenAndInAFlowMap) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30
    clear_when: temp < 28 and
  - {name: warm, when: temp > 5m}
)");
  EXPECT_EQ(Positions(l), (Strings{"4:30", "5:31"}));
  EXPECT_NE(l.errors[0].find("rule 'hot': in 'clear_when': expected a value"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("rule 'warm': in 'when': a duration is only allowed"), std::string::npos)
      << l.errors[1];
}

TEST(RuleLoaderTest, DuplicateRuleNamePointsAtTheSecondName) {
  Loaded l = Load(R"(rules:
  - name: hot
    when: temp > 30
  - name: hot
    when: temp > 40
)");
  EXPECT_EQ(l.errors, (Strings{"rules.yaml:4:11: duplicate rule name 'hot'"}));
}

TEST(RuleLoaderTest, MissingWhenPointsAtTheRule) {
  Loaded l = Load(R"(rules:
  - name: hot
    key: [zone]
  - name: avg
    window: {size: 1m}
)");
  EXPECT_EQ(l.errors,
            (Strings{"rules.yaml:2:5: rule 'hot' needs 'when' (an event rule), 'window' (a window rule) or 'deadman'",
                     "rules.yaml:4:5: rule 'avg': a window rule needs 'when', e.g. when: avg(temp) > 27"}));
}

TEST(RuleLoaderTest, WindowWithoutSizePointsAtTheWindow) {
  Loaded l = Load(R"(rules:
  - name: avg
    window: {every: 1m}
    when: avg(temp) > 1
  - name: avg2
    window:
      every: 1m
    when: avg(temp) > 1
)");
  EXPECT_EQ(l.errors, (Strings{"rules.yaml:3:13: rule 'avg': 'window' needs a 'size', e.g. {size: 5m}",
                               "rules.yaml:7:7: rule 'avg2': 'window' needs a 'size', e.g. {size: 5m}"}));
}

TEST(RuleLoaderTest, WindowShapeErrors) {
  Loaded l = Load(R"(rules:
  - name: a
    window: {size: 1m, every: 2m}
    when: avg(temp) > 1
  - name: b
    window: {size: 1m, evry: 10s}
    when: avg(temp) > 1
    for: 1m
  - name: c
    window: 5m
    when: avg(temp) > 1
)");
  EXPECT_EQ(Positions(l), (Strings{"3:31", "6:24", "8:10", "10:13"}));
  EXPECT_NE(l.errors[0].find("larger than 'size'"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("unknown key 'evry' in rule 'b' 'window' (did you mean 'every'?)"), std::string::npos)
      << l.errors[1];
  EXPECT_NE(l.errors[2].find("'for' is not available on window rules"), std::string::npos) << l.errors[2];
  EXPECT_NE(l.errors[3].find("'window' must be a map"), std::string::npos) << l.errors[3];
}

TEST(RuleLoaderTest, DeadmanWithWhenPointsAtTheWhenValue) {
  Loaded l = Load(R"(rules:
  - name: lost
    key: [dev]
    deadman: 90s
    when: temp > 1
)");
  EXPECT_EQ(l.errors, (Strings{"rules.yaml:5:11: rule 'lost': 'when' does not apply to a deadman rule (it raises on "
                               "silence and clears on the next message)"}));
}

TEST(RuleLoaderTest, ExpectErrors) {
  Loaded l = Load(R"(rules:
  - name: lost
    key: [zone, sensor]
    deadman: 90s
    expect: [nord, {zone: sud}, {zone: est, sensr: t}]
  - name: hot
    when: temp > 1
    expect: [a]
)");
  EXPECT_EQ(Positions(l), (Strings{"5:14", "5:20", "5:33", "5:45", "8:13"}));
  EXPECT_NE(l.errors[0].find("each 'expect' entry is a map"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("lacks key tag 'sensor'"), std::string::npos) << l.errors[1];
  EXPECT_NE(l.errors[2].find("lacks key tag 'sensor'"), std::string::npos) << l.errors[2];
  EXPECT_NE(l.errors[3].find("unknown key 'sensr'"), std::string::npos) << l.errors[3];
  EXPECT_NE(l.errors[4].find("'expect' only applies to deadman rules"), std::string::npos) << l.errors[4];
}

TEST(RuleLoaderTest, OtherCommonErrors) {
  Loaded l = Load(R"(rules:
  - just a string
  - name: p
    plugin: {path: ./x.so}
  - name: m
    match: [zone]
    when: temp > 1
  - when: temp > 1
)");
  EXPECT_EQ(Positions(l), (Strings{"2:5", "4:20", "6:12", "8:5"}));
  EXPECT_NE(l.errors[0].find("each rule must be a map"), std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("rule 'p': cannot load plugin: ./x.so: cannot open shared object file"), std::string::npos) << l.errors[1];
  EXPECT_NE(l.errors[2].find("'match' must be a map"), std::string::npos) << l.errors[2];
  EXPECT_NE(l.errors[3].find("rule without a 'name'"), std::string::npos) << l.errors[3];
}

// ---- every error of a file ----------------------------------------------------

TEST(RuleLoaderTest, ReportsEveryErrorOfAFile) {
  Loaded l = Load(R"(rules:
  - name: a
    when: temp >
    severity: hi
  - name: b
    window: {size: 5x}
    when: avg(temp, 5m) > 1
  - name: a
    deadman: 10s
    for: 1m
  - nme: c
    when: x > 1
  - name: d
    when: x > 1
)");
  EXPECT_EQ(Positions(l), (Strings{"3:17", "4:15", "6:20", "7:11", "8:11", "10:10", "11:5", "11:5"}))
      << ::testing::PrintToString(l.errors);
  ASSERT_EQ(l.errors.size(), 8u);
  EXPECT_NE(l.errors[0].find("rule 'a': in 'when': expected a value but found 'end of expression'"),
            std::string::npos) << l.errors[0];
  EXPECT_NE(l.errors[1].find("unknown severity 'hi' (expected critical, major, warning or info)"), std::string::npos)
      << l.errors[1];
  EXPECT_NE(l.errors[2].find("rule 'b': window size must be a duration"), std::string::npos) << l.errors[2];
  EXPECT_NE(l.errors[3].find("in a window rule avg() takes one field"), std::string::npos) << l.errors[3];
  EXPECT_NE(l.errors[4].find("duplicate rule name 'a'"), std::string::npos) << l.errors[4];
  EXPECT_NE(l.errors[5].find("'for' does not apply to a deadman rule"), std::string::npos) << l.errors[5];
  EXPECT_NE(l.errors[6].find("rule without a 'name'"), std::string::npos) << l.errors[6];
  EXPECT_NE(l.errors[7].find("unknown key 'nme' in rule '?' (did you mean 'name'?)"), std::string::npos)
      << l.errors[7];
  EXPECT_EQ(l.rules.size(), 1u) << "only 'd' is valid (the caller rejects the file anyway)";
}

TEST(RuleLoaderTest, ARuleWithoutWhenStillHasItsOtherKeysChecked) {
  Loaded l = Load(R"(rules:
  - name: hot
    for: soon
    clear_when: temp <
  - name: avg
    window: {size: 1m}
    clear_when: avg(temp, 1m) < 1
)");
  EXPECT_EQ(Positions(l), (Strings{"2:5", "3:10", "4:23", "5:5", "7:17"})) << ::testing::PrintToString(l.errors);
}

}  // namespace
}  // namespace vigil::rules
