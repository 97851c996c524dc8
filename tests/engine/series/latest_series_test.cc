// Tests for Engine::LatestSeriesJson (engine/src/series/latest_series.cc)
// on a running engine: real router and shard threads fed by a scripted
// source; the series key is the finest complete key; fields merge newest
// first; late messages are ignored; tag filters, limit and truncation; the
// errors for unknown tags, a stopped engine and track_latest off.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "engine/scripted_source.h"
#include "vigil/engine/engine.h"

namespace vigil {
namespace {

using vigil::testing::ScriptedSource;
constexpr int64_t kBase = 1732233600000;

std::string Line(int64_t dt, const std::string& tags, const std::string& fields) {
  return "{\"ts\":" + std::to_string(kBase + dt) + "," + tags + "," + fields + "}";
}

Schema WarehouseSchema() {
  Schema schema;
  schema.AddField("temp");
  schema.AddField("hum");
  schema.AddKeyList({"zone", "device"});
  schema.AddKeyList({"zone"});
  schema.AddKeyList({"site"});
  return schema;
}

class LatestSeriesTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> lines, bool track_latest = true, int64_t key_ttl_ms = 24 * 3600 * 1000) {
    std::vector<std::unique_ptr<Source>> sources;
    sources.push_back(std::make_unique<ScriptedSource>(std::move(lines), &release_, &available_));
    EngineOptions options;
    options.shards = 2;
    options.track_latest = track_latest;
    options.key_ttl_ms = key_ttl_ms;
    engine_ = std::make_unique<Engine>(WarehouseSchema(), std::make_unique<TagInterner>(),
                                       std::vector<std::shared_ptr<const Rule>>{}, std::move(sources),
                                       std::vector<std::unique_ptr<Sink>>{}, nullptr, &logger_, options);
    runner_ = std::thread([this] { EXPECT_TRUE(engine_->Run().ok()); });
  }
  // Queries until the answer contains `want` (the shards work meanwhile).
  std::string WaitFor(const SeriesQuery& q, const std::string& want) {
    std::string last;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = engine_->LatestSeriesJson(q);
      if (r.ok()) {
        last = *r;
        if (last.find(want) != std::string::npos) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return last;
  }
  void Stop() {
    release_ = true;
    available_ = SIZE_MAX;
    if (runner_.joinable()) runner_.join();
  }
  void TearDown() override { Stop(); }

  NullLogger logger_;
  std::atomic<bool> release_{false};
  std::atomic<size_t> available_{SIZE_MAX};  // lines the source may hand out so far
  std::unique_ptr<Engine> engine_;
  std::thread runner_;
};

TEST_F(LatestSeriesTest, LatestValuesPerFinestKeyFilteredByTags) {
  Start({
      Line(0, R"("zone":"nord","device":"d1")", R"("temp":20)"),
      Line(2000, R"("zone":"nord","device":"d1")", R"("hum":40)"),      // merges with temp
      Line(1500, R"("zone":"nord","device":"d2")", R"("temp":25)"),
      Line(1200, R"("zone":"sud","device":"d3","site":"s9")", R"("temp":30,"hum":50)"),
      Line(3000, R"("zone":"est")", R"("temp":5)"),                      // no device: the [zone] key
      Line(500, R"("zone":"nord","device":"d1")", R"("temp":99)"),       // older than d1's newest: ignored
      Line(2000, R"("zone":"nord","device":"d1")", R"("hum":41)"),       // same ts, later: wins
  });
  const std::string d1 = R"({"tags":{"zone":"nord","device":"d1"},"ts":)" + std::to_string(kBase + 2000) +
                         R"(,"fields":{"temp":20,"hum":41}})";
  // Every shard done: d1's last message (after the late one) shows, and so
  // does every other series.
  const std::string want = R"({"series":[{"tags":{"zone":"est"},"ts":)" + std::to_string(kBase + 3000) +
                           R"(,"fields":{"temp":5}},)" + d1 + R"(,{"tags":{"zone":"nord","device":"d2"},"ts":)" +
                           std::to_string(kBase + 1500) + R"(,"fields":{"temp":25}},)" +
                           R"({"tags":{"zone":"sud","device":"d3","site":"s9"},"ts":)" + std::to_string(kBase + 1200) +
                           R"(,"fields":{"temp":30,"hum":50}}],"truncated":false})";
  EXPECT_EQ(WaitFor(SeriesQuery{}, want), want);

  SeriesQuery nord;
  nord.tags = {{"zone", "nord"}};
  auto r = engine_->LatestSeriesJson(nord);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_NE(r->find(R"("device":"d1")"), std::string::npos) << *r;
  EXPECT_NE(r->find(R"("device":"d2")"), std::string::npos) << *r;
  EXPECT_EQ(r->find(R"("zone":"sud")"), std::string::npos) << *r;
  EXPECT_EQ(r->find(R"("zone":"est")"), std::string::npos) << *r;

  SeriesQuery one;
  one.tags = {{"zone", "nord"}, {"device", "d2"}};
  r = engine_->LatestSeriesJson(one);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, R"({"series":[{"tags":{"zone":"nord","device":"d2"},"ts":)" + std::to_string(kBase + 1500) +
                    R"(,"fields":{"temp":25}}],"truncated":false})");

