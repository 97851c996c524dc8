// Tests of EventRule through RuleHarness: every edge of DESIGN.md's event
// rule state machine (OK / PENDING / FIRING, `for`, `clear_when`, unknown),
// which messages a rule sees, keys and `match`, alert value / count /
// raise_ts / id, and sliding aggregates and ewma inside rules.
// Single-threaded.
#include "event_rule.h"

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

constexpr const char* kHot = R"(
- name: hot
  key: [zone]
  when: temp > 30
)";

// A message of zone `zone` carrying only temp.
Msg Temp(int64_t ts, double temp, const std::string& zone = "nord") { return M(ts, {{"temp", temp}}, {{"zone", zone}}); }

// ---- OK -> FIRING ----------------------------------------------------------

TEST(EventRuleTest, RaisesAtTheMessageWithoutFor) {
  RuleHarness h(kHot);
  h.Feed({Temp(1000, 25), Temp(2000, 30), Temp(3000, 31)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 3000"}));
  const AlertRecord& a = h.alerts()[0];
  EXPECT_EQ(a.raise_ts, 3000);
  EXPECT_EQ(a.count, 1u);
  EXPECT_EQ(a.value, 31);
  EXPECT_EQ(a.rule, 0u);
  EXPECT_EQ(h.KeyValues(a.key), (std::vector<std::string>{"nord"}));
}

TEST(EventRuleTest, StaysFiringWithoutRepeatingTheRaise) {
  RuleHarness h(kHot);
  h.Feed({Temp(0, 31), Temp(1000, 32), Temp(2000, 33)});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0"}));
}

TEST(EventRuleTest, RaisesWhenForIsReachedExactly) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 10s
)");
  h.Feed({Temp(0, 31), Temp(5000, 32), Temp(9999, 33)});
  EXPECT_TRUE(h.alerts().empty()) << "9999 ms < for";
  h.Feed(Temp(10000, 34));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].raise_ts, 10000);
  EXPECT_EQ(h.alerts()[0].value, 34);
  EXPECT_EQ(h.alerts()[0].count, 1u);
}

TEST(EventRuleTest, ForCountsFromTheFirstTrueMessage) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 10s
)");
  // One message after a long gap: ts - t0 >= for raises at once.
  h.Feed({Temp(0, 31), Temp(60000, 31)});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 60000"}));
}

TEST(EventRuleTest, ForZeroIsTheSameAsNoFor) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 0
)");
  h.Feed({Temp(0, 20), Temp(1000, 31)});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
}

TEST(EventRuleTest, ForZeroWithAUnitIsTheSameAsNoFor) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 0s
)");
  h.Feed(Temp(500, 31));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 500"}));
}

// ---- PENDING ------------------------------------------------------------------

TEST(EventRuleTest, PendingReturnsToOkSilentlyOnFalse) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 10s
)");
  h.Feed({Temp(0, 31), Temp(5000, 20)});  // PENDING -> OK, nothing emitted
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Temp(10000, 31));  // OK -> PENDING since 10000 (not since 0)
  EXPECT_TRUE(h.alerts().empty()) << "the false message must reset `for`";
  h.Feed(Temp(19999, 31));
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Temp(20000, 31));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 20000"}));
}

