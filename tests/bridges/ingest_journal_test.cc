// IngestJournal: records survive reopening, in order, across segments; a
// record cut short is cut off at Open; Release deletes whole old segments
// only; positions stay valid after Release.
#include "journal/ingest_journal.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace vigil::bridges {
namespace {

class IngestJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vigil-journal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Every record from `from` to the end: (offset, bytes).
  static std::vector<std::pair<uint64_t, std::string>> ReadAll(const IngestJournal& j, uint64_t from) {
    std::vector<std::pair<uint64_t, std::string>> out;
    auto reader = j.Read(from, j.end());
    std::string r;
    uint64_t off = 0;
    while (true) {
      Result<bool> more = reader->Next(&r, &off);
      EXPECT_TRUE(more.ok());
      if (!more.ok() || !*more) break;
      out.emplace_back(off, r);
    }
    return out;
  }
  size_t Segments() const {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) n += e.path().extension() == ".log";
    return n;
  }

  std::string dir_;
};

TEST_F(IngestJournalTest, RecordsComeBackInOrderAfterReopening) {
  std::vector<uint64_t> offsets;
  {
    auto j = IngestJournal::Open(dir_);
    ASSERT_TRUE(j.ok()) << j.status().message();
    EXPECT_EQ((*j)->end(), 0u);
    for (int i = 0; i < 5; ++i) {
      auto off = (*j)->Append("h" + std::to_string(i) + ":", "body " + std::to_string(i));
      ASSERT_TRUE(off.ok());
      offsets.push_back(*off);
    }
    EXPECT_EQ(offsets[0], 0u);
    EXPECT_EQ(offsets[1], 4u + 3 + 6);  // length prefix + "h0:" + "body 0"
  }
  auto j = IngestJournal::Open(dir_);
  ASSERT_TRUE(j.ok());
  auto all = ReadAll(**j, 0);
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(all[i].first, offsets[i]);
    EXPECT_EQ(all[i].second, "h" + std::to_string(i) + ":body " + std::to_string(i));
  }
  // From a position in the middle, and appends continue after the old end.
  auto tail = ReadAll(**j, offsets[3]);
  ASSERT_EQ(tail.size(), 2u);
  EXPECT_EQ(tail[0].second, "h3:body 3");
  auto next = (*j)->Append("", "after");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, all.back().first + 4 + all.back().second.size());
}

TEST_F(IngestJournalTest, ARecordCutShortIsCutOffAtOpen) {
  uint64_t end = 0;
  {
    auto j = IngestJournal::Open(dir_);
    ASSERT_TRUE(j.ok());
    ASSERT_TRUE((*j)->Append("", "whole").ok());
    end = (*j)->end();
  }
  const std::string seg = dir_ + "/00000000000000000000.log";
  {
    std::ofstream f(seg, std::ios::binary | std::ios::app);
    const char partial[] = {10, 0, 0, 0, 'p', 'a', 'r'};  // says 10 bytes, has 3
    f.write(partial, sizeof partial);
  }
  auto j = IngestJournal::Open(dir_);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)->end(), end);
  EXPECT_EQ((*j)->truncated_at_open(), 7u);
  EXPECT_EQ(std::filesystem::file_size(seg), end);
  ASSERT_TRUE((*j)->Append("", "next").ok());
  auto all = ReadAll(**j, 0);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].second, "whole");
  EXPECT_EQ(all[1].second, "next");
}

TEST_F(IngestJournalTest, SegmentsRollOverAndReleaseDeletesOnlyWholeOldOnes) {
  auto j = IngestJournal::Open(dir_, /*segment_bytes=*/100);
  ASSERT_TRUE(j.ok());
  std::vector<uint64_t> offsets;
  for (int i = 0; i < 20; ++i) {
    auto off = (*j)->Append("", std::string(30, static_cast<char>('a' + i)));
    ASSERT_TRUE(off.ok());
    offsets.push_back(*off);
  }
  // 34 bytes a record: a new segment after every third record.
  EXPECT_EQ(Segments(), 7u);
  ASSERT_EQ(ReadAll(**j, 0).size(), 20u);
  // Record 10 lives in the segment starting at record 9: the three
  // segments before it go, the one holding record 10 stays.
  (*j)->Release(offsets[10]);
  EXPECT_EQ(Segments(), 4u);
  EXPECT_EQ((*j)->begin(), offsets[9]);
  auto rest = ReadAll(**j, offsets[10]);
  ASSERT_EQ(rest.size(), 10u);
  EXPECT_EQ(rest[0].second, std::string(30, 'k'));
  // Everything released: the segment being written stays, and so do the offsets.
  (*j)->Release((*j)->end());
  EXPECT_EQ(Segments(), 1u);
  const uint64_t end = (*j)->end();
  j->reset();
  auto again = IngestJournal::Open(dir_, 100);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->end(), end);
  auto off = (*again)->Append("", "z");
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(*off, end);
  auto last = ReadAll(**again, end);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].second, "z");
}

TEST_F(IngestJournalTest, AnUnwritableDirectoryIsAnErrorNamingIt) {
  const std::string file = dir_ + "/plain-file";
  std::ofstream(file) << "x";
  auto j = IngestJournal::Open(file + "/journal");
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find(file), std::string::npos) << j.status().message();
}

}  // namespace
}  // namespace vigil::bridges
