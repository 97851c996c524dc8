// Pipeline (engine/src/pipeline/pipeline.cc) with its real threads: the
// router (this test), shard threads and the alert thread, with small rings
// and batches so that backpressure happens, checkpoint barriers on the way,
// and a scraper thread reading the live telemetry meanwhile. The alerts must
// not depend on the shard count. Built also under ThreadSanitizer
// (scripts/test.sh --tsan) to find races between those threads.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/pipeline.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"
#include "vigil/rules/rule_loader.h"

namespace vigil {
namespace {

std::string Rules() {
  return std::string(R"(
- {name: hot, key: [dev], when: x > 7, for: 2s, clear_when: x < 3}
- {name: slide, key: [dev], when: "avg(x, 10s) > 6 and count(x, 10s) >= 3"}
- {name: win, key: [zone], window: {size: 10s, every: 5s}, when: avg(x) > 5, clear_when: avg(x) < 4}
- {name: quiet, key: [dev], deadman: 5s}
- name: kurt
  key: [dev]
  plugin: {path: )") + VIGIL_KURTOSIS_PLUGIN + R"(, config: {field: x, samples: 8, limit: 1, clear_below: 0}}
)";
}

class Collector final : public AlertConsumer {
 public:
  void Consume(const AlertRecord& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    alerts_.push_back(a);
  }
  std::vector<AlertRecord> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(alerts_);
  }

 private:
  std::mutex mu_;
  std::vector<AlertRecord> alerts_;
};

class CountingListener final : public CheckpointListener {
 public:
  void OnShardState(uint64_t, uint32_t, StateDelta delta) override {
    shard_states.fetch_add(1);
    entries.fetch_add(delta.entries.size());
  }
  void OnAlertsSynced(uint64_t, bool synced) override { synced_barriers.fetch_add(synced ? 1 : 0); }
  std::atomic<uint64_t> shard_states{0}, entries{0}, synced_barriers{0};
};

struct Msg {
  int64_t ts;
  std::string dev, zone;
  double x;
};

std::vector<Msg> Stream(uint32_t seed, size_t n) {
  std::mt19937 rng(seed);
  std::vector<Msg> out;
  int64_t ts = 1700000000000;
  for (size_t i = 0; i < n; ++i) {
    ts += static_cast<int64_t>(rng() % 400);
    if (rng() % 500 == 0) ts += 8000;  // silences for the deadman
    const int dev = static_cast<int>(rng() % 40);
    out.push_back({ts, "d" + std::to_string(dev), dev % 3 == 0 ? "nord" : dev % 3 == 1 ? "sud" : "est",
                   static_cast<double>(rng() % 11)});
  }
  return out;
}

// (rule, key values, state, ts, raise ts, count) of every alert, sorted.
using Row = std::tuple<uint32_t, std::vector<std::string>, int, int64_t, int64_t, uint32_t>;

std::vector<Row> RunPipeline(const std::vector<Msg>& stream, uint32_t shards, CountingListener* listener) {
  Schema schema;
  TagInterner tags;
  ConfigErrors errors("pipeline_test");
  auto rules = rules::CompileRules(YAML::Load(Rules()), &schema, &tags, errors);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.Formatted()[0]);
  KeyTable keys(shards);
  PipelineOptions options;
  options.shards = shards;
  options.batch_size = 16;   // small batches and rings: the router blocks on full rings
  options.ring_batches = 2;
  options.alert_ring = 64;
  options.checkpoints = listener;
  options.track_latest = true;
  Collector collector;
  Pipeline pipeline(schema, &tags, &keys, rules, options, &collector);
  EXPECT_TRUE(pipeline.Start().ok());

  // A scraper reading what /metrics and the API read, while the pipeline runs.
  std::atomic<bool> done{false};
  std::atomic<uint64_t> scrapes{0};
  std::thread scraper([&] {
    while (!done.load()) {
      uint64_t sum = 0;
      for (uint32_t s = 0; s < shards; ++s) sum += pipeline.Telemetry(s).events;
      for (uint32_t r = 0; r < rules.size(); ++r) sum += pipeline.RuleEvaluations(r) + pipeline.RuleErrors(r);
      sum += pipeline.LateEvents(0);
      LatencyHistogram h;
      pipeline.MergeLatency(&h);
      pipeline.ForEachLatest([&](const LatestValues& v) {
        sum += static_cast<uint64_t>(v.ts != 0);
        return true;
      });
      scrapes.fetch_add(sum > 0 ? 1 : 0);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });

  const int x = schema.FindField("x");
  const int dev = schema.FindTag("dev");
  const int zone = schema.FindTag("zone");
  ParsedMessage m;
  int64_t watermark = kMinTime;
  uint64_t barrier = 0;
  pipeline.SetStart(stream.front().ts);
  for (size_t i = 0; i < stream.size(); ++i) {
    const Msg& s = stream[i];
    m.has_ts = true;
    m.ts = s.ts;
    m.fields.assign(schema.field_count(), NullValue());
    m.tags.assign(schema.tag_count(), kNoTag);
    m.fields[x] = s.x;
    m.tags[dev] = tags.Intern(s.dev);
    m.tags[zone] = tags.Intern(s.zone);
    watermark = std::max(watermark, s.ts);
    pipeline.Route(m, 0, watermark, i % 16 == 0 ? 1 : 0);
    if (i % 997 == 0) pipeline.Barrier(++barrier, watermark);
  }
  pipeline.Finish(watermark, /*end_of_input=*/true);
  done = true;
  scraper.join();
  EXPECT_GT(scrapes.load(), 0u);

  std::vector<Row> rows;
  for (const AlertRecord& a : collector.Take()) {
    rows.emplace_back(a.rule, keys.Get(a.key).values, static_cast<int>(a.state), a.ts, a.raise_ts, a.count);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(PipelineTest, AlertsDoNotDependOnTheShardCountUnderBackpressure) {
  const auto stream = Stream(5, 20000);
  CountingListener l1, l2, l4;
  const auto one = RunPipeline(stream, 1, &l1);
  ASSERT_GT(one.size(), 100u);
  std::vector<int> per_rule(5, 0);
  for (const Row& r : one) ++per_rule[std::get<0>(r)];
  for (int i = 0; i < 5; ++i) EXPECT_GT(per_rule[i], 0) << "rule " << i << " never alerted";
  EXPECT_EQ(RunPipeline(stream, 2, &l2), one);
  EXPECT_EQ(RunPipeline(stream, 4, &l4), one);
  // Barriers reached every shard and the alert thread.
  const uint64_t barriers = (20000 + 996) / 997;
  EXPECT_EQ(l1.shard_states.load(), barriers * 1);
  EXPECT_EQ(l4.shard_states.load(), barriers * 4);
  EXPECT_EQ(l4.synced_barriers.load(), barriers);
  EXPECT_GT(l4.entries.load(), 0u);
}

}  // namespace
}  // namespace vigil
