// InfluxDbSink: the line of an alert (tags, escaping, null value, integer
// count, ms timestamp), line-protocol escaping, and requests to a real HTTP
// peer on loopback: the 1.x and 2.x write URLs with their credentials, one
// POST per max_batch lines per Flush, 204 delivered, 400 rejected for good
// (on_rejected), 503 an error. Writing to a real influxd and reading back
// is tests/bridges/influxdb_sink_test.sh.
#include "http/influxdb_sink.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "http/line_protocol.h"
#include "http_sink_test_util.h"

namespace vigil::bridges {
namespace {

using testing::MakeAlert;
using testing::RecordingHttpPeer;
using testing::TestAlert;

InfluxDbSinkOptions V1(std::string url, std::string db) {
  InfluxDbSinkOptions o;
  o.url = std::move(url);
  o.version = 1;
  o.db = std::move(db);
  return o;
}

InfluxDbSinkOptions V2(std::string url, std::string org, std::string bucket) {
  InfluxDbSinkOptions o;
  o.url = std::move(url);
  o.version = 2;
  o.org = std::move(org);
  o.bucket = std::move(bucket);
  return o;
}

std::string Line(const TestAlert& a) {
  std::string out;
  InfluxDbSink::AppendAlertLine(a.view(), &out);
  return out;
}

std::string Key(std::string_view s) {
  std::string out;
  AppendLineProtocolKey(&out, s);
  return out;
}

TEST(LineProtocolTest, EscapesSeparatorsAndDropsWhatCannotBeCarried) {
  EXPECT_EQ(Key("plain"), "plain");
  EXPECT_EQ(Key("a b,c=d"), "a\\ b\\,c\\=d");
  EXPECT_EQ(Key("two\nlines\ttab"), "two\\ lines\\ tab");
  EXPECT_EQ(Key("C:\\dir\\file"), "C:\\dir\\file");  // before an ordinary character: kept
  EXPECT_EQ(Key("end\\"), "end");                    // would escape the separator after it
  EXPECT_EQ(Key("a\\\\,b"), "a\\,b");                // a run before a separator: dropped
  EXPECT_EQ(Key("\\"), "");
  std::string m;
  AppendLineProtocolMeasurement(&m, "a b,c=d");
  EXPECT_EQ(m, "a\\ b\\,c=d");  // '=' needs no escape in a measurement
  std::string f;
  EXPECT_TRUE(AppendLineProtocolFloat(&f, 31.5));
  EXPECT_TRUE(AppendLineProtocolFloat(&(f += ' '), 2));
  EXPECT_FALSE(AppendLineProtocolFloat(&f, std::nan("")));
  EXPECT_FALSE(AppendLineProtocolFloat(&f, std::numeric_limits<double>::infinity()));
  EXPECT_EQ(f, "31.5 2");
  std::string i;
  AppendLineProtocolInteger(&i, 42);
  EXPECT_EQ(i, "42i");
}

TEST(InfluxDbSinkTest, AnAlertIsOnePointWithTagsFieldsAndMsTimestamp) {
  const TestAlert a = MakeAlert("zone warm", {"zone", "device"}, {"nord est", "d=1"}, AlertState::kRaised,
                                1732233600358, 27.25, 3);
  EXPECT_EQ(Line(a), "vigil_alerts,rule=zone\\ warm,severity=critical,state=raised,id=" + a.id +
                         ",zone=nord\\ est,device=d\\=1 value=27.25,count=3i 1732233600358");
}

TEST(InfluxDbSinkTest, NullValueIsOmittedEmptyTagsSkippedReservedKeyTagsRenamed) {
  const TestAlert a = MakeAlert("silent", {"state", "zone", "time"}, {"on", "", "t"}, AlertState::kCleared, 5000,
                                std::nan(""), 1, 1000);
  EXPECT_EQ(Line(a), "vigil_alerts,rule=silent,severity=critical,state=cleared,id=" + a.id +
                         ",key_state=on,key_time=t count=1i 5000");
}

TEST(InfluxDbSinkTest, Version1WritesToWriteWithDbPrecisionAndBasicAuth) {
  RecordingHttpPeer peer("/write");
  ASSERT_TRUE(peer.started());
  peer.SetScript([](const auto&, size_t) { return 204; });
  InfluxDbSinkOptions o = V1(peer.base_url() + "/", "entre pôt");
  o.retention_policy = "short";
  o.username = "vigil";
  o.password = "pw";
  o.max_batch = 2;
  auto sink = InfluxDbSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_EQ((*sink)->name(), "influxdb:" + peer.base_url() + "/entre pôt");
  EXPECT_EQ((*sink)->write_url(), peer.base_url() + "/write?db=entre%20p%C3%B4t&rp=short&precision=ms");
  std::vector<TestAlert> alerts;
  for (int i = 0; i < 3; ++i) alerts.push_back(MakeAlert("hot", {"zone"}, {"z" + std::to_string(i)}, AlertState::kRaised, 1000 + i));
  for (const auto& a : alerts) ASSERT_TRUE((*sink)->Write(a.view()).ok());
  Status st = (*sink)->Flush();
  ASSERT_TRUE(st.ok()) << st.message();
  const auto reqs = peer.requests();
  ASSERT_EQ(reqs.size(), 2u);  // max_batch 2
  EXPECT_EQ(reqs[0].Query("db"), "entre pôt");
  EXPECT_EQ(reqs[0].Query("rp"), "short");
  EXPECT_EQ(reqs[0].Query("precision"), "ms");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Basic dmlnaWw6cHc=");  // vigil:pw
  EXPECT_EQ(reqs[0].body, Line(alerts[0]) + "\n" + Line(alerts[1]) + "\n");
  EXPECT_EQ(reqs[1].body, Line(alerts[2]) + "\n");
}

TEST(InfluxDbSinkTest, Version2WritesToApiV2WithOrgBucketAndToken) {
  RecordingHttpPeer peer("/api/v2/write");
  ASSERT_TRUE(peer.started());
  peer.SetScript([](const auto&, size_t) { return 204; });
  InfluxDbSinkOptions o = V2(peer.base_url(), "acme", "alerts");
  o.token = "t0ken";
  auto sink = InfluxDbSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  const TestAlert a = MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 1000);
  ASSERT_TRUE((*sink)->Write(a.view()).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  const auto reqs = peer.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Query("org"), "acme");
  EXPECT_EQ(reqs[0].Query("bucket"), "alerts");
  EXPECT_EQ(reqs[0].Query("precision"), "ms");
  EXPECT_EQ(reqs[0].Header("Authorization"), "Token t0ken");
  EXPECT_EQ(reqs[0].body, Line(a) + "\n");
}

TEST(InfluxDbSinkTest, A400IsRejectedForGoodA503IsAnError) {
  RecordingHttpPeer peer("/write");
  ASSERT_TRUE(peer.started());
  peer.SetScript([](const auto&, size_t i) { return i == 0 ? 400 : 503; },
                 "{\"error\":\"partial write: field type conflict\"}");
  std::vector<std::string> rejected;
  InfluxDbSinkOptions o = V1(peer.base_url(), "x");
  o.on_rejected = [&](std::string_view json, std::string_view reason) {
    rejected.push_back(std::string(json) + " | " + std::string(reason));
  };
  auto sink = InfluxDbSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  const TestAlert a = MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 1000);
  const TestAlert b = MakeAlert("hot", {"zone"}, {"sud"}, AlertState::kRaised, 1001);
  ASSERT_TRUE((*sink)->Write(a.view()).ok());
  ASSERT_TRUE((*sink)->Write(b.view()).ok());
  ASSERT_TRUE((*sink)->Flush().ok());
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0], a.json + " | HTTP 400: {\"error\":\"partial write: field type conflict\"}");
  EXPECT_EQ(rejected[1], b.json + " | HTTP 400: {\"error\":\"partial write: field type conflict\"}");
  ASSERT_TRUE((*sink)->Write(a.view()).ok());
  Status st = (*sink)->Flush();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("HTTP 503"), std::string::npos) << st.message();
  EXPECT_EQ(rejected.size(), 2u);
}

TEST(InfluxDbSinkTest, RefusesMissingDbOrBucketAndBadVersions) {
  EXPECT_TRUE(InfluxDbSink::Create(V1("http://127.0.0.1:8086", "x")).ok());
  EXPECT_FALSE(InfluxDbSink::Create(V1("http://127.0.0.1:8086", "")).ok());
  EXPECT_FALSE(InfluxDbSink::Create(V2("http://127.0.0.1:8086", "o", "")).ok());
  InfluxDbSinkOptions v3 = V1("http://127.0.0.1:8086", "x");
  v3.version = 3;
  EXPECT_FALSE(InfluxDbSink::Create(v3).ok());
  EXPECT_FALSE(InfluxDbSink::Create(V1("http://127.0.0.1:8086?x=1", "x")).ok());
  EXPECT_FALSE(InfluxDbSink::Create(V1("udp://127.0.0.1:8089", "x")).ok());
}

}  // namespace
}  // namespace vigil::bridges
