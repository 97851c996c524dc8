// `kafka:` sources and sinks in the rules file: what `vigil check` reports.
#include <gtest/gtest.h>

#include <string>

#include "kafka/kafka_config.h"
#include "vigil/bridges/bridge_factory.h"

namespace vigil::bridges {
namespace {

std::vector<std::string> Errors(const std::string& yaml) {
  RulesFile file;
  ConfigErrors errors("r.yaml");
  EXPECT_TRUE(LoadRulesText(yaml + "rules:\n  - {name: r, key: [device], when: temp > 1}\n", "r.yaml", &file, errors));
  CheckBridges(file, errors);
  return errors.Formatted();
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& e : v) s += e + "\n";
  return s;
}

TEST(KafkaConfigTest, AValidSourceAndSinkPass) {
  auto e = Errors(
      "sources:\n"
      "  - name: k\n"
      "    kafka: {brokers: [\"127.0.0.1:9092\"], topics: [data, \"^site-[0-9]+$\"], group: vigil, key_tag: device,\n"
      "            start: latest, properties: {security.protocol: SASL_SSL, sasl.mechanism: PLAIN,\n"
      "            sasl.username: u, session.timeout.ms: 6000}, password_env: PW}\n"
      "sinks:\n"
      "  - kafka: {brokers: \"127.0.0.1:9092\", topic: alerts, timeout: 5s, properties: {compression.type: lz4}}\n");
  EXPECT_TRUE(e.empty()) << Joined(e);
}

TEST(KafkaConfigTest, ReportsEachErrorWithItsPosition) {
  auto e = Errors(
      "sources:\n"
      "  - name: k\n"
      "    kafka: {brokers: \"127.0.0.1:9092\", topics: [\"^bad(\", \"no spaces\"], strat: earliest,\n"
      "            properties: {group.id: x, sasl.password: secret, sesion.timeout.ms: 1, security.protocol: NOPE}}\n"
      "sinks:\n"
      "  - kafka: {topic: alerts, timeout: 1ms}\n");
  const std::string all = Joined(e);
  EXPECT_NE(all.find("r.yaml:3:12: kafka source 'k' needs 'group'"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown key 'strat'"), std::string::npos) << all;
  EXPECT_NE(all.find("did you mean 'start'"), std::string::npos) << all;
  EXPECT_NE(all.find("topic pattern '^bad(' is not a valid regular expression"), std::string::npos) << all;
  EXPECT_NE(all.find("'no spaces' is not a Kafka topic name"), std::string::npos) << all;
  EXPECT_NE(all.find("r.yaml:4:26: kafka source 'k': property 'group.id' cannot be set here: set it with 'group'"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("property 'sasl.password' cannot be set here: secrets do not belong"), std::string::npos) << all;
  EXPECT_NE(all.find("property 'sesion.timeout.ms' is not passed to Kafka (did you mean 'session.timeout.ms'?)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("kafka property 'security.protocol'"), std::string::npos) << all;
  EXPECT_EQ(all.find("sink 'kafka' needs 'brokers'"), std::string::npos) << "brokers are inherited: " << all;
  EXPECT_NE(all.find("timeout must be between 100ms and 1h"), std::string::npos) << all;
  EXPECT_EQ(all.find("secret"), all.find("secrets")) << "a secret value is never echoed";
}

TEST(KafkaConfigTest, TopicTagsAreRefusedOnKafka) {
  auto e = Errors(
      "sources:\n"
      "  - name: k\n"
      "    topic_tags: \"a/{zone}\"\n"
      "    kafka: {brokers: \"h:1\", topics: t, group: g}\n");
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_NE(e[0].find("topic_tags is for MQTT topics; use key_tag"), std::string::npos) << e[0];
}

TEST(KafkaConfigTest, TopicTagsInsideKafkaAreRefusedToo) {
  auto e = Errors(
      "sources:\n"
      "  - name: k\n"
      "    kafka: {brokers: \"h:1\", topics: t, group: g, topic_tags: \"a/{zone}\"}\n");
  ASSERT_EQ(e.size(), 1u) << Joined(e);
  EXPECT_EQ(e[0].rfind("r.yaml:3:62: kafka source 'k': topic_tags is for MQTT topics", 0), 0u) << e[0];
}

TEST(KafkaConfigTest, ASinkWithoutBrokersPasses) {
  // DESIGN.md's example: `kafka: {topic: alerts}` beside an mqtt source only
  // (127.0.0.1:9092), or beside a kafka source (its brokers and security).
  EXPECT_TRUE(Errors("sinks:\n  - kafka: {topic: alerts}\n").empty());
  auto e = Errors(
      "sources:\n"
      "  - name: k\n"
      "    kafka: {brokers: \"h:1\", topics: t, group: g, properties: {security.protocol: SASL_SSL,\n"
      "            sasl.mechanism: PLAIN, sasl.username: u, session.timeout.ms: 6000}, password_env: PW}\n"
      "sinks:\n"
      "  - kafka: {topic: alerts, properties: {linger.ms: 5}}\n");
  EXPECT_TRUE(e.empty()) << Joined(e);
}

class LinesLogger final : public Logger {
 public:
  void Log(LogLevel, std::string_view message) override { lines += std::string(message) + "\n"; }
  std::string lines;
};

RulesFile Loaded(const std::string& yaml) {
  RulesFile file;
  ConfigErrors errors("r.yaml");
  EXPECT_TRUE(LoadRulesText(yaml + "rules: []\n", "r.yaml", &file, errors));
  EXPECT_TRUE(errors.empty());
  return file;
}

TEST(KafkaConfigTest, ASinkWithoutBrokersInheritsThoseOfTheFirstKafkaSource) {
  RulesFile file = Loaded(
      "sources:\n"
      "  - {name: m, mqtt: {url: tcp://127.0.0.1:1, topics: [a]}}\n"
      "  - {name: k, kafka: {brokers: [\"127.0.0.1:1\", \"127.0.0.1:2\"], topics: t, group: g,\n"
      "     properties: {client.id: c, session.timeout.ms: 6000}}}\n"
      "  - {name: k2, kafka: {brokers: \"127.0.0.1:3\", topics: t, group: g}}\n"
      "sinks:\n"
      "  - kafka: {topic: alerts}\n");
  LinesLogger log;
  auto sink = BuildKafkaSink(file.sinks[0], file, &log);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_NE(log.lines.find("no 'brokers': using 127.0.0.1:1,127.0.0.1:2 and the security settings of kafka source 'k'"),
            std::string::npos)
      << log.lines;
}

TEST(KafkaConfigTest, AnInheritedPasswordIsReadLikeTheSourcesOwn) {
  RulesFile file = Loaded(
      "sources:\n"
      "  - {name: k, kafka: {brokers: \"127.0.0.1:1\", topics: t, group: g, password_env: VIGIL_TEST_UNSET_PW}}\n"
      "sinks:\n"
      "  - kafka: {topic: alerts}\n"
      "  - kafka: {brokers: \"127.0.0.1:1\", topic: alerts}\n");
  auto inherited = BuildKafkaSink(file.sinks[0], file, nullptr);
  ASSERT_FALSE(inherited.ok());
  EXPECT_NE(inherited.status().message().find("password_env names 'VIGIL_TEST_UNSET_PW'"), std::string::npos)
      << inherited.status().message();
  EXPECT_TRUE(BuildKafkaSink(file.sinks[1], file, nullptr).ok()) << "a sink with its own brokers inherits nothing";
}

TEST(KafkaConfigTest, WithoutAnyKafkaSourceTheSinkUsesTheLocalDefault) {
  RulesFile file = Loaded("sinks:\n  - kafka: {topic: alerts}\n");
  LinesLogger log;
  auto sink = BuildKafkaSink(file.sinks[0], file, &log);
  ASSERT_TRUE(sink.ok()) << sink.status().message();
  EXPECT_NE(log.lines.find("no 'brokers': using 127.0.0.1:9092 (the default)"), std::string::npos) << log.lines;
}

}  // namespace
}  // namespace vigil::bridges
