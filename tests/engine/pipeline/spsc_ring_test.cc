// Tests for vigil/engine/spsc_ring.h (SpscRing): FIFO order, capacity
// rounding, a full ring refusing TryPush without consuming the item, and a
// two-thread property test (every sequence number arrives once, in order)
// through small and large rings with the blocking and non-blocking calls.
#include "vigil/engine/spsc_ring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace vigil {
namespace {

using namespace std::chrono_literals;

TEST(SpscRingTest, FifoOrder) {
  SpscRing<int> ring(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ring.TryPush(int{i}));
  EXPECT_EQ(ring.SizeApprox(), 5u);
  for (int i = 0; i < 5; ++i) {
    int v = -1;
    ASSERT_TRUE(ring.TryPop(&v));
    EXPECT_EQ(v, i);
  }
  int v = -1;
  EXPECT_FALSE(ring.TryPop(&v));
  EXPECT_EQ(v, -1);  // untouched when empty
  EXPECT_EQ(ring.SizeApprox(), 0u);
}

TEST(SpscRingTest, CapacityRoundsUpToAPowerOfTwo) {
  EXPECT_EQ(SpscRing<int>(0).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(1).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(2).capacity(), 2u);
  EXPECT_EQ(SpscRing<int>(3).capacity(), 4u);
  EXPECT_EQ(SpscRing<int>(8).capacity(), 8u);
  EXPECT_EQ(SpscRing<int>(9).capacity(), 16u);
  EXPECT_EQ(SpscRing<int>(1000).capacity(), 1024u);
  EXPECT_EQ(SpscRing<int>(1024).capacity(), 1024u);
}

TEST(SpscRingTest, HoldsExactlyCapacityItems) {
  SpscRing<int> ring(5);  // rounded to 8
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(ring.TryPush(int{i})) << i;
  EXPECT_FALSE(ring.TryPush(8));
  EXPECT_EQ(ring.SizeApprox(), 8u);
  int v = -1;
  ASSERT_TRUE(ring.TryPop(&v));
  EXPECT_EQ(v, 0);
  EXPECT_TRUE(ring.TryPush(8));  // one slot freed
  EXPECT_FALSE(ring.TryPush(9));
  for (int i = 1; i <= 8; ++i) {
    ASSERT_TRUE(ring.TryPop(&v));
    EXPECT_EQ(v, i);
  }
}

TEST(SpscRingTest, FailedTryPushKeepsTheItem) {
  SpscRing<std::unique_ptr<int>> ring(2);
  ASSERT_TRUE(ring.TryPush(std::make_unique<int>(1)));
  ASSERT_TRUE(ring.TryPush(std::make_unique<int>(2)));
  auto item = std::make_unique<int>(3);
  EXPECT_FALSE(ring.TryPush(std::move(item)));
  ASSERT_NE(item, nullptr);  // not moved from: the caller can retry
  EXPECT_EQ(*item, 3);
  std::unique_ptr<int> out;
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 1);
  EXPECT_TRUE(ring.TryPush(std::move(item)));
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 2);
  ASSERT_TRUE(ring.TryPop(&out));
  EXPECT_EQ(*out, 3);
}

TEST(SpscRingTest, WrapsAroundManyTimes) {
  SpscRing<uint64_t> ring(4);
  uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 10000; ++round) {
    const int burst = round % 5;  // 0..4 items, so the indices wrap at every phase
    for (int i = 0; i < burst; ++i) ASSERT_TRUE(ring.TryPush(uint64_t{next_in++}));
    for (int i = 0; i < burst; ++i) {
      uint64_t v = 0;
      ASSERT_TRUE(ring.TryPop(&v));
      ASSERT_EQ(v, next_out++);
    }
  }
  EXPECT_EQ(next_out, next_in);
}

