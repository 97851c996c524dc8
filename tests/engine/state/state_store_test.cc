// StateStore on real RocksDB directories (under the test's temp dir): a
// checkpoint's writes read back, incremental erase, dropping one rule's
// state, and clear errors — naming the path, never a crash — for a
// foreign directory, a foreign RocksDB, a newer format, corruption and a
// state dir held by another process.
#include "vigil/engine/state_store.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "vigil/engine/codec.h"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// "d17": built by appending (GCC 12 warns, wrongly, on "d" + std::to_string(i)).
std::string Name(const char* prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("vigil-state-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir() const { return dir_.string(); }

  // Open succeeds on what is in dir_ and holds a new, empty database.
  void ExpectOpensAfresh() {
    auto store = StateStore::Open(dir());
    ASSERT_TRUE(store.ok()) << store.status().message();
    EXPECT_TRUE(fs::exists(dir_ / "db" / "CURRENT"));
    auto rules = (*store)->Rules();
    ASSERT_TRUE(rules.ok());
    EXPECT_TRUE(rules->empty());
  }

  std::map<std::string, std::string> Keys(const StateStore& store) {
    std::map<std::string, std::string> out;
    Status st = store.ForEachKey([&](std::string_view rule, const std::vector<std::string>& values,
                                     std::string_view blob, std::string_view parts) {
      std::string k(rule);
      for (const auto& v : values) k += "|" + v;
      out[k] = std::string(blob);
      EXPECT_TRUE(StateStore::ForEachPart(parts, [&](uint8_t part, uint64_t chunk, std::string_view value) {
        std::string name = k;  // k#part.chunk (appends: GCC 12 warns on a chain of +)
        name += '#';
        name += std::to_string(part);
        name += '.';
        name += std::to_string(chunk);
        out[name] = std::string(value);
      }));
      return true;
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
  }

  fs::path dir_;
};

TEST_F(StateStoreTest, CheckpointReadsBackAfterReopen) {
  {
    auto store = StateStore::Open(dir());
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->PutRules({{"hot", 42, "event", {"zone", "dev"}}}).ok());
    StateStore::Batch b;
    b.PutKey("hot", {"nord", "d1"}, "blob1");
    b.PutKey("hot", {"sud", std::string("d\0x", 3)}, "blob2");
    b.PutKey("hot2", {"nord", "d1"}, "other rule");
    b.PutSource({"data", true, 1234, "file1 10:2;"});
    b.PutProgress({7, 99, 1200, 1000, 2});
    EXPECT_EQ(b.count(), 5u);
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok()) << store.status().message();
  auto keys = Keys(**store);
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(keys["hot|nord|d1"], "blob1");
  EXPECT_EQ(keys["hot|sud|" + std::string("d\0x", 3)], "blob2");
  auto rules = (*store)->Rules();
  ASSERT_TRUE(rules.ok());
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].definition_hash, 42u);
  EXPECT_EQ((*rules)[0].key_tags, (std::vector<std::string>{"zone", "dev"}));
  auto sources = (*store)->Sources();
  ASSERT_TRUE(sources.ok());
  ASSERT_EQ(sources->size(), 1u);
  EXPECT_EQ((*sources)[0].position, "file1 10:2;");
  EXPECT_EQ((*sources)[0].max_ts, 1234);
  auto progress = (*store)->Progress();
  ASSERT_TRUE(progress.ok() && progress->has_value());
  EXPECT_EQ((*progress)->watermark, 1200);
  EXPECT_EQ((*progress)->start_ts, 1000);
  auto n = (*store)->CountKeys("hot");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);  // not hot2's
}

TEST_F(StateStoreTest, EmptyBlobErasesAndLaterWritesWin) {
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok());
  StateStore::Batch b;
  b.PutKey("r", {"a"}, "1");
  b.PutKey("r", {"b"}, "1");
  ASSERT_TRUE((*store)->Commit(b).ok());
  StateStore::Batch carried;  // a failed checkpoint's changes, carried over
  carried.PutKey("r", {"a"}, "2");
  StateStore::Batch next;
  next.Append(carried);
  next.PutKey("r", {"a"}, "3");
  next.PutKey("r", {"b"}, "");
  ASSERT_TRUE((*store)->Commit(next).ok());
  auto keys = Keys(**store);
  EXPECT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys["r|a"], "3");
}

