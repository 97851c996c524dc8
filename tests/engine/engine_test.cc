// Tests for Engine::SubmitAlert (engine/src/engine.cc): manual alerts reach
// every sink on the alert thread, count in vigil_alerts_total under their
// rule name, are taken before the pipeline starts and at its end, and are
// refused once the engine stopped. A stop drains the sources that hold
// accepted input (HTTP ingest) and only those.
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/scripted_source.h"
#include "vigil/engine/engine.h"

namespace vigil {
namespace {

using vigil::testing::ScriptedSource;

// Keeps what it is given, and the name of the thread that gave it.
class CapturingSink final : public Sink {
 public:
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& a) override {
    char thread[16] = {};
    pthread_getname_np(pthread_self(), thread, sizeof thread);
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(a.json);
    threads_.push_back(thread);
    kinds_.push_back(a.rule.kind);
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_.size();
  }
  std::mutex mu_;
  std::vector<std::string> lines_, threads_, kinds_;

 private:
  std::string name_ = "capture";
};

ExternalAlert Manual(const std::string& rule, AlertState state, int64_t ts) {
  ExternalAlert a;
  a.rule.name = rule;
  a.rule.kind = kManualAlertKind;
  a.rule.severity = "major";
  a.rule.key_tags = {"door"};
  a.key.values = {"3"};
  a.record.state = state;
  a.record.ts = ts;
  a.record.raise_ts = ts;
  a.id = "0123456789abcdef";
  a.json = "{\"rule\":\"" + rule + "\",\"state\":\"" + (state == AlertState::kRaised ? "raised" : "cleared") +
           "\",\"ts\":" + std::to_string(ts) + "}";
  return a;
}

double Value(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(EngineTest, ManualAlertsReachTheSinksOnTheAlertThread) {
  Schema schema;
  schema.AddField("temp");
  std::atomic<bool> release{false};
  std::vector<std::unique_ptr<Source>> sources;
  sources.push_back(std::make_unique<ScriptedSource>(std::vector<std::string>{}, &release));
  auto sink = std::make_unique<CapturingSink>();
  CapturingSink* capture = sink.get();
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(std::move(sink));
  NullLogger logger;
  EngineOptions options;
  options.shards = 1;
  Engine engine(std::move(schema), std::make_unique<TagInterner>(), {}, std::move(sources), std::move(sinks), nullptr,
                &logger, options);
  // Before Run(): kept until the alert thread runs.
  ASSERT_TRUE(engine.SubmitAlert(Manual("door-open", AlertState::kRaised, 1000)).ok());
  std::thread runner([&] { EXPECT_TRUE(engine.Run().ok()); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (capture->size() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(engine.SubmitAlert(Manual("door-open", AlertState::kCleared, 2000)).ok());
  ASSERT_TRUE(engine.SubmitAlert(Manual("badge-reader", AlertState::kRaised, 3000)).ok());
  std::string metrics;
  while (std::chrono::steady_clock::now() < deadline) {
    metrics = engine.MetricsText();
    if (Value(metrics, R"(vigil_alerts_total{rule="badge-reader",severity="major",state="raised"})") == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(Value(metrics, R"(vigil_alerts_total{rule="door-open",severity="major",state="raised"})"), 1) << metrics;
  EXPECT_EQ(Value(metrics, R"(vigil_alerts_total{rule="door-open",severity="major",state="cleared"})"), 1);
  EXPECT_EQ(Value(metrics, R"(vigil_alerts_total{rule="badge-reader",severity="major",state="cleared"})"), 0);
  release = true;
  runner.join();

  {
    std::lock_guard<std::mutex> lock(capture->mu_);
    ASSERT_EQ(capture->lines_.size(), 3u);
    EXPECT_EQ(capture->lines_[0], R"({"rule":"door-open","state":"raised","ts":1000})");
    EXPECT_EQ(capture->lines_[1], R"({"rule":"door-open","state":"cleared","ts":2000})");
    EXPECT_EQ(capture->lines_[2], R"({"rule":"badge-reader","state":"raised","ts":3000})");
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(capture->threads_[i], "vigil-alerts") << "sinks are written from the alert thread only";
      EXPECT_EQ(capture->kinds_[i], "manual");
    }
  }
  EXPECT_EQ(engine.stats().alerts, 3u);
  // Stopped: refused, not silently dropped.
  Status late = engine.SubmitAlert(Manual("door-open", AlertState::kRaised, 4000));
  EXPECT_EQ(late.code(), Status::Code::kUnsupported);
  EXPECT_EQ(capture->size(), 3u);
}

// A stop request (SIGTERM) before the source's messages were routed: a
// source holding accepted input is drained to its end, in batches; a source
// whose input stays with its origin is not read further.
TEST(EngineTest, AStopDrainsOnlySourcesHoldingAcceptedInput) {
  for (const bool holds : {true, false}) {
    Schema schema;
    schema.AddField("temp");
    schema.AddTag("device");
    std::vector<std::string> lines;
    for (int i = 0; i < 3000; ++i) {
      lines.push_back(R"({"ts":)" + std::to_string(1000 + i) + R"(,"device":"d)" + std::to_string(i % 50) +
                      R"(","temp":20})");
    }
    std::atomic<bool> release{false};  // never finishes on its own
    auto source = std::make_unique<ScriptedSource>(lines, &release, nullptr, holds);
    ScriptedSource* scripted = source.get();
    std::vector<std::unique_ptr<Source>> sources;
    sources.push_back(std::move(source));
    NullLogger logger;
    EngineOptions options;
    options.shards = 2;
    options.poll_batch = 64;  // many polls: the drain loops until the source is idle
    Engine engine(std::move(schema), std::make_unique<TagInterner>(), {}, std::move(sources), {}, nullptr, &logger,
                  options);
    engine.RequestStop();
    ASSERT_TRUE(engine.Run().ok());
    EXPECT_EQ(scripted->stop_calls, 1);
    EXPECT_EQ(engine.stats().messages, holds ? 3000u : 0u) << (holds ? "holds accepted input" : "input stays at its origin");
  }
}

}  // namespace
}  // namespace vigil