// Producer and consumer threads move `n` sequence numbers through a ring of
// `capacity`; the consumer checks every number arrives once and in order.
void TransferSequence(size_t capacity, uint64_t n, bool blocking) {
  SpscRing<uint64_t> ring(capacity);
  uint64_t errors = 0, received = 0, first_bad = 0, got_bad = 0;
  std::thread consumer([&] {
    for (uint64_t expected = 0; expected < n; ++expected) {
      uint64_t v = 0;
      if (blocking) {
        ring.Pop(&v);
      } else {
        while (!ring.TryPop(&v)) std::this_thread::yield();
      }
      if (v != expected && errors++ == 0) {
        first_bad = expected;
        got_bad = v;
      }
      ++received;
    }
  });
  for (uint64_t i = 0; i < n; ++i) {
    if (blocking) {
      ring.Push(uint64_t{i});
    } else {
      while (!ring.TryPush(uint64_t{i})) std::this_thread::yield();
    }
  }
  consumer.join();
  EXPECT_EQ(received, n);
  EXPECT_EQ(errors, 0u) << "first mismatch: expected " << first_bad << ", got " << got_bad;
  uint64_t extra = 0;
  EXPECT_FALSE(ring.TryPop(&extra)) << "an item too many: " << extra;
}

constexpr uint64_t kSequence = 5'000'000;

TEST(SpscRingTest, TwoThreadsBlockingCapacity8) { TransferSequence(8, kSequence, true); }
TEST(SpscRingTest, TwoThreadsBlockingCapacity1024) { TransferSequence(1024, kSequence, true); }
TEST(SpscRingTest, TwoThreadsTryCapacity8) { TransferSequence(8, kSequence, false); }
TEST(SpscRingTest, TwoThreadsTryCapacity1024) { TransferSequence(1024, kSequence, false); }

TEST(SpscRingTest, PopBlocksUntilAnItemArrives) {
  SpscRing<int> ring(4);
  std::atomic<bool> popped{false};
  int value = 0;
  std::thread consumer([&] {
    ring.Pop(&value);
    popped.store(true);
  });
  std::this_thread::sleep_for(100ms);  // long enough for the consumer to be asleep in Pop
  EXPECT_FALSE(popped.load());
  ring.Push(42);
  consumer.join();
  EXPECT_TRUE(popped.load());
  EXPECT_EQ(value, 42);
}

TEST(SpscRingTest, PushBlocksWhileFullUntilAPop) {
  SpscRing<int> ring(2);
  ring.Push(1);
  ring.Push(2);
  std::atomic<bool> pushed{false};
  std::thread producer([&] {
    ring.Push(3);
    pushed.store(true);
  });
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(pushed.load());  // backpressure: nothing dropped, the producer waits
  int v = 0;
  ring.Pop(&v);
  EXPECT_EQ(v, 1);
  producer.join();
  EXPECT_TRUE(pushed.load());
  ring.Pop(&v);
  EXPECT_EQ(v, 2);
  ring.Pop(&v);
  EXPECT_EQ(v, 3);
}

TEST(SpscRingTest, BothSidesBlockRepeatedly) {
  // Alternating sleeps on either side so that each one really waits in the
  // kernel (past the spin phase) many times.
  SpscRing<int> ring(2);
  constexpr int kItems = 200;
  std::vector<int> got;
  std::thread consumer([&] {
    for (int i = 0; i < kItems; ++i) {
      int v = -1;
      ring.Pop(&v);
      got.push_back(v);
      if (i % 20 < 10) std::this_thread::sleep_for(1ms);  // producer waits on a full ring
    }
  });
  for (int i = 0; i < kItems; ++i) {
    ring.Push(int{i});
    if (i % 20 >= 10) std::this_thread::sleep_for(1ms);  // consumer waits on an empty ring
  }
  consumer.join();
  ASSERT_EQ(got.size(), static_cast<size_t>(kItems));
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(got[i], i);
}

}  // namespace
}  // namespace vigil
