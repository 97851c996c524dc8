// Tests for the `vigil sim` warehouse generator: determinism, order, message
// shape, --count, each anomaly's visible effect, timestamp formats, option
// validation and CLI parsing. Messages are checked with simdjson.
#include "sim/warehouse_sim.h"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <sstream>

namespace vigil::sim {
namespace {

struct Message {
  bool ok = false;  // parsed as a JSON object with the required keys
  int64_t ts = 0;
  std::string device;
  std::string zone;
  std::optional<double> temp;
  std::optional<double> hum;
  int64_t alert_level = -1;
};

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string Generate(const SimOptions& opts) {
  std::ostringstream out;
  auto lines = GenerateWarehouse(opts, out);
  EXPECT_TRUE(lines.ok()) << lines.status().ToString();
  return out.str();
}

// Parses one line; ok is false for anything but an object with ts (or
// timestamp), device, zone, alert_level and version "v1".
Message Parse(simdjson::dom::parser& parser, const std::string& line, TsFormat format) {
  Message m;
  simdjson::dom::element doc;
  if (parser.parse(line).get(doc) != simdjson::SUCCESS) return m;
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return m;
  std::string_view device, zone, version;
  if (obj["device"].get_string().get(device) || obj["zone"].get_string().get(zone) ||
      obj["version"].get_string().get(version) || obj["alert_level"].get_int64().get(m.alert_level)) {
    return m;
  }
  if (version != "v1") return m;
  m.device = std::string(device);
  m.zone = std::string(zone);
  switch (format) {
    case TsFormat::kMillis:
      if (obj["ts"].get_int64().get(m.ts)) return m;
      break;
    case TsFormat::kSeconds: {
      double seconds = 0;
      if (obj["ts"].get_double().get(seconds)) return m;
      m.ts = std::llround(seconds * 1000);
      break;
    }
    case TsFormat::kIso: {
      std::string_view iso;
      if (obj["timestamp"].get_string().get(iso)) return m;
      auto ms = ParseSimStart(iso);
      if (!ms.ok()) return m;
      m.ts = *ms;
      break;
    }
  }
  double v = 0;
  if (obj["temp"].get_double().get(v) == simdjson::SUCCESS) m.temp = v;
  if (obj["hum"].get_double().get(v) == simdjson::SUCCESS) m.hum = v;
  size_t keys = 0;
  for (auto field : obj) {
    (void)field;
    ++keys;
  }
  m.ok = keys == 5u + m.temp.has_value() + m.hum.has_value();
  return m;
}

std::vector<Message> ParseAll(const std::string& text, TsFormat format = TsFormat::kMillis) {
  simdjson::dom::parser parser;
  std::vector<Message> out;
  for (const auto& line : SplitLines(text)) out.push_back(Parse(parser, line, format));
  return out;
}

std::map<std::string, std::vector<Message>> ByDevice(const std::vector<Message>& msgs) {
  std::map<std::string, std::vector<Message>> by;
  for (const auto& m : msgs) {
    if (m.ok) by[m.device].push_back(m);
  }
  return by;
}

SimOptions WithAnomalies(std::vector<std::string> anomalies, int64_t duration_ms = 2 * 3600000) {
  SimOptions opts;
  opts.duration_ms = duration_ms;
  opts.anomalies = std::move(anomalies);
  return opts;
}

// Longest run of consecutive equal temps for one device's readings.
int LongestEqualRun(const std::vector<Message>& msgs) {
  int best = 0, run = 0;
  std::optional<double> last;
  for (const auto& m : msgs) {
    if (!m.temp) continue;
    run = (last && *last == *m.temp) ? run + 1 : 1;
    last = m.temp;
    best = std::max(best, run);
  }
  return best;
}

int64_t LargestGap(const std::vector<Message>& msgs) {
  int64_t gap = 0;
  for (size_t i = 1; i < msgs.size(); ++i) gap = std::max(gap, msgs[i].ts - msgs[i - 1].ts);
  return gap;
}

TEST(WarehouseSimTest, SameOptionsGiveSameBytes) {
  SimOptions opts = WithAnomalies({"all"});
  const std::string a = Generate(opts);
  const std::string b = Generate(opts);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  opts.seed = 43;
  EXPECT_NE(a, Generate(opts));
}

TEST(WarehouseSimTest, MatchesGoldenBytes) {
  // Pins the byte stream on every platform: a change here changes every
  // seeded dataset (and any golden file made with `vigil sim`).
  SimOptions opts;
  opts.count = 3;
  EXPECT_EQ(Generate(opts),
            "{\"ts\":1732233600312,\"device\":\"d-0021\",\"zone\":\"sud\",\"temp\":19.8,\"hum\":40.7,"
            "\"alert_level\":0,\"version\":\"v1\"}\n"
            "{\"ts\":1732233601854,\"device\":\"d-0026\",\"zone\":\"est\",\"temp\":23.56,\"hum\":67.1,"
            "\"alert_level\":0,\"version\":\"v1\"}\n"
            "{\"ts\":1732233602143,\"device\":\"d-0025\",\"zone\":\"sud\",\"temp\":19.82,\"hum\":65.5,"
            "\"alert_level\":0,\"version\":\"v1\"}\n");
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a 64 of a 2 h run with every anomaly
  for (unsigned char c : Generate(WithAnomalies({"all"}))) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  EXPECT_EQ(hash, 0x62deafe6db731861ULL);
}

TEST(WarehouseSimTest, OrderedByEventTimeWithinRun) {
  SimOptions opts = WithAnomalies({"all"});
  opts.start_ms = 1732233600000;
  auto gen = WarehouseGenerator::Create(opts);
  ASSERT_TRUE(gen.ok());
  std::string line;
  int64_t ts = 0, last = 0, n = 0;
  while (gen->Next(&line, &ts)) {
    EXPECT_GE(ts, last);
    EXPECT_GE(ts, opts.start_ms);
    EXPECT_LT(ts, opts.start_ms + opts.duration_ms);
    EXPECT_FALSE(gen->device().empty());
    EXPECT_FALSE(gen->zone().empty());
    last = ts;
    ++n;
  }
  EXPECT_EQ(n, gen->lines_emitted());
  EXPECT_GT(n, 20000);  // 30 devices every 10 s for 2 h, minus dropouts
}

TEST(WarehouseSimTest, EveryLineIsAnObjectWithExpectedKeys) {
  SimOptions opts = WithAnomalies({"spike", "drift", "dropout", "stuck"});
  const auto msgs = ParseAll(Generate(opts));
  int missing_temp = 0, missing_hum = 0;
  std::set<std::string> devices;
  int64_t last = 0;
  for (const auto& m : msgs) {
    ASSERT_TRUE(m.ok);
    EXPECT_TRUE(m.temp || m.hum);
    missing_temp += !m.temp;
    missing_hum += !m.hum;
    EXPECT_GE(m.ts, last);
    last = m.ts;
    EXPECT_GE(m.alert_level, 0);
    EXPECT_LE(m.alert_level, 3);
    devices.insert(m.device);
    // Round-robin zones.
    const int index = std::stoi(m.device.substr(2));
    EXPECT_EQ(m.zone, opts.zones[index % opts.zones.size()]);
  }
  EXPECT_EQ(devices.size(), 30u);
  EXPECT_TRUE(devices.count("d-0000"));
  EXPECT_TRUE(devices.count("d-0029"));
  // About 0.5% each.
  EXPECT_GT(missing_temp, msgs.size() / 1000);
  EXPECT_LT(missing_temp, msgs.size() / 70);
  EXPECT_GT(missing_hum, msgs.size() / 1000);
  EXPECT_LT(missing_hum, msgs.size() / 70);
}

TEST(WarehouseSimTest, NormalValuesStayInRange) {
  SimOptions opts;
  opts.duration_ms = 24 * 3600000LL;
  opts.period_ms = 60000;
  const auto msgs = ParseAll(Generate(opts));
  for (const auto& m : msgs) {
    ASSERT_TRUE(m.ok);
    if (m.temp) {
      EXPECT_GT(*m.temp, 17.0);
      EXPECT_LT(*m.temp, 28.5);
      EXPECT_EQ(m.alert_level, *m.temp >= 27.0 ? 1 : 0);
    }
    if (m.hum) {
      EXPECT_GT(*m.hum, 24.0);
      EXPECT_LT(*m.hum, 71.0);
    }
  }
  // Each device reports once per period: gaps within (0.8, 1.2) periods.
  for (const auto& [device, list] : ByDevice(msgs)) {
    EXPECT_LT(LargestGap(list), 72000) << device;
    EXPECT_GT(list.size(), 1430u) << device;
  }
}

TEST(WarehouseSimTest, CountIsExact) {
  for (int64_t count : {1, 7, 12345}) {
    SimOptions opts = WithAnomalies({"all"});
    opts.count = count;
    std::ostringstream out;
    auto written = GenerateWarehouse(opts, out);
    ASSERT_TRUE(written.ok());
    EXPECT_EQ(*written, count);
    EXPECT_EQ(static_cast<int64_t>(SplitLines(out.str()).size()), count);
  }
}

TEST(WarehouseSimTest, ManyDevicesAllReport) {
  SimOptions opts;
  opts.devices = 10000;
  opts.count = 30000;
  const auto by = ByDevice(ParseAll(Generate(opts)));
  EXPECT_EQ(by.size(), 10000u);
  EXPECT_TRUE(by.count("d-9999"));
}

TEST(WarehouseSimTest, SpikeRaisesTempAboveThirtyForSeveralReadings) {
  const auto plain = ByDevice(ParseAll(Generate(WithAnomalies({}))));
  for (const auto& [device, list] : plain) {
    for (const auto& m : list) EXPECT_TRUE(!m.temp || *m.temp < 30.0) << device;
  }
  const auto spiked = ByDevice(ParseAll(Generate(WithAnomalies({"spike"}))));
  int sustained = 0;
  for (const auto& [device, list] : spiked) {
    int64_t since = -1;
    for (const auto& m : list) {
      if (!m.temp) continue;
      if (*m.temp <= 30.0) {
        since = -1;
      } else if (since < 0) {
        since = m.ts;
      } else if (m.ts - since >= 30000) {
        ++sustained;  // a `when: temp > 30, for: 30s` rule fires here
        since = -1;
      }
    }
  }
  EXPECT_GE(sustained, 1);
}

TEST(WarehouseSimTest, DriftMovesOneDeviceGradually) {
  const auto plain = ByDevice(ParseAll(Generate(WithAnomalies({}))));
  const auto drifted = ByDevice(ParseAll(Generate(WithAnomalies({"drift"}))));
  double largest = 0;
  for (const auto& [device, list] : drifted) {
    const auto& base = plain.at(device);
    ASSERT_EQ(list.size(), base.size());
    double previous = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].temp) continue;
      const double diff = *list[i].temp - *base[i].temp;
      EXPECT_LT(std::abs(diff - previous), 0.5) << device << " jumps at " << list[i].ts;
      previous = diff;
      largest = std::max(largest, std::abs(diff));
    }
  }
  EXPECT_GE(largest, 2.5);
}