TEST_F(StateStoreTest, PartsAreAppendedErasedAndFollowTheirKey) {
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok());
  StateStore::Batch b;
  b.PutKey("r", {"a"}, "main-a");
  b.AppendPart("r", {"a"}, 0, 0, "s1");
  b.AppendPart("r", {"a"}, 0, 1, "s2");
  b.AppendPart("r", {"a"}, 1, 0, "t1");
  b.PutKey("r", {"b"}, "main-b");
  ASSERT_TRUE((*store)->Commit(b).ok());
  StateStore::Batch c;
  c.AppendPart("r", {"a"}, 0, 1, "+s3");  // appended, not replaced
  c.ErasePartsBelow("r", {"a"}, 0, 1);    // part 0, chunk 0 goes; part 1 stays
  ASSERT_TRUE((*store)->Commit(c).ok());
  ASSERT_TRUE((*store)->Flush().ok());      // merges also survive a flush
  auto keys = Keys(**store);
  EXPECT_EQ(keys["r|a"], "main-a");
  EXPECT_EQ(keys.count("r|a#0.0"), 0u);
  EXPECT_EQ(keys["r|a#0.1"], "s2+s3");
  EXPECT_EQ(keys["r|a#1.0"], "t1");
  EXPECT_EQ(keys["r|b"], "main-b");
  StateStore::Batch d;
  d.ErasePartsBelow("r", {"a"}, 0, UINT64_MAX);  // what a rule erasing a key with parts does
  d.ErasePartsBelow("r", {"a"}, 1, UINT64_MAX);
  d.PutKey("r", {"a"}, "");
  ASSERT_TRUE((*store)->Commit(d).ok());
  keys = Keys(**store);
  EXPECT_EQ(keys.size(), 1u) << keys.begin()->first;
  EXPECT_EQ(keys["r|b"], "main-b");
}

TEST_F(StateStoreTest, LargeCheckpointsSkipTheLogAndSurviveReopen) {
  {
    auto store = StateStore::Open(dir());
    ASSERT_TRUE(store.ok());
    StateStore::Batch b;
    const std::string blob(1000, 'x');
    for (int i = 0; i < 20000; ++i) b.PutKey("r", {Name("k", i)}, blob);  // 20 MB: flushed, no log
    ASSERT_TRUE((*store)->Commit(b).ok());
  }
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->CountKeys("r").value(), 20000u);
}

TEST_F(StateStoreTest, DropRuleRemovesOnlyThatRule) {
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->PutRules({{"hot", 1, "event", {"dev"}}, {"hotter", 2, "event", {"dev"}}}).ok());
  StateStore::Batch b;
  for (int i = 0; i < 100; ++i) {
    b.PutKey("hot", {Name("d", i)}, "x");
    b.PutKey("hotter", {Name("d", i)}, "y");
  }
  ASSERT_TRUE((*store)->Commit(b).ok());
  ASSERT_TRUE((*store)->DropRule("hot").ok());
  EXPECT_EQ((*store)->CountKeys("hot").value(), 0u);
  EXPECT_EQ((*store)->CountKeys("hotter").value(), 100u);
  auto rules = (*store)->Rules();
  ASSERT_EQ(rules->size(), 1u);
  EXPECT_EQ((*rules)[0].name, "hotter");
}

TEST_F(StateStoreTest, StateKeyEncodingRoundTrips) {
  const std::vector<std::string> values = {"", std::string("\0\xff", 2), "nord/zone"};
  std::string rule;
  std::vector<std::string> back;
  ASSERT_TRUE(StateStore::DecodeStateKey(StateStore::StateKey("r\x01", values), &rule, &back));
  EXPECT_EQ(rule, "r\x01");
  EXPECT_EQ(back, values);
  EXPECT_FALSE(StateStore::DecodeStateKey("\x10\x05", &rule, &back));
  EXPECT_FALSE(StateStore::DecodeStateKey("x", &rule, &back));
}

