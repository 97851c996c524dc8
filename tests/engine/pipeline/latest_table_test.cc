// Tests for pipeline/latest_table.h: newest-wins updates field by field,
// older events ignored, eviction, chunks beyond the first, and readers
// that never see a half-written record while the writer keeps going.
#include "pipeline/latest_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <thread>

namespace vigil {
namespace {

const double kNull = NullValue();

std::map<std::pair<uint32_t, KeyId>, LatestTable::Snapshot> ReadAll(const LatestTable& t, uint32_t series_keylist) {
  std::map<std::pair<uint32_t, KeyId>, LatestTable::Snapshot> out;
  t.ForEach([&](const LatestTable::Snapshot& s) {
    out[{s.keylist, s.keys[series_keylist]}] = s;
    return true;
  });
  return out;
}

TEST(LatestTableTest, NewestValueOfEachFieldAndKey) {
  LatestTable t(/*fields=*/2, /*keylists=*/2);
  EXPECT_TRUE(ReadAll(t, 0).empty());
  const double temp_only[] = {21.5, kNull};
  const double hum_only[] = {kNull, 40};
  const KeyId both[] = {7, 3};
  const KeyId first_only[] = {7, kNoKey};
  t.Update(0, /*slot=*/0, 1000, temp_only, both);
  t.Update(0, 0, 2000, hum_only, first_only);
  auto all = ReadAll(t, 0);
  ASSERT_EQ(all.size(), 1u);
  const auto& s = all.begin()->second;
  EXPECT_EQ(s.ts, 2000);
  EXPECT_EQ(s.fields[0], 21.5);  // kept from the first message
  EXPECT_EQ(s.fields[1], 40);
  EXPECT_EQ(s.keys[0], 7u);
  EXPECT_EQ(s.keys[1], 3u);      // kept too

  // Older than the newest: ignored entirely.
  const double old_values[] = {99, 99};
  t.Update(0, 0, 1500, old_values, both);
  all = ReadAll(t, 0);
  EXPECT_EQ(all.begin()->second.ts, 2000);
  EXPECT_EQ(all.begin()->second.fields[0], 21.5);
  // Same ts: arrival order, the later wins.
  t.Update(0, 0, 2000, old_values, both);
  EXPECT_EQ(ReadAll(t, 0).begin()->second.fields[1], 99);
}

TEST(LatestTableTest, SlotsOfSeveralKeyListsAndChunks) {
  LatestTable t(1, 2);
  const uint32_t far_slot = LatestTable::kChunkRecords * 3 + 5;  // a chunk of its own
  for (uint32_t slot : {0u, 1u, far_slot}) {
    const double v[] = {static_cast<double>(slot)};
    const KeyId k[] = {slot + 1, kNoKey};
    t.Update(0, slot, 10, v, k);
  }
  const double v[] = {-1};
  const KeyId k[] = {kNoKey, 42};
  t.Update(1, 0, 10, v, k);
  size_t n = 0;
  t.ForEach([&](const LatestTable::Snapshot& s) {
    ++n;
    if (s.keylist == 0) {
      EXPECT_EQ(s.fields[0] + 1, s.keys[0]);
    } else {
      EXPECT_EQ(s.keys[1], 42u);
    }
    return true;
  });
  EXPECT_EQ(n, 4u);  // slots never written in between are not reported
  n = 0;
  t.ForEach([&](const LatestTable::Snapshot&) { return ++n < 2; });
  EXPECT_EQ(n, 2u);  // visit returning false stops
}

TEST(LatestTableTest, EvictHidesSeriesOlderThanTheCutoffUntilTheyComeBack) {
  LatestTable t(1, 1);
  const double v[] = {1};
  const KeyId a[] = {1}, b[] = {2};
  t.Update(0, 0, 1000, v, a);
  t.Update(0, 1, 5000, v, b);
  EXPECT_EQ(t.Evict(3000), 1u);
  auto all = ReadAll(t, 0);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all.begin()->first.second, 2u);
  EXPECT_EQ(t.Evict(3000), 0u);
  // Back after eviction: starts fresh (no field from before).
  const double none[] = {kNull};
  t.Update(0, 0, 500, none, a);
  all = ReadAll(t, 0);
  ASSERT_EQ(all.size(), 2u);
  const LatestTable::Snapshot& back = all[std::make_pair(0u, KeyId{1})];
  EXPECT_EQ(back.ts, 500);
  EXPECT_TRUE(std::isnan(back.fields[0]));
}

// The writer keeps rewriting records with fields and ts derived from one
// counter; every copy a reader gets must be of one single update.
TEST(LatestTableTest, ReadersSeeWholeRecordsWhileTheWriterWrites) {
  constexpr size_t kFields = 6;
  constexpr uint32_t kSlots = 8;
  LatestTable t(kFields, 1);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    double f[kFields];
    for (int64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
      for (size_t i = 0; i < kFields; ++i) f[i] = static_cast<double>(n * 10 + static_cast<int64_t>(i));
      const KeyId k[] = {static_cast<KeyId>(n % kSlots) + 1};
      t.Update(0, static_cast<uint32_t>(n % kSlots), n, f, k);
    }
  });
  uint64_t copies = 0, torn = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  const auto give_up = until + std::chrono::seconds(10);
  while ((std::chrono::steady_clock::now() < until || copies < 1000) && std::chrono::steady_clock::now() < give_up) {
    t.ForEach([&](const LatestTable::Snapshot& s) {
      ++copies;
      bool whole = s.keys[0] == static_cast<KeyId>(s.ts % kSlots) + 1;
      for (size_t i = 0; i < kFields; ++i) whole = whole && s.fields[i] == static_cast<double>(s.ts * 10 + static_cast<int64_t>(i));
      if (!whole) ++torn;
      return true;
    });
  }
  stop = true;
  writer.join();
  EXPECT_EQ(torn, 0u) << "of " << copies << " copies";
  EXPECT_GE(copies, 1000u);
}

}  // namespace
}  // namespace vigil
