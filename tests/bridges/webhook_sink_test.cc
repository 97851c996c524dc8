// WebhookSink against a real HTTP server on loopback (the outbox contract):
// a peer that answers 503 for a while makes Flush() fail, and re-sending
// the same alerts later delivers every one, in order per key; a 4xx is
// rejected for good (on_rejected with the reason, Flush() OK, logged
// without the token); 429 is retried; connection refused and a hanging
// peer fail within the timeout; headers, bearer token and batches.
#include "http/webhook_sink.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "http_sink_test_util.h"

namespace vigil::bridges {
namespace {

using namespace std::chrono_literals;
using testing::ClosedPort;
using testing::CollectingLogger;
using testing::MakeAlert;
using testing::RecordingHttpPeer;
using testing::TestAlert;

WebhookSinkOptions Options(std::string url) {
  WebhookSinkOptions o;
  o.url = std::move(url);
  return o;
}

std::unique_ptr<WebhookSink> MakeSink(WebhookSinkOptions o) {
  auto sink = WebhookSink::Create(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.status().message();
  return sink.ok() ? std::move(sink).value() : nullptr;
}

// Six transitions of two keys, interleaved: raise, clear, raise again.
std::vector<TestAlert> TwoKeys() {
  std::vector<TestAlert> v;
  v.push_back(MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 1000));
  v.push_back(MakeAlert("hot", {"zone"}, {"sud"}, AlertState::kRaised, 1500));
  v.push_back(MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kCleared, 2000, 20, 3, 1000));
  v.push_back(MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 3000));
  v.push_back(MakeAlert("hot", {"zone"}, {"sud"}, AlertState::kCleared, 3500, 21, 2, 1500));
  v.push_back(MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kCleared, 4000, 22, 1, 3000));
  return v;
}

// The key ("nord"/"sud") of an alert JSON.
std::string KeyOf(const std::string& json) { return json.find("\"nord\"") != std::string::npos ? "nord" : "sud"; }

TEST(WebhookSinkTest, APeerFailingForAWhileGetsEveryAlertInOrderPerKey) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  // Two requests succeed, the next three get 503, then all succeed.
  peer.SetScript([](const auto&, size_t i) { return i >= 2 && i < 5 ? 503 : 200; }, "busy");
  auto sink = MakeSink(Options(peer.url()));
  ASSERT_NE(sink, nullptr);
  const std::vector<TestAlert> alerts = TwoKeys();

  // The outbox's part: write the batch, flush; on error write it all again later.
  int flushes = 0;
  Status st;
  do {
    for (const auto& a : alerts) ASSERT_TRUE(sink->Write(a.view()).ok());
    st = sink->Flush();
    ++flushes;
    if (flushes == 1) {
      ASSERT_FALSE(st.ok());
      EXPECT_NE(st.message().find("HTTP 503: busy"), std::string::npos) << st.message();
      EXPECT_NE(st.message().find("4 of 6 alerts"), std::string::npos) << st.message();
    }
  } while (!st.ok() && flushes < 10);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(flushes, 4);  // fails at requests 3, 4 and 5; each failed flush stops at once
  EXPECT_EQ(peer.requests().size(), 2u + 3u + 6u);

  // Every alert arrived; first arrivals (by id + state) are in write order per key.
  std::map<std::string, std::vector<std::string>> sent, first_seen;
  for (const auto& a : alerts) sent[KeyOf(a.json)].push_back(a.json);
  std::set<std::string> seen;
  for (const std::string& body : peer.delivered()) {
    if (seen.insert(body).second) first_seen[KeyOf(body)].push_back(body);
  }
  EXPECT_EQ(first_seen, sent);
  // And the final, successful flush delivered the whole batch in order.
  const std::vector<std::string> delivered = peer.delivered();
  ASSERT_GE(delivered.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(delivered[delivered.size() - 6 + i], alerts[i].json);

  std::vector<BridgeMetric> m;
  sink->ReportMetrics(&m);
  std::map<std::string, double> by;
  for (const auto& x : m) by[x.name + (x.labels.size() > 1 ? ":" + x.labels[1].second : "")] = x.value;
  EXPECT_EQ(by["vigil_sink_http_requests_total:delivered"], 8);
  EXPECT_EQ(by["vigil_sink_http_requests_total:retry"], 3);
  EXPECT_EQ(by["vigil_sink_alerts_delivered_total"], 8);
  EXPECT_EQ(m.front().labels[0].second, "webhook:" + peer.base_url());  // never the URL's path
}

