// Tests of WindowRule through RuleHarness: epoch-aligned tumbling and hopping
// windows, the watermark closing a window before a message at its end joins
// the next one, empty windows, end-of-input flush, raise / clear / count /
// value / raise_ts at close, late events, negative timestamps, and which
// messages a window rule sees. Single-threaded.
#include "window_rule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "rules/rule_harness.h"

namespace vigil::rules {
namespace {

using testing::M;
using testing::Msg;
using testing::RuleHarness;
using Briefs = std::vector<std::string>;

Msg Temp(int64_t ts, double temp, const std::string& zone = "nord") { return M(ts, {{"temp", temp}}, {{"zone", zone}}); }

constexpr const char* kAvgTumbling = R"(
- name: warm
  key: [zone]
  window: {size: 10s}
  when: avg(temp) > 30
)";

TEST(WindowRuleTest, TumblingWindowsAlignToTheEpoch) {
  RuleHarness h(kAvgTumbling);
  // [1230000, 1240000) holds 1234567 and 1239999.
  h.Feed({Temp(1234567, 31), Temp(1239999, 33)});
  EXPECT_TRUE(h.alerts().empty()) << "a window closes only when the watermark reaches its end";
  h.Feed(Temp(1240000, 10));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 1240000"}));
  EXPECT_EQ(h.alerts()[0].value, 32);
  EXPECT_EQ(h.alerts()[0].raise_ts, 1240000);
  EXPECT_EQ(h.alerts()[0].count, 1u);
  h.End();
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 1240000", "cleared nord 1250000"}));
  EXPECT_EQ(h.alerts()[1].value, 10);
  EXPECT_EQ(h.alerts()[1].raise_ts, 1240000);
  EXPECT_EQ(h.Id(h.alerts()[0]), h.Id(h.alerts()[1]));
}

TEST(WindowRuleTest, EventExactlyAtTheWindowEndGoesToTheNextWindow) {
  RuleHarness h(kAvgTumbling);
  h.Feed(Temp(5000, 40));
  h.Feed(Temp(10000, 0));
  // [0, 10000) closed before 10000 joined [10000, 20000): avg 40, not 20.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].value, 40);
  h.End();
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 20000"}));
  EXPECT_EQ(h.alerts()[1].value, 0);
}

TEST(WindowRuleTest, WindowClosesBeforeTheMessageThatReachesItsEndIsProcessed) {
  // The window rule's close (ts 10000) comes before the event rule's raise
  // on the message at 10000, for every rule of the shard.
  RuleHarness h(R"(
- name: evt
  key: [zone]
  when: temp > 100
- name: win
  key: [zone]
  window: {size: 10s}
  when: max(temp) > 30
)");
  h.Feed({Temp(1000, 40), Temp(10000, 200)});
  EXPECT_EQ(h.Briefs(), (Briefs{"win raised nord 10000", "evt raised nord 10000"}));
}

TEST(WindowRuleTest, EmptyWindowsDoNotEvaluate) {
  RuleHarness h(R"(
- name: busy
  key: [zone]
  window: {size: 10s}
  when: count(temp) >= 2
)");
  h.Feed({Temp(1000, 1), Temp(2000, 1), Temp(55000, 1)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  h.Feed(Temp(56000, 1));
  h.End();
  // [10s, 50s) were empty: had they been evaluated, count 0 would have cleared at 20000.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
}

TEST(WindowRuleTest, EndOfInputClosesEveryOpenWindow) {
  RuleHarness h(R"(
- name: warm
  key: [zone]
  window: {size: 1m, every: 30s}
  when: avg(temp) > 30
)");
  h.Feed({Temp(1000, 40, "nord"), Temp(2000, 50, "sud")});
  EXPECT_TRUE(h.alerts().empty());
  h.End();
  // Each message is in [-30s, 30s) and [0, 60s).
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 30000", "raised sud 30000"}));
  EXPECT_EQ(h.alerts().size(), 2u) << "FIRING at 60000: no second raise";
}

TEST(WindowRuleTest, NothingClosesBeforeEndWithoutTheWatermark) {
  RuleHarness h(kAvgTumbling);
  h.Feed({Temp(1000, 40), Temp(9999, 40)});
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().next_deadline(), 10000);
}

TEST(WindowRuleTest, HoppingWindowsOverlap) {
  RuleHarness h(R"(
- name: total
  key: [zone]
  window: {size: 10s, every: 5s}
  when: sum(temp) > 15
)");
  // 7000 belongs to [0, 10s) and [5s, 15s).
  h.Feed({Temp(3000, 10), Temp(7000, 10)});
  EXPECT_TRUE(h.alerts().empty()) << "[-5s, 5s) closed at 7000 with sum 10";
  h.Feed(Temp(12000, 10));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].value, 20);
  h.End();
  // [5s, 15s): 7000 + 12000 = 20, still true (count 2); [10s, 20s): 10, clears.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 20000"}));
  EXPECT_EQ(h.alerts()[1].count, 2u);
  EXPECT_EQ(h.alerts()[1].value, 10);
  EXPECT_EQ(h.alerts()[1].raise_ts, 10000);
}