TEST(WarehouseSimTest, DropoutSilencesDevicesAndAZone) {
  const auto plain = ParseAll(Generate(WithAnomalies({})));
  for (const auto& [device, list] : ByDevice(plain)) EXPECT_LT(LargestGap(list), 12000) << device;

  const auto msgs = ParseAll(Generate(WithAnomalies({"dropout"})));
  int silent_devices = 0;
  for (const auto& [device, list] : ByDevice(msgs)) silent_devices += LargestGap(list) > 60000;
  EXPECT_GE(silent_devices, 2);
  std::map<std::string, std::vector<Message>> by_zone;
  for (const auto& m : msgs) by_zone[m.zone].push_back(m);
  int silent_zones = 0;
  for (const auto& [zone, list] : by_zone) silent_zones += LargestGap(list) > 60000;
  EXPECT_GE(silent_zones, 1);
}

TEST(WarehouseSimTest, StuckRepeatsTheSameTemp) {
  int plain_longest = 0;
  for (const auto& [device, list] : ByDevice(ParseAll(Generate(WithAnomalies({}))))) {
    plain_longest = std::max(plain_longest, LongestEqualRun(list));
  }
  EXPECT_LT(plain_longest, 5);
  int stuck_longest = 0;
  for (const auto& [device, list] : ByDevice(ParseAll(Generate(WithAnomalies({"stuck"}))))) {
    stuck_longest = std::max(stuck_longest, LongestEqualRun(list));
  }
  EXPECT_GE(stuck_longest, 5);
}