TEST(EventRuleTest, UnknownChangesNothingInOk) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30 and hum < 50
)");
  // temp > 30 is true, hum is missing: true and unknown = unknown.
  h.Feed(M(0, {{"temp", 31}}, {{"zone", "nord"}}));
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(M(1000, {{"temp", 31}, {"hum", 40}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
}

TEST(EventRuleTest, UnknownChangesNothingInPending) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30 and hum < 50
  for: 10s
)");
  h.Feed(M(0, {{"temp", 31}, {"hum", 40}}, {{"zone", "nord"}}));  // PENDING since 0
  h.Feed(M(4000, {{"temp", 31}}, {{"zone", "nord"}}));             // unknown: stays PENDING since 0
  h.Feed(M(6000, {{"hum", 40}}, {{"zone", "nord"}}));              // unknown again
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(M(10000, {{"temp", 31}, {"hum", 40}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000"})) << "t0 must still be 0";
}

TEST(EventRuleTest, UnknownChangesNothingInFiring) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30 and hum < 50
)");
  h.Feed(M(0, {{"temp", 31}, {"hum", 40}}, {{"zone", "nord"}}));  // raise
  h.Feed(M(1000, {{"temp", 31}}, {{"zone", "nord"}}));             // unknown: no clear, no count
  h.Feed(M(2000, {{"hum", 40}}, {{"zone", "nord"}}));              // unknown
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0"}));
  h.Feed(M(3000, {{"temp", 20}, {"hum", 40}}, {{"zone", "nord"}}));  // false: clear
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 3000"}));
  EXPECT_EQ(h.alerts()[1].count, 1u) << "unknown must not grow the repeat count";
}

TEST(EventRuleTest, UnknownClearWhenDoesNotClear) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  clear_when: temp < 28 and hum < 50
)");
  h.Feed(M(0, {{"temp", 31}}, {{"zone", "nord"}}));
  h.Feed(M(1000, {{"temp", 20}}, {{"zone", "nord"}}));  // when false, clear_when unknown
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0"})) << "with clear_when, a false `when` does not clear";
  h.Feed(M(2000, {{"temp", 20}, {"hum", 10}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 2000"}));
}

// ---- FIRING -> OK --------------------------------------------------------------

TEST(EventRuleTest, ClearsWhenWhenTurnsFalseWithoutClearWhen) {
  RuleHarness h(kHot);
  h.Feed({Temp(0, 31), Temp(1000, 30)});  // 30 > 30 is false: clears on the boundary value
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 1000"}));
  EXPECT_EQ(h.alerts()[1].value, 30);
  EXPECT_EQ(h.alerts()[1].raise_ts, 0);
}

TEST(EventRuleTest, ClearWhenGivesHysteresis) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  clear_when: temp < 28
)");
  h.Feed({Temp(0, 31), Temp(1000, 29), Temp(2000, 28.5), Temp(3000, 28)});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0"})) << "between the thresholds it stays FIRING";
  h.Feed(Temp(4000, 27.5));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 4000"}));
  EXPECT_EQ(h.alerts()[1].value, 27.5) << "value is when's LHS at the clearing message";
  // Back in OK: the next true message raises a new episode.
  h.Feed(Temp(5000, 29));
  EXPECT_EQ(h.alerts().size(), 2u);
  h.Feed(Temp(6000, 35));
  ASSERT_EQ(h.alerts().size(), 3u);
  EXPECT_EQ(h.Brief(h.alerts()[2]), "raised nord 6000");
  EXPECT_EQ(h.alerts()[2].count, 1u);
  EXPECT_EQ(h.alerts()[2].raise_ts, 6000);
}

TEST(EventRuleTest, ClearWhenMetByTheSameValueThatRaisedClearsOnTheNextMessage) {
  // clear_when temp >= 31 overlaps `when`: the raising message does not also
  // clear (one transition per message), the next one does.
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  clear_when: temp >= 31
)");
  h.Feed(Temp(0, 31));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0"}));
  h.Feed(Temp(1000, 31));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 1000"}));
}

TEST(EventRuleTest, RepeatCountGrowsOnEveryTrueWhileFiringAndIsCarriedByTheClear) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  clear_when: temp < 20
)");
  h.Feed({Temp(0, 31), Temp(1000, 32), Temp(2000, 25), Temp(3000, 33), Temp(4000, 34)});
  ASSERT_EQ(h.alerts().size(), 1u);
  EXPECT_EQ(h.alerts()[0].count, 1u);
  h.Feed(Temp(5000, 10));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 5000"}));
  EXPECT_EQ(h.alerts()[1].count, 4u) << "raise + 3 more true messages (25 is false)";
  EXPECT_EQ(h.alerts()[1].raise_ts, 0);
  // A new episode starts counting again.
  h.Feed({Temp(6000, 40), Temp(7000, 10)});
  ASSERT_EQ(h.alerts().size(), 4u);
  EXPECT_EQ(h.alerts()[2].count, 1u);
  EXPECT_EQ(h.alerts()[3].count, 1u);
  EXPECT_EQ(h.alerts()[3].raise_ts, 6000);
}

