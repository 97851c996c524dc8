// KafkaSink against librdkafka's mock cluster: the alert JSON and key read
// back by a consumer; Flush fails with a clear error while the broker is
// down, and a re-sent batch gets through once it is back (the outbox's
// contract).
#include "kafka/kafka_sink.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>

#include "kafka_mock.h"

namespace vigil::bridges {
namespace {

using testing::MockKafka;

// One alert with everything AlertView points to.
struct TestAlert {
  AlertRecord record;
  RuleInfo rule;
  KeyInfo key;
  std::string id, message, json;
  AlertView view() const { return AlertView{record, rule, key, id, message, json}; }
};

TestAlert MakeAlert(std::string id, std::vector<std::string> values, AlertState state = AlertState::kRaised) {
  TestAlert a;
  a.rule.name = "overheat";
  a.rule.key_tags = {"zone", "sensor"};
  a.key.values = std::move(values);
  a.record.state = state;
  a.record.ts = 1732233600000;
  a.record.value = NAN;
  a.id = std::move(id);
  a.message = "overheat raised";
  a.json = "{\"id\":\"" + a.id + "\",\"rule\":\"overheat\",\"state\":\"" +
           (state == AlertState::kRaised ? "raised" : "cleared") + "\"}";
  return a;
}

std::unique_ptr<KafkaSink> MakeSink(const MockKafka& kafka, std::chrono::milliseconds timeout) {
  KafkaSinkOptions o;
  o.brokers = kafka.bootstrap();
  o.topic = "alerts";
  o.timeout = timeout;
  o.properties = {{"reconnect.backoff.max.ms", "200"}};
  auto sink = KafkaSink::Create(std::move(o));
  EXPECT_TRUE(sink.ok()) << sink.status().message();
  return std::move(sink).value();
}

TEST(KafkaSinkTest, ProducesTheAlertJsonKeyedByItsKey) {
  MockKafka kafka;
  kafka.CreateTopic("alerts", 1);
  auto sink = MakeSink(kafka, std::chrono::seconds(10));
  EXPECT_EQ(sink->name(), "kafka:alerts");
  const TestAlert raised = MakeAlert("00000000000000a1", {"nord", "s1"});
  const TestAlert cleared = MakeAlert("00000000000000a1", {"nord", "s1"}, AlertState::kCleared);
  TestAlert global = MakeAlert("00000000000000b2", {});
  global.rule.key_tags.clear();
  ASSERT_TRUE(sink->Write(raised.view()).ok());
  ASSERT_TRUE(sink->Write(cleared.view()).ok());
  ASSERT_TRUE(sink->Write(global.view()).ok());
  Status st = sink->Flush();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(sink->delivered_total(), 3u);

  auto got = kafka.ReadAll("alerts", 0, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "nord/s1");
  EXPECT_EQ(got[0].value, raised.json);
  EXPECT_EQ(got[1].value, cleared.json);
  EXPECT_EQ(got[2].key, "overheat") << "a rule without key: the rule name";
  EXPECT_EQ(got[0].headers, (std::vector<std::pair<std::string, std::string>>{
                                {"vigil-id", "00000000000000a1"}, {"vigil-rule", "overheat"}, {"vigil-state", "raised"}}));
  EXPECT_EQ(got[1].headers.back().second, "cleared");
  // Nothing written since: Flush is immediate and OK.
  EXPECT_TRUE(sink->Flush().ok());
}

TEST(KafkaSinkTest, FlushFailsWhileTheBrokerIsDownAndARetryGetsThrough) {
  MockKafka kafka;
  kafka.CreateTopic("alerts", 1);
  auto sink = MakeSink(kafka, std::chrono::milliseconds(1500));
  const TestAlert first = MakeAlert("00000000000000c3", {"sud", "s2"});
  ASSERT_TRUE(sink->Write(first.view()).ok());
  ASSERT_TRUE(sink->Flush().ok());

  ASSERT_EQ(rd_kafka_mock_broker_set_down(kafka.cluster(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const TestAlert lost = MakeAlert("00000000000000d4", {"sud", "s2"});
  ASSERT_TRUE(sink->Write(lost.view()).ok()) << "queued locally even when the broker is down";
  const auto t0 = std::chrono::steady_clock::now();
  Status st = sink->Flush();
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("kafka topic 'alerts': 1 of 1 alert(s) not confirmed"), std::string::npos) << st.message();
  EXPECT_LT(took, std::chrono::milliseconds(3000)) << "Flush is bounded by the sink's timeout";

  // The broker comes back; the caller (the outbox) re-sends the batch with
  // backoff until a Flush succeeds.
  ASSERT_EQ(rd_kafka_mock_broker_set_up(kafka.cluster(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  bool delivered = false;
  for (int attempt = 0; attempt < 10 && !delivered; ++attempt) {
    ASSERT_TRUE(sink->Write(lost.view()).ok());
    delivered = sink->Flush().ok();
  }
  EXPECT_TRUE(delivered);
  auto got = kafka.ReadAll("alerts", 0, 2);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].value, first.json);
  EXPECT_EQ(got.back().value, lost.json);
}

TEST(KafkaSinkTest, UnreachableClusterFailsWithinTheTimeout) {
  KafkaSinkOptions o;
  o.brokers = "127.0.0.1:1";  // nothing listens there
  o.topic = "alerts";
  o.timeout = std::chrono::milliseconds(500);
  auto sink = KafkaSink::Create(std::move(o));
  ASSERT_TRUE(sink.ok());
  const TestAlert a = MakeAlert("00000000000000e5", {"est", "s3"});
  ASSERT_TRUE((*sink)->Write(a.view()).ok());
  Status st = (*sink)->Flush();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not confirmed"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace vigil::bridges