TEST(WarehouseSimTest, MalformedLinesAreRareAndBroken) {
  SimOptions opts = WithAnomalies({"malformed"}, 6 * 3600000LL);
  const std::string text = Generate(opts);
  const auto lines = SplitLines(text);
  const auto msgs = ParseAll(text);
  ASSERT_EQ(lines.size(), msgs.size());
  int bad = 0, bracket = 0, trailing = 0, truncated = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (msgs[i].ok) continue;
    ++bad;
    const std::string& l = lines[i];
    if (l[0] == '[') {
      ++bracket;
    } else if (l.size() > 2 && l.substr(l.size() - 2) == "}}") {
      ++trailing;
    } else {
      EXPECT_EQ(l[0], '{');
      EXPECT_NE(l.back(), '}');
      ++truncated;
    }
  }
  // 0.2% of ~64800 lines.
  EXPECT_GT(bad, 60);
  EXPECT_LT(bad, 220);
  EXPECT_GT(bracket, 0);
  EXPECT_GT(trailing, 0);
  EXPECT_GT(truncated, 0);
}

TEST(WarehouseSimTest, AnomaliesDoNotDisturbOtherReadings) {
  // Enabling stuck changes only the stuck devices' temps, nothing else.
  const auto plain = ParseAll(Generate(WithAnomalies({})));
  const auto stuck = ParseAll(Generate(WithAnomalies({"stuck"})));
  ASSERT_EQ(plain.size(), stuck.size());
  size_t differ = 0;
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].ts, stuck[i].ts);
    EXPECT_EQ(plain[i].hum, stuck[i].hum);
    differ += plain[i].temp != stuck[i].temp;
  }
  EXPECT_GT(differ, 0u);
  EXPECT_LT(differ, plain.size() / 50);
}

