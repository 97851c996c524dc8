// Plugin rules (rules/src/plugin/): loading and its errors, the alert
// lifecycle vigil keeps around a plugin, timers, checkpoints, and the
// isolation of run-time errors — with real plugin libraries built by the
// project: the example kurtosis rule and the test plugins of tests/plugins/.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "rules/rule_harness.h"
#include "vigil/engine/config_errors.h"
#include "vigil/rules/rule_loader.h"

namespace vigil::rules {
namespace {

using testing::Msg;
using testing::RuleHarness;

// Collects log lines (the shards' logger).
class CapturingLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view message) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(message);
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  bool Contains(const std::string& text) {
    for (const auto& l : lines()) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

std::vector<std::string> LoadErrors(const std::string& yaml) {
  Schema schema;
  TagInterner tags;
  ConfigErrors errors("rules.yaml");
  YAML::Node root = YAML::Load(yaml);
  (void)CompileRules(root["rules"], &schema, &tags, errors);
  return errors.Formatted();
}

Msg X(int64_t ts, const std::string& dev, double x) {
  Msg m;
  m.ts = ts;
  m.tags["dev"] = dev;
  m.fields["x"] = x;
  return m;
}

// The same statistic the example computes, independently written.
double ExcessKurtosis(const std::vector<double>& v) {
  double mean = 0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  double m2 = 0, m4 = 0;
  for (double x : v) {
    m2 += std::pow(x - mean, 2);
    m4 += std::pow(x - mean, 4);
  }
  m2 /= static_cast<double>(v.size());
  m4 /= static_cast<double>(v.size());
  return m2 > 0 ? m4 / (m2 * m2) - 3 : 0;
}

TEST(PluginRuleTest, KurtosisExampleRaisesAndClearsLikeAReferenceComputation) {
  RuleHarness h(std::string(R"(rules:
  - name: impulses
    key: [dev]
    plugin: {path: )") + VIGIL_KURTOSIS_PLUGIN + R"(, config: {field: x, samples: 16, limit: 1.5, clear_below: 0.5}})");
  ASSERT_TRUE(h.ok()) << h.ErrorText();
  EXPECT_EQ(h.rule().info().kind, "plugin");
  EXPECT_EQ(h.rule().info().plugin, "kurtosis");
  std::mt19937 rng(7);
  std::normal_distribution<double> noise(0, 1);
  std::vector<double> window;
  bool firing = false;
  std::vector<std::string> expected;
  for (int i = 0; i < 2000; ++i) {
    // Mostly gaussian noise with bursts of impulses (high kurtosis).
    double x = noise(rng);
    if (i % 300 > 250 && i % 7 == 0) x *= 12;
    h.Feed(X(1000 * (i + 1), "m1", x));
    window.push_back(x);
    if (window.size() > 16) window.erase(window.begin());
    if (window.size() < 16) continue;
    const double k = ExcessKurtosis(window);
    if (!firing && k > 1.5) {
      firing = true;
      expected.push_back("raised m1 " + std::to_string(1000 * (i + 1)));
    } else if (firing && k <= 0.5) {
      firing = false;
      expected.push_back("cleared m1 " + std::to_string(1000 * (i + 1)));
    }
  }
  ASSERT_GE(expected.size(), 4u) << "the data must exercise raise and clear";
  EXPECT_EQ(h.Briefs(), expected);
}

TEST(PluginRuleTest, VigilKeepsTheLifecycleRepeatsAndIds) {
  RuleHarness h(std::string("rules:\n  - name: c\n    key: [dev]\n    plugin: {path: ") + VIGIL_FAULT_C_PLUGIN +
                ", config: {limit: 10}}\n");
  ASSERT_TRUE(h.ok()) << h.ErrorText();
  h.Feed(X(1000, "a", 5));   // clear of a key not raised: nothing
  h.Feed(X(2000, "a", 11));  // raise
  h.Feed(X(3000, "a", 12));  // raise again: a repeat, no second alert
  h.Feed(X(4000, "b", 20));  // another key
  h.Feed(X(5000, "a", 3));   // clear, count 2
  h.Feed(X(6000, "a", 2));   // nothing more
  ASSERT_EQ(h.Briefs(), (std::vector<std::string>{"raised a 2000", "raised b 4000", "cleared a 5000"}));
  const auto& a = h.alerts();
  EXPECT_EQ(a[0].value, 11);
  EXPECT_EQ(a[2].count, 2u);
  EXPECT_EQ(a[2].raise_ts, 2000);
  EXPECT_EQ(h.Id(a[0]), h.Id(a[2]));  // a clear carries the id of its raise
  EXPECT_EQ(h.Id(a[0]), AlertId("c", h.rule().info().key_tags.data(), std::vector<std::string>{"a"}.data(), 1, 2000));
  EXPECT_EQ(h.shard().evaluations(), 6u);
  EXPECT_EQ(h.shard().KeyCount(), 2u);
}

TEST(PluginRuleTest, MaxKeysBoundsThePluginsKeys) {
  RuleHarness h(std::string("rules:\n  - name: c\n    key: [dev]\n    max_keys: 2\n    plugin: {path: ") +
                VIGIL_FAULT_C_PLUGIN + "}\n");
  ASSERT_TRUE(h.ok()) << h.ErrorText();
  h.Feed(X(1000, "a", 11));
  h.Feed(X(2000, "b", 12));
  h.Feed(X(3000, "c", 13));  // a third key: not tracked, counted
  h.Feed(X(4000, "a", 1));   // tracked keys keep working
  h.Feed(X(5000, "c", 14));
  EXPECT_EQ(h.Briefs(), (std::vector<std::string>{"raised a 1000", "raised b 2000", "cleared a 4000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 2u);
  EXPECT_EQ(h.shard().KeyCount(), 2u);
  EXPECT_EQ(h.shard().evaluations(), 3u);
}

TEST(PluginRuleTest, TimersCallOnWatermark) {
  RuleHarness h(std::string("rules:\n  - name: t\n    key: [dev]\n    plugin: {path: ") + VIGIL_FAULT_C_PLUGIN +
                ", config: {timeout_ms: 5000}}\n");
  ASSERT_TRUE(h.ok()) << h.ErrorText();
  h.Feed(X(1000, "a", 1));
  h.Feed(X(3000, "a", 1));  // asks for 8000: the earlier request stands
  EXPECT_EQ(h.shard().next_deadline(), 6000);  // earliest request wins
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(X(7000, "a", 1));  // watermark 7000 >= 6000: on_watermark raises at the watermark
  ASSERT_EQ(h.Briefs(), (std::vector<std::string>{"raised a 7000"}));
  EXPECT_EQ(h.shard().next_deadline(), 12000);  // one-shot; the event after re-armed it
}

TEST(PluginRuleTest, StateSurvivesACheckpointAndRestore) {
  const std::string yaml = std::string(R"(rules:
  - name: impulses
    key: [dev]
    plugin: {path: )") + VIGIL_KURTOSIS_PLUGIN + R"(, config: {field: x, samples: 8, limit: 1, clear_below: 0}}
  - name: c
    key: [dev]
    plugin: {path: )" + VIGIL_FAULT_C_PLUGIN + ", config: {limit: 10}}\n";
  std::mt19937 rng(3);
  std::vector<Msg> stream;
  for (int i = 0; i < 600; ++i) {
    double x = static_cast<double>(rng() % 7);
    if (rng() % 13 == 0) x = 40;
    stream.push_back(X(1000 * (i + 1), "d" + std::to_string(rng() % 3), x));
  }
  for (size_t cut : {50u, 201u, 377u}) {
    RuleHarness whole(yaml);
    ASSERT_TRUE(whole.ok()) << whole.ErrorText();
    RuleHarness before(yaml);
    RuleHarness::Saved saved;
    for (size_t i = 0; i < stream.size(); ++i) {
      if (i == cut) whole.ClearAlerts();
      whole.Feed(stream[i]);
      if (i < cut) {
        before.Feed(stream[i]);
        if (i % 40 == 0) before.Checkpoint(&saved);
      }
    }
    before.Checkpoint(&saved);
    RuleHarness after(yaml);
    after.Restore(saved);
    for (size_t i = cut; i < stream.size(); ++i) after.Feed(stream[i]);
    // The run that restarted at the cut emits what the uninterrupted one emits from there.
    std::vector<std::string> w, a;
    for (const auto& x : whole.alerts()) w.push_back(whole.Brief(x) + " " + whole.Id(x) + " n" + std::to_string(x.count));
    for (const auto& x : after.alerts()) a.push_back(after.Brief(x) + " " + after.Id(x) + " n" + std::to_string(x.count));
    ASSERT_FALSE(w.empty());
    EXPECT_EQ(a, w) << "cut at " << cut;
  }
}

TEST(PluginRuleTest, RestoreRefusesBadSnapshots) {
  const std::string yaml = std::string("rules:\n  - name: c\n    key: [dev]\n    plugin: {path: ") +
                           VIGIL_FAULT_C_PLUGIN + "}\n";
  RuleHarness h(yaml);
  h.Feed(X(1000, "a", 50));
  RuleHarness::Saved saved;
  h.Checkpoint(&saved);
  ASSERT_EQ(saved.states.size(), 1u);
  const std::string blob = saved.states.begin()->second;
  RuleHarness fresh(yaml);
  fresh.Feed(X(500, "a", 1));  // creates key 1 on the fresh harness
  EXPECT_FALSE(fresh.shard().RestoreKey(1, 0, blob.substr(0, blob.size() - 1), ""));
  EXPECT_FALSE(fresh.shard().RestoreKey(1, 0, blob + "x", ""));
  // A well-formed blob whose plugin snapshot has 7 bytes instead of 8: the plugin refuses it.
  ASSERT_GT(blob.size(), 12u);
  std::string wrong = blob.substr(0, blob.size() - 12);
  PutBytes(&wrong, blob.substr(blob.size() - 8, 7));
  EXPECT_FALSE(fresh.shard().RestoreKey(1, 0, wrong, ""));
  EXPECT_TRUE(fresh.shard().RestoreKey(1, 0, blob, ""));
}

TEST(PluginRuleTest, ErrorsAreCountedLoggedAndDisableTheRuleOnly) {
  CapturingLogger log;
  RuleHarness h(std::string(R"(rules:
  - name: fragile
    key: [dev]
    plugin: {path: )") + VIGIL_FAULT_C_PLUGIN + R"(, max_errors: 3}
  - name: builtin
    key: [dev]
    when: x > 10
)",
                0, &log);
  ASSERT_TRUE(h.ok()) << h.ErrorText();
  h.Feed(X(1000, "a", -1));
  h.Feed(X(2000, "a", -2));
  EXPECT_EQ(h.shard(0).errors(), 2u);
  EXPECT_TRUE(log.Contains("[fragile:fault_c:0] plugin error in on_event: negative reading -1"));
  h.Feed(X(3000, "a", 20));  // still enabled: raises (both rules)
  h.Feed(X(4000, "a", -3));  // third error: disabled
  EXPECT_TRUE(log.Contains("rule 'fragile' disabled after 3 plugin errors"));
  h.Feed(X(5000, "a", 1));   // the plugin would clear; disabled, it does nothing
  h.Feed(X(6000, "b", 30));  // the builtin rule goes on
  EXPECT_EQ(h.Briefs(), (std::vector<std::string>{"fragile raised a 3000", "builtin raised a 3000",
                                                  "builtin cleared a 4000", "builtin raised b 6000"}));
  EXPECT_EQ(h.shard(0).errors(), 3u);
  EXPECT_EQ(h.shard(1).errors(), 0u);
}

TEST(PluginRuleTest, ExceptionsAreCaughtAtTheBoundary) {
  for (const char* path : {VIGIL_FAULT_THROW_PLUGIN, VIGIL_FAULT_RAW_PLUGIN}) {
    CapturingLogger log;
    RuleHarness h(std::string("rules:\n  - name: t\n    key: [dev]\n    plugin: {path: ") + path +
                      ", max_errors: 0}\n",
                  0, &log);
    ASSERT_TRUE(h.ok()) << h.ErrorText();
    for (int i = 0; i < 100; ++i) h.Feed(X(1000 + i, "a", -1));
    h.Feed(X(5000, "a", 11));
    EXPECT_EQ(h.shard().errors(), path == std::string(VIGIL_FAULT_THROW_PLUGIN) ? 100u : 101u) << path;
    // max_errors 0: never disabled; logging is rate-limited (10 lines, then powers of two).
    const auto lines = log.lines();
    EXPECT_LE(lines.size(), 20u) << path;
    if (path == std::string(VIGIL_FAULT_THROW_PLUGIN)) {
      EXPECT_TRUE(log.Contains("plugin error in on_event: cannot handle a negative x"));
      EXPECT_EQ(h.Briefs(), (std::vector<std::string>{"raised a 5000"}));
    } else {
      EXPECT_TRUE(log.Contains("exception escaped the plugin: raw throw across the ABI"));
    }
  }
}

TEST(PluginRuleTest, LoadErrorsNameThePluginAndTheReason) {
  auto e = LoadErrors(std::string("rules:\n  - name: f\n    plugin: {path: ") + VIGIL_FAULT_ABI_PLUGIN + "}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("rules.yaml:3:20: rule 'f': plugin '"), std::string::npos) << e[0];
  EXPECT_NE(e[0].find("plugin ABI version 99.0 is not supported by this vigil (ABI 1.0)"), std::string::npos) << e[0];

  e = LoadErrors(std::string("rules:\n  - name: f\n    plugin: {path: ") + VIGIL_FAULT_NOSYMBOL_PLUGIN + "}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("does not export vigil_plugin_entry()"), std::string::npos) << e[0];

  e = LoadErrors(std::string("rules:\n  - name: f\n    plugin: {path: ") + VIGIL_HEXFRAME_PLUGIN + "}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("is a decoder plugin, expected a rule plugin"), std::string::npos) << e[0];

  e = LoadErrors(std::string("rules:\n  - name: k\n    plugin:\n      path: ") + VIGIL_KURTOSIS_PLUGIN +
                 "\n      config: {feild: x, limit: abc}\n");
  ASSERT_EQ(e.size(), 3u) << ::testing::PrintToString(e);
  // Sorted by position: the map (missing key), the unknown key, the bad value.
  EXPECT_NE(e[0].find("5:15: rule 'k': plugin 'kurtosis': config needs 'field' (the numeric field to watch"),
            std::string::npos)
      << e[0];
  EXPECT_NE(e[1].find("5:16: unknown key 'feild' in rule 'k': plugin 'kurtosis' config (did you mean 'field'?)"),
            std::string::npos)
      << e[1];
  EXPECT_NE(e[2].find("5:33: rule 'k': plugin 'kurtosis': config 'limit' must be a number"), std::string::npos)
      << e[2];

  e = LoadErrors(std::string("rules:\n  - name: k\n    plugin:\n      path: ") + VIGIL_KURTOSIS_PLUGIN +
                 "\n      config: {field: x, limit: 3, samples: 3}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("rule 'k': plugin 'kurtosis' refused its config: samples must be between 8 and 100000"),
            std::string::npos)
      << e[0];

  // Two libraries under one plugin name are refused; one library twice is fine.
  const std::string copy = ::testing::TempDir() + "/libkurtosis_copy.so";
  ASSERT_EQ(std::system(("cp " + std::string(VIGIL_KURTOSIS_PLUGIN) + " " + copy).c_str()), 0);
  const std::string two = std::string("rules:\n  - name: a\n    key: [d]\n    plugin: {path: ") + VIGIL_KURTOSIS_PLUGIN +
                          ", config: {field: x, limit: 3}}\n  - name: b\n    key: [d]\n    plugin: {path: ";
  EXPECT_TRUE(LoadErrors(two + VIGIL_KURTOSIS_PLUGIN + ", config: {field: x, limit: 3}}\n").empty());
  e = LoadErrors(two + copy + ", config: {field: x, limit: 3}}\n");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_NE(e[0].find("rule 'b': plugin 'kurtosis' of " + copy + " has the name of another plugin library already loaded"),
            std::string::npos)
      << e[0];
  std::remove(copy.c_str());

  e = LoadErrors(std::string("rules:\n  - name: k\n    when: x > 1\n    plugin: {path: ") + VIGIL_FAULT_C_PLUGIN +
                 ", max_error: 3}\n");
  ASSERT_EQ(e.size(), 2u) << ::testing::PrintToString(e);
  EXPECT_NE(e[0].find("'when' does not apply to a plugin rule"), std::string::npos) << e[0];
  EXPECT_NE(e[1].find("unknown key 'max_error' in rule 'k' 'plugin' (did you mean 'max_errors'?)"), std::string::npos) << e[1];
}

}  // namespace
}  // namespace vigil::rules
