// Tests of the per-rule limits through RuleHarness: `max_keys` (the rule's
// own or engine.max_keys_per_rule) refuses new keys beyond the limit,
// counts them, and never touches the keys already tracked, restored or
// listed in `expect:`; engine.max_window_samples caps a sliding buffer
// without dropping what it holds. Single-threaded.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/rule_harness.h"

namespace vigil::rules {
namespace {

using testing::HarnessLimits;
using testing::M;
using testing::Msg;
using testing::RuleHarness;
using Briefs = std::vector<std::string>;

Msg Temp(int64_t ts, double temp, const std::string& zone) { return M(ts, {{"temp", temp}}, {{"zone", zone}}); }

TEST(RuleLimitsTest, EventRuleRefusesNewKeysBeyondMaxKeysAndKeepsTheOthers) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  max_keys: 2
)");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h.rule().info().max_keys, 2u);
  h.Feed({Temp(1000, 31, "a"), Temp(2000, 20, "b"), Temp(3000, 35, "c"), Temp(4000, 36, "c")});
  // c is not tracked: no alert, counted once per message.
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 1000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 2u);
  EXPECT_EQ(h.shard().KeyCount(), 2u);
  // The keys already tracked keep working: a clears, b raises.
  h.Feed({Temp(5000, 20, "a"), Temp(6000, 40, "b")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 1000", "cleared a 5000", "raised b 6000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 2u);
}

TEST(RuleLimitsTest, EngineDefaultAppliesUnlessTheRuleSetsItsOwn) {
  RuleHarness h(R"(
- name: default-limit
  key: [zone]
  when: temp > 30
- name: own-limit
  key: [zone]
  when: temp > 30
  max_keys: 3
)",
                0, nullptr, HarnessLimits{/*max_keys_per_rule=*/1, 0});
  ASSERT_TRUE(h.ok());
  h.Feed({Temp(1000, 31, "a"), Temp(2000, 31, "b"), Temp(3000, 31, "c"), Temp(4000, 31, "d")});
  EXPECT_EQ(h.shard(0).KeyCount(), 1u);
  EXPECT_EQ(h.shard(0).keys_rejected(), 3u);
  EXPECT_EQ(h.shard(1).KeyCount(), 3u);
  EXPECT_EQ(h.shard(1).keys_rejected(), 1u);
}

TEST(RuleLimitsTest, AnEvictedKeyFreesItsPlace) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  max_keys: 1
)");
  ASSERT_TRUE(h.ok());
  h.Feed({Temp(1000, 20, "a"), Temp(2000, 31, "b")});
  EXPECT_EQ(h.shard().keys_rejected(), 1u);
  EXPECT_EQ(h.shard().EvictIdle(/*cutoff=*/1500), 1u);  // key_ttl: a was silent
  h.Feed({Temp(3000, 31, "b")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised b 3000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 1u);
}

// key_ttl never changes a result: a key whose sliding window or ewma
// still reaches its last samples is kept (longest window; 40 ewma time
// constants), then evicted. Found by differential testing against DESIGN.md.
TEST(RuleLimitsTest, EvictionWaitsForTheLongestWindowAndFortyEwmaTimeConstants) {
  constexpr int64_t kDay = 86400000, kHour = 3600000;
  RuleHarness h(R"(
- name: cnt-long
  key: [zone]
  when: count(temp, 3d) >= 2
- name: ewma-long
  key: [zone]
  when: ewma(temp, 30d) > 15
- name: plain
  key: [zone]
  when: temp > 100
)");
  ASSERT_TRUE(h.ok());
  h.Feed({Temp(0, 10, "a")});
  // key_ttl (24 h) passed: only the rule without aggregates forgets a.
  EXPECT_EQ(h.shard(0).EvictIdle(/*cutoff=*/kDay + 1), 0u);
  EXPECT_EQ(h.shard(1).EvictIdle(kDay + 1), 0u);
  EXPECT_EQ(h.shard(2).EvictIdle(kDay + 1), 1u);
  // 25 h later: the 3-day count holds both messages (2: raise); the ewma is
  // 10 + (1 - e^(-25h/30d)) * 10 = 10.35 (no raise), not a fresh 20.
  h.Feed({Temp(kDay + kHour, 20, "a")});
  EXPECT_EQ(h.Briefs(), (Briefs{"cnt-long raised a 90000000"}));
  // Past key_ttl plus the horizon the keys go: 3 days after the last
  // message for the count (still FIRING here: kept), 40 x 30 days for the ewma.
  EXPECT_EQ(h.shard(1).EvictIdle(kDay + kHour + 1200 * kDay), 0u);
  EXPECT_EQ(h.shard(1).EvictIdle(kDay + kHour + 1200 * kDay + 1), 1u);
  EXPECT_EQ(h.shard(0).EvictIdle(kDay + kHour + 3 * kDay + 1), 0u) << "FIRING keys are kept";
}

