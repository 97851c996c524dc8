// Tests for vigil/engine/append_only_table.h (AppendOnlyTable): indices in
// append order, entries that never move across chunk allocations, the
// capacity limit, and a reader thread reading entries published to it while
// the writer keeps appending.
#include "vigil/engine/append_only_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace vigil {
namespace {

TEST(AppendOnlyTableTest, AppendReturnsConsecutiveIndices) {
  AppendOnlyTable<std::string> table;
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.Append("a"), 0u);
  EXPECT_EQ(table.Append("b"), 1u);
  EXPECT_EQ(table.Append("c"), 2u);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.Get(0), "a");
  EXPECT_EQ(table.Get(1), "b");
  EXPECT_EQ(table.Get(2), "c");
}

TEST(AppendOnlyTableTest, EntriesNeverMoveAcrossChunks) {
  AppendOnlyTable<std::string, 2, 64> table;  // chunks of 4 entries
  std::vector<const std::string*> addresses;
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(table.Append("v" + std::to_string(i)), static_cast<size_t>(i));
    addresses.push_back(&table.Get(static_cast<size_t>(i)));
  }
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(&table.Get(static_cast<size_t>(i)), addresses[static_cast<size_t>(i)]) << i;
    EXPECT_EQ(table.Get(static_cast<size_t>(i)), "v" + std::to_string(i));
  }
}

TEST(AppendOnlyTableTest, FullTableRefusesAppends) {
  AppendOnlyTable<int, 1, 3> table;  // 3 chunks of 2
  ASSERT_EQ(table.kCapacity, 6u);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(table.Append(int{i * 10}), static_cast<size_t>(i));
  EXPECT_EQ(table.Append(60), table.kCapacity);
  EXPECT_EQ(table.Append(70), table.kCapacity);
  EXPECT_EQ(table.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(table.Get(static_cast<size_t>(i)), i * 10);
}

// Two words that must always agree: a torn or unpublished read shows up as
// a mismatch.
struct Pair {
  uint64_t value = 0;
  uint64_t check = ~uint64_t{0};
  std::string text;
};

TEST(AppendOnlyTableTest, ReaderThreadReadsPublishedEntries) {
  AppendOnlyTable<Pair, 6> table;  // small chunks: many allocations while the reader reads
  constexpr uint64_t kEntries = 200000;
  std::atomic<bool> ok{true};
  std::atomic<uint64_t> read{0};
  std::thread reader([&] {
    uint64_t seen = 0;
    while (seen < kEntries) {
      const uint64_t upto = table.size();  // acquire: entries below are published
      for (; seen < upto; ++seen) {
        const Pair& p = table.Get(seen);
        if (p.value != seen || p.check != ~seen || p.text != std::to_string(seen)) ok.store(false);
      }
    }
    read.store(seen);
  });
  for (uint64_t i = 0; i < kEntries; ++i) table.Append(Pair{i, ~i, std::to_string(i)});
  reader.join();
  EXPECT_TRUE(ok.load());
  EXPECT_EQ(read.load(), kEntries);
}

}  // namespace
}  // namespace vigil