  SeriesQuery site;  // a tag of another rule key than the series'
  site.tags = {{"site", "s9"}};
  r = engine_->LatestSeriesJson(site);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->find(R"("device":"d3")"), std::string::npos) << *r;
  EXPECT_EQ(r->find(R"("device":"d1")"), std::string::npos) << *r;

  SeriesQuery none;
  none.tags = {{"zone", "ouest"}};
  EXPECT_EQ(engine_->LatestSeriesJson(none).value(), R"({"series":[],"truncated":false})");

  SeriesQuery limited;
  limited.limit = 2;
  r = engine_->LatestSeriesJson(limited);
  ASSERT_TRUE(r.ok());
  size_t n = 0;
  for (size_t at = r->find("\"tags\""); at != std::string::npos; at = r->find("\"tags\"", at + 1)) ++n;
  EXPECT_EQ(n, 2u) << *r;
  EXPECT_NE(r->find(R"("truncated":true)"), std::string::npos) << *r;
  limited.limit = 4;
  EXPECT_NE(engine_->LatestSeriesJson(limited).value().find(R"("truncated":false)"), std::string::npos);

  SeriesQuery unknown;
  unknown.tags = {{"room", "1"}};
  r = engine_->LatestSeriesJson(unknown);
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "unknown tag 'room': series carry the tags of the rules' keys (zone, device, site)");

  Stop();
  r = engine_->LatestSeriesJson(SeriesQuery{});
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported) << "not running any more";
}

TEST_F(LatestSeriesTest, SeriesSilentForTheKeyTtlLeave) {
  available_ = 2;
  Start({Line(0, R"("zone":"nord","device":"d1")", R"("temp":20)"),
         Line(1000, R"("zone":"nord","device":"d2")", R"("temp":21)"),
         Line(60000, R"("zone":"nord","device":"d3")", R"("temp":22)")},
        true, /*key_ttl_ms=*/10000);
  const std::string d1 = R"({"tags":{"zone":"nord","device":"d1"})", d2 = R"({"tags":{"zone":"nord","device":"d2"})",
                    d3 = R"({"tags":{"zone":"nord","device":"d3"})";
  std::string first = WaitFor(SeriesQuery{}, d1);
  if (first.find(d2) == std::string::npos) first = WaitFor(SeriesQuery{}, d2);
  ASSERT_NE(first.find(d1), std::string::npos) << first;
  ASSERT_NE(first.find(d2), std::string::npos) << first;
  // At watermark 60 s, d1 and d2 (silent for more than 10 s) are evicted.
  available_ = 3;
  std::string last;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    last = WaitFor(SeriesQuery{}, d3);
    if (last.find(d1) == std::string::npos && last.find(d2) == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(last, R"({"series":[)" + d3 + R"(,"ts":)" + std::to_string(kBase + 60000) +
                      R"(,"fields":{"temp":22}}],"truncated":false})");
}

TEST_F(LatestSeriesTest, OffUnlessTracked) {
  Start({Line(0, R"("zone":"nord","device":"d1")", R"("temp":20)")}, /*track_latest=*/false);
  auto r = engine_->LatestSeriesJson(SeriesQuery{});
  EXPECT_EQ(r.status().code(), Status::Code::kUnsupported);
  EXPECT_NE(r.status().message().find("not kept"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace vigil