TEST(WindowRuleTest, HopThatDoesNotDivideTheSizePutsAnEventInEveryCoveringWindow) {
  // size 10s, every 4s: 9000 is in [0, 10s), [4s, 14s) and [8s, 18s).
  // Raising and clearing on the same condition alternates at every close.
  RuleHarness h(R"(
- name: toggle
  key: [zone]
  window: {size: 10s, every: 4s}
  when: count(temp) >= 1
  clear_when: count(temp) >= 1
)");
  h.Feed(Temp(9000, 1));
  h.End();
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 14000", "raised nord 18000"}));
}

TEST(WindowRuleTest, NegativeTimestampsAlignToTheEpoch) {
  RuleHarness h(kAvgTumbling);
  h.Feed({Temp(-15000, 40), Temp(-12000, 50)});  // [-20000, -10000)
  h.Feed(Temp(-10000, 10));                      // closes it, joins [-10000, 0)
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord -10000"}));
  EXPECT_EQ(h.alerts()[0].value, 45);
  h.End();
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord -10000", "cleared nord 0"}));
}

TEST(WindowRuleTest, NegativeTimestampsInHoppingWindows) {
  // size 10s, every 4s: -1 is in [-8s, 2s) and [-4s, 6s) only.
  RuleHarness h(R"(
- name: toggle
  key: [zone]
  window: {size: 10s, every: 4s}
  when: count(temp) >= 1
  clear_when: count(temp) >= 1
)");
  h.Feed(Temp(-1, 1));
  h.End();
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 2000", "cleared nord 6000"}));
}

TEST(WindowRuleTest, ClearWhenGivesHysteresisAndCountGrowsOnTrueWindows) {
  RuleHarness h(R"(
- name: warm
  key: [zone]
  window: {size: 10s}
  when: avg(temp) > 30
  clear_when: avg(temp) < 25
)");
  h.Feed({Temp(5000, 32), Temp(15000, 27), Temp(25000, 31), Temp(35000, 24)});
  h.End();
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 40000"}));
  EXPECT_EQ(h.alerts()[1].count, 2u) << "windows 1 and 3 were true";
  EXPECT_EQ(h.alerts()[1].value, 24);
  EXPECT_EQ(h.alerts()[1].raise_ts, 10000);
}

TEST(WindowRuleTest, ClearsWhenWhenIsFalseWithoutClearWhen) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  window: {size: 10s}
  when: max(temp) > 30
)");
  h.Feed({Temp(1000, 31), Temp(11000, 30)});
  h.End();
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 20000"}));
  EXPECT_EQ(h.alerts()[1].value, 30);
}

TEST(WindowRuleTest, UnknownAtCloseChangesNothing) {
  RuleHarness h(R"(
- name: warm
  key: [zone]
  window: {size: 10s}
  when: avg(temp) > 30 or max(hum) > 80
)");
  h.Feed({Temp(1000, 40), M(11000, {{"hum", 10}}, {{"zone", "nord"}}),
          M(21000, {{"temp", 10}, {"hum", 10}}, {{"zone", "nord"}})});
  h.End();
  // [10s, 20s): avg(temp) null, max(hum) 10: unknown or false = unknown.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "cleared nord 30000"}));
  EXPECT_TRUE(std::isnan(h.alerts()[0].value)) << "compound `when`: null value";
}

