// `mqtt:` sources in the rules file: topic_tags at the source level or
// inside the mqtt map (as DESIGN.md writes it), checked the same way and
// reported where it was written.
#include "mqtt/mqtt_config.h"

#include <gtest/gtest.h>

#include <string>

#include "vigil/bridges/bridge_factory.h"

namespace vigil::bridges {
namespace {

std::string Errors(const std::string& sources, RulesFile* file) {
  ConfigErrors errors("r.yaml");
  EXPECT_TRUE(LoadRulesText("sources:\n" + sources + "rules: []\n", "r.yaml", file, errors));
  CheckBridges(*file, errors);
  std::string s;
  for (const auto& e : errors.Formatted()) s += e + "\n";
  return s;
}

TEST(MqttConfigTest, TopicTagsInsideTheMqttMap) {
  RulesFile file;
  EXPECT_EQ(Errors("  - name: warehouse\n"
                   "    mqtt:  {url: tcp://127.0.0.1:1883, topics: [\"entrepot/+/+/v1\"], qos: 1,\n"
                   "            topic_tags: \"entrepot/{zone}/{sensor}/v1\"}\n",
                   &file),
            "");
  ASSERT_EQ(file.sources.size(), 1u);
  EXPECT_EQ(file.sources[0].topic_tags, (std::vector<std::string>{"entrepot/{zone}/{sensor}/v1"}));
}

TEST(MqttConfigTest, ABadTemplateIsReportedWhereItIsWritten) {
  RulesFile inner, outer;
  const std::string in = Errors("  - name: w\n"
                                "    mqtt: {url: tcp://127.0.0.1:1883, topics: [a], topic_tags: \"a/{zone\"}\n",
                                &inner);
  EXPECT_NE(in.find("r.yaml:3:64: source 'w': topic_tags: "), std::string::npos) << in;
  const std::string out = Errors("  - name: w\n"
                                 "    mqtt: {url: tcp://127.0.0.1:1883, topics: [a]}\n"
                                 "    topic_tags: \"a/{zone\"\n",
                                 &outer);
  EXPECT_NE(out.find("r.yaml:4:17: source 'w': topic_tags: "), std::string::npos) << out;
}

TEST(MqttConfigTest, TopicTagsNeedASourceWithTopics) {
  RulesFile file;
  const std::string e = Errors("  - name: f\n"
                               "    file: {path: x.ndjson}\n"
                               "    topic_tags: \"a/{zone}\"\n",
                               &file);
  EXPECT_NE(e.find("r.yaml:4:17: source 'f': topic_tags needs a source with topics (mqtt)"), std::string::npos) << e;
}

}  // namespace
}  // namespace vigil::bridges
