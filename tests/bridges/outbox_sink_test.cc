// OutboxSink: in-order delivery through failures, bounded size, and
// durability across restarts in a real RocksDB state store.
#include "vigil/bridges/outbox_sink.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <filesystem>
#include <mutex>
#include <thread>

namespace vigil::bridges {
namespace {

// A sink that confirms only on Flush and fails while `down` is set; it
// records the ids it confirmed, in order.
class FlakySink final : public Sink {
 public:
  explicit FlakySink(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& a) override {
    staged_.push_back(a.id + ":" + (a.record.state == AlertState::kRaised ? "raised" : "cleared") + ":" +
                      a.rule.name + ":" + (a.key.values.empty() ? "" : a.key.values[0]));
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++attempts_;
    if (down_) {
      staged_.clear();
      return Status::IoError("sink is down");
    }
    for (auto& s : staged_) confirmed_.push_back(std::move(s));
    staged_.clear();
    return Status::Ok();
  }
  void set_down(bool d) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = d;
  }
  std::vector<std::string> confirmed() {
    std::lock_guard<std::mutex> lock(mu_);
    return confirmed_;
  }
  int attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }

 private:
  std::string name_;
  std::vector<std::string> staged_;  // delivery thread only
  std::mutex mu_;
  bool down_ = false;
  int attempts_ = 0;
  std::vector<std::string> confirmed_;
};

struct TestAlert {
  AlertRecord record;
  RuleInfo rule;
  KeyInfo key;
  std::string id, message, json;
  AlertView view() const { return AlertView{record, rule, key, id, message, json}; }
};

TestAlert MakeAlert(int i, AlertState state = AlertState::kRaised) {
  TestAlert a;
  a.record.state = state;
  a.record.ts = 1000 + i;
  a.record.raise_ts = 1000 + i;
  a.record.value = i * 1.5;
  a.record.count = static_cast<uint32_t>(i + 1);
  a.rule.name = "hot";
  a.rule.severity = "critical";
  a.rule.kind = "event";
  a.rule.labels = {{"team", "ops"}};
  a.rule.key_tags = {"zone", "sensor"};
  a.key.values = {"nord", "s" + std::to_string(i)};
  a.id = "id" + std::to_string(i);
  a.message = "hot raised " + std::to_string(i);
  a.json = "{\"id\":\"" + a.id + "\"}";
  return a;
}

std::string Expected(int i) { return "id" + std::to_string(i) + ":raised:hot:nord"; }

bool WaitUntil(const std::function<bool()>& cond, int ms = 10000) {
  for (int waited = 0; waited < ms; waited += 5) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

OutboxOptions FastRetries() {
  OutboxOptions o;
  o.retry_min_ms = 5;
  o.retry_max_ms = 20;
  o.drain_timeout_ms = 200;
  o.batch = 3;
  return o;
}

TEST(OutboxSinkTest, RecordsRoundTrip) {
  TestAlert a = MakeAlert(7, AlertState::kCleared);
  auto d = OutboxSink::Decode(OutboxSink::Encode(a.view()));
  ASSERT_NE(d, nullptr);
  std::string back = OutboxSink::Encode(d->view());
  EXPECT_EQ(back, OutboxSink::Encode(a.view()));
  EXPECT_EQ(d->view().record.state, AlertState::kCleared);
  EXPECT_EQ(d->view().key.values[1], "s7");
  EXPECT_EQ(d->view().rule.labels.at("team"), "ops");
  EXPECT_EQ(OutboxSink::Decode("garbage"), nullptr);
  std::string truncated = OutboxSink::Encode(a.view());
  truncated.resize(truncated.size() - 3);
  EXPECT_EQ(OutboxSink::Decode(truncated), nullptr);
}

TEST(OutboxSinkTest, DeliversInOrderThroughAnOutage) {
  auto inner = std::make_unique<FlakySink>("flaky");
  FlakySink* flaky = inner.get();
  flaky->set_down(true);
  OutboxSink outbox(std::move(inner), nullptr, FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());  // never blocks, never fails
  ASSERT_TRUE(WaitUntil([&] { return outbox.failures() >= 3; }));
  EXPECT_EQ(outbox.depth(), 10u);
  EXPECT_TRUE(flaky->confirmed().empty());
  for (int i = 10; i < 20; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  flaky->set_down(false);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  std::vector<std::string> want;
  for (int i = 0; i < 20; ++i) want.push_back(Expected(i));
  EXPECT_EQ(flaky->confirmed(), want);  // every alert once, in order
  EXPECT_EQ(outbox.delivered(), 20u);
  EXPECT_EQ(outbox.dropped(), 0u);
  std::vector<BridgeMetric> m;
  outbox.ReportMetrics(&m);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(m[0].name, "vigil_outbox_depth");
  EXPECT_EQ(m[0].value, 0);
}

// A PipelinedSink the test drives: it records every Send (seq and id), the
// test confirms or fails them, and it tracks the most it ever had unconfirmed.
class ManualPipelinedSink final : public Sink, public PipelinedSink {
 public:
  ManualPipelinedSink(size_t window, int64_t timeout_ms) : window_(window), timeout_ms_(timeout_ms) {}
  const std::string& name() const override { return name_; }
  Status Write(const AlertView&) override { return Status::IoError("not used"); }
  Status Flush() override { return Status::IoError("not used"); }
  void SetNotifier(std::function<void()> notify) override {
    std::lock_guard<std::mutex> lock(mu_);
    notify_ = std::move(notify);
  }
  Status Send(const AlertView& a, uint64_t seq) override {
    std::lock_guard<std::mutex> lock(mu_);
    sends_.push_back(a.id);
    seqs_.push_back(seq);
    unconfirmed_.push_back(seq);
    max_unconfirmed_ = std::max(max_unconfirmed_, unconfirmed_.size());
    return Status::Ok();
  }
  Result<uint64_t> Confirmed() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.ok()) return error_;
    return confirmed_;
  }
  void Restart() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++restarts_;
    error_ = Status::Ok();
    confirmed_ = 0;
    unconfirmed_.clear();
  }
  size_t window() const override { return window_; }
  int64_t timeout_ms() const override { return timeout_ms_; }

  // Test side: confirms the `n` oldest unconfirmed sends, or fails the attempt.
  void Confirm(size_t n) {
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < n && !unconfirmed_.empty(); ++i) {
        confirmed_ = unconfirmed_.front();
        unconfirmed_.pop_front();
      }
      notify = notify_;
    }
    notify();
  }
  void Fail() {
    std::function<void()> notify;
    {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = Status::IoError("connection lost");
      notify = notify_;
    }
    notify();
  }
  size_t unconfirmed() {
    std::lock_guard<std::mutex> lock(mu_);
    return unconfirmed_.size();
  }
  std::vector<std::string> sends() {
    std::lock_guard<std::mutex> lock(mu_);
    return sends_;
  }
  size_t max_unconfirmed() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_unconfirmed_;
  }
  int restarts() {
    std::lock_guard<std::mutex> lock(mu_);
    return restarts_;
  }

 private:
  std::string name_ = "pipelined";
  size_t window_;
  int64_t timeout_ms_;
  std::mutex mu_;
  std::function<void()> notify_;
  std::vector<std::string> sends_;
  std::vector<uint64_t> seqs_;
  std::deque<uint64_t> unconfirmed_;
  size_t max_unconfirmed_ = 0;
  uint64_t confirmed_ = 0;
  Status error_ = Status::Ok();
  int restarts_ = 0;
};

