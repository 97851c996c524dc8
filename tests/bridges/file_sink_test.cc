// FileSink across a crash: it appends, and a last line without its newline
// (the torn write of a killed process, an alert no checkpoint covered) is
// cut off at open rather than glued to the next alert; Sync writes out what
// is buffered.
#include "vigil/bridges/basic_sinks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "vigil/engine/alert.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAlert(FileSink& sink, const std::string& json) {
  AlertRecord record;
  RuleInfo rule;
  KeyInfo key;
  const std::string id = "0123456789abcdef", message;
  ASSERT_TRUE(sink.Write(AlertView{record, rule, key, id, message, json}).ok());
}

TEST(FileSinkTest, CutsATornLastLineAndAppends) {
  const std::string path = ::testing::TempDir() + "/vigil-file-sink-torn.ndjson";
  std::filesystem::remove(path);
  {
    std::ofstream out(path);
    out << "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\",\"ru";  // killed mid-write
  }
  auto sink = FileSink::Open(path, false);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_EQ(ReadAll(path), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");
  WriteAlert(**sink, "{\"id\":\"c\"}");
  EXPECT_EQ(ReadAll(path), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n");  // buffered
  ASSERT_TRUE((*sink)->Sync().ok());
  EXPECT_EQ(ReadAll(path), "{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n");
  std::filesystem::remove(path);
}

TEST(FileSinkTest, AFileWithNoCompleteLineIsEmptied) {
  const std::string path = ::testing::TempDir() + "/vigil-file-sink-partial.ndjson";
  {
    std::ofstream out(path);
    out << "{\"id\":";
  }
  auto sink = FileSink::Open(path, false);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(ReadAll(path), "");
  std::filesystem::remove(path);
}

TEST(FileSinkTest, CompleteFilesAreKeptWhole) {
  const std::string path = ::testing::TempDir() + "/vigil-file-sink-whole.ndjson";
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "{\"id\":\"" + std::to_string(i) + "\"}\n";  // > one 4 KiB read
  {
    std::ofstream out(path);
    out << big;
  }
  auto sink = FileSink::Open(path, false);
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ(ReadAll(path), big);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vigil::bridges