TEST_F(StateStoreTest, ForeignDirectoryIsRefusedWithItsPath) {
  fs::create_directories(dir_ / "db");
  std::ofstream(dir_ / "db" / "notes.txt") << "my files";
  auto store = StateStore::Open(dir());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(dir()), std::string::npos) << store.status().message();
  EXPECT_NE(store.status().message().find("not a vigil state"), std::string::npos) << store.status().message();
  EXPECT_TRUE(fs::exists(dir_ / "db" / "notes.txt"));  // nothing deleted
}

TEST_F(StateStoreTest, ADatabaseKilledWhileBeingCreatedStartsAfresh) {
  // What `kill -9` during the very first open leaves: no CURRENT, only the
  // files of a creation in progress.
  fs::create_directories(dir_ / "db");
  std::ofstream(dir_ / "db" / "LOCK") << "";
  std::ofstream(dir_ / "db" / "LOG") << "RocksDB version: 7.8.3";
  std::ofstream(dir_ / "db" / "000000.dbtmp") << "b0a5b6a2-0000";
  ExpectOpensAfresh();
}

TEST_F(StateStoreTest, ADatabaseKilledBetweenItsFirstManifestAndCurrentStartsAfresh) {
  // RocksDB writes MANIFEST-000001, then 000001.dbtmp renamed to CURRENT
  // (strace of a first open): `kill -9` between them left a db dir that
  // vigil refused ("not a vigil state database"), seen in crash_recovery.
  fs::create_directories(dir_ / "db");
  std::ofstream(dir_ / "db" / "LOCK") << "";
  std::ofstream(dir_ / "db" / "LOG") << "RocksDB version: 7.8.3";
  std::ofstream(dir_ / "db" / "IDENTITY") << "b0a5b6a2-0000";
  std::ofstream(dir_ / "db" / "MANIFEST-000001") << std::string(59, '\0');
  std::ofstream(dir_ / "db" / "000001.dbtmp") << "";
  ExpectOpensAfresh();
}

TEST_F(StateStoreTest, ForeignRocksDbIsRefused) {
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    fs::create_directories(dir_);
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, (dir_ / "db").string(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "someone", "else").ok());
    delete db;
  }
  auto store = StateStore::Open(dir());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("vigil did not write"), std::string::npos) << store.status().message();
}

TEST_F(StateStoreTest, NewerFormatIsRefused) {
  ASSERT_TRUE(StateStore::Open(dir()).ok());
  {
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), (dir_ / "db").string(), &db).ok());
    std::string v;
    PutFixed32(&v, StateStore::kFormatVersion + 1);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "\x01" "format", v).ok());
    delete db;
  }
  auto store = StateStore::Open(dir());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(store.status().message().find("newer vigil"), std::string::npos) << store.status().message();
}

TEST_F(StateStoreTest, CorruptDatabaseGivesAnErrorNotACrash) {
  {
    auto store = StateStore::Open(dir());
    ASSERT_TRUE(store.ok());
    StateStore::Batch b;
    b.PutKey("r", {"a"}, "1");
    ASSERT_TRUE((*store)->Commit(b).ok());
    ASSERT_TRUE((*store)->Flush().ok());
  }
  // Overwrite every file but the log with garbage.
  for (const auto& e : fs::directory_iterator(dir_ / "db")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("MANIFEST", 0) == 0 || name == "CURRENT") std::ofstream(e.path(), std::ios::trunc) << "garbage";
  }
  auto store = StateStore::Open(dir());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(dir()), std::string::npos) << store.status().message();
}

TEST_F(StateStoreTest, SecondProcessOnTheSameDirIsRefused) {
  auto first = StateStore::Open(dir());
  ASSERT_TRUE(first.ok());
  auto second = StateStore::Open(dir());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
}

TEST_F(StateStoreTest, DestroyKeepsTheRestOfTheStateDir) {
  ASSERT_TRUE(StateStore::Open(dir()).ok());
  std::ofstream(dir_ / "dead-letter.ndjson") << "{}\n";
  ASSERT_TRUE(StateStore::Destroy(dir()).ok());
  EXPECT_FALSE(fs::exists(dir_ / "db"));
  EXPECT_TRUE(fs::exists(dir_ / "dead-letter.ndjson"));
  auto store = StateStore::Open(dir());
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(Keys(**store).empty());
}

}  // namespace
}  // namespace vigil
