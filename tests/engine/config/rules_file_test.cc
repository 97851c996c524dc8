// Tests for vigil/engine/rules_file.h (LoadRulesText, LoadRulesFile) and the
// helpers of vigil/engine/config_errors.h: unknown keys with suggestions,
// 1-based line:column positions, every error reported (not only the first),
// YAML syntax errors, and the engine/http/sources/sinks sections.
// Expected positions were counted by hand in the YAML texts below.
#include "vigil/engine/rules_file.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/env_expansion.h"
#include "vigil/engine/config_errors.h"

namespace vigil {
namespace {

// Loads `text` as "rules.yaml" and returns the formatted errors.
struct Loaded {
  bool ok = false;  // LoadRulesText's return value
  RulesFile file;
  std::vector<std::string> errors;
};

Loaded Load(const std::string& text, const std::string& path = "rules.yaml") {
  Loaded l;
  ConfigErrors errors(path);
  l.ok = LoadRulesText(text, path, &l.file, errors);
  l.errors = errors.Formatted();
  return l;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// True when some error line starts with `prefix` ("rules.yaml:3:1: ") and
// contains `text`.
bool HasError(const Loaded& l, const std::string& prefix, const std::string& text) {
  for (const auto& e : l.errors) {
    if (e.rfind(prefix, 0) == 0 && e.find(text) != std::string::npos) return true;
  }
  return false;
}

// ---------------------------------------------------------------- unknown keys

TEST(RulesFileTest, UnknownTopLevelKeySuggestsTheClosest) {
  Loaded l = Load(
      "engine:\n"
      "  shards: 2\n"
      "rulez: []\n");
  EXPECT_TRUE(HasError(l, "rules.yaml:3:1: ", "unknown key 'rulez'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:3:1: ", "(did you mean 'rules'?)")) << Join(l.errors);
  // And the missing list is reported too.
  EXPECT_TRUE(HasError(l, "rules.yaml:", "no 'rules:' list")) << Join(l.errors);
  EXPECT_EQ(l.errors.size(), 2u) << Join(l.errors);
}

TEST(RulesFileTest, UnknownKeyWithoutCloseMatchListsTheAllowedKeys) {
  Loaded l = Load(
      "rules: []\n"
      "frobnicate: 1\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0],
            "rules.yaml:2:1: unknown key 'frobnicate' in the rules file (expected one of: engine http sources rules "
            "sinks)");
}

TEST(RulesFileTest, UnknownKeysInsideSections) {
  Loaded l = Load(
      "engine:\n"
      "  shard: 2\n"
      "sources:\n"
      "  - name: w\n"
      "    file: {path: in.ndjson}\n"
      "    timestamp: {feild: at}\n"
      "    alowed_lateness: 1s\n"
      "rules: []\n");
  EXPECT_TRUE(HasError(l, "rules.yaml:2:3: ", "unknown key 'shard' in 'engine' (did you mean 'shards'?)"))
      << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:6:17: ", "unknown key 'feild'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:6:17: ", "did you mean 'field'?")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:7:5: ", "unknown key 'alowed_lateness' in source 'w'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:7:5: ", "did you mean 'allowed_lateness'?")) << Join(l.errors);
  EXPECT_EQ(l.errors.size(), 3u) << Join(l.errors);
}

// ---------------------------------------------------------------- positions, all errors

TEST(RulesFileTest, ReportsEveryErrorWithItsPositionInFileOrder) {
  Loaded l = Load(
      "engine:\n"
      "  shards: two\n"
      "  checkpoint_interval: 5x\n"
      "  stat_dir: /tmp\n"
      "http: {listen: 127.0.0.1:9464, tokn_env: X}\n"
      "rules: []\n",
      "conf/vigil.yaml");
  EXPECT_TRUE(l.ok);  // section errors do not stop loading; callers check the errors
  ASSERT_EQ(l.errors.size(), 4u) << Join(l.errors);
  EXPECT_EQ(l.errors[0].rfind("conf/vigil.yaml:2:11: engine.shards must be an integer, got 'two'", 0), 0u)
      << l.errors[0];
  EXPECT_EQ(l.errors[1].rfind("conf/vigil.yaml:3:24: engine.checkpoint_interval must be a duration", 0), 0u)
      << l.errors[1];
  EXPECT_NE(l.errors[1].find("got '5x'"), std::string::npos) << l.errors[1];
  EXPECT_EQ(l.errors[2].rfind("conf/vigil.yaml:4:3: unknown key 'stat_dir'", 0), 0u) << l.errors[2];
  EXPECT_NE(l.errors[2].find("did you mean 'state_dir'?"), std::string::npos) << l.errors[2];
  EXPECT_EQ(l.errors[3].rfind("conf/vigil.yaml:5:32: unknown key 'tokn_env' in 'http'", 0), 0u) << l.errors[3];
  EXPECT_NE(l.errors[3].find("did you mean 'token_env'?"), std::string::npos) << l.errors[3];
}

TEST(RulesFileTest, ShardsOutOfRange) {
  Loaded l = Load(
      "engine: {shards: 65}\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0], "rules.yaml:1:18: engine.shards must be between 0 and 64, got 65");
  EXPECT_EQ(l.file.engine.shards, 0u);  // unchanged default
}

TEST(RulesFileTest, YamlSyntaxErrorPosition) {
  Loaded l = Load(
      "engine:\n"
      "  shards: [1, 2}\n"
      "rules: []\n");
  EXPECT_FALSE(l.ok);
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0].rfind("rules.yaml:2:16: YAML syntax error: ", 0), 0u) << l.errors[0];

