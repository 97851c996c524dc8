// Property tests: random message streams through event, window and deadman
// rules (via RuleHarness), compared with a brute-force reference written
// straight from DESIGN.md ("Semantics") with vectors and loops: no sliding
// buffers, no heaps, every aggregate recomputed from the whole history.
//
// Streams have several keys, random ts gaps (equal ts included, negative ts
// included), random missing fields and messages without the key tag. Values
// are small integers, so sums and averages are exact in both
// implementations and comparisons cannot differ by rounding.
//
// Every alert is compared per (rule, key), in order, on state, ts, raise_ts,
// count, value and on *when* it was emitted (during which message, or at end
// of input), which checks that windows close and deadlines fire when the
// watermark reaches them and not later. Single-threaded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <limits>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "rules/rule_harness.h"

namespace vigil::rules {
namespace {

using testing::Msg;
using testing::RuleHarness;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One generated message.
struct Ev {
  int64_t ts = 0;
  int dev = -1;  // -1: no `dev` tag
  std::optional<double> x, y;
};

std::string DevName(int dev) { return "d" + std::to_string(dev); }

Msg ToMsg(const Ev& e) {
  Msg m;
  m.ts = e.ts;
  if (e.x) m.fields["x"] = *e.x;
  if (e.y) m.fields["y"] = *e.y;
  if (e.dev >= 0) m.tags["dev"] = DevName(e.dev);
  m.tags["site"] = "s";
  return m;
}

// One alert, with the index of the message during which it was emitted
// (events.size() for End()).
struct Rec {
  std::string rule;
  std::string key;
  bool raised = true;
  int64_t ts = 0;
  int64_t raise_ts = 0;
  uint32_t count = 0;
  double value = 0;
  size_t at = 0;

