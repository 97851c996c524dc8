// Doorbell: the alert thread's sleep. No timing assertions: a lost wake-up
// shows as a test that hangs (the waits here have a one-hour timeout) and
// is killed by ctest's timeout.
#include "pipeline/doorbell.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace vigil {
namespace {

constexpr auto kForever = std::chrono::hours(1);

TEST(DoorbellTest, DoesNotSleepWhenWorkIsAlreadyThere) {
  Doorbell bell;
  EXPECT_FALSE(bell.Wait(kForever, [] { return true; }));
  EXPECT_FALSE(bell.sleeping());
}

TEST(DoorbellTest, ARingWakesTheSleeper) {
  Doorbell bell;
  std::atomic<bool> work{false};
  std::atomic<bool> woke{false};
  std::thread consumer([&] {
    while (!work.load()) bell.Wait(kForever, [&] { return work.load(); });
    woke = true;
  });
  while (!bell.sleeping()) std::this_thread::yield();
  work = true;
  bell.Ring();
  consumer.join();
  EXPECT_TRUE(woke.load());
}

// Many hand-offs of one item at a time, the consumer sleeping whenever it
// caught up: every item is seen, none waits for the (one-hour) timeout.
TEST(DoorbellTest, NoWakeUpIsLostOverManyHandOffs) {
  Doorbell bell;
  constexpr int kItems = 20000;
  std::atomic<int> produced{0};
  std::atomic<int> acked{0};
  std::thread consumer([&] {
    int seen = 0;
    while (seen < kItems) {
      bell.Wait(kForever, [&] { return produced.load(std::memory_order_seq_cst) > seen; });
      const int now = produced.load(std::memory_order_seq_cst);
      if (now > seen) {
        seen = now;
        acked.store(seen, std::memory_order_seq_cst);
      }
    }
  });
  for (int i = 1; i <= kItems; ++i) {
    produced.store(i, std::memory_order_seq_cst);
    bell.Ring();
    if (i % 2 == 0) {
      while (acked.load(std::memory_order_seq_cst) < i) std::this_thread::yield();
    }
  }
  consumer.join();
  EXPECT_EQ(acked.load(), kItems);
}

}  // namespace
}  // namespace vigil
