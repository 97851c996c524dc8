// Tests for bridges/src/mqtt/reconnect_loop.h (the connector loop of the
// MQTT source session and sink): the backoff doubles from min to max after
// failures and starts again at min after a success, a loss (or an `up` that
// fails) reconnects at once, only the first failure of a streak is logged,
// and Stop() ends the loop whether it waits on a backoff or on a live
// connection. Timings are lower bounds only (a loaded machine is slower,
// never faster).
#include "mqtt/reconnect_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../lib/collecting_logger.h"

namespace vigil::bridges {
namespace {

using Clock = std::chrono::steady_clock;

// Attempts answer from a script: "" succeeds, anything else is the error.
// Records when each attempt started.
struct Script {
  std::mutex mu;
  std::vector<std::string> answers;
  std::vector<Clock::time_point> at;
  std::atomic<int> ups{0};
  std::string Attempt() {
    std::lock_guard<std::mutex> lock(mu);
    at.push_back(Clock::now());
    const size_t i = at.size() - 1;
    return i < answers.size() ? answers[i] : std::string("refused");
  }
  size_t attempts() {
    std::lock_guard<std::mutex> lock(mu);
    return at.size();
  }
  int64_t GapMs(size_t i) {  // between attempt i-1 and attempt i
    std::lock_guard<std::mutex> lock(mu);
    return std::chrono::duration_cast<std::chrono::milliseconds>(at[i] - at[i - 1]).count();
  }
};

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = Clock::now() + limit;
  while (!pred() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

TEST(ReconnectLoopTest, BackoffDoublesUpToTheCapAndRestartsAfterASuccess) {
  vigil::testing::CollectingLogger log;
  ReconnectLoop loop({20, 80, "mqtt sink tcp://h:1", "tcp://h:1", &log});
  Script s;
  // 4 failures (backoffs 20, 40, 80, 80), a success, lost, 1 failure (20).
  s.answers = {"refused", "refused", "refused", "refused", "", "refused", ""};
  std::thread t([&] { loop.Run([&] { return s.Attempt(); }, [&] { ++s.ups; return true; }); });
  ASSERT_TRUE(WaitUntil([&] { return s.ups.load() == 1; }));
  EXPECT_EQ(s.attempts(), 5u);
  EXPECT_GE(s.GapMs(1), 20);
  EXPECT_GE(s.GapMs(2), 40);
  EXPECT_GE(s.GapMs(3), 80);
  EXPECT_GE(s.GapMs(4), 80);  // capped: not 160
  loop.MarkLost();
  ASSERT_TRUE(WaitUntil([&] { return s.ups.load() == 2; }));
  EXPECT_EQ(s.attempts(), 7u);
  EXPECT_GE(s.GapMs(6), 20);
  EXPECT_EQ(loop.failures(), 5u);
  loop.Stop();
  t.join();

  // The first failure of each streak is logged, with the schedule.
  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "mqtt sink tcp://h:1: cannot connect to tcp://h:1: refused; retrying every 20 ms up to 80 ms");
  EXPECT_EQ(lines[1], lines[0]);
}

TEST(ReconnectLoopTest, ALossReconnectsAtOnceAndAFailedUpCountsAsALoss) {
  ReconnectLoop loop({10000, 10000, "source", "tcp://h:1", nullptr});  // a backoff would outlast the test
  Script s;
  s.answers = {"", "", ""};
  std::atomic<int> calls{0};
  std::thread t([&] {
    loop.Run([&] { return s.Attempt(); }, [&] { return ++calls != 1; });  // the first `up` fails
  });
  ASSERT_TRUE(WaitUntil([&] { return calls.load() == 2; }));  // reattempted at once
  EXPECT_EQ(s.attempts(), 2u);
  loop.MarkLost();
  ASSERT_TRUE(WaitUntil([&] { return calls.load() == 3; }));
  EXPECT_EQ(s.attempts(), 3u);
  EXPECT_EQ(loop.failures(), 0u);
  loop.Stop();
  t.join();
}

TEST(ReconnectLoopTest, StopEndsABackoffAndALiveConnection) {
  for (const bool connect : {false, true}) {
    ReconnectLoop loop({60000, 60000, "sink", "tcp://h:1", nullptr});
    Script s;
    s.answers = {connect ? "" : "refused"};
    std::thread t([&] { loop.Run([&] { return s.Attempt(); }, [] { return true; }); });
    ASSERT_TRUE(WaitUntil([&] { return s.attempts() == 1; }));
    const auto t0 = Clock::now();
    loop.Stop();
    t.join();
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30)) << (connect ? "up" : "backing off");
    EXPECT_TRUE(loop.stopping());
    EXPECT_EQ(s.attempts(), 1u);
  }
}

TEST(ReconnectLoopTest, StopBeforeRunMakesNoAttempt) {
  ReconnectLoop loop({10, 20, "sink", "tcp://h:1", nullptr});
  loop.Stop();
  Script s;
  loop.Run([&] { return s.Attempt(); }, [] { return true; });
  EXPECT_EQ(s.attempts(), 0u);
}

}  // namespace
}  // namespace vigil::bridges