TEST(RuleLimitsTest, WindowRuleRefusesNewKeysAndClosesTheWindowsOfTheOthers) {
  RuleHarness h(R"(
- name: avg-hot
  key: [zone]
  window: {size: 10s}
  when: avg(temp) > 30
  max_keys: 1
)");
  ASSERT_TRUE(h.ok());
  h.Feed({Temp(1000, 31, "a"), Temp(2000, 35, "b"), Temp(11000, 20, "a")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 10000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 1u);
  EXPECT_EQ(h.shard().KeyCount(), 1u);
}

TEST(RuleLimitsTest, DeadmanKeepsExpectedKeysAndRefusesNewOnes) {
  RuleHarness h(R"(
- name: silent
  key: [zone]
  deadman: 10s
  expect: [a, b]
  max_keys: 1
)");
  ASSERT_TRUE(h.ok());
  // a and b are configured (`expect:`): watched even beyond max_keys; c is refused.
  h.Feed({Temp(0, 1, "a"), Temp(1000, 1, "c"), Temp(9000, 1, "a"), Temp(12000, 1, "a")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised b 10000"}));
  EXPECT_EQ(h.shard().keys_rejected(), 1u);
  EXPECT_EQ(h.shard().KeyCount(), 2u);
}

TEST(RuleLimitsTest, RestoredKeysAreKeptEvenBeyondTheLimit) {
  const char* rules = R"(
- name: hot
  key: [zone]
  when: temp > 30
  max_keys: 2
)";
  RuleHarness before(rules);
  before.Feed({Temp(1000, 31, "a"), Temp(2000, 31, "b")});
  RuleHarness::Saved saved;
  before.Checkpoint(&saved);
  // Restarted with a lower limit: both firing keys come back, no new key fits.
  RuleHarness after(R"(
- name: hot
  key: [zone]
  when: temp > 30
  max_keys: 1
)");
  EXPECT_EQ(after.Restore(saved), 2u);
  after.Feed({Temp(3000, 31, "c"), Temp(4000, 20, "a"), Temp(5000, 20, "b")});
  EXPECT_EQ(after.Briefs(), (Briefs{"cleared a 4000", "cleared b 5000"}));
  EXPECT_EQ(after.shard().keys_rejected(), 1u);
}

TEST(RuleLimitsTest, MaxKeysMustBePositive) {
  ConfigErrors errors("rules.yaml");
  Schema schema;
  TagInterner tags;
  (void)CompileRules(YAML::Load("- {name: r, key: [zone], when: temp > 1, max_keys: 0}"), &schema, &tags, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors.Formatted()[0].find("max_keys"), std::string::npos) << errors.Formatted()[0];
}

TEST(RuleLimitsTest, FullSlidingBufferKeepsItsSamplesAndRefusesNewOnes) {
  RuleHarness h(R"(
- name: busy
  key: [zone]
  when: count(temp, 10s) > 3
)",
                0, nullptr, HarnessLimits{0, /*max_window_samples=*/3});
  ASSERT_TRUE(h.ok());
  // Five samples inside 10 s: the buffer holds the first three, never more.
  h.Feed({Temp(1000, 1, "a"), Temp(2000, 2, "a"), Temp(3000, 3, "a"), Temp(4000, 4, "a"), Temp(5000, 5, "a")});
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().samples_rejected(), 2u);
  // Once the oldest expire, new samples are taken again.
  h.Feed({Temp(11500, 6, "a")});  // (1500, 11500]: 2000, 3000 and now 11500
  EXPECT_EQ(h.shard().samples_rejected(), 2u);
}

TEST(RuleLimitsTest, WithoutACapTheSameRuleRaises) {
  RuleHarness h(R"(
- name: busy
  key: [zone]
  when: count(temp, 10s) > 3
)");
  h.Feed({Temp(1000, 1, "a"), Temp(2000, 2, "a"), Temp(3000, 3, "a"), Temp(4000, 4, "a")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 4000"}));
  EXPECT_EQ(h.shard().samples_rejected(), 0u);
}

}  // namespace
}  // namespace vigil::rules
