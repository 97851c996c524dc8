// The webhook: and influxdb: sink entries of a rules file: CheckBridges
// reports each problem at its line:column (unknown keys with a suggestion,
// URL scheme, missing db/bucket, keys of the other InfluxDB version,
// forward: values, two sources for one secret, bad headers);
// BuildSinks reads the secrets (an unset variable is an error naming it and
// its position, never a secret) and builds working sinks.
#include "http/http_sinks_config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "vigil/bridges/bridge_factory.h"
#include "vigil/engine/rules_file.h"

namespace vigil::bridges {
namespace {

struct Checked {
  RulesFile file;
  std::string errors;  // formatted, one per line
};

// Loads "rules.yaml" with `sinks` as its sinks section and checks the bridges.
Checked Check(const std::string& sinks, const std::string& dir = "") {
  Checked c;
  ConfigErrors errors("rules.yaml");
  const std::string text =
      "sources:\n"
      "  - {name: data, file: {path: data.ndjson}}\n"
      "sinks:\n" +
      sinks + "rules: []\n";
  EXPECT_TRUE(LoadRulesText(text, "rules.yaml", &c.file, errors));
  c.file.directory = dir;
  CheckBridges(c.file, errors);
  for (const auto& e : errors.Formatted()) c.errors += e + "\n";
  return c;
}

bool Has(const std::string& errors, const std::string& text) { return errors.find(text) != std::string::npos; }

TEST(HttpSinksConfigTest, AcceptsGoodEntries) {
  Checked c = Check(
      "  - webhook: {url: \"http://127.0.0.1:8080/hook\", headers: {X-Foo: bar}, token_env: HOOK_TOKEN,\n"
      "              batch: true, max_batch: 50, timeout: 2s}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: entrepot, username: u, password_env: PW}\n"
      "  - influxdb: {url: \"https://influx.example:8086\", org: acme, bucket: alerts, token_file: tok.txt}\n");
  EXPECT_EQ(c.errors, "");
}

TEST(HttpSinksConfigTest, WebhookErrorsAtTheirPositions) {
  Checked c = Check(
      "  - webhook: {url: \"ftp://127.0.0.1/x\", timout: 5s}\n"
      "  - webhook: {headers: {X-Foo: bar}}\n"
      "  - webhook: {url: \"http://h/x\", token_env: A, token_file: b, headers: {Authorization: x}}\n"
      "  - webhook: {url: \"http://h/x\", timeout: 5, max_batch: 0, batch: maybe, headers: {\"bad name\": x}}\n"
      "  - webhook: \"http://h/x\"\n");
  EXPECT_TRUE(Has(c.errors, "rules.yaml:4:20: sink 'webhook' url: scheme 'ftp' is not supported (use http:// or https://)"))
      << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:4:41: unknown key 'timout' in sink 'webhook' (did you mean 'timeout'?)"))
      << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:5:14: sink 'webhook' needs a url")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:6:60: sink 'webhook': give token_env or token_file, not both")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "an Authorization header and token_env/token_file both")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:7:43: sink 'webhook' timeout must be a duration")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "sink 'webhook' max_batch must be between 1 and 10000, got 0")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "sink 'webhook' batch must be")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "'bad name' is not a valid HTTP header name")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:8:14: sink 'webhook' needs a url, e.g. webhook: {url:")) << c.errors;
}

TEST(HttpSinksConfigTest, InfluxDbErrors) {
  Checked c = Check(
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, forward: \"window:0s\"}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\"}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", version: 2, bucket: b, db: x}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, token_env: T, password_env: P}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086/?db=x\", db: x, version: 3}\n");
  EXPECT_TRUE(Has(c.errors, "rules.yaml:4:62: sink 'influxdb': forward window '0s' is not a positive duration"))
      << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:5:15: sink 'influxdb' needs db (InfluxDB 1.x) or org and bucket (InfluxDB 2.x)"))
      << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:6:15: sink 'influxdb' version 2 needs an org")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:6:73: sink 'influxdb': 'db' is for InfluxDB 1.x")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:7:64: sink 'influxdb': 'token_env' is for InfluxDB 2.x")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:7:81: sink 'influxdb': a password needs a username")) << c.errors;
  EXPECT_TRUE(Has(c.errors, "rules.yaml:8:21: sink 'influxdb' url must be the server's base URL without a query"))
      << c.errors;
  EXPECT_TRUE(Has(c.errors, "sink 'influxdb' version must be between 1 and 2, got 3")) << c.errors;
}