std::vector<std::string> Ids(std::initializer_list<int> ids) {
  std::vector<std::string> out;
  for (int i : ids) out.push_back("id" + std::to_string(i));
  return out;
}

TEST(OutboxPipelinedTest, SendsAheadOfConfirmationsAndRemovesWhatIsConfirmed) {
  auto inner = std::make_unique<ManualPipelinedSink>(100, 60000);
  ManualPipelinedSink* sink = inner.get();
  OutboxSink outbox(std::move(inner), nullptr, FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  // All five go out although none is confirmed (batch is 3: not one batch per round trip).
  ASSERT_TRUE(WaitUntil([&] { return sink->sends().size() == 5; }));
  EXPECT_EQ(outbox.depth(), 5u);
  sink->Confirm(3);
  ASSERT_TRUE(WaitUntil([&] { return outbox.depth() == 2; }));
  EXPECT_EQ(outbox.delivered(), 3u);
  ASSERT_TRUE(outbox.Write(MakeAlert(5).view()).ok());  // sent while 3 and 4 still wait
  ASSERT_TRUE(WaitUntil([&] { return sink->sends().size() == 6; }));
  sink->Confirm(3);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  EXPECT_EQ(sink->sends(), Ids({0, 1, 2, 3, 4, 5}));  // each once, in order
  EXPECT_EQ(outbox.delivered(), 6u);
  EXPECT_EQ(outbox.failures(), 0u);
}

TEST(OutboxPipelinedTest, NeverMoreUnconfirmedThanTheWindow) {
  auto inner = std::make_unique<ManualPipelinedSink>(2, 60000);
  ManualPipelinedSink* sink = inner.get();
  OutboxSink outbox(std::move(inner), nullptr, FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  for (int round = 0; round < 7 && outbox.depth() > 0; ++round) {
    ASSERT_TRUE(WaitUntil([&] { return sink->unconfirmed() == std::min<size_t>(2, outbox.depth()); }));
    sink->Confirm(1);
    ASSERT_TRUE(WaitUntil([&] { return outbox.depth() == static_cast<size_t>(6 - round); }));
  }
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  EXPECT_EQ(sink->max_unconfirmed(), 2u);
  EXPECT_EQ(sink->sends(), Ids({0, 1, 2, 3, 4, 5, 6}));
}

TEST(OutboxPipelinedTest, AFailureResendsEverythingNotConfirmedInOrder) {
  auto inner = std::make_unique<ManualPipelinedSink>(100, 60000);
  ManualPipelinedSink* sink = inner.get();
  OutboxSink outbox(std::move(inner), nullptr, FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  ASSERT_TRUE(WaitUntil([&] { return sink->sends().size() == 4; }));
  sink->Confirm(1);
  ASSERT_TRUE(WaitUntil([&] { return outbox.depth() == 3; }));
  sink->Fail();
  ASSERT_TRUE(WaitUntil([&] { return sink->sends().size() == 7; }));  // 1, 2, 3 again after the backoff
  EXPECT_EQ(sink->restarts(), 1);
  EXPECT_EQ(outbox.failures(), 1u);
  EXPECT_EQ(outbox.depth(), 3u);
  sink->Confirm(3);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  EXPECT_EQ(sink->sends(), Ids({0, 1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(outbox.delivered(), 4u);
}

TEST(OutboxPipelinedTest, AnUnconfirmedAlertPastTheTimeoutIsSentAgain) {
  auto inner = std::make_unique<ManualPipelinedSink>(100, 20);
  ManualPipelinedSink* sink = inner.get();
  OutboxSink outbox(std::move(inner), nullptr, FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  ASSERT_TRUE(outbox.Write(MakeAlert(0).view()).ok());
  // Never confirmed: the attempt fails by itself, and the alert goes out again.
  ASSERT_TRUE(WaitUntil([&] { return sink->sends().size() >= 2; }));
  EXPECT_GE(outbox.failures(), 1u);
  EXPECT_GE(sink->restarts(), 1);
  EXPECT_EQ(outbox.depth(), 1u);
  sink->Confirm(1);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  EXPECT_EQ(outbox.delivered(), 1u);
}

TEST(OutboxSinkTest, BoundedDropsTheOldestAndCountsThem) {
  auto inner = std::make_unique<FlakySink>("flaky");
  FlakySink* flaky = inner.get();
  flaky->set_down(true);
  OutboxOptions o = FastRetries();
  o.max_alerts = 5;
  OutboxSink outbox(std::move(inner), nullptr, o, nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  EXPECT_EQ(outbox.depth(), 5u);
  EXPECT_EQ(outbox.dropped(), 3u);
  flaky->set_down(false);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  EXPECT_EQ(flaky->confirmed(), (std::vector<std::string>{Expected(3), Expected(4), Expected(5), Expected(6),
                                                           Expected(7)}));
}

class OutboxStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vigil_outbox_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    auto s = StateStore::Open(dir_.string());
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(s).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  size_t Stored(const std::string& sink) {
    size_t n = 0;
    EXPECT_TRUE(store_->ForEachOutbox(sink, [&](uint64_t, std::string_view) { ++n; }).ok());
    return n;
  }
  std::filesystem::path dir_;
  std::unique_ptr<StateStore> store_;
};

TEST_F(OutboxStoreTest, UndeliveredAlertsSurviveARestartAndGoFirst) {
  {
    auto inner = std::make_unique<FlakySink>("hook");
    inner->set_down(true);
    OutboxSink outbox(std::move(inner), store_.get(), FastRetries(), nullptr);
    ASSERT_TRUE(outbox.Start().ok());
    for (int i = 0; i < 6; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
    ASSERT_TRUE(outbox.Sync().ok());  // a checkpoint
    EXPECT_EQ(Stored("hook"), 6u);
  }  // the process stops with the sink still down
  EXPECT_EQ(Stored("hook"), 6u);
  // Another sink's outbox is separate.
  EXPECT_EQ(Stored("other"), 0u);

  auto inner = std::make_unique<FlakySink>("hook");
  FlakySink* flaky = inner.get();
  OutboxSink outbox(std::move(inner), store_.get(), FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  ASSERT_TRUE(outbox.Write(MakeAlert(6).view()).ok());
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  std::vector<std::string> want;
  for (int i = 0; i < 7; ++i) want.push_back(Expected(i));
  EXPECT_EQ(flaky->confirmed(), want);
  ASSERT_TRUE(outbox.Sync().ok());  // confirmed records are deleted at the next checkpoint
  EXPECT_EQ(Stored("hook"), 0u);
}

TEST_F(OutboxStoreTest, SyncPersistsOnlyWhatIsNotConfirmed) {
  auto inner = std::make_unique<FlakySink>("hook");
  FlakySink* flaky = inner.get();
  OutboxSink outbox(std::move(inner), store_.get(), FastRetries(), nullptr);
  ASSERT_TRUE(outbox.Start().ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  flaky->set_down(true);
  for (int i = 4; i < 6; ++i) ASSERT_TRUE(outbox.Write(MakeAlert(i).view()).ok());
  ASSERT_TRUE(outbox.Sync().ok());
  EXPECT_EQ(Stored("hook"), 2u);
  flaky->set_down(false);
  ASSERT_TRUE(outbox.WaitEmpty(std::chrono::seconds(10)));
  ASSERT_TRUE(outbox.Sync().ok());
  EXPECT_EQ(Stored("hook"), 0u);
  EXPECT_EQ(flaky->confirmed().size(), 6u);
}

}  // namespace
}  // namespace vigil::bridges