  Loaded m = Load("rules: []\na: b: c\n");
  EXPECT_FALSE(m.ok);
  ASSERT_EQ(m.errors.size(), 1u) << Join(m.errors);
  EXPECT_EQ(m.errors[0].rfind("rules.yaml:2:5: YAML syntax error: ", 0), 0u) << m.errors[0];
}

TEST(RulesFileTest, EmptyFileAndNonMapRoot) {
  Loaded empty = Load("");
  ASSERT_EQ(empty.errors.size(), 1u);
  EXPECT_EQ(empty.errors[0], "rules.yaml:1:1: the rules file is empty: it needs at least a 'rules:' list");
  Loaded list = Load("- a\n- b\n");
  ASSERT_EQ(list.errors.size(), 1u);
  EXPECT_EQ(list.errors[0].rfind("rules.yaml:1:1: the rules file must be a map", 0), 0u) << list.errors[0];
}

TEST(RulesFileTest, RulesMustBeAList) {
  Loaded l = Load("rules: {name: a}\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0], "rules.yaml:1:8: 'rules' must be a list of rules");
}

TEST(RulesFileTest, EmptySectionIsReportedAtItsKey) {
  // An empty value is not at the next line (nor past the end of the file).
  Loaded l = Load(
      "engine: {shards: 2}\n"
      "rules:\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0], "rules.yaml:2:1: 'rules' must be a list of rules");

  Loaded m = Load(
      "engine:\n"
      "sources:\n"
      "# none yet\n"
      "\n"
      "rules: []\n");
  ASSERT_EQ(m.errors.size(), 2u) << Join(m.errors);
  EXPECT_EQ(m.errors[0].rfind("rules.yaml:1:1: 'engine' must be a map", 0), 0u) << m.errors[0];
  EXPECT_EQ(m.errors[1], "rules.yaml:2:1: 'sources' must be a list");

  Loaded t = Load(
      "rules: []\n"
      "sources:\n"
      "  - name: a\n"
      "    file: {path: x}\n"
      "    timestamp:\n"
      "  - name: b\n"
      "    file: {path: y}\n");
  ASSERT_EQ(t.errors.size(), 1u) << Join(t.errors);
  EXPECT_EQ(t.errors[0].rfind("rules.yaml:5:5: 'timestamp' must be a map", 0), 0u) << t.errors[0];
}

// ---------------------------------------------------------------- sections

TEST(RulesFileTest, ReadsTheLimits) {
  Loaded l = Load(
      "engine: {max_keys_per_rule: 5000, max_window_samples: 20000, max_tag_values: 300, max_key_tuples: 0}\n"
      "http: {listen: 127.0.0.1:9464, max_body_bytes: 65536, max_connections: 4}\n"
      "sources:\n"
      "  - name: s\n"
      "    file: {path: in.ndjson}\n"
      "    max_message_bytes: 4096\n"
      "    max_depth: 8\n"
      "    max_fields: 50\n"
      "rules:\n"
      "  - name: hot\n"
      "    when: temp > 30\n",
      "rules.yaml");
  ASSERT_TRUE(l.ok);
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  EXPECT_EQ(l.file.engine.max_keys_per_rule, 5000u);
  EXPECT_EQ(l.file.engine.max_window_samples, 20000u);
  EXPECT_EQ(l.file.engine.max_tag_values, 300u);
  EXPECT_EQ(l.file.engine.max_key_tuples, 0u);
  EXPECT_EQ(l.file.http.max_body_bytes, 65536u);
  EXPECT_EQ(l.file.http.max_connections, 4u);
  EXPECT_EQ(l.file.sources[0].format.max_message_bytes, 4096u);
  EXPECT_EQ(l.file.sources[0].format.max_depth, 8);
  EXPECT_EQ(l.file.sources[0].format.max_fields, 50u);
}

TEST(RulesFileTest, LimitDefaults) {
  Loaded l = Load("sources:\n  - name: s\n    file: {path: in.ndjson}\nrules:\n  - {name: hot, when: temp > 30}\n",
                  "rules.yaml");
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  EXPECT_EQ(l.file.engine.max_keys_per_rule, 1000000u);
  EXPECT_EQ(l.file.engine.max_window_samples, 100000u);
  EXPECT_EQ(l.file.engine.max_tag_values, 2000000u);
  EXPECT_EQ(l.file.engine.max_key_tuples, 2000000u);
  EXPECT_EQ(l.file.http.max_connections, 16u);
  EXPECT_EQ(l.file.sources[0].format.max_depth, 64);
  EXPECT_EQ(l.file.sources[0].format.max_fields, 1000u);
}

TEST(RulesFileTest, RefusesOutOfRangeLimits) {
  Loaded l = Load(
      "http: {max_connections: 0}\n"
      "sources:\n  - name: s\n    file: {path: in.ndjson}\n    max_fields: 0\n"
      "rules:\n  - {name: hot, when: temp > 30}\n",
      "rules.yaml");
  EXPECT_EQ(l.errors.size(), 2u) << Join(l.errors);
}

TEST(RulesFileTest, HttpTlsKeysGoTogether) {
  const std::string tail = "sources: [{name: a, file: {path: x}}]\nrules: [{name: r, when: t > 1}]\n";
  Loaded ok = Load("http: {listen: 127.0.0.1:9464, tls_cert: tls/cert.pem, tls_key: tls/key.pem, "
                   "tls_min_version: \"1.3\"}\n" + tail);
  ASSERT_TRUE(ok.errors.empty()) << Join(ok.errors);
  EXPECT_EQ(ok.file.http.tls_cert, "tls/cert.pem");
  EXPECT_EQ(ok.file.http.tls_key, "tls/key.pem");
  EXPECT_TRUE(ok.file.http.tls13_only);
  Loaded dflt = Load("http: {listen: 127.0.0.1:9464, tls_cert: c.pem, tls_key: k.pem}\n" + tail);
  ASSERT_TRUE(dflt.errors.empty()) << Join(dflt.errors);
  EXPECT_FALSE(dflt.file.http.tls13_only);

  Loaded no_key = Load("http: {listen: 127.0.0.1:9464, tls_cert: c.pem}\n" + tail);
  EXPECT_TRUE(HasError(no_key, "rules.yaml:1:42: ", "http.tls_cert needs http.tls_key")) << Join(no_key.errors);
  Loaded no_cert = Load("http: {listen: 127.0.0.1:9464, tls_key: k.pem}\n" + tail);
  EXPECT_TRUE(HasError(no_cert, "rules.yaml:1:41: ", "http.tls_key needs http.tls_cert")) << Join(no_cert.errors);
  Loaded bad = Load("http: {listen: 127.0.0.1:9464, tls_cert: c.pem, tls_key: k.pem, tls_min_version: 1.1}\n" + tail);
  EXPECT_TRUE(HasError(bad, "rules.yaml:1:", "http.tls_min_version must be \"1.2\" or \"1.3\", not '1.1'"))
      << Join(bad.errors);
  Loaded alone = Load("http: {listen: 127.0.0.1:9464, tls_min_version: \"1.3\"}\n" + tail);
  EXPECT_TRUE(HasError(alone, "rules.yaml:1:", "without http.tls_cert and http.tls_key")) << Join(alone.errors);
}

TEST(RulesFileTest, ParsesEngineHttpSourcesSinksAndRules) {
  Loaded l = Load(
      "engine: {shards: 4, state_dir: /var/lib/vigil, checkpoint_interval: 250ms, key_ttl: 1h30m}\n"
      "http:\n"
      "  listen: 127.0.0.1:9464\n"
      "  token_env: VIGIL_TOKEN\n"
      "sources:\n"
      "  - name: warehouse\n"
      "    mqtt: {url: tcp://127.0.0.1:1883, topics: [\"entrepot/+/+/v1\"]}\n"
      "    topic_tags: \"entrepot/{zone}/{sensor}/v1\"\n"
      "    timestamp: {field: meta.ts, unit: ms, timezone: \"+02:00\"}\n"
      "    allowed_lateness: 5s\n"
      "    max_message_bytes: 4096\n"
      "  - name: replay\n"
      "    file: {path: in.ndjson}\n"
      "    timestamp: {field: [at, time], unit: iso}\n"
      "  - kafka: {topic: x}\n"
      "    timestamp: when\n"
      "sinks:\n"
      "  - stdout: {}\n"
      "  - file: {path: alerts.ndjson}\n"
      "rules:\n"
      "  - name: hot\n"
      "    when: temp > 30\n",
      "conf/rules.yaml");
  ASSERT_TRUE(l.ok);
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  const RulesFile& f = l.file;
  EXPECT_EQ(f.path, "conf/rules.yaml");
  EXPECT_EQ(f.directory, "conf");
  EXPECT_EQ(f.engine.shards, 4u);
  EXPECT_EQ(f.engine.state_dir, "/var/lib/vigil");
  EXPECT_EQ(f.engine.checkpoint_interval_ms, 250);
  EXPECT_EQ(f.engine.key_ttl_ms, 5400000);
  EXPECT_EQ(f.http.listen, "127.0.0.1:9464");
  EXPECT_EQ(f.http.token_env, "VIGIL_TOKEN");

  ASSERT_EQ(f.sources.size(), 3u);
  const SourceSettings& w = f.sources[0];
  EXPECT_EQ(w.name, "warehouse");
  EXPECT_EQ(w.kind, "mqtt");
  EXPECT_EQ(w.kind_node["url"].Scalar(), "tcp://127.0.0.1:1883");
  EXPECT_EQ(w.topic_tags, (std::vector<std::string>{"entrepot/{zone}/{sensor}/v1"}));
  EXPECT_EQ(w.format.ts_fields, (std::vector<std::string>{"meta.ts"}));
  EXPECT_EQ(w.format.unit, TimeUnit::kMillis);
  EXPECT_EQ(w.format.default_offset_minutes, 120);
  EXPECT_EQ(w.allowed_lateness_ms, 5000);
  EXPECT_EQ(w.format.max_message_bytes, 4096u);

  const SourceSettings& r = f.sources[1];
  EXPECT_EQ(r.name, "replay");
  EXPECT_EQ(r.kind, "file");
  EXPECT_EQ(r.format.ts_fields, (std::vector<std::string>{"at", "time"}));
  EXPECT_EQ(r.format.unit, TimeUnit::kIso);
  EXPECT_EQ(r.allowed_lateness_ms, 0);
  EXPECT_EQ(r.format.max_message_bytes, size_t{1} << 20);

  const SourceSettings& k = f.sources[2];
  EXPECT_EQ(k.name, "source3");  // unnamed: named after its position
  EXPECT_EQ(k.kind, "kafka");
  EXPECT_EQ(k.format.ts_fields, (std::vector<std::string>{"when"}));  // shorthand
  EXPECT_EQ(k.format.unit, TimeUnit::kAuto);

  ASSERT_EQ(f.sinks.size(), 2u);
  EXPECT_EQ(f.sinks[0].kind, "stdout");
  EXPECT_EQ(f.sinks[1].kind, "file");
  EXPECT_EQ(f.sinks[1].node["path"].Scalar(), "alerts.ndjson");
  ASSERT_TRUE(f.rules.IsSequence());
  EXPECT_EQ(f.rules.size(), 1u);
  EXPECT_EQ(f.rules[0]["when"].Scalar(), "temp > 30");
}

TEST(RulesFileTest, DefaultsWhenSectionsAreAbsent) {
  Loaded l = Load(
      "sources:\n"
      "  - name: s\n"
      "    http: {}\n"
      "rules: []\n",
      "rules.yaml");
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  EXPECT_EQ(l.file.directory, ".");
  EXPECT_EQ(l.file.engine.shards, 0u);
  EXPECT_EQ(l.file.engine.state_dir, "./vigil-state");
  EXPECT_EQ(l.file.engine.checkpoint_interval_ms, 1000);
  EXPECT_EQ(l.file.http.listen, "");
  ASSERT_EQ(l.file.sources.size(), 1u);
  EXPECT_EQ(l.file.sources[0].format.ts_fields, (std::vector<std::string>{"ts", "timestamp", "time"}));
  EXPECT_EQ(l.file.sources[0].format.unit, TimeUnit::kAuto);
  EXPECT_EQ(l.file.sources[0].format.default_offset_minutes, 0);
}

TEST(RulesFileTest, TimestampUnitsAndZones) {
  Loaded l = Load(
      "sources:\n"
      "  - {name: a, file: {path: a}, timestamp: {unit: s, timezone: UTC}}\n"
      "  - {name: b, file: {path: b}, timestamp: {unit: nanoseconds, timezone: \"-05:30\"}}\n"
      "  - {name: c, file: {path: c}, timestamp: {unit: us}}\n"
      "rules: []\n");
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  ASSERT_EQ(l.file.sources.size(), 3u);
  EXPECT_EQ(l.file.sources[0].format.unit, TimeUnit::kSeconds);
  EXPECT_EQ(l.file.sources[0].format.default_offset_minutes, 0);
  EXPECT_EQ(l.file.sources[1].format.unit, TimeUnit::kNanos);
  EXPECT_EQ(l.file.sources[1].format.default_offset_minutes, -330);
  EXPECT_EQ(l.file.sources[2].format.unit, TimeUnit::kMicros);
}

TEST(RulesFileTest, BadTimestampUnitAndZone) {
  Loaded l = Load(
      "sources:\n"
      "  - name: a\n"
      "    file: {path: a}\n"
      "    timestamp: {unit: minutes, timezone: Europe/Paris}\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 2u) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:4:23: ", "unknown timestamp unit 'minutes'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:4:42: ", "timezone must be UTC or an offset")) << Join(l.errors);
}

TEST(RulesFileTest, BadDurations) {
  Loaded l = Load(
      "engine:\n"
      "  checkpoint_interval: 5x\n"
      "  key_ttl: -1s\n"
      "sources:\n"
      "  - name: a\n"
      "    file: {path: x}\n"
      "    allowed_lateness: [1s]\n"
      "  - name: b\n"
      "    file: {path: y}\n"
      "    allowed_lateness: 1.5ms\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 4u) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:2:24: ", "engine.checkpoint_interval must be a duration")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:3:12: ", "engine.key_ttl must be a duration")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:7:23: ", "allowed_lateness must be a duration")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:10:23: ", "got '1.5ms'")) << Join(l.errors);
  // Nothing half-read: the defaults stay.
  EXPECT_EQ(l.file.engine.checkpoint_interval_ms, 1000);
  EXPECT_EQ(l.file.engine.key_ttl_ms, 24 * 3600 * 1000);
  ASSERT_EQ(l.file.sources.size(), 2u);
  EXPECT_EQ(l.file.sources[0].allowed_lateness_ms, 0);
  EXPECT_EQ(l.file.sources[1].allowed_lateness_ms, 0);
}