TEST(WarehouseSimTest, TimestampFormats) {
  SimOptions opts;
  opts.count = 2000;
  const auto ms = ParseAll(Generate(opts), TsFormat::kMillis);
  opts.ts_format = TsFormat::kSeconds;
  const std::string seconds_text = Generate(opts);
  const auto seconds = ParseAll(seconds_text, TsFormat::kSeconds);
  opts.ts_format = TsFormat::kIso;
  const std::string iso_text = Generate(opts);
  const auto iso = ParseAll(iso_text, TsFormat::kIso);
  ASSERT_EQ(ms.size(), 2000u);
  ASSERT_EQ(seconds.size(), ms.size());
  ASSERT_EQ(iso.size(), ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    ASSERT_TRUE(ms[i].ok && seconds[i].ok && iso[i].ok) << i;
    EXPECT_EQ(seconds[i].ts, ms[i].ts);
    EXPECT_EQ(iso[i].ts, ms[i].ts);
    EXPECT_EQ(iso[i].temp, ms[i].temp);
  }
  // Seconds always carry 3 decimals; ISO is UTC with milliseconds.
  const std::string first_seconds = SplitLines(seconds_text)[0];
  EXPECT_EQ(first_seconds.find("\"ts\":1732233600."), 1u) << first_seconds;
  EXPECT_EQ(first_seconds[first_seconds.find(',') - 4], '.');
  const std::string first_iso = SplitLines(iso_text)[0];
  EXPECT_EQ(first_iso.substr(0, 28), "{\"timestamp\":\"2024-11-22T00:");
  EXPECT_EQ(first_iso[first_iso.find(',') - 6], '.') << first_iso;
  EXPECT_EQ(first_iso.substr(first_iso.find(',') - 2, 2), "Z\"") << first_iso;
}

