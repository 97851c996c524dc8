// Forwarder: raw points, tumbling window aggregates closed by the
// watermark, late messages, the end of input, and windows skipped after a
// restart.
#include "forward/forwarder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace vigil {
namespace {

// Records each point as "ts tag=value,... field=value,...".
class RecordingSink final : public MeasurementSink {
 public:
  explicit RecordingSink(ForwardSpec spec) : spec_(std::move(spec)) {}
  const ForwardSpec& forward() const override { return spec_; }
  void Write(const std::vector<MeasurementPoint>& points) noexcept override {
    for (const auto& p : points) {
      std::string s = std::to_string(p.ts);
      char sep = ' ';
      for (const auto& t : p.tags) {
        s += sep + std::string(t.name) + "=" + std::string(t.value);
        sep = ',';
      }
      sep = ' ';
      for (const auto& f : p.fields) {
        char buf[64];
        std::snprintf(buf, sizeof buf, f.integer ? "%.0fi" : "%g", f.value);
        s += sep + std::string(f.name) + std::string(f.suffix) + "=" + buf;
        sep = ',';
      }
      lines.push_back(s);
    }
  }
  void Drain(std::chrono::milliseconds) override {}
  std::vector<std::string> lines;

 private:
  ForwardSpec spec_;
};

struct Fixture {
  Fixture() {
    schema.AddField("temp");
    schema.AddField("hum");
    schema.AddKeyList({"zone"});
    schema.AddKeyList({"zone", "device"});
  }
  // A message with tags zone/device ("" = absent) and fields (NaN = absent).
  ParsedMessage Message(int64_t ts, const std::string& zone, const std::string& device, double temp, double hum) {
    ParsedMessage m;
    m.has_ts = true;
    m.ts = ts;
    m.fields = {temp, hum};
    m.tags.assign(schema.tag_count(), kNoTag);
    if (!zone.empty()) m.tags[schema.FindTag("zone")] = tags.Intern(zone);
    if (!device.empty()) m.tags[schema.FindTag("device")] = tags.Intern(device);
    return m;
  }
  Schema schema;
  TagInterner tags;
};

const double kNull = std::nan("");

TEST(ForwarderTest, RawIsOnePointPerMessageWithTheFinestKey) {
  Fixture fx;
  RecordingSink sink(ForwardSpec{ForwardMode::kRaw, 0, "m"});
  Forwarder f(fx.schema, fx.tags, &sink, "s");
  f.OnMessage(fx.Message(1000, "nord", "d1", 20.5, kNull), 1000);
  f.OnMessage(fx.Message(2000, "nord", "", 21, 40), 2000);
  f.OnMessage(fx.Message(3000, "", "d1", 22, 41), 3000);         // no complete key: no tags
  f.OnMessage(fx.Message(4000, "nord", "d1", kNull, kNull), 4000);  // no field: no point
  EXPECT_EQ(sink.lines, (std::vector<std::string>{"1000 zone=nord,device=d1 temp=20.5", "2000 zone=nord temp=21,hum=40",
                                                  "3000 temp=22,hum=41"}));
}

TEST(ForwarderTest, WindowsCloseWhenTheWatermarkReachesTheirEnd) {
  Fixture fx;
  RecordingSink sink(ForwardSpec{ForwardMode::kWindow, 60000, "m"});
  Forwarder f(fx.schema, fx.tags, &sink, "s");
  f.OnMessage(fx.Message(0, "nord", "d1", 10, kNull), 0);
  f.OnMessage(fx.Message(30000, "nord", "d1", 14, 50), 30000);
  f.OnMessage(fx.Message(59999, "nord", "d2", 3, kNull), 59999);
  EXPECT_TRUE(sink.lines.empty()) << "the window [0, 60000) is still open";
  f.OnMessage(fx.Message(60000, "nord", "d1", 1, kNull), 60000);  // closes [0, 60000) first
  EXPECT_EQ(sink.lines, (std::vector<std::string>{
                            "0 zone=nord,device=d1 temp_mean=12,temp_min=10,temp_max=14,temp_count=2i,hum_mean=50,"
                            "hum_min=50,hum_max=50,hum_count=1i",
                            "0 zone=nord,device=d2 temp_mean=3,temp_min=3,temp_max=3,temp_count=1i"}));
  f.OnMessage(fx.Message(59000, "nord", "d1", 99, kNull), 60000);  // its window closed: late
  EXPECT_EQ(f.late(), 1u);
  f.Advance(119999);
  EXPECT_EQ(sink.lines.size(), 2u);
  f.Advance(120000);
  ASSERT_EQ(sink.lines.size(), 3u);
  EXPECT_EQ(sink.lines[2], "60000 zone=nord,device=d1 temp_mean=1,temp_min=1,temp_max=1,temp_count=1i");
}

TEST(ForwarderTest, FinishClosesOrDropsTheOpenWindows) {
  Fixture fx;
  RecordingSink sink(ForwardSpec{ForwardMode::kWindow, 60000, "m"});
  Forwarder closing(fx.schema, fx.tags, &sink, "s");
  closing.OnMessage(fx.Message(-1, "nord", "d1", 5, kNull), -1);  // before the epoch: window [-60000, 0)
  closing.OnMessage(fx.Message(1, "nord", "d1", 7, kNull), 1);
  EXPECT_EQ(sink.lines.size(), 1u);
  EXPECT_EQ(sink.lines[0].rfind("-60000 ", 0), 0u) << sink.lines[0];
  EXPECT_EQ(closing.Finish(true), 1u);
  EXPECT_EQ(sink.lines.size(), 2u);
  Forwarder dropping(fx.schema, fx.tags, &sink, "s");
  dropping.OnMessage(fx.Message(1, "nord", "d1", 7, kNull), 1);
  EXPECT_EQ(dropping.Finish(false), 1u);
  EXPECT_EQ(sink.lines.size(), 2u);
}

TEST(ForwarderTest, AfterARestartWindowsThatMayMissEarlierMessagesAreNotWritten) {
  Fixture fx;
  RecordingSink sink(ForwardSpec{ForwardMode::kWindow, 60000, "m"});
  Forwarder f(fx.schema, fx.tags, &sink, "s");
  f.ResumeAfter(70000);  // read up to ts 70000 before the checkpoint
  f.OnMessage(fx.Message(70001, "nord", "d1", 5, kNull), 70001);
  f.OnMessage(fx.Message(120000, "nord", "d1", 6, kNull), 120000);
  EXPECT_TRUE(sink.lines.empty());
  EXPECT_EQ(f.skipped(), 1u);
  f.Finish(true);
  EXPECT_EQ(sink.lines, (std::vector<std::string>{"120000 zone=nord,device=d1 temp_mean=6,temp_min=6,temp_max=6,temp_count=1i"}));
}

}  // namespace
}  // namespace vigil