TEST(RulesFileTest, DuplicateSourceNames) {
  Loaded l = Load(
      "sources:\n"
      "  - name: a\n"
      "    file: {path: x}\n"
      "  - name: a\n"
      "    mqtt: {url: tcp://127.0.0.1:1883}\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_EQ(l.errors[0], "rules.yaml:4:11: duplicate source name 'a'");
}

TEST(RulesFileTest, SourceKinds) {
  Loaded l = Load(
      "sources:\n"
      "  - name: both\n"
      "    file: {path: x}\n"
      "    kafka: {topic: t}\n"
      "  - name: none\n"
      "    timestamp: ts\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 2u) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:4:12: ", "source 'both' has both 'file' and 'kafka'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:5:5: ", "source 'none' needs one of: file, mqtt, kafka, http"))
      << Join(l.errors);
}

TEST(RulesFileTest, SimIsNotASourceKind) {
  // `vigil sim` is a command that generates data, not a source kind.
  Loaded l = Load(
      "sources:\n"
      "  - name: s\n"
      "    sim: {}\n"
      "rules: []\n");
  EXPECT_TRUE(HasError(l, "rules.yaml:3:5: ", "unknown key 'sim'")) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:2:5: ", "source 's' needs one of: file, mqtt, kafka, http")) << Join(l.errors);
}