TEST(WarehouseSimTest, IsoAcrossDaysAndYears) {
  SimOptions opts;
  opts.devices = 1;
  opts.period_ms = 3600000;
  opts.start_ms = ParseSimStart("2023-12-31T22:00:00Z").value();
  opts.count = 4;
  opts.ts_format = TsFormat::kIso;
  const auto lines = SplitLines(Generate(opts));
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2].substr(14, 11), "2024-01-01T") << lines[2];
  const auto msgs = ParseAll(Generate(opts), TsFormat::kIso);
  for (size_t i = 0; i < msgs.size(); ++i) {
    EXPECT_GE(msgs[i].ts, opts.start_ms + static_cast<int64_t>(i) * opts.period_ms);
    EXPECT_LT(msgs[i].ts, opts.start_ms + static_cast<int64_t>(i + 1) * opts.period_ms);
  }
}

TEST(WarehouseSimTest, RejectsBadOptions) {
  auto error = [](auto mutate) {
    SimOptions opts;
    mutate(opts);
    Status s = ValidateSimOptions(opts);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    return s.message();
  };
  EXPECT_TRUE(ValidateSimOptions(SimOptions()).ok());
  EXPECT_NE(error([](SimOptions& o) { o.devices = 0; }).find("--devices"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.period_ms = 0; }).find("--period"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.duration_ms = 0; }).find("--duration"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.count = -1; }).find("--count"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.zones = {}; }).find("--zones"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.zones = {"a", "a"}; }).find("twice"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.zones = {"a/b"}; }).find("a/b"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.zones = {""}; }).find("empty"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.start_ms = -1; }).find("--start"), std::string::npos);
  EXPECT_NE(error([](SimOptions& o) { o.count = 1LL << 62; o.devices = 1; }).find("9999"), std::string::npos);
  const std::string unknown = error([](SimOptions& o) { o.anomalies = {"spike", "spik3"}; });
  EXPECT_NE(unknown.find("'spik3'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("did you mean 'spike'"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("spike, drift, dropout, stuck, malformed"), std::string::npos) << unknown;
  EXPECT_EQ(error([](SimOptions& o) { o.anomalies = {"zzzzzzzz"}; }).find("did you mean"), std::string::npos);

  // Zero duration is fine when count is given.
  SimOptions by_count;
  by_count.duration_ms = 0;
  by_count.count = 10;
  EXPECT_TRUE(ValidateSimOptions(by_count).ok());

  SimOptions bad;
  bad.devices = -3;
  std::ostringstream out;
  EXPECT_FALSE(GenerateWarehouse(bad, out).ok());
  EXPECT_TRUE(out.str().empty());
  EXPECT_FALSE(WarehouseGenerator::Create(bad).ok());
}

TEST(WarehouseSimTest, ParsesDurations) {
  EXPECT_EQ(ParseSimDuration("250ms").value(), 250);
  EXPECT_EQ(ParseSimDuration("10s").value(), 10000);
  EXPECT_EQ(ParseSimDuration("5m").value(), 300000);
  EXPECT_EQ(ParseSimDuration("6h").value(), 21600000);
  EXPECT_EQ(ParseSimDuration("1d").value(), 86400000);
  EXPECT_EQ(ParseSimDuration("1h30m").value(), 5400000);
  for (const char* bad : {"", "10", "s", "10x", "1.5h", "-1s", "10 s", "99999999999999999d"}) {
    auto r = ParseSimDuration(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("10s"), std::string::npos);
    }
  }
}