  bool operator==(const Rec& o) const {
    const bool same_value = (std::isnan(value) && std::isnan(o.value)) || value == o.value;
    return rule == o.rule && key == o.key && raised == o.raised && ts == o.ts && raise_ts == o.raise_ts &&
           count == o.count && same_value && at == o.at;
  }
};

std::ostream& operator<<(std::ostream& os, const Rec& r) {
  return os << (r.raised ? "raised" : "cleared") << " ts=" << r.ts << " raise_ts=" << r.raise_ts
            << " count=" << r.count << " value=" << r.value << " at=" << r.at;
}

using Alerts = std::map<std::pair<std::string, std::string>, std::vector<Rec>>;  // (rule, key) -> in order

// ---- three-valued logic, from DESIGN.md -----------------------------------------

enum class Tri { kFalse, kTrue, kUnknown };

Tri Cmp(std::optional<double> a, const char* op, double b) {
  if (!a) return Tri::kUnknown;
  const std::string o = op;
  bool r = o == ">" ? *a > b : o == "<" ? *a < b : o == ">=" ? *a >= b : *a == b;
  return r ? Tri::kTrue : Tri::kFalse;
}
Tri Or(Tri a, Tri b) {
  if (a == Tri::kTrue || b == Tri::kTrue) return Tri::kTrue;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kFalse;
}
Tri And(Tri a, Tri b) {
  if (a == Tri::kFalse || b == Tri::kFalse) return Tri::kFalse;
  if (a == Tri::kUnknown || b == Tri::kUnknown) return Tri::kUnknown;
  return Tri::kTrue;
}

// ---- reference: event rules ------------------------------------------------------

// State of one (event rule, key): OK / PENDING / FIRING.
struct EventState {
  int phase = 0;  // 0 OK, 1 PENDING, 2 FIRING
  int64_t t0 = 0;
  uint32_t count = 0;
  int64_t raise_ts = 0;
};

// DESIGN.md "Event rules", one message.
void EventStep(EventState& st, Tri when, std::optional<Tri> clear_when, int64_t for_ms, int64_t ts, double value,
               const std::string& rule, const std::string& key, size_t at, Alerts& out) {
  auto emit = [&](bool raised) { out[{rule, key}].push_back({rule, key, raised, ts, st.raise_ts, st.count, value, at}); };
  auto raise = [&] {
    st.phase = 2;
    st.count = 1;
    st.raise_ts = ts;
    emit(true);
  };
  if (st.phase == 0) {
    if (when != Tri::kTrue) return;
    if (for_ms <= 0) {
      raise();
    } else {
      st.phase = 1;
      st.t0 = ts;
    }
  } else if (st.phase == 1) {
    if (when == Tri::kFalse) {
      st.phase = 0;
    } else if (when == Tri::kTrue && ts - st.t0 >= for_ms) {
      raise();
    }
  } else {
    if (when == Tri::kTrue) ++st.count;
    const bool clear = clear_when ? *clear_when == Tri::kTrue : when == Tri::kFalse;
    if (clear) {
      emit(false);
      st.phase = 0;
    }
  }
}

// The x values of key `dev` seen so far (messages [0, upto]) with ts in (t - w, t].
std::vector<double> XsInWindow(const std::vector<Ev>& evs, size_t upto, int dev, int64_t t, int64_t w) {
  std::vector<double> out;
  for (size_t i = 0; i <= upto; ++i) {
    const Ev& e = evs[i];
    if (e.dev == dev && e.x && e.ts > t - w && e.ts <= t) out.push_back(*e.x);
  }
  return out;
}

// ---- reference: window rules ---------------------------------------------------

struct Obs {
  std::optional<double> x, y;
};

struct WindowSpec {
  std::string name;
  int64_t size, every;
  bool names_y;  // the rule's expressions name y (else only x)
  // (when, clear_when or nullopt, value) over the window's messages
  std::tuple<Tri, std::optional<Tri>, double> (*eval)(const std::vector<Obs>&);
};

struct Stats {
  std::optional<double> avg_x, avg_y;
  double count_x = 0;
};
Stats WindowStats(const std::vector<Obs>& obs) {
  double sx = 0, sy = 0, nx = 0, ny = 0;
  for (const Obs& o : obs) {
    if (o.x) { sx += *o.x; ++nx; }
    if (o.y) { sy += *o.y; ++ny; }
  }
  Stats s;
  s.count_x = nx;
  if (nx > 0) s.avg_x = sx / nx;
  if (ny > 0) s.avg_y = sy / ny;
  return s;
}

// win-avg: when avg(x) > 50, clear_when avg(x) < 40 or count(x) == 0
std::tuple<Tri, std::optional<Tri>, double> EvalWinAvg(const std::vector<Obs>& obs) {
  Stats s = WindowStats(obs);
  Tri when = Cmp(s.avg_x, ">", 50);
  Tri clear = Or(Cmp(s.avg_x, "<", 40), Cmp(s.count_x, "==", 0));
  return {when, clear, s.avg_x ? *s.avg_x : kNaN};
}
// win-count: when count(x) >= 3 and avg(y) > 40
std::tuple<Tri, std::optional<Tri>, double> EvalWinCount(const std::vector<Obs>& obs) {
  Stats s = WindowStats(obs);
  return {And(Cmp(s.count_x, ">=", 3), Cmp(s.avg_y, ">", 40)), std::nullopt, kNaN};
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// DESIGN.md "Window rules", with a plain map of open windows.
class WindowReference {
 public:
  explicit WindowReference(WindowSpec spec) : spec_(std::move(spec)) {}

  // The watermark reached `wm`: close every open window with end <= wm, in order of end.
  void Advance(int64_t wm, size_t at, Alerts& out) {
    std::vector<std::tuple<int64_t, int, int64_t>> due;  // end, dev, start
    for (const auto& [k, obs] : open_) {
      if (k.second + spec_.size <= wm) due.emplace_back(k.second + spec_.size, k.first, k.second);
    }
    std::sort(due.begin(), due.end());
    for (const auto& [end, dev, start] : due) {
      Close(dev, end, open_[{dev, start}], at, out);
      open_.erase({dev, start});
    }
  }

  void Add(const Ev& e, int64_t wm) {
    if (e.dev < 0) return;
    if (!e.x && !(spec_.names_y && e.y)) return;  // carries no field the rule names
    bool late = false;
    for (int64_t start = FloorDiv(e.ts, spec_.every) * spec_.every; start > e.ts - spec_.size; start -= spec_.every) {
      if (start + spec_.size <= wm) {
        late = true;
        continue;
      }
      open_[{e.dev, start}].push_back({e.x, spec_.names_y ? e.y : std::nullopt});
    }
    if (late) ++late_;
  }

  void End(size_t at, Alerts& out) { Advance(std::numeric_limits<int64_t>::max(), at, out); }
  uint64_t late() const { return late_; }

 private:
  struct State {
    bool firing = false;
    uint32_t count = 0;
    int64_t raise_ts = 0;
  };

  void Close(int dev, int64_t end, const std::vector<Obs>& obs, size_t at, Alerts& out) {
    if (obs.empty()) return;
    auto [when, clear_when, value] = spec_.eval(obs);
    State& st = state_[dev];
    const std::string key = DevName(dev);
    auto emit = [&](bool raised) {
      out[{spec_.name, key}].push_back({spec_.name, key, raised, end, st.raise_ts, st.count, value, at});
    };
    if (!st.firing) {
      if (when != Tri::kTrue) return;
      st.firing = true;
      st.count = 1;
      st.raise_ts = end;
      emit(true);
      return;
    }
    if (when == Tri::kTrue) ++st.count;
    const bool clear = clear_when ? *clear_when == Tri::kTrue : when == Tri::kFalse;
    if (clear) {
      emit(false);
      st.firing = false;
    }
  }

  WindowSpec spec_;
  std::map<std::pair<int, int64_t>, std::vector<Obs>> open_;  // (dev, start) -> messages
  std::map<int, State> state_;
  uint64_t late_ = 0;
};

// ---- reference: deadman ------------------------------------------------------------

class DeadmanReference {
 public:
  DeadmanReference(std::string name, int64_t timeout) : name_(std::move(name)), timeout_(timeout) {}

  void Advance(int64_t wm, size_t at, Alerts& out) {
    for (auto& [dev, st] : keys_) {
      if (st.armed && st.last_seen + timeout_ <= wm) {
        st.armed = false;
        st.firing = true;
        st.raise_ts = st.last_seen + timeout_;
        Emit(dev, true, st.raise_ts, st, at, out);
      }
    }
  }

  void Add(const Ev& e, size_t at, Alerts& out) {
    if (e.dev < 0) return;
    auto [it, is_new] = keys_.try_emplace(e.dev);
    State& st = it->second;
    st.last_seen = is_new ? e.ts : std::max(st.last_seen, e.ts);
    if (st.firing) {
      st.firing = false;
      Emit(e.dev, false, e.ts, st, at, out);
    }
    st.armed = true;
  }

 private:
  struct State {
    int64_t last_seen = 0;
    int64_t raise_ts = 0;
    bool armed = false;
    bool firing = false;
  };
  void Emit(int dev, bool raised, int64_t ts, const State& st, size_t at, Alerts& out) {
    const std::string key = DevName(dev);
    out[{name_, key}].push_back({name_, key, raised, ts, st.raise_ts, 1, kNaN, at});
  }

  std::string name_;
  int64_t timeout_;
  std::map<int, State> keys_;
};

// ---- running the implementation ----------------------------------------------------

Alerts RunImplementation(RuleHarness& h, const std::vector<Ev>& evs, std::vector<uint64_t>* late = nullptr) {
  Alerts out;
  auto collect = [&](size_t from, size_t at) {
    for (size_t j = from; j < h.alerts().size(); ++j) {
      const AlertRecord& a = h.alerts()[j];
      const std::string rule = h.rule(a.rule).info().name;
      const std::string key = h.KeyText(a.key);
      out[{rule, key}].push_back(
          {rule, key, a.state == AlertState::kRaised, a.ts, a.raise_ts, a.count, a.value, at});
    }
  };
  for (size_t i = 0; i < evs.size(); ++i) {
    const size_t before = h.alerts().size();
    h.Feed(ToMsg(evs[i]));
    collect(before, i);
  }
  const size_t before = h.alerts().size();
  h.End();
  collect(before, evs.size());
  if (late != nullptr) {
    late->clear();
    for (size_t r = 0; r < h.rule_count(); ++r) late->push_back(h.shard(r).late_events());
  }
  return out;
}

std::string Describe(const std::vector<Ev>& evs) {
  std::ostringstream s;
  for (size_t i = 0; i < evs.size(); ++i) {
    const Ev& e = evs[i];
    s << "  #" << i << " ts=" << e.ts << " dev=" << e.dev;
    if (e.x) s << " x=" << *e.x;
    if (e.y) s << " y=" << *e.y;
    s << "\n";
  }
  return s.str();
}

// Reports the first (rule, key) whose alerts differ; true when all agree.
bool SameAlerts(const Alerts& want, const Alerts& got, uint32_t seed, const std::vector<Ev>& evs) {
  std::set<std::pair<std::string, std::string>> keys;
  for (const auto& [k, v] : want) keys.insert(k);
  for (const auto& [k, v] : got) keys.insert(k);
  for (const auto& k : keys) {
    auto w = want.count(k) ? want.at(k) : std::vector<Rec>{};
    auto g = got.count(k) ? got.at(k) : std::vector<Rec>{};
    if (w == g) continue;
    std::ostringstream s;
    s << "seed " << seed << ": rule " << k.first << " key " << k.second << " differs\n  reference:\n";
    for (const Rec& r : w) s << "    " << r << "\n";
    s << "  implementation:\n";
    for (const Rec& r : g) s << "    " << r << "\n";
    s << "  events:\n" << Describe(evs);
    ADD_FAILURE() << s.str();
    return false;
  }
  return true;
}

// ---- generator --------------------------------------------------------------------

struct GenOptions {
  double late_probability = 0;
};

std::vector<Ev> Generate(std::mt19937& rng, const GenOptions& opt) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  const int keys = static_cast<int>(uni(1, 4));
  const size_t n = static_cast<size_t>(uni(1, 160));
  std::vector<double> base(keys);
  for (double& b : base) b = static_cast<double>(uni(20, 80));
  std::vector<Ev> evs;
  // Half the streams move in steps of 500 ms, so that `for`, window ends and
  // deadman deadlines are often hit exactly.
  const int64_t grain = chance(0.5) ? 500 : 1;
  int64_t ts = uni(-60000 / grain, 60000 / grain) * grain;
  int64_t max_ts = ts;
  for (size_t i = 0; i < n; ++i) {
    Ev e;
    if (i > 0) {
      const int kind = static_cast<int>(uni(0, 9));
      if (kind < 2) {
        // same ts as the previous message
      } else if (kind < 8) {
        ts += uni(1, 3000 / grain) * grain;
      } else {
        ts += uni(3000 / grain, 25000 / grain) * grain;
      }
    }
    max_ts = std::max(max_ts, ts);
    e.ts = ts;
    if (opt.late_probability > 0 && chance(opt.late_probability)) e.ts = max_ts - uni(0, 15000 / grain) * grain;
    e.dev = chance(0.05) ? -1 : static_cast<int>(uni(0, keys - 1));
    if (e.dev >= 0) {
      double& b = base[e.dev];
      b = std::clamp(b + static_cast<double>(uni(-10, 10)), 0.0, 100.0);
      if (chance(0.8)) e.x = std::clamp(b + static_cast<double>(uni(-15, 15)), 0.0, 100.0);
    } else if (chance(0.8)) {
      e.x = static_cast<double>(uni(0, 100));
    }
    if (chance(0.5)) e.y = static_cast<double>(uni(0, 100));
    evs.push_back(e);
  }
  return evs;
}

// ---- the properties ------------------------------------------------------------------

constexpr const char* kAllRules = R"(
- name: avg-hot
  key: [dev]
  when: avg(x, 10s) > 55
  for: 3s
  clear_when: avg(x, 10s) < 45
- name: spread
  key: [dev]
  when: max(x, 5s) - min(x, 5s) > 40 or y > 90
  for: 2s
- name: win-avg
  key: [dev]
  window: {size: 10s}
  when: avg(x) > 50
  clear_when: avg(x) < 40 or count(x) == 0
- name: win-count
  key: [dev]
  window: {size: 10s, every: 4s}
  when: count(x) >= 3 and avg(y) > 40
- name: lost
  key: [dev]
  deadman: 7s
)";

// The reference for kAllRules over an in-order (non-decreasing ts) stream.
Alerts ReferenceInOrder(const std::vector<Ev>& evs) {
  Alerts out;
  WindowReference win_avg({"win-avg", 10000, 10000, false, &EvalWinAvg});
  WindowReference win_count({"win-count", 10000, 4000, true, &EvalWinCount});
  DeadmanReference lost("lost", 7000);
  std::map<int, EventState> avg_hot, spread;
  int64_t wm = 0;
  for (size_t i = 0; i < evs.size(); ++i) {
    const Ev& e = evs[i];
    // 1. The watermark advances; what is due fires.
    if (i == 0 || e.ts > wm) {
      wm = e.ts;
      win_avg.Advance(wm, i, out);
      win_count.Advance(wm, i, out);
      lost.Advance(wm, i, out);
    }
    // 2. The message itself.
    win_avg.Add(e, wm);
    win_count.Add(e, wm);
    lost.Add(e, i, out);
    if (e.dev < 0) continue;
    const std::string key = DevName(e.dev);
    if (e.x) {  // avg-hot names only x
      std::vector<double> xs = XsInWindow(evs, i, e.dev, e.ts, 10000);
      double sum = 0;
      for (double v : xs) sum += v;
      std::optional<double> avg;
      if (!xs.empty()) avg = sum / static_cast<double>(xs.size());
      EventStep(avg_hot[e.dev], Cmp(avg, ">", 55), Cmp(avg, "<", 45), 3000, e.ts, avg ? *avg : kNaN, "avg-hot", key,
                i, out);
    }
    if (e.x || e.y) {  // spread names x and y
      std::vector<double> xs = XsInWindow(evs, i, e.dev, e.ts, 5000);
      std::optional<double> spread_value;
      if (!xs.empty()) spread_value = *std::max_element(xs.begin(), xs.end()) - *std::min_element(xs.begin(), xs.end());
      Tri when = Or(Cmp(spread_value, ">", 40), Cmp(e.y, ">", 90));
      EventStep(spread[e.dev], when, std::nullopt, 2000, e.ts, kNaN, "spread", key, i, out);
    }
  }
  win_avg.End(evs.size(), out);
  win_count.End(evs.size(), out);
  return out;
}

TEST(RulesPropertyTest, InOrderStreamsMatchTheReference) {
  GenOptions opt;
  size_t alerts = 0, raised_by_rule[5] = {};
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed);
    std::vector<Ev> evs = Generate(rng, opt);
    RuleHarness h(kAllRules);
    ASSERT_TRUE(h.ok());
    Alerts got = RunImplementation(h, evs);
    Alerts want = ReferenceInOrder(evs);
    if (!SameAlerts(want, got, seed, evs)) break;
    for (const auto& [k, v] : want) {
      alerts += v.size();
      const char* names[] = {"avg-hot", "spread", "win-avg", "win-count", "lost"};
      for (int r = 0; r < 5; ++r) {
        if (k.first == names[r]) raised_by_rule[r] += v.size();
      }
    }
  }
  // The streams must actually exercise every rule.
  EXPECT_GT(alerts, 10000u);
  for (size_t n : raised_by_rule) EXPECT_GT(n, 500u);
}