TEST(EventRuleTest, ClearCarriesTheRaiseTsAndItsId) {
  RuleHarness h(kHot);
  h.Feed({Temp(1000, 20), Temp(2000, 31), Temp(3000, 35), Temp(5000, 10), Temp(8000, 31), Temp(9000, 10)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 2000", "cleared nord 5000", "raised nord 8000", "cleared nord 9000"}));
  const auto& a = h.alerts();
  EXPECT_EQ(a[1].raise_ts, 2000);
  EXPECT_EQ(h.Id(a[0]), h.Id(a[1]));
  EXPECT_EQ(a[3].raise_ts, 8000);
  EXPECT_EQ(h.Id(a[2]), h.Id(a[3]));
  EXPECT_NE(h.Id(a[0]), h.Id(a[2])) << "each episode has its own id";
}

TEST(EventRuleTest, ValueIsTheLhsOfASingleComparisonAndNullOtherwise) {
  RuleHarness single(R"(
- name: spread
  key: [zone]
  when: temp - hum * 2 > 10
)");
  single.Feed(M(0, {{"temp", 30}, {"hum", 5}}, {{"zone", "nord"}}));
  ASSERT_EQ(single.alerts().size(), 1u);
  EXPECT_EQ(single.alerts()[0].value, 20);

  RuleHarness compound(R"(
- name: both
  key: [zone]
  when: temp > 30 and hum > 10
)");
  compound.Feed({M(0, {{"temp", 31}, {"hum", 11}}, {{"zone", "nord"}}),
                 M(1000, {{"temp", 20}, {"hum", 11}}, {{"zone", "nord"}})});
  ASSERT_EQ(compound.alerts().size(), 2u);
  EXPECT_TRUE(std::isnan(compound.alerts()[0].value));
  EXPECT_TRUE(std::isnan(compound.alerts()[1].value));
}

// ---- which messages a rule sees ------------------------------------------------

TEST(EventRuleTest, MissingFieldsAreNullUnderOr) {
  RuleHarness h(R"(
- name: either
  key: [zone]
  when: temp > 30 or hum > 80
)");
  h.Feed(M(0, {{"hum", 90}}, {{"zone", "nord"}}));  // unknown or true = true
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0"}));
  h.Feed(M(1000, {{"hum", 10}}, {{"zone", "nord"}}));  // unknown or false = unknown: no clear
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0"}));
  h.Feed(M(2000, {{"temp", 10}, {"hum", 10}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 2000"}));
}

TEST(EventRuleTest, MissingFieldsAreNullUnderAnd) {
  RuleHarness h(R"(
- name: both
  key: [zone]
  when: temp > 30 and hum > 80
  for: 10s
)");
  h.Feed(M(0, {{"temp", 31}, {"hum", 90}}, {{"zone", "nord"}}));  // PENDING since 0
  h.Feed(M(5000, {{"hum", 10}}, {{"zone", "nord"}}));             // unknown and false = false: OK
  h.Feed(M(10000, {{"temp", 31}, {"hum", 90}}, {{"zone", "nord"}}));  // PENDING since 10000
  EXPECT_TRUE(h.alerts().empty()) << "the false message must have reset PENDING";
  h.Feed(M(20000, {{"temp", 31}, {"hum", 90}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 20000"}));
  h.Feed(M(21000, {{"temp", 5}}, {{"zone", "nord"}}));  // false and unknown = false: clears
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 20000", "cleared nord 21000"}));
}

TEST(EventRuleTest, MessageWithoutANamedFieldDoesNotAdvanceFor) {
  // If the {other} message were seen, max(temp, 1m) = 31 would be true and
  // 10000 - 0 >= for would raise at 10000.
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: max(temp, 1m) > 30
  for: 10s
)");
  h.Feed({Temp(0, 31), M(10000, {{"other", 1}}, {{"zone", "nord"}})});
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Temp(15000, 20));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 15000"}));
  EXPECT_EQ(h.shard().KeyCount(), 1u);
}

TEST(EventRuleTest, MessageWithoutANamedFieldDoesNotClear) {
  // If the {other} message were seen, count(temp, 5s) = 0 would make `when`
  // false (false and unknown) and clear at 10000.
  RuleHarness h(R"(
- name: busy
  key: [zone]
  when: count(temp, 5s) >= 2 and hum < 100
)");
  h.Feed({M(0, {{"temp", 1}, {"hum", 1}}, {{"zone", "nord"}}), M(1000, {{"temp", 1}, {"hum", 1}}, {{"zone", "nord"}})});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
  h.Feed(M(10000, {{"other", 1}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
  h.Feed(M(11000, {{"hum", 1}}, {{"zone", "nord"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 1000", "cleared nord 11000"}));
}

TEST(EventRuleTest, ATagNamedInTheExpressionDoesNotMakeTheRuleSeeAMessage) {
  RuleHarness h(R"(
- name: tagged
  key: [zone]
  when: site == 'plant' or count(temp, 1m) > 5
)");
  h.Feed(M(0, {{"hum", 1}}, {{"zone", "nord"}, {"site", "plant"}}));
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().KeyCount(), 0u);
  h.Feed(M(1000, {{"temp", 1}}, {{"zone", "nord"}, {"site", "plant"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
}

TEST(EventRuleTest, MessageWithoutTheKeyTagsIsNotSeen) {
  RuleHarness h(kHot);
  h.Feed(M(0, {{"temp", 50}}, {{"site", "x"}}));
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().KeyCount(), 0u);
}

TEST(EventRuleTest, MatchSelectsMessagesByTag) {
  RuleHarness h(R"(
- name: hot-nord
  key: [sensor]
  match: {zone: nord}
  when: temp > 30
)");
  h.Feed(M(0, {{"temp", 40}}, {{"zone", "sud"}, {"sensor", "s1"}}));
  h.Feed(M(1000, {{"temp", 40}}, {{"sensor", "s1"}}));  // no zone tag: does not match
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.shard().KeyCount(), 0u);
  h.Feed(M(2000, {{"temp", 40}}, {{"zone", "nord"}, {"sensor", "s1"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised s1 2000"}));
}

TEST(EventRuleTest, EachKeyHasItsOwnState) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
  for: 5s
)");
  h.Feed({Temp(0, 31, "nord"), Temp(2000, 31, "sud"), Temp(5000, 31, "nord"), Temp(6000, 20, "sud"),
          Temp(8000, 31, "sud")});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 5000"}));
  EXPECT_EQ(h.shard().KeyCount(), 2u);
}

TEST(EventRuleTest, MultiTagKeysAreTuples) {
  RuleHarness h(R"(
- name: hot
  key: [zone, sensor]
  when: temp > 30
)");
  h.Feed(M(0, {{"temp", 31}}, {{"zone", "nord"}, {"sensor", "a"}}));
  h.Feed(M(1000, {{"temp", 31}}, {{"zone", "nord"}, {"sensor", "b"}}));
  h.Feed(M(2000, {{"temp", 31}}, {{"zone", "sud"}, {"sensor", "a"}}));
  h.Feed(M(3000, {{"temp", 31}}, {{"zone", "nord"}}));  // lacks sensor: not seen
  h.Feed(M(4000, {{"temp", 20}}, {{"zone", "nord"}, {"sensor", "b"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord/a 0", "raised nord/b 1000", "raised sud/a 2000", "cleared nord/b 4000"}));
  EXPECT_EQ(h.shard().KeyCount(), 3u);
  EXPECT_EQ(h.KeyValues(h.alerts()[2].key), (std::vector<std::string>{"sud", "a"}));
}

TEST(EventRuleTest, RuleWithoutKeyHasOneGlobalState) {
  RuleHarness h(R"(
- name: hot
  when: temp > 30
)");
  h.Feed({M(0, {{"temp", 31}}, {{"zone", "nord"}}), M(1000, {{"temp", 35}}, {{"zone", "sud"}}),
          M(2000, {{"temp", 1}})});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised - 0", "cleared - 2000"}));
}

// ---- sliding aggregates and ewma ------------------------------------------------

TEST(EventRuleTest, SlidingAverageCoversTheHalfOpenWindowEndingAtTheMessage) {
  // (t - W, t]: at 10000 the sample at 0 is out, 5000 and 10000 are in.
  RuleHarness h(R"(
- name: avg
  key: [zone]
  when: avg(temp, 10s) >= 25
)");
  h.Feed({Temp(0, 10), Temp(5000, 20), Temp(10000, 30)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));
  EXPECT_EQ(h.alerts()[0].value, 25);

  RuleHarness inside(R"(
- name: avg
  key: [zone]
  when: avg(temp, 10s) >= 25
)");
  inside.Feed({Temp(0, 10), Temp(5000, 20), Temp(9999, 30)});
  EXPECT_TRUE(inside.alerts().empty()) << "at 9999 the sample at 0 is still in: avg 20";
}

TEST(EventRuleTest, SlidingWindowIncludesEqualTimestamps) {
  RuleHarness h(R"(
- name: sum
  key: [zone]
  when: sum(temp, 1s) >= 6
)");
  h.Feed({Temp(1000, 1), Temp(1000, 2), Temp(1000, 3)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 1000"}));
  EXPECT_EQ(h.alerts()[0].value, 6);
}

TEST(EventRuleTest, SlidingAggregatesOnlySpanMessagesCarryingTheirField) {
  RuleHarness h(R"(
- name: two
  key: [zone]
  when: count(temp, 1m) >= 2 and hum >= 0
)");
  h.Feed({M(0, {{"temp", 30}, {"hum", 1}}, {{"zone", "nord"}}), M(1000, {{"hum", 1}}, {{"zone", "nord"}})});
  EXPECT_TRUE(h.alerts().empty()) << "the hum-only message is seen but not counted in count(temp)";
  h.Feed(M(2000, {{"temp", 30}, {"hum", 1}}, {{"zone", "nord"}}));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 2000"}));
}

TEST(EventRuleTest, CountOverNothingIsZeroAndAvgIsNull) {
  RuleHarness count(R"(
- name: quiet
  key: [zone]
  when: count(temp, 5s) == 0 and hum > 0
)");
  count.Feed({M(0, {{"temp", 1}, {"hum", 1}}, {{"zone", "nord"}}), M(6000, {{"hum", 1}}, {{"zone", "nord"}})});
  EXPECT_EQ(count.Briefs(), (Briefs{"raised nord 6000"})) << "count over nothing is 0, not null";

  RuleHarness avg(R"(
- name: avg
  key: [zone]
  when: avg(temp, 5s) < 100 or hum < 0
)");
  avg.Feed({M(0, {{"temp", 500}, {"hum", 1}}, {{"zone", "nord"}}), M(6000, {{"hum", 1}}, {{"zone", "nord"}})});
  EXPECT_TRUE(avg.alerts().empty()) << "avg over nothing is null: unknown or false = unknown";
}

TEST(EventRuleTest, SpreadOfSlidingMaxAndMin) {
  RuleHarness h(R"(
- name: spread
  key: [zone]
  when: max(temp, 5s) - min(temp, 5s) > 10
)");
  h.Feed({Temp(0, 10), Temp(1000, 15), Temp(2000, 21)});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 2000"}));
  EXPECT_EQ(h.alerts()[0].value, 11);
  // At 6000 the window is (1000, 6000]: 21 and 20 -> spread 1.
  h.Feed(Temp(6000, 20));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 2000", "cleared nord 6000"}));
  EXPECT_EQ(h.alerts()[1].value, 1);
}

TEST(EventRuleTest, StuckSensorRule) {
  RuleHarness h(R"(
- name: stuck
  key: [sensor]
  when: changes(temp, 10s) == 0 and count(temp, 10s) >= 3
)");
  auto s = [](int64_t ts, double v) { return M(ts, {{"temp", v}}, {{"sensor", "s1"}}); };
  h.Feed({s(0, 20), s(1000, 20)});
  EXPECT_TRUE(h.alerts().empty()) << "two samples are not enough";
  h.Feed(s(2000, 20));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised s1 2000"}));
  h.Feed(s(3000, 20.5));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised s1 2000", "cleared s1 3000"}));
  // 20.5 leaves the window at 13000: (3000, 13000] holds only equal values.
  h.Feed({s(11000, 21), s(12000, 21), s(12500, 21)});
  EXPECT_EQ(h.alerts().size(), 2u) << "the window still holds 20.5 -> 21";
  h.Feed(s(13000, 21));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised s1 2000", "cleared s1 3000", "raised s1 13000"}));
}

TEST(EventRuleTest, StuckSensorRuleDoesNotFireOnMovingValues) {
  RuleHarness h(R"(
- name: stuck
  key: [sensor]
  when: changes(temp, 10s) == 0 and count(temp, 10s) >= 3
)");
  for (int i = 0; i < 50; ++i) h.Feed(M(i * 1000, {{"temp", 20.0 + (i % 2)}}, {{"sensor", "s1"}}));
  EXPECT_TRUE(h.alerts().empty());
}

TEST(EventRuleTest, EwmaStartsAtTheFirstSampleAndIgnoresADuplicateTimestamp) {
  RuleHarness h(R"(
- name: ewma
  key: [zone]
  when: ewma(temp, 10s) < 50
)");
  h.Feed(Temp(0, 10));
  ASSERT_EQ(h.alerts().size(), 1u);
  EXPECT_EQ(h.alerts()[0].value, 10) << "s starts at the first x";
  h.Feed(Temp(0, 1000));  // same ts: weight 0, s stays 10, still < 50
  ASSERT_EQ(h.alerts().size(), 1u);
  h.Feed(Temp(10000, 100));  // dt = tau: s = 10 + (1 - e^-1) * 90
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord 0", "cleared nord 10000"}));
  EXPECT_NEAR(h.alerts()[1].value, 10 + (1 - std::exp(-1.0)) * 90, 1e-9);
  EXPECT_EQ(h.alerts()[1].count, 2u) << "the duplicate-ts message was still a true `when`";
}

TEST(EventRuleTest, EwmaIgnoresMessagesWithoutItsField) {
  RuleHarness h(R"(
- name: ewma
  key: [zone]
  when: ewma(temp, 10s) > 50 or hum > 100
)");
  h.Feed({Temp(0, 10), M(5000, {{"hum", 1}}, {{"zone", "nord"}}), Temp(10000, 100)});
  // If the hum-only message had moved the ewma clock to 5000, dt would be 5s.
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 10000"}));  // 10 + 0.632 * 90 = 66.9 > 50
  RuleHarness h2(R"(
- name: ewma
  key: [zone]
  when: ewma(temp, 10s) > 50 or hum > 100
)");
  h2.Feed({Temp(0, 10), M(5000, {{"hum", 1}}, {{"zone", "nord"}}), Temp(5500, 100)});
  EXPECT_TRUE(h2.alerts().empty()) << "dt 5.5s: 10 + (1 - e^-0.55) * 90 = 48.1";
}

TEST(EventRuleTest, LateMessageIsStillProcessed) {
  RuleHarness h(kHot);
  h.Feed({Temp(10000, 20), Temp(5000, 31)});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord 5000"}));
}

TEST(EventRuleTest, SeveralRulesGetEveryMessage) {
  RuleHarness h(R"(
- name: hot
  key: [zone]
  when: temp > 30
- name: humid
  key: [zone, sensor]
  when: hum > 80
)");
  h.Feed(M(0, {{"temp", 31}, {"hum", 90}}, {{"zone", "nord"}, {"sensor", "a"}}));
  EXPECT_EQ(h.Briefs(), (Briefs{"hot raised nord 0", "humid raised nord/a 0"}));
  EXPECT_EQ(h.alerts()[1].rule, 1u);
}

}  // namespace
}  // namespace vigil::rules