TEST(WindowRuleTest, AggregatesSpanTheMessagesCarryingTheirOwnField) {
  RuleHarness h(R"(
- name: mix
  key: [zone]
  window: {size: 10s}
  when: count(temp) == 1 and count(hum) == 2 and avg(hum) == 15
)");
  h.Feed({M(1000, {{"temp", 5}, {"hum", 10}}, {{"zone", "nord"}}), M(2000, {{"hum", 20}}, {{"zone", "nord"}})});
  h.End();
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
}

TEST(WindowRuleTest, PercentileInAWindow) {
  RuleHarness h(R"(
- name: median
  key: [zone]
  window: {size: 10s}
  when: p50(temp) >= 2.5
)");
  h.Feed({Temp(1000, 4), Temp(2000, 1), Temp(3000, 3), Temp(4000, 2)});
  h.End();
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].value, 2.5);
}

TEST(WindowRuleTest, MessageWithoutANamedFieldCreatesNoWindow) {
  RuleHarness h(R"(
- name: few
  key: [zone]
  window: {size: 10s}
  when: count(temp) < 5
)");
  h.Feed({M(1000, {{"other", 1}}, {{"zone", "nord"}}), M(20000, {{"other", 1}}, {{"zone", "nord"}})});
  h.End();
  EXPECT_TRUE(h.alerts().empty()) << "had [0, 10s) been opened, count 0 < 5 would raise";
  EXPECT_EQ(h.shard().KeyCount(), 0u);
}

TEST(WindowRuleTest, KeysHaveTheirOwnWindowsAndState) {
  RuleHarness h(R"(
- name: warm
  key: [zone]
  window: {size: 10s}
  when: avg(temp) > 30
  match: {site: a}
)");
  h.Feed({M(1000, {{"temp", 40}}, {{"zone", "nord"}, {"site", "a"}}),
          M(2000, {{"temp", 20}}, {{"zone", "sud"}, {"site", "a"}}),
          M(3000, {{"temp", 90}}, {{"zone", "sud"}, {"site", "b"}}),  // does not match
          M(12000, {{"temp", 40}}, {{"zone", "sud"}, {"site", "a"}})});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  h.End();
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000", "raised sud 20000"}));
}

TEST(WindowRuleTest, LateEventIsCountedAndOnlyAddedToOpenWindows) {
  RuleHarness h(R"(
- name: total
  key: [zone]
  window: {size: 10s, every: 5s}
  when: sum(temp) > 100
)");
  h.Feed({Temp(1000, 1), Temp(12000, 60)});  // watermark 12000: [-5s, 5s) and [0, 10s) closed
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().late_events(), 0u);
  h.Feed(Temp(8000, 50));  // [0, 10s) closed: late; [5s, 15s) open: added
  EXPECT_EQ(h.shard().late_events(), 1u);
  h.Feed(Temp(11000, 5));  // older than the watermark, but both its windows are open: not late
  EXPECT_EQ(h.shard().late_events(), 1u);
  h.Feed(Temp(500, 1000));  // both windows closed: late, added nowhere
  EXPECT_EQ(h.shard().late_events(), 2u);
  h.End();
  // [5s, 15s) = 60 + 50 + 5 = 115; [10s, 20s) = 60 + 5 = 65.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 15000", "cleared nord 20000"}));
  EXPECT_EQ(h.alerts()[0].value, 115);
  EXPECT_EQ(h.alerts()[1].value, 65);
}

TEST(WindowRuleTest, InOrderEventsAreNeverLate) {
  RuleHarness h(kAvgTumbling);
  for (int i = 0; i < 100; ++i) h.Feed(Temp(i * 777, 20));
  h.End();
  EXPECT_EQ(h.shard().late_events(), 0u);
}

TEST(WindowRuleTest, AllowedLatenessKeepsWindowsOpen) {
  // With 5s of allowed lateness the watermark trails the newest ts by 5s,
  // so [0, 10s) is still open when 8000 arrives after 12000.
  RuleHarness h(R"(
- name: total
  key: [zone]
  window: {size: 10s}
  when: sum(temp) > 10
)", /*allowed_lateness_ms=*/5000);
  h.Feed({Temp(1000, 6), Temp(12000, 1), Temp(8000, 6)});
  EXPECT_EQ(h.shard().late_events(), 0u);
  h.Feed(Temp(15000, 1));  // watermark 10000: [0, 10s) closes with 6 + 6
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].value, 12);
}

}  // namespace
}  // namespace vigil::rules