TEST(WarehouseSimTest, ParsesStartTimes) {
  EXPECT_EQ(ParseSimStart("1732233600000").value(), 1732233600000);
  EXPECT_EQ(ParseSimStart("2024-11-22T00:00:00Z").value(), 1732233600000);
  EXPECT_EQ(ParseSimStart("2024-11-22").value(), 1732233600000);
  EXPECT_EQ(ParseSimStart("2024-11-22T00:00:00.097Z").value(), 1732233600097);
  EXPECT_EQ(ParseSimStart("2024-11-22T01:00:00+01:00").value(), 1732233600000);
  EXPECT_EQ(ParseSimStart("2024-11-21 19:00-0500").value(), 1732233600000);
  EXPECT_EQ(ParseSimStart("2019-04-28T12:59:36.599Z").value(), 1556456376599);
  EXPECT_EQ(ParseSimStart("1970-01-01T00:00:00Z").value(), 0);
  for (const char* bad : {"", "yesterday", "2024-02-30", "2024-13-01", "2024-11-22T25:00Z", "2024-11-22T00:00:00Q",
                          "1969-12-31T23:59:59Z"}) {
    EXPECT_FALSE(ParseSimStart(bad).ok()) << bad;
  }
}

TEST(WarehouseSimTest, CliOptions) {
  CLI::App app("vigil");
  CLI::App* sub = app.add_subcommand("sim");
  SimOptions opts;
  std::string out_path = "unset";
  AddSimOptions(sub, &opts, &out_path);
  app.parse(
      "sim --devices 12 --zones a,b,c --duration 6h --period 30s --seed 7 --anomalies spike,drift --ts iso "
      "--start 2024-01-01T00:00:00Z --count 99",
      false);
  EXPECT_EQ(opts.devices, 12);
  EXPECT_EQ(opts.zones, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(opts.duration_ms, 21600000);
  EXPECT_EQ(opts.period_ms, 30000);
  EXPECT_EQ(opts.seed, 7u);
  EXPECT_EQ(opts.anomalies, (std::vector<std::string>{"spike", "drift"}));
  EXPECT_EQ(opts.ts_format, TsFormat::kIso);
  EXPECT_EQ(opts.start_ms, 1704067200000);
  EXPECT_EQ(opts.count, 99);
  EXPECT_EQ(out_path, "unset");  // caller's default survives when --out is absent
  EXPECT_TRUE(ValidateSimOptions(opts).ok());

  CLI::App app2("vigil");
  CLI::App* sub2 = app2.add_subcommand("sim");
  SimOptions defaults;
  std::string out2 = "-";
  AddSimOptions(sub2, &defaults, &out2);
  app2.parse("sim --ts s --out data.ndjson --start 1732233600000", false);
  EXPECT_EQ(defaults.ts_format, TsFormat::kSeconds);
  EXPECT_EQ(out2, "data.ndjson");
  EXPECT_EQ(defaults.zones.size(), 4u);
  EXPECT_EQ(defaults.duration_ms, 3600000);

  for (const char* bad : {"sim --duration 10", "sim --period 5x", "sim --ts nanos", "sim --start tomorrow"}) {
    CLI::App app3("vigil");
    CLI::App* sub3 = app3.add_subcommand("sim");
    SimOptions o;
    std::string p;
    AddSimOptions(sub3, &o, &p);
    EXPECT_THROW(app3.parse(bad, false), CLI::ParseError) << bad;
  }
}

}  // namespace
}  // namespace vigil::sim