TEST(RulesFileTest, TopicTagsInsideTheKindsMap) {
  // DESIGN.md writes topic_tags inside `mqtt:`; the source level works too.
  Loaded l = Load(
      "sources:\n"
      "  - name: w\n"
      "    mqtt: {url: tcp://127.0.0.1:1883, topics: [\"entrepot/+/+/v1\"],\n"
      "           topic_tags: \"entrepot/{zone}/{sensor}/v1\"}\n"
      "rules: []\n");
  ASSERT_TRUE(l.errors.empty()) << Join(l.errors);
  ASSERT_EQ(l.file.sources.size(), 1u);
  EXPECT_EQ(l.file.sources[0].topic_tags, (std::vector<std::string>{"entrepot/{zone}/{sensor}/v1"}));
  EXPECT_EQ(l.file.sources[0].topic_tags_node.Mark().line, 3);  // 0-based: line 4
}

TEST(RulesFileTest, TopicTagsInBothPlacesIsAnError) {
  Loaded l = Load(
      "sources:\n"
      "  - name: w\n"
      "    topic_tags: \"a/{zone}\"\n"
      "    mqtt: {url: tcp://127.0.0.1:1883, topics: [\"a/+\"], topic_tags: \"a/{room}\"}\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 1u) << Join(l.errors);
  EXPECT_TRUE(HasError(l, "rules.yaml:4:68: ", "source 'w' has topic_tags both at the source level and inside 'mqtt'"))
      << Join(l.errors);
}

TEST(RulesFileTest, UnknownSinkSuggestsTheClosest) {
  Loaded l = Load(
      "sinks:\n"
      "  - stdot: {}\n"
      "  - file: {path: a}\n"
      "  - pigeon: {}\n"
      "rules: []\n");
  ASSERT_EQ(l.errors.size(), 2u) << Join(l.errors);
  EXPECT_EQ(l.errors[0], "rules.yaml:2:5: unknown sink 'stdot' (did you mean 'stdout'?)");
  EXPECT_EQ(l.errors[1].rfind("rules.yaml:4:5: unknown sink 'pigeon' (expected stdout, file", 0), 0u) << l.errors[1];
  ASSERT_EQ(l.file.sinks.size(), 1u);
  EXPECT_EQ(l.file.sinks[0].kind, "file");
}

TEST(RulesFileTest, MissingFileIsReported) {
  RulesFile f;
  ConfigErrors errors("/nonexistent/vigil/rules.yaml");
  EXPECT_FALSE(LoadRulesFile("/nonexistent/vigil/rules.yaml", &f, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors.Formatted()[0].rfind("/nonexistent/vigil/rules.yaml:1:1: cannot open the rules file", 0), 0u);
}

// ---------------------------------------------------------------- ConfigErrors, DidYouMean

TEST(ConfigErrorsTest, FormattedSortsByLineThenColumn) {
  ConfigErrors errors("f.yaml");
  errors.Add(3, 1, "c");
  errors.Add(1, 9, "b");
  errors.Add(1, 2, "a");
  errors.Add(3, 1, "d");  // same position: insertion order kept
  EXPECT_EQ(errors.Formatted(),
            (std::vector<std::string>{"f.yaml:1:2: a", "f.yaml:1:9: b", "f.yaml:3:1: c", "f.yaml:3:1: d"}));
}

TEST(ConfigErrorsTest, AddInScalarPointsIntoTheText) {
  YAML::Node root = YAML::Load(
      "plain: temp > x\n"
      "quoted: \"temp > x\"\n");
  ConfigErrors errors("f.yaml");
  errors.AddInScalar(root["plain"], 7, "here");   // 'x' of the plain scalar at column 8 + 7
  errors.AddInScalar(root["quoted"], 7, "there");  // text starts after the quote
  EXPECT_EQ(errors.Formatted(), (std::vector<std::string>{"f.yaml:1:15: here", "f.yaml:2:17: there"}));
}

TEST(DidYouMeanTest, SuggestsWithinTwoEdits) {
  const std::vector<std::string> keys = {"name", "key", "when", "for", "clear_when", "severity"};
  EXPECT_EQ(DidYouMean("wehn", keys), "when");      // transposition = 2 edits
  EXPECT_EQ(DidYouMean("when", keys), "when");      // exact
  EXPECT_EQ(DidYouMean("When", keys), "when");      // case is an edit
  EXPECT_EQ(DidYouMean("severty", keys), "severity");
  EXPECT_EQ(DidYouMean("clear-when", keys), "clear_when");
  EXPECT_EQ(DidYouMean("keys", keys), "key");
  EXPECT_EQ(DidYouMean("fo", keys), "for");
}

TEST(DidYouMeanTest, NothingBeyondTwoEdits) {
  const std::vector<std::string> keys = {"name", "when", "severity"};
  EXPECT_EQ(DidYouMean("frobnicate", keys), "");
  EXPECT_EQ(DidYouMean("whxyz", keys), "");  // 3 edits from "when"
  EXPECT_EQ(DidYouMean("", keys), "");       // 4 edits from the shortest
  EXPECT_EQ(DidYouMean("when", {}), "");
}

TEST(DidYouMeanTest, ClosestWinsThenFirst) {
  EXPECT_EQ(DidYouMean("shard", {"sinks", "shards"}), "shards");
  EXPECT_EQ(DidYouMean("sharts", {"starts", "shards"}), "starts");  // both 1 edit: the first listed
  EXPECT_EQ(DidYouMean("sharts", {"shards", "starts"}), "shards");
  EXPECT_EQ(DidYouMean("ab", {"abcd", "abc"}), "abc");
}

}  // namespace
}  // namespace vigil

