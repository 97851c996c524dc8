// Checkpoint and restore of rule state (RuleShard::SaveChanged, RestoreKey,
// FinishRestore), for every built-in rule kind: a random stream is cut at a
// random point; a fresh set of rule shards restored from the incremental
// checkpoints taken so far continues the stream and must emit exactly the
// alerts the uninterrupted run emits after the cut (same state, ts, raise
// ts — hence id —, count and value). Also: blobs that are truncated or
// belong to another rule kind are refused, and OK keys without aggregates
// keep nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "rules/rule_harness.h"

namespace vigil::rules {
namespace {

using testing::Msg;
using testing::RuleHarness;

constexpr char kRules[] = R"(
rules:
  - name: hot
    key: [dev]
    when: x > 6
    for: 3s
    clear_when: x < 3
  - name: flappy
    key: [dev]
    when: x > 7
  - name: slide
    key: [dev]
    when: avg(x, 10s) - ewma(x, 30s) > 1 and count(x, 10s) >= 2 and p90(x, 10s) > 4
  - name: long
    key: [dev]
    when: avg(x, 4m) > 5.2 and count(x, 4m) > 20 and p50(x, 4m) >= 5
  - name: spread
    key: [dev]
    when: max(x, 5s) - min(x, 5s) >= 6
  - name: win
    key: [zone]
    window: {size: 10s, every: 5s}
    when: avg(x) > 5
    clear_when: avg(x) < 4
  - name: tumble
    key: [zone, dev]
    window: {size: 7s}
    when: count(x) >= 3 and max(x) > 8
  - name: silent
    key: [dev]
    deadman: 8s
    expect: [d0, d1, d2, d3, d9]
)";

std::vector<Msg> RandomStream(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::vector<Msg> out;
  int64_t ts = 1700000000000;
  for (size_t i = 0; i < n; ++i) {
    ts += static_cast<int64_t>(rng() % 1500);
    if (rng() % 20 == 0) ts += 12000;  // silences for the deadman
    Msg m;
    m.ts = ts - (rng() % 10 == 0 ? static_cast<int64_t>(rng() % 3000) : 0);  // some late
    const int dev = static_cast<int>(rng() % 5);
    m.tags["dev"] = "d" + std::to_string(dev);
    m.tags["zone"] = dev % 2 ? "nord" : "sud";
    if (rng() % 8 != 0) m.fields["x"] = static_cast<double>(rng() % 11);
    out.push_back(m);
  }
  return out;
}

std::string Describe(const RuleHarness& h, const AlertRecord& a) {
  std::ostringstream s;
  s << h.rule(a.rule).info().name << " " << h.KeyText(a.key) << " "
    << (a.state == AlertState::kRaised ? "raised" : "cleared") << " ts=" << a.ts << " raise=" << a.raise_ts
    << " count=" << a.count << " value=" << (std::isnan(a.value) ? std::string("null") : std::to_string(a.value));
  return s.str();
}

std::vector<std::string> Sorted(const RuleHarness& h, size_t from) {
  std::vector<std::string> out;
  for (size_t i = from; i < h.alerts().size(); ++i) out.push_back(Describe(h, h.alerts()[i]));
  std::sort(out.begin(), out.end());
  return out;
}

TEST(StateRestore, RestoredRunEmitsWhatTheUninterruptedRunEmits) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    const std::vector<Msg> stream = RandomStream(seed, 900);
    std::mt19937 rng(seed * 7919);
    const size_t cut = 1 + rng() % (stream.size() - 1);

    RuleHarness whole(kRules);
    ASSERT_TRUE(whole.ok()) << whole.ErrorText();
    RuleHarness before(kRules);
    RuleHarness::Saved saved;
    size_t alerts_at_cut = 0;
    for (size_t i = 0; i < stream.size(); ++i) {
      if (i == cut) alerts_at_cut = whole.alerts().size();
      whole.Feed(stream[i]);
      if (i < cut) {
        before.Feed(stream[i]);
        if (rng() % 25 == 0) before.Checkpoint(&saved);  // incremental checkpoints on the way
      }
    }
    whole.End();
    before.Checkpoint(&saved);
    ASSERT_EQ(before.alerts().size(), alerts_at_cut) << "seed " << seed;
    if (cut > 300) {  // long buffers have gone to part records by then
      EXPECT_FALSE(saved.parts.empty()) << "seed " << seed;
    }

