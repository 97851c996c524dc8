// Tests of DeadmanRule through RuleHarness: raise at last_seen + timeout when
// the watermark reaches it (and not beyond the last watermark), clear on the
// next message, re-arm, `expect:` keys counted from the source's first
// message, late messages, multi-tag keys, `match`. Single-threaded.
#include "deadman_rule.h"

#include <gtest/gtest.h>

#include <algorithm>
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

constexpr const char* kLost = R"(
- name: lost
  key: [dev]
  deadman: 10s
)";

// A message of device `dev` with no field at all (deadman rules need none).
Msg Beat(int64_t ts, const std::string& dev) { return M(ts, {}, {{"dev", dev}}); }

TEST(DeadmanRuleTest, RaisesWhenTheWatermarkReachesLastSeenPlusTimeout) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(5000, "b"), Beat(9999, "b")});
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Beat(10000, "b"));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000"}));
  EXPECT_EQ(h.alerts()[0].raise_ts, 10000);
  EXPECT_TRUE(std::isnan(h.alerts()[0].value));
}

TEST(DeadmanRuleTest, RaiseTsIsTheDeadlineNotTheWatermark) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(1000, "b"), Beat(25000, "b")});
  // The watermark jumped to 25000; a's deadline was 10000, b's 11000.
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "raised b 11000", "cleared b 25000"}));
  EXPECT_EQ(h.alerts()[2].raise_ts, 11000);
}

TEST(DeadmanRuleTest, MessageExactlyAtTheDeadlineRaisesThenClears) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(10000, "a")});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "cleared a 10000"}));
  EXPECT_EQ(h.alerts()[1].raise_ts, 10000);
  EXPECT_EQ(h.Id(h.alerts()[0]), h.Id(h.alerts()[1]));
}

TEST(DeadmanRuleTest, MessageJustBeforeTheDeadlinePostponesIt) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(9999, "a"), Beat(19998, "a")});
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Beat(30000, "b"));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 29998"}));
}

TEST(DeadmanRuleTest, NoRaiseBeyondTheLastWatermarkAtEndOfInput) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(9000, "b")});
  h.End();
  EXPECT_TRUE(h.alerts().empty());
}

TEST(DeadmanRuleTest, ClearsOnTheNextMessage) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(8000, "b"), Beat(16000, "b")});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000"}));
  h.Feed(Beat(17000, "a"));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "cleared a 17000"}));
  EXPECT_EQ(h.alerts()[1].raise_ts, 10000);
  EXPECT_EQ(h.alerts()[1].count, 1u);
}

TEST(DeadmanRuleTest, RaisesOncePerSilence) {
  RuleHarness h(kLost);
  h.Feed(Beat(0, "a"));
  for (int64_t t = 1000; t <= 100000; t += 1000) h.Feed(Beat(t, "b"));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 10000"}));
}

TEST(DeadmanRuleTest, ReArmsAfterTheClear) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(12000, "b")});  // a raised at 10000
  h.Feed(Beat(15000, "a"));                  // a cleared, deadline 25000
  h.Feed(Beat(20000, "b"));
  h.Feed(Beat(25000, "b"));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "cleared a 15000", "raised a 25000"}));
  EXPECT_EQ(h.alerts()[2].raise_ts, 25000);
  EXPECT_NE(h.Id(h.alerts()[0]), h.Id(h.alerts()[2]));
}

TEST(DeadmanRuleTest, ExpectedKeysRaiseFromTheFirstMessageOfTheSource) {
  RuleHarness h(R"(
- name: lost
  key: [dev]
  deadman: 10s
  expect: [a, b]
)");
  // Only c reports (every 4s, so never silent); a and b never do.
  for (int64_t t = 3000; t < 13000; t += 4000) h.Feed(Beat(t, "c"));
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(Beat(13000, "c"));  // start 3000 + 10s
  ASSERT_EQ(h.alerts().size(), 2u);
  std::vector<std::string> got = h.Briefs();
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (Briefs{"raised a 13000", "raised b 13000"}));
  h.Feed(Beat(14000, "b"));
  EXPECT_EQ(h.Brief(h.alerts().back()), "cleared b 14000");
}

TEST(DeadmanRuleTest, ExpectedKeyThatReportsIsTrackedFromItsMessages) {
  RuleHarness h(R"(
- name: lost
  key: [dev]
  deadman: 10s
  expect: [a]
)");
  h.Feed({Beat(0, "c"), Beat(5000, "a"), Beat(9000, "c"), Beat(14000, "c")});
  EXPECT_TRUE(h.alerts().empty()) << "a reported at 5000: its deadline is 15000, not 10000";
  h.Feed(Beat(15000, "c"));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 15000"}));
}

TEST(DeadmanRuleTest, ExpectedKeysDoNotRaiseWithoutInput) {
  RuleHarness h(R"(
- name: lost
  key: [dev]
  deadman: 10s
  expect: [a]
)");
  h.End();
  EXPECT_TRUE(h.alerts().empty());
}