TEST(WebhookSinkTest, SendsHeadersBearerTokenAndTheAlertJson) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  WebhookSinkOptions o = Options(peer.url());
  o.headers = {{"X-Foo", "bar"}};
  o.bearer_token = "s3cret";
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  const TestAlert a = MakeAlert("hot", {"zone", "device"}, {"nord", "d1"}, AlertState::kRaised, 1000);
  EXPECT_TRUE(sink->Flush().ok());  // nothing written: no request
  EXPECT_TRUE(peer.requests().empty());
  ASSERT_TRUE(sink->Write(a.view()).ok());
  EXPECT_TRUE(peer.requests().empty());  // Write only buffers
  ASSERT_TRUE(sink->Flush().ok());
  const auto reqs = peer.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, a.json);
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer s3cret");
  EXPECT_EQ(reqs[0].Header("X-Foo"), "bar");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  EXPECT_TRUE(sink->Flush().ok());  // the buffer was emptied
  EXPECT_EQ(peer.requests().size(), 1u);
}

TEST(WebhookSinkTest, BatchesAreJsonArraysOfAtMostMaxBatch) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  WebhookSinkOptions o = Options(peer.url());
  o.batch = true;
  o.max_batch = 4;
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  const std::vector<TestAlert> alerts = TwoKeys();
  for (const auto& a : alerts) ASSERT_TRUE(sink->Write(a.view()).ok());
  ASSERT_TRUE(sink->Flush().ok());
  const auto reqs = peer.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, "[" + alerts[0].json + "," + alerts[1].json + "," + alerts[2].json + "," + alerts[3].json + "]");
  EXPECT_EQ(reqs[1].body, "[" + alerts[4].json + "," + alerts[5].json + "]");
}

TEST(WebhookSinkTest, A4xxIsRejectedForGoodWithItsReasonAndNotRetried) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  // The peer refuses the alert of key "sud" with 400 and a long body.
  peer.SetScript([](const auto& r, size_t) { return r.body.find("\"sud\"") != std::string::npos ? 400 : 200; },
                 "unknown zone sud\n" + std::string(500, 'x'));
  CollectingLogger log;
  std::vector<std::pair<std::string, std::string>> rejected;
  WebhookSinkOptions o = Options(peer.url());
  o.bearer_token = "s3cret";
  o.logger = &log;
  o.on_rejected = [&](std::string_view json, std::string_view reason) { rejected.emplace_back(json, reason); };
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  const std::vector<TestAlert> alerts = TwoKeys();
  for (const auto& a : alerts) ASSERT_TRUE(sink->Write(a.view()).ok());
  Status st = sink->Flush();
  ASSERT_TRUE(st.ok()) << st.message();  // rejected alerts count as handled
  EXPECT_EQ(peer.requests().size(), 6u);
  ASSERT_EQ(rejected.size(), 2u);
  EXPECT_EQ(rejected[0].first, alerts[1].json);
  EXPECT_EQ(rejected[1].first, alerts[4].json);
  const std::string reason = "HTTP 400: unknown zone sud " + std::string(200 - 17, 'x');
  EXPECT_EQ(rejected[0].second, reason);
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("rejected for good"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("HTTP 400: unknown zone sud"), std::string::npos) << lines[0];
  for (const auto& l : lines) EXPECT_EQ(l.find("s3cret"), std::string::npos) << l;
  EXPECT_EQ(lines[0].find("/hook"), std::string::npos) << "the URL's path is not logged: " << lines[0];
  // Nothing is re-sent by the sink itself.
  EXPECT_TRUE(sink->Flush().ok());
  EXPECT_EQ(peer.requests().size(), 6u);
}

