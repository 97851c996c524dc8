// MQTT topic filters and templates (bridges/src/mqtt/topic_pattern.h,
// vigil/engine/topic_filter.h).
#include "mqtt/topic_pattern.h"

#include <gtest/gtest.h>

#include <map>

namespace vigil::bridges {
namespace {

TEST(TopicFilterTest, WildcardsFollowTheMqttSpec) {
  EXPECT_TRUE(TopicMatches("entrepot/+/+/v1", "entrepot/nord/s1/v1"));
  EXPECT_FALSE(TopicMatches("entrepot/+/+/v1", "entrepot/nord/s1/v2"));
  EXPECT_FALSE(TopicMatches("entrepot/+/+/v1", "entrepot/nord/v1"));
  EXPECT_FALSE(TopicMatches("entrepot/+/+/v1", "entrepot/nord/s1/v1/x"));
  EXPECT_TRUE(TopicMatches("entrepot/#", "entrepot/nord/s1/v1"));
  EXPECT_TRUE(TopicMatches("entrepot/#", "entrepot"));  // '#' includes the parent level
  EXPECT_FALSE(TopicMatches("entrepot/#", "entrepots/x"));
  EXPECT_TRUE(TopicMatches("#", "a/b/c"));
  EXPECT_TRUE(TopicMatches("+/+", "a/"));                // empty levels are levels
  EXPECT_FALSE(TopicMatches("+", "a/b"));
  EXPECT_TRUE(TopicMatches("entrepot/+/temp/#", "entrepot/nord/temp/v1"));
  EXPECT_FALSE(TopicMatches("entrepot/+/temp/#", "entrepot/nord/hum/v1"));
  EXPECT_FALSE(TopicMatches("#", "$SYS/broker/uptime"));  // $ topics need an explicit first level
  EXPECT_FALSE(TopicMatches("+/broker/uptime", "$SYS/broker/uptime"));
  EXPECT_TRUE(TopicMatches("$SYS/#", "$SYS/broker/uptime"));
  EXPECT_TRUE(TopicMatches("a/b", "a/b"));
  EXPECT_FALSE(TopicMatches("a/b", "a/b/"));
}

TEST(TopicFilterTest, BadFiltersAreExplained) {
  EXPECT_EQ(CheckTopicFilter("a/+/b/#"), "");
  EXPECT_NE(CheckTopicFilter(""), "");
  EXPECT_NE(CheckTopicFilter("a/#/b"), "");
  EXPECT_NE(CheckTopicFilter("a/b#"), "");
  EXPECT_NE(CheckTopicFilter("a/b+/c"), "");
}

TEST(TopicTagTemplateTest, ExtractsTagsFromFittingTopicsOnly) {
  auto t = TopicTagTemplate::Parse("entrepot/{zone}/{sensor}/v1");
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->tag_names(), (std::vector<std::string>{"zone", "sensor"}));
  std::map<int, std::string> got;
  EXPECT_TRUE(t->Extract("entrepot/nord/s-12/v1", [&](int i, std::string_view v) { got[i] = std::string(v); }));
  EXPECT_EQ(got[0], "nord");
  EXPECT_EQ(got[1], "s-12");
  got.clear();
  auto collect = [&](int i, std::string_view v) { got[i] = std::string(v); };
  EXPECT_FALSE(t->Extract("entrepot/nord/s-12/v2", collect));
  EXPECT_FALSE(t->Extract("entrepot/nord/s-12", collect));
  EXPECT_FALSE(t->Extract("entrepot/nord/s-12/v1/extra", collect));
  EXPECT_FALSE(t->Extract("entrepot/heartbeat/nord", collect));
  EXPECT_TRUE(got.empty());
}

TEST(TopicTagTemplateTest, RejectsMalformedTemplates) {
  EXPECT_FALSE(TopicTagTemplate::Parse("entrepot/zone/v1").ok());       // no tag
  EXPECT_FALSE(TopicTagTemplate::Parse("entrepot/{zone}x/v1").ok());    // not a whole level
  EXPECT_FALSE(TopicTagTemplate::Parse("entrepot/{}/v1").ok());
  EXPECT_FALSE(TopicTagTemplate::Parse("entrepot/+/{zone}").ok());
  EXPECT_FALSE(TopicTagTemplate::Parse("{zone}/{zone}").ok());
}

TEST(TopicTemplateTest, RendersPlaceholdersAndNeutralisesWildcards) {
  auto t = TopicTemplate::Parse("alerts/{rule}/{zone}");
  ASSERT_TRUE(t.ok());
  const std::string rule = "hot", zone = "a/b+#";
  auto lookup = [&](const std::string& name) -> const std::string* {
    if (name == "rule") return &rule;
    if (name == "zone") return &zone;
    return nullptr;
  };
  EXPECT_EQ(t->Render(lookup), "alerts/hot/a_b__");
  auto missing = TopicTemplate::Parse("alerts/{rule}/{sensor}");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->Render(lookup), "alerts/hot/_");
  EXPECT_FALSE(TopicTemplate::Parse("alerts/#").ok());
  EXPECT_FALSE(TopicTemplate::Parse("alerts/{rule").ok());
}

}  // namespace
}  // namespace vigil::bridges