TEST(HttpSinksConfigTest, InfluxDbForward) {
  Checked ok = Check(
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, forward: raw}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, forward: window:1m, measurement: m, forward_queue: 10}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x}\n");
  ASSERT_EQ(ok.errors, "");
  auto sinks = BuildSinks(ok.file, false);
  ASSERT_TRUE(sinks.ok()) << sinks.status().message();
  ASSERT_EQ(sinks->size(), 3u);
  MeasurementSink* raw = (*sinks)[0]->measurement_sink();
  MeasurementSink* window = (*sinks)[1]->measurement_sink();
  ASSERT_NE(raw, nullptr);
  ASSERT_NE(window, nullptr);
  EXPECT_EQ((*sinks)[2]->measurement_sink(), nullptr) << "no forward: no measurement sink";
  EXPECT_EQ(raw->forward().mode, ForwardMode::kRaw);
  EXPECT_EQ(raw->forward().measurement, "vigil_measurements");
  EXPECT_EQ(window->forward().mode, ForwardMode::kWindow);
  EXPECT_EQ(window->forward().window_ms, 60000);
  EXPECT_EQ(window->forward().measurement, "m");

  Checked bad = Check(
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, forward: windows}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, measurement: m}\n");
  EXPECT_TRUE(Has(bad.errors, "rules.yaml:4:62: sink 'influxdb': unknown forward 'windows' (expected raw or "
                              "window:<duration>")) << bad.errors;
  EXPECT_TRUE(Has(bad.errors, "rules.yaml:5:66: sink 'influxdb': 'measurement' goes with forward")) << bad.errors;
}

TEST(HttpSinksConfigTest, BuildReadsSecretsAndNamesTheMissingOne) {
  ::unsetenv("VIGIL_TEST_HOOK_TOKEN");
  Checked c = Check("  - webhook: {url: \"http://127.0.0.1:1/very/secret\", token_env: VIGIL_TEST_HOOK_TOKEN}\n");
  ASSERT_EQ(c.errors, "");
  auto sinks = BuildSinks(c.file, false);
  ASSERT_FALSE(sinks.ok());
  EXPECT_EQ(sinks.status().message(),
            "rules.yaml:4:65: sink 'webhook' token names the environment variable 'VIGIL_TEST_HOOK_TOKEN', which is "
            "not set (export it, or remove the key)");
  ::setenv("VIGIL_TEST_HOOK_TOKEN", "s3cret", 1);
  sinks = BuildSinks(c.file, false);
  ASSERT_TRUE(sinks.ok()) << sinks.status().message();
  ASSERT_EQ(sinks->size(), 1u);
  EXPECT_EQ((*sinks)[0]->name(), "webhook:http://127.0.0.1:1");
  ::unsetenv("VIGIL_TEST_HOOK_TOKEN");
}

TEST(HttpSinksConfigTest, BuildReadsTokenAndPasswordFilesRelativeToTheRulesFile) {
  const std::string dir = ::testing::TempDir() + "/vigil-http-sinks-config";
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir + "/token.txt") << "t0ken  \n";
    std::ofstream(dir + "/empty.txt") << "";
  }
  Checked c = Check(
      "  - influxdb: {url: \"http://127.0.0.1:8086\", org: o, bucket: b, token_file: token.txt, name: influx}\n"
      "  - influxdb: {url: \"http://127.0.0.1:8086\", db: x}\n",
      dir);
  ASSERT_EQ(c.errors, "");
  auto sinks = BuildSinks(c.file, false);
  ASSERT_TRUE(sinks.ok()) << sinks.status().message();
  ASSERT_EQ(sinks->size(), 2u);
  EXPECT_EQ((*sinks)[0]->name(), "influx");
  EXPECT_EQ((*sinks)[1]->name(), "influxdb:http://127.0.0.1:8086/x");

  Checked e = Check("  - influxdb: {url: \"http://127.0.0.1:8086\", db: x, username: u, password_file: empty.txt}\n", dir);
  ASSERT_EQ(e.errors, "");
  auto bad = BuildSinks(e.file, false);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rules.yaml:4:"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("empty.txt' is empty"), std::string::npos) << bad.status().message();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace vigil::bridges