TEST(WebhookSinkTest, RateLimitsTheRejectionLog) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  peer.SetScript([](const auto&, size_t) { return 422; });
  CollectingLogger log;
  size_t rejected = 0;
  WebhookSinkOptions o = Options(peer.url());
  o.logger = &log;
  o.on_rejected = [&](std::string_view, std::string_view) { ++rejected; };
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  for (int i = 0; i < 10; ++i) {
    const TestAlert a = MakeAlert("hot", {"zone"}, {"z" + std::to_string(i)}, AlertState::kRaised, 1000 + i);
    ASSERT_TRUE(sink->Write(a.view()).ok());
  }
  ASSERT_TRUE(sink->Flush().ok());
  EXPECT_EQ(rejected, 10u);
  const auto lines = log.lines();
  ASSERT_EQ(lines.size(), 4u);  // three requests, then a summary
  EXPECT_NE(lines[3].find("7 more request(s)"), std::string::npos) << lines[3];
}

TEST(WebhookSinkTest, TooManyRequestsAndServerErrorsAreRetriedNotRejected) {
  for (int status : {429, 408, 500, 302}) {
    RecordingHttpPeer peer;
    ASSERT_TRUE(peer.started());
    peer.SetScript([status](const auto&, size_t) { return status; });
    size_t rejected = 0;
    WebhookSinkOptions o = Options(peer.url());
    o.on_rejected = [&](std::string_view, std::string_view) { ++rejected; };
    auto sink = MakeSink(std::move(o));
    ASSERT_NE(sink, nullptr);
    const TestAlert a = MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 1000);
    ASSERT_TRUE(sink->Write(a.view()).ok());
    Status st = sink->Flush();
    EXPECT_FALSE(st.ok()) << status;
    EXPECT_NE(st.message().find("HTTP " + std::to_string(status)), std::string::npos) << st.message();
    EXPECT_EQ(rejected, 0u);
  }
}

TEST(WebhookSinkTest, ConnectionRefusedIsAnError) {
  WebhookSinkOptions o = Options("http://127.0.0.1:" + std::to_string(ClosedPort()) + "/secret-path");
  o.bearer_token = "s3cret";
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  const TestAlert a = MakeAlert("hot", {"zone"}, {"nord"}, AlertState::kRaised, 1000);
  ASSERT_TRUE(sink->Write(a.view()).ok());
  Status st = sink->Flush();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kIoError);
  EXPECT_NE(st.message().find("POST failed"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("s3cret"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("secret-path"), std::string::npos) << st.message();
}

TEST(WebhookSinkTest, AHangingPeerFailsWithinTheTimeout) {
  RecordingHttpPeer peer;
  ASSERT_TRUE(peer.started());
  peer.SetHang(true);
  WebhookSinkOptions o = Options(peer.url());
  o.timeout = 300ms;
  auto sink = MakeSink(std::move(o));
  ASSERT_NE(sink, nullptr);
  const std::vector<TestAlert> alerts = TwoKeys();
  for (const auto& a : alerts) ASSERT_TRUE(sink->Write(a.view()).ok());
  const auto start = std::chrono::steady_clock::now();
  Status st = sink->Flush();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("imed out"), std::string::npos) << st.message();
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);  // one request timed out; the others were not tried
  EXPECT_EQ(peer.requests().size(), 1u);
  peer.Release();
}

TEST(WebhookSinkTest, RefusesAUrlThatIsNotHttp) {
  auto sink = WebhookSink::Create(Options("ftp://127.0.0.1/x"));
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.status().message().find("http:// or https://"), std::string::npos) << sink.status().message();
}

}  // namespace
}  // namespace vigil::bridges