constexpr const char* kLateRules = R"(
- name: win-avg
  key: [dev]
  window: {size: 10s}
  when: avg(x) > 50
  clear_when: avg(x) < 40 or count(x) == 0
- name: win-count
  key: [dev]
  window: {size: 10s, every: 4s}
  when: count(x) >= 3 and avg(y) > 40
- name: lost
  key: [dev]
  deadman: 7s
)";

TEST(RulesPropertyTest, StreamsWithLateMessagesMatchTheReference) {
  GenOptions opt;
  opt.late_probability = 0.15;
  uint64_t total_late = 0;
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    std::mt19937 rng(seed * 7919u);
    std::vector<Ev> evs = Generate(rng, opt);
    const int64_t lateness = (seed % 3 == 0) ? 2000 : 0;
    RuleHarness h(kLateRules, lateness);
    ASSERT_TRUE(h.ok());
    std::vector<uint64_t> late;
    Alerts got = RunImplementation(h, evs, &late);

    Alerts want;
    WindowReference win_avg({"win-avg", 10000, 10000, false, &EvalWinAvg});
    WindowReference win_count({"win-count", 10000, 4000, true, &EvalWinCount});
    DeadmanReference lost("lost", 7000);
    int64_t max_ts = 0, wm = 0;
    for (size_t i = 0; i < evs.size(); ++i) {
      const Ev& e = evs[i];
      max_ts = i == 0 ? e.ts : std::max(max_ts, e.ts);
      wm = i == 0 ? max_ts - lateness : std::max(wm, max_ts - lateness);
      // At every message what is due fires, also when the watermark did not
      // move (a late message may have made a deadman deadline due).
      win_avg.Advance(wm, i, want);
      win_count.Advance(wm, i, want);
      lost.Advance(wm, i, want);
      win_avg.Add(e, wm);
      win_count.Add(e, wm);
      lost.Add(e, i, want);
    }
    lost.Advance(wm, evs.size(), want);  // due at the last watermark: not beyond it
    win_avg.End(evs.size(), want);
    win_count.End(evs.size(), want);

    if (!SameAlerts(want, got, seed, evs)) break;
    ASSERT_EQ(late.size(), 3u);
    EXPECT_EQ(late[0], win_avg.late()) << "seed " << seed << "\n" << Describe(evs);
    EXPECT_EQ(late[1], win_count.late()) << "seed " << seed << "\n" << Describe(evs);
    EXPECT_EQ(late[2], 0u) << "a deadman rule has no windows";
    if (HasFailure()) break;
    total_late += late[0] + late[1];
  }
  EXPECT_GT(total_late, 1000u) << "the streams must hold late messages";
}

}  // namespace
}  // namespace vigil::rules
