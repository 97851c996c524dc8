// Engine::MetricsText and RuleCountersJson on a running engine: a scripted
// source, a small test rule, real pipeline threads. Checks the values of the
// metrics against what was fed, and writes the scrape to a file that the
// `promtool_check_metrics` ctest validates with `promtool check metrics`.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>
#include <thread>

#include "engine/scripted_source.h"
#include "vigil/engine/engine.h"

namespace vigil {
namespace {

using vigil::testing::ScriptedSource;

// Raises when field 0 > 30, clears when <= 30 (per key of key list 0).
class ThresholdRule final : public Rule {
 public:
  ThresholdRule() {
    info_.name = "hot";
    info_.kind = "event";
    info_.severity = "critical";
    info_.key_tags = {"device"};
    info_.keylist = 0;
    info_.when = "temp > 30";
  }
  const RuleInfo& info() const override { return info_; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const override {
    return std::make_unique<Shard>(ctx.shard, ctx.rule_index);
  }

 private:
  class Shard final : public RuleShard {
   public:
    Shard(uint32_t shard, uint32_t index) : shard_(shard), index_(index) {}
    void OnEvent(const Event& e, AlertOutput& out) noexcept override {
      if (e.keys[0] == kNoKey || e.key_shards[0] != shard_ || IsNull(e.fields[0])) return;
      evaluations_.Add();
      bool& firing = firing_[e.keys[0]];
      const bool hot = e.fields[0] > 30;
      if (hot == firing) return;
      firing = hot;
      AlertRecord a;
      a.rule = index_;
      a.key = e.keys[0];
      a.state = hot ? AlertState::kRaised : AlertState::kCleared;
      a.ts = e.ts;
      a.raise_ts = e.ts;
      a.value = e.fields[0];
      out.Emit(a);
    }
    size_t KeyCount() const noexcept override { return firing_.size(); }
    size_t MemoryBytes() const noexcept override { return 0; }

   private:
    uint32_t shard_, index_;
    std::map<KeyId, bool> firing_;
  };
  RuleInfo info_;
};

double Value(const std::string& text, const std::string& series) {
  // series is the exact metric name with labels, e.g. vigil_events_processed_total{shard="0"}
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(EngineMetricsTest, ScrapeReflectsWhatWasFed) {
  Schema schema;
  schema.AddField("temp");
  schema.AddKeyList({"device"});
  std::vector<std::string> lines;
  for (int i = 0; i < 1000; ++i) {
    const int temp = (i % 10 == 0) ? 35 : 20;  // raise then clear, 100 times per device set
    lines.push_back("{\"ts\":" + std::to_string(1732233600000 + i * 1000) + ",\"device\":\"d" +
                    std::to_string(i % 4) + "\",\"temp\":" + std::to_string(temp) + "}");
  }
  lines.push_back("{broken");
  lines.push_back("[1,2]");
  std::atomic<bool> release{false};
  std::vector<std::unique_ptr<Source>> sources;
  sources.push_back(std::make_unique<ScriptedSource>(lines, &release));
  EngineOptions options;
  options.shards = 2;
  options.version = "9.9.9";
  options.commit = "abc123";
  NullLogger logger;
  Engine engine(std::move(schema), std::make_unique<TagInterner>(), {std::make_shared<ThresholdRule>()},
                std::move(sources), {}, nullptr, &logger, options);
  std::thread runner([&] { ASSERT_TRUE(engine.Run().ok()); });

  std::string text;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    text = engine.MetricsText();
    const double e0 = Value(text, "vigil_events_processed_total{shard=\"0\"}");
    const double e1 = Value(text, "vigil_events_processed_total{shard=\"1\"}");
    if (engine.ready() && e0 >= 0 && e1 >= 0 && e0 + e1 == 1000 &&
        Value(text, "vigil_alerts_total{rule=\"hot\",severity=\"critical\",state=\"cleared\"}") == 100) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  release = true;
  runner.join();

  EXPECT_EQ(Value(text, "vigil_messages_received_total{source=\"scripted\"}"), 1002) << text;
  EXPECT_EQ(Value(text, "vigil_messages_rejected_total{reason=\"invalid_json\",source=\"scripted\"}"), 1);
  EXPECT_EQ(Value(text, "vigil_messages_rejected_total{reason=\"not_object\",source=\"scripted\"}"), 1);
  EXPECT_EQ(Value(text, "vigil_messages_rejected_total{reason=\"too_large\",source=\"scripted\"}"), 0);
  EXPECT_EQ(Value(text, "vigil_events_processed_total{shard=\"0\"}") +
                Value(text, "vigil_events_processed_total{shard=\"1\"}"),
            1000);
  EXPECT_EQ(Value(text, "vigil_rule_evaluations_total{rule=\"hot\"}"), 1000);
  EXPECT_EQ(Value(text, "vigil_alerts_total{rule=\"hot\",severity=\"critical\",state=\"raised\"}"), 100);
  EXPECT_EQ(Value(text, "vigil_alerts_total{rule=\"hot\",severity=\"critical\",state=\"cleared\"}"), 100);
  EXPECT_EQ(Value(text, "vigil_alerts_active{rule=\"hot\",severity=\"critical\"}"), 0);
  EXPECT_EQ(Value(text, "vigil_build_info{commit=\"abc123\",version=\"9.9.9\"}"), 1);
  EXPECT_EQ(Value(text, "vigil_source_connected{source=\"scripted\"}"), 1);
  EXPECT_EQ(Value(text, "vigil_state_keys{shard=\"0\"}") + Value(text, "vigil_state_keys{shard=\"1\"}"), 4);
  EXPECT_GT(Value(text, "process_resident_memory_bytes"), 1e6);
  EXPECT_GT(Value(text, "process_open_fds"), 0);
  EXPECT_NE(text.find("# TYPE vigil_pipeline_latency_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find("vigil_pipeline_latency_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  // No per-device label anywhere: cardinality stays bounded.
  EXPECT_EQ(text.find("device="), std::string::npos);

  // For `promtool check metrics` (ctest promtool_check_metrics).
  const char* out = std::getenv("VIGIL_METRICS_SCRAPE_OUT");
  std::ofstream(out != nullptr ? std::string(out) : ::testing::TempDir() + "metrics_scrape.txt") << text;
}

TEST(EngineMetricsTest, RuleCountersJsonIsPerRule) {
  Schema schema;
  schema.AddField("temp");
  schema.AddKeyList({"device"});
  std::atomic<bool> release{true};
  std::vector<std::unique_ptr<Source>> sources;
  sources.push_back(std::make_unique<ScriptedSource>(std::vector<std::string>{}, &release));
  NullLogger logger;
  Engine engine(std::move(schema), std::make_unique<TagInterner>(), {std::make_shared<ThresholdRule>()},
                std::move(sources), {}, nullptr, &logger, EngineOptions{});
  EXPECT_EQ(engine.RuleCountersJson(), "{\"hot\":{\"evaluations\":0,\"raised\":0,\"cleared\":0,\"active\":0}}");
  ASSERT_TRUE(engine.Run().ok());
}

}  // namespace
}  // namespace vigil