    RuleHarness after(kRules);
    after.Restore(saved);
    for (size_t i = cut; i < stream.size(); ++i) after.Feed(stream[i]);
    after.End();
    EXPECT_EQ(Sorted(after, 0), Sorted(whole, alerts_at_cut)) << "seed " << seed << ", cut at message " << cut;
  }
}

TEST(StateRestore, OpenAlertsAreCountedAndCleared) {
  RuleHarness h(kRules);
  RuleHarness::Saved saved;
  h.Feed(Msg{1000, {{"x", 9}}, {{"dev", "d1"}, {"zone", "nord"}}});  // flappy raises
  h.Checkpoint(&saved);
  RuleHarness r(kRules);
  EXPECT_EQ(r.Restore(saved), 1u);  // flappy's alert is open
  r.Feed(Msg{2000, {{"x", 1}}, {{"dev", "d1"}, {"zone", "nord"}}});
  ASSERT_FALSE(r.alerts().empty());
  bool cleared = false;
  for (const auto& a : r.alerts()) {
    if (r.rule(a.rule).info().name == "flappy" && a.state == AlertState::kCleared) {
      cleared = true;
      EXPECT_EQ(a.raise_ts, 1000);  // the id of the raise before the restart
    }
  }
  EXPECT_TRUE(cleared);
}

TEST(StateRestore, OkKeysWithoutAggregatesKeepNothing) {
  RuleHarness h(R"(
rules:
  - name: flappy
    key: [dev]
    when: x > 7
)");
  RuleHarness::Saved saved;
  h.Feed(Msg{1000, {{"x", 1}}, {{"dev", "d1"}}});
  h.Checkpoint(&saved);
  EXPECT_TRUE(saved.states.empty());
  h.Feed(Msg{2000, {{"x", 9}}, {{"dev", "d1"}}});
  h.Checkpoint(&saved);
  EXPECT_EQ(saved.states.size(), 1u);
  h.Feed(Msg{3000, {{"x", 1}}, {{"dev", "d1"}}});  // cleared: back to OK
  h.Checkpoint(&saved);
  EXPECT_TRUE(saved.states.empty());
}

TEST(StateRestore, UnreadableBlobsAreRefused) {
  RuleHarness h(kRules);
  RuleHarness::Saved saved;
  for (const Msg& m : RandomStream(3, 200)) h.Feed(m);
  h.Checkpoint(&saved);
  ASSERT_FALSE(saved.states.empty());
  RuleHarness fresh(kRules);
  // Every stored blob, truncated by one byte, or handed to a rule of another kind.
  for (const auto& [k, blob] : saved.states) {
    for (uint32_t r = 0; r < fresh.rule_count(); ++r) {
      const bool same_rule = fresh.rule(r).info().name == k.first;
      if (same_rule) {
        EXPECT_FALSE(fresh.shard(r).RestoreKey(1, 0, std::string_view(blob).substr(0, blob.size() - 1), ""))
            << k.first;
        EXPECT_FALSE(fresh.shard(r).RestoreKey(1, 0, blob + "x", "")) << k.first;
      } else if (fresh.rule(r).info().kind != "event" || fresh.rule(r).info().name != "hot") {
        continue;
      }
    }
  }
  EXPECT_FALSE(fresh.shard(0).RestoreKey(1, 0, "", ""));
  EXPECT_FALSE(fresh.shard(0).RestoreKey(1, 0, std::string("\x09\x00", 2), ""));  // unknown version
}

}  // namespace
}  // namespace vigil::rules
