// StateStore on a real RocksDB on a real, small tmpfs that another writer
// (this test, through filler files) fills to the last byte after the store
// is open, with vigil's free-space check switched off (min_free_bytes 0),
// so that RocksDB's own writes fail with ENOSPC. Debian's RocksDB is built
// with assertions: the store must turn every such failure into an error
// Status (never an abort), close cleanly with the disk still full (the
// SIGTERM path), take writes again once space returns, in the same process,
// and keep everything written before. Needs root (mount); skipped without.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "vigil/engine/state_store.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// Concatenation by appends (GCC 12 warns, wrongly, on "x" + std::to_string(i)).
template <class... Parts>
std::string Cat(const Parts&... parts) {
  std::string s;
  ((s += parts), ...);
  return s;
}

class FullDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string name = "vigil-full-";  // appended: GCC 12 warns, wrongly, on a chain of +
    name += std::to_string(getpid());
    name += '-';
    name += ::testing::UnitTest::GetInstance()->current_test_info()->name();
    mnt_ = fs::path(::testing::TempDir()) / name;
    fs::create_directories(mnt_);
    // 24 MiB: less than the 35 MiB RocksDB preallocates for its write-ahead
    // log, so the log grows page by page and its appends meet the full disk.
    if (mount("tmpfs", mnt_.c_str(), "tmpfs", 0, "size=24m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) umount2(mnt_.c_str(), MNT_DETACH);
    fs::remove_all(mnt_);
  }
  std::string state() const { return (mnt_ / "state").string(); }
  uint64_t FreeBytes() const {
    struct statvfs s {};
    statvfs(mnt_.c_str(), &s);
    return static_cast<uint64_t>(s.f_bavail) * s.f_frsize;
  }
  // Takes every free byte: writes ever smaller blocks until one byte fails.
  void FillUp() {
    const std::string path = Filler(fillers_++);
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ASSERT_GE(fd, 0);
    std::vector<char> zeros(1 << 20, 0);
    for (size_t bs = zeros.size(); bs >= 1;) {
      if (write(fd, zeros.data(), bs) < 0) bs /= 2;
    }
    close(fd);
    ASSERT_EQ(FreeBytes(), 0u);
  }
  void FreeUp() {
    for (int i = 0; i < fillers_; ++i) fs::remove(Filler(i));
  }
  std::string Filler(int i) const {
    std::string name = "filler";
    name += std::to_string(i);
    return (mnt_ / name).string();
  }

  // A checkpoint like the checkpointer's: `n` key states of rule `rule`
  // (blobs of `blob_bytes`), a part append per key, a source and the progress.
  static StateStore::Batch Checkpoint(uint64_t id, const std::string& rule, int n, size_t blob_bytes = 200) {
    StateStore::Batch b;
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> key(1, "d");
      key[0] += std::to_string(i);
      b.PutKey(rule, key, std::string(blob_bytes, static_cast<char>('a' + id % 26)));
      b.AppendPart(rule, key, 0, 0, Cat("sample", std::to_string(id)));
    }
    b.PutSource({"feed", true, static_cast<int64_t>(id) * 1000, Cat("pos", std::to_string(id))});
    b.PutProgress({id, static_cast<int64_t>(id), static_cast<int64_t>(id) * 1000, 0, 2});
    return b;
  }
  // Retries `fn` until it succeeds or 10 s passed (a failed reopen is
  // retried at most once a second).
  template <class Fn>
  static Status Eventually(Fn fn) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    Status st = fn();
    while (!st.ok() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      st = fn();
    }
    return st;
  }
  // rule -> number of keys, and the part records seen ("d3#0.0=sample1").
  static std::map<std::string, int> CountKeys(const StateStore& store, std::vector<std::string>* parts = nullptr) {
    std::map<std::string, int> out;
    Status st = store.ForEachKey([&](std::string_view rule, const std::vector<std::string>& values,
                                     std::string_view, std::string_view p) {
      ++out[std::string(rule)];
      StateStore::ForEachPart(p, [&](uint8_t part, uint64_t chunk, std::string_view value) {
        if (parts != nullptr) {
          parts->push_back(Cat(values[0], "#", std::to_string(part), ".", std::to_string(chunk), "=", value));
        }
      });
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  fs::path mnt_;
  bool mounted_ = false;
  int fillers_ = 0;
};

TEST_F(FullDiskTest, FailedWritesAreErrorsAndWritesResumeWhenSpaceReturns) {
  auto opened = StateStore::Open(state(), /*read_only=*/false, /*min_free_bytes=*/0);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<StateStore> store = std::move(opened).value();
  ASSERT_TRUE(store->PutRules({{"hot", 1, "event", {"device"}}, {"cold", 2, "event", {"device"}}}).ok());
  StateStore::Batch one = Checkpoint(1, "hot", 100);
  ASSERT_TRUE(store->Commit(one).ok());
  ASSERT_TRUE(store->WriteOutbox("mqtt", {{1, "alert one"}}, {}).ok());

  FillUp();
  // A checkpoint (through the write-ahead log) and an outbox write meet the
  // full disk inside RocksDB: errors, not an abort.
  StateStore::Batch two = Checkpoint(2, "cold", 100);
  Status st = store->Commit(two);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
  // Further writes while the disk is full fail cleanly too (the handle is
  // closed; reopening it fails for lack of space, or waits for its retry).
  // Closing released RocksDB's preallocated space: the filler takes it.
  for (int i = 0; i < 3; ++i) {
    FillUp();
    EXPECT_FALSE(store->Commit(two).ok());
    EXPECT_FALSE(store->WriteOutbox("mqtt", {{2, std::string(64 << 10, 'x')}}, {}).ok());
    EXPECT_FALSE(store->Flush().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
  }

  // Space returns: the same store takes writes again, without a restart.
  FreeUp();
  StateStore::Batch three = Checkpoint(3, "hot", 100);
  st = Eventually([&] { return store->Commit(three); });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(store->WriteOutbox("mqtt", {{3, "alert three"}}, {1}).ok());
  auto progress = store->Progress();
  ASSERT_TRUE(progress.ok() && progress->has_value());
  EXPECT_EQ((*progress)->checkpoint, 3u);
  store.reset();

  // Reopened: everything written before and after is there, the failed
  // checkpoint is all there or not at all.
  opened = StateStore::Open(state());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  store = std::move(opened).value();
  progress = store->Progress();
  ASSERT_TRUE(progress.ok() && progress->has_value());
  EXPECT_EQ((*progress)->checkpoint, 3u);
  std::vector<std::string> parts;
  std::map<std::string, int> keys = CountKeys(*store, &parts);
  EXPECT_EQ(keys["hot"], 100);
  EXPECT_TRUE(keys["cold"] == 0 || keys["cold"] == 100) << keys["cold"];
  // Parts of "hot": checkpoint 1's append then checkpoint 3's, once each.
  EXPECT_NE(std::find(parts.begin(), parts.end(), "d7#0.0=sample1sample3"), parts.end());
  auto rules = store->Rules();
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->size(), 2u);
  std::map<uint64_t, std::string> outbox;
  ASSERT_TRUE(store->ForEachOutbox("mqtt", [&](uint64_t seq, std::string_view v) { outbox[seq] = std::string(v); }).ok());
  EXPECT_EQ(outbox.count(1), 0u);
  EXPECT_EQ(outbox[3], "alert three");
}

TEST_F(FullDiskTest, ClosingWithTheDiskStillFullKeepsWhatWasDurable) {
  {
    auto opened = StateStore::Open(state(), false, 0);
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    std::unique_ptr<StateStore> store = std::move(opened).value();
    StateStore::Batch one = Checkpoint(1, "hot", 50);
    ASSERT_TRUE(store->Commit(one).ok());
    FillUp();
    StateStore::Batch two = Checkpoint(2, "hot", 200);
    EXPECT_FALSE(store->Commit(two).ok());
    // What a clean stop does (final checkpoint, flush, compaction), then
    // the close, with the disk still full: errors, no abort.
    FillUp();
    EXPECT_FALSE(store->Commit(two).ok());
    EXPECT_FALSE(store->Flush().ok());
    EXPECT_FALSE(store->Compact().ok());
  }
  FreeUp();
  auto opened = StateStore::Open(state());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  auto progress = (*opened)->Progress();
  ASSERT_TRUE(progress.ok() && progress->has_value());
  std::vector<std::string> parts;
  std::map<std::string, int> keys = CountKeys(**opened, &parts);
  if ((*progress)->checkpoint == 1) {
    EXPECT_EQ(keys["hot"], 50);
    EXPECT_NE(std::find(parts.begin(), parts.end(), "d7#0.0=sample1"), parts.end());
  } else {  // the failed one had been written all the same: all of it
    EXPECT_EQ((*progress)->checkpoint, 2u);
    EXPECT_EQ(keys["hot"], 200);
  }
  StateStore::Batch three = Checkpoint(3, "hot", 10);
  EXPECT_TRUE((*opened)->Commit(three).ok());
}

TEST_F(FullDiskTest, ALargeCheckpointWhoseFlushFailsIsNotHalfWritten) {
  auto opened = StateStore::Open(state(), false, 0);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  std::unique_ptr<StateStore> store = std::move(opened).value();
  StateStore::Batch one = Checkpoint(1, "hot", 50);
  ASSERT_TRUE(store->Commit(one).ok());
  FillUp();
  // >= 8 MiB: skips the log, lands in the memtable, then its flush fails.
  StateStore::Batch big = Checkpoint(2, "big", 1000, 9 << 10);
  ASSERT_GE(big.bytes(), 8u << 20);
  Status st = store->Commit(big);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
  FreeUp();
  // The batch left in memory by the failed flush is not there any more
  // (or, had closing flushed it, all of it is): never half of it.
  auto progress = Eventually([&]() -> Status {
    auto p = store->Progress();
    return p.ok() ? Status::Ok() : p.status();
  });
  ASSERT_TRUE(progress.ok()) << progress.message();
  auto p = store->Progress();
  ASSERT_TRUE(p.ok() && p->has_value());
  std::map<std::string, int> keys = CountKeys(*store);
  if ((*p)->checkpoint == 1) {
    EXPECT_EQ(keys["big"], 0);
  } else {
    EXPECT_EQ(keys["big"], 1000);
  }
  StateStore::Batch three = Checkpoint(3, "hot", 50);
  ASSERT_TRUE(store->Commit(three).ok());
  store.reset();
  opened = StateStore::Open(state());
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  p = (*opened)->Progress();
  ASSERT_TRUE(p.ok() && p->has_value());
  EXPECT_EQ((*p)->checkpoint, 3u);
  EXPECT_EQ(CountKeys(**opened)["hot"], 50);
}

}  // namespace
}  // namespace vigil