namespace vigil {
namespace {

const char* FakeEnv(const char* name) {
  const std::string n = name;
  if (n == "BROKER") return "tcp://10.0.0.5:1883";
  if (n == "EMPTY") return "";
  return nullptr;
}

TEST(EnvExpansionTest, ReplacesReferencesAndDefaults) {
  ConfigErrors errors("rules.yaml");
  const std::string out = ExpandEnvReferences(
      "url: ${BROKER}\nport: ${PORT:-9464}\nempty: ${EMPTY:-fallback}\nraw: ${EMPTY}\nlit: $${BROKER}\ntopic: $share/g/t\n",
      errors, FakeEnv);
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(out, "url: tcp://10.0.0.5:1883\nport: 9464\nempty: fallback\nraw: \nlit: ${BROKER}\ntopic: $share/g/t\n");
}

TEST(EnvExpansionTest, UnsetOrMalformedReferencesAreErrorsAtTheirPosition) {
  ConfigErrors errors("rules.yaml");
  (void)ExpandEnvReferences("a: 1\nurl: x${NOPE}\nb: ${1BAD}\nc: ${OPEN\n", errors, FakeEnv);
  const std::vector<std::string> e = errors.Formatted();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_NE(e[0].find("rules.yaml:2:7: environment variable NOPE is not set"), std::string::npos) << e[0];
  EXPECT_NE(e[1].find("rules.yaml:3:4: bad environment reference"), std::string::npos) << e[1];
  EXPECT_NE(e[2].find("rules.yaml:4:4: unclosed '${'"), std::string::npos) << e[2];
}

}  // namespace
}  // namespace vigil