TEST(DeadmanRuleTest, LateMessageKeepsTheLatestLastSeen) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(8000, "a"), Beat(9000, "b"), Beat(3000, "a")});
  h.Feed(Beat(17999, "b"));
  EXPECT_TRUE(h.alerts().empty()) << "last_seen of a is 8000, not 3000";
  h.Feed(Beat(18000, "b"));
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 18000"}));
}

TEST(DeadmanRuleTest, LateMessageStillClears) {
  RuleHarness h(kLost);
  h.Feed({Beat(0, "a"), Beat(5000, "b"), Beat(11000, "b")});
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000"}));
  h.Feed(Beat(9000, "a"));  // late, but the key reported
  ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "cleared a 9000"}));
  h.Feed(Beat(18999, "b"));
  EXPECT_EQ(h.alerts().size(), 2u);
  h.Feed(Beat(19000, "b"));
  EXPECT_EQ(h.Brief(h.alerts().back()), "raised a 19000");
}

// A late message can move a key's deadline to or before the watermark: it
// is due at once, so it fires before the next message even when that one
// does not move the watermark, and at the end of the input (it is not
// beyond the last watermark). Found by differential testing against
// DESIGN.md.
TEST(DeadmanRuleTest, ADeadlineALateMessageMadeDueFiresAtTheNextMessageAndAtTheEnd) {
  {
    RuleHarness h(kLost);
    h.Feed({Beat(0, "a"), Beat(0, "b"), Beat(20000, "b")});  // a raised at 10000
    h.Feed(Beat(10000, "a"));  // late: clears, last_seen 10000, deadline 20000 <= watermark 20000
    ASSERT_EQ(h.Briefs(), (Briefs{"raised a 10000", "raised b 10000", "cleared b 20000", "cleared a 10000"}));
    h.End();
    EXPECT_EQ(h.Brief(h.alerts().back()), "raised a 20000");
    EXPECT_EQ(h.alerts().size(), 5u);
  }
  {
    RuleHarness h(kLost);
    h.Feed({Beat(0, "a"), Beat(0, "b"), Beat(20000, "b"), Beat(10000, "a")});
    h.Feed(Beat(20000, "b"));  // the watermark stays at 20000: a's deadline fires first
    EXPECT_EQ(h.Brief(h.alerts().back()), "raised a 20000");
  }
}

TEST(DeadmanRuleTest, MultiTagKeyWithExpectMaps) {
  RuleHarness h(R"(
- name: lost
  key: [zone, sensor]
  deadman: 10s
  expect:
    - {zone: nord, sensor: temp}
    - {sensor: hum, zone: sud}
)");
  h.Feed({M(0, {}, {{"zone", "nord"}, {"sensor", "hum"}}), M(5000, {}, {{"zone", "sud"}, {"sensor", "hum"}}),
          M(9000, {}, {{"zone", "nord"}, {"sensor", "hum"}})});
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(M(10000, {}, {{"zone", "nord"}, {"sensor", "hum"}}));
  ASSERT_EQ(h.Briefs(), (Briefs{"raised nord/temp 10000"}));
  EXPECT_EQ(h.KeyValues(h.alerts()[0].key), (std::vector<std::string>{"nord", "temp"}));
  h.Feed(M(15000, {}, {{"zone", "nord"}}));  // lacks sensor: not this rule's key
  EXPECT_EQ(h.Briefs(), (Briefs{"raised nord/temp 10000", "raised sud/hum 15000"}));
  h.Feed(M(16000, {}, {{"zone", "nord"}, {"sensor", "temp"}}));
  EXPECT_EQ(h.Brief(h.alerts().back()), "cleared nord/temp 16000");
}

TEST(DeadmanRuleTest, MatchSelectsTheMessagesThatCount) {
  RuleHarness h(R"(
- name: lost
  key: [dev]
  match: {kind: heartbeat}
  deadman: 10s
)");
  h.Feed({M(0, {}, {{"dev", "a"}, {"kind", "heartbeat"}}), M(5000, {{"temp", 1}}, {{"dev", "a"}, {"kind", "data"}}),
          M(10000, {}, {{"dev", "b"}, {"kind", "data"}})});
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 10000"})) << "a's data message does not count as a heartbeat";
  EXPECT_EQ(h.shard().KeyCount(), 1u);
}

TEST(DeadmanRuleTest, EveryMessageWithTheKeyTagsCounts) {
  RuleHarness h(kLost);
  h.Feed({M(0, {{"temp", 1}}, {{"dev", "a"}}), M(9000, {{"hum", 2}}, {{"dev", "a"}}), M(18000, {}, {{"dev", "b"}})});
  EXPECT_TRUE(h.alerts().empty());
  h.Feed(M(19000, {}, {{"other", "x"}}));  // no dev tag: does not count, but moves the watermark
  EXPECT_EQ(h.Briefs(), (Briefs{"raised a 19000"}));
}

}  // namespace
}  // namespace vigil::rules
