// Tests for vigil/engine/alert_board.h: active set and ring from engine
// transitions, filters, acks, manual alerts (deterministic ids, repeats,
// clears, validation, cap), subscriptions (live events, filters, resume
// from Last-Event-ID, snapshot when the ring lost the point, slow
// subscribers dropped, Close()), and the Sink adapter.
#include "vigil/engine/alert_board.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "vigil/engine/alert_dispatcher.h"

namespace vigil {
namespace {

using namespace std::chrono_literals;

// Builds AlertViews the way AlertDispatcher does.
struct Emitter {
  RuleInfo rule;
  KeyInfo key;
  AlertRecord rec;
  std::string id, message, json;

  Emitter(std::string name, std::string severity, std::vector<std::string> tags, std::vector<std::string> values) {
    rule.name = std::move(name);
    rule.severity = std::move(severity);
    rule.key_tags = std::move(tags);
    rule.when = "temp > 30";
    key.values = std::move(values);
  }
  // Records a raise at ts into `board`; returns the id.
  std::string Raise(AlertBoard& board, int64_t ts) {
    rec.state = AlertState::kRaised;
    rec.ts = rec.raise_ts = ts;
    rec.value = 31;
    return Emit(board);
  }
  std::string Clear(AlertBoard& board, int64_t ts) {
    rec.state = AlertState::kCleared;
    rec.ts = ts;
    return Emit(board);
  }
  std::string Emit(AlertBoard& board) {
    id = AlertId(rule.name, rule.key_tags.data(), key.values.data(), rule.key_tags.size(), rec.raise_ts);
    message = AlertDispatcher::RenderMessage(rule.message, rec, rule, key);
    json = AlertDispatcher::RenderJson(rec, rule, key, id, message);
    board.Record(AlertView{rec, rule, key, id, message, json});
    return id;
  }
};

AlertBoardOptions TestOptions() {
  AlertBoardOptions o;
  o.first_seq = 1;
  o.now_ms = [] { return int64_t{1700000000000}; };
  return o;
}

// Parses `json` ({"alerts":[...]}) and returns the ids in order.
std::vector<std::string> Ids(const std::string& json) {
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  EXPECT_EQ(p.parse(json).get(doc), simdjson::SUCCESS) << json;
  std::vector<std::string> out;
  for (auto a : doc["alerts"].get_array()) out.emplace_back(std::string_view(a["id"].get_string()));
  return out;
}

TEST(AlertBoardTest, RaiseAndClearMaintainTheActiveSet) {
  AlertBoard board(TestOptions());
  Emitter nord("overheat", "critical", {"zone"}, {"nord"});
  Emitter sud("overheat", "critical", {"zone"}, {"sud"});
  const std::string a = nord.Raise(board, 1000);
  const std::string b = sud.Raise(board, 2000);
  EXPECT_EQ(board.active_count(), 2u);
  EXPECT_EQ(Ids(board.ActiveJson({})), (std::vector<std::string>{b, a}));  // newest raise first
  nord.Clear(board, 3000);
  EXPECT_EQ(Ids(board.ActiveJson({})), std::vector<std::string>{b});
  EXPECT_EQ(board.last_seq(), 3u);
  // The ring holds every transition, newest first.
  EXPECT_EQ(Ids(board.RecentJson({}, 10)), (std::vector<std::string>{a, b, a}));
  EXPECT_EQ(Ids(board.RecentJson({}, 2)).size(), 2u);
  EXPECT_EQ(board.ActiveCountByRule().at("overheat"), 1u);
}

TEST(AlertBoardTest, ActiveAlertsCarryAckFields) {
  AlertBoard board(TestOptions());
  Emitter e("overheat", "critical", {"zone"}, {"nord"});
  const std::string id = e.Raise(board, 1000);
  const std::string json = board.ActiveJson({});
  EXPECT_NE(json.find("\"acked\":false"), std::string::npos) << json;
  EXPECT_NE(json.find(e.json.substr(0, e.json.size() - 1)), std::string::npos) << json;

  auto acked = board.Ack(id, "alice");
  ASSERT_TRUE(acked.ok());
  EXPECT_NE(acked->find("\"acked\":true,\"acked_by\":\"alice\",\"acked_at\":1700000000000"), std::string::npos) << *acked;
  EXPECT_NE(board.ActiveJson({}).find("\"acked_by\":\"alice\""), std::string::npos);
  EXPECT_EQ(board.Ack("0000000000000000", "bob").status().code(), Status::Code::kNotFound);
  e.Clear(board, 2000);
  EXPECT_EQ(board.Ack(id, "bob").status().code(), Status::Code::kNotFound);
}

TEST(AlertBoardTest, FiltersByRuleSeverityAndKeyTags) {
  AlertBoard board(TestOptions());
  Emitter a("overheat", "critical", {"zone", "sensor"}, {"nord", "t1"});
  Emitter b("overheat", "critical", {"zone", "sensor"}, {"sud", "t2"});
  Emitter c("humidity", "warning", {"zone"}, {"nord"});
  const std::string ia = a.Raise(board, 1);
  const std::string ib = b.Raise(board, 2);
  const std::string ic = c.Raise(board, 3);
  AlertFilter f;
  f.rule = "overheat";
  EXPECT_EQ(Ids(board.ActiveJson(f)), (std::vector<std::string>{ib, ia}));
  f = {};
  f.severity = "warning";
  EXPECT_EQ(Ids(board.ActiveJson(f)), std::vector<std::string>{ic});
  f = {};
  f.tags = {{"zone", "nord"}};
  EXPECT_EQ(Ids(board.ActiveJson(f)), (std::vector<std::string>{ic, ia}));
  f.tags = {{"zone", "nord"}, {"sensor", "t1"}};
  EXPECT_EQ(Ids(board.ActiveJson(f)), std::vector<std::string>{ia});
  f.tags = {{"device", "x"}};
  EXPECT_TRUE(Ids(board.ActiveJson(f)).empty());
  f = {};
  f.rule = "humidity";
  EXPECT_EQ(Ids(board.RecentJson(f, 10)), std::vector<std::string>{ic});
}

TEST(AlertBoardTest, RingIsBounded) {
  AlertBoardOptions o = TestOptions();
  o.ring_size = 3;
  AlertBoard board(o);
  Emitter e("r", "info", {"k"}, {"v"});
  for (int i = 0; i < 5; ++i) {
    e.Raise(board, i * 10);
    e.Clear(board, i * 10 + 1);
  }
  EXPECT_EQ(Ids(board.RecentJson({}, 100)).size(), 3u);
  EXPECT_EQ(board.active_count(), 0u);
}

TEST(AlertBoardTest, ManualAlertsHaveDeterministicIdsAndRepeat) {
  AlertBoard board(TestOptions());
  ManualAlert m;
  m.rule = "door-open";
  m.key = {{"zone", "nord"}, {"door", "3"}};
  m.severity = "major";
  m.labels = {{"source", "bms"}};
  m.ts = 1234;
  auto r = board.Raise(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->created);
  // Key tags sorted by name for the id, whatever order they came in.
  const std::vector<std::string> names = {"door", "zone"}, values = {"3", "nord"};
  const std::string id = AlertId("manual:door-open", names.data(), values.data(), 2, 1234);
  EXPECT_NE(r->json.find("\"id\":\"" + id + "\""), std::string::npos) << r->json;
  EXPECT_NE(r->json.find("\"rule\":\"door-open\",\"key\":{\"door\":\"3\",\"zone\":\"nord\"},\"state\":\"raised\","
                         "\"severity\":\"major\",\"ts\":1234,\"value\":null,\"count\":1,\"labels\":{\"source\":\"bms\"},"
                         "\"message\":\"door-open raised manually\""),
            std::string::npos)
      << r->json;

  // Same rule and key again: the same alert, count 2, no new event.
  const uint64_t seq = board.last_seq();
  m.ts = 5678;
  m.key = {{"door", "3"}, {"zone", "nord"}};
  auto again = board.Raise(m);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->created);
  EXPECT_NE(again->json.find("\"count\":2"), std::string::npos);
  EXPECT_NE(again->json.find(id), std::string::npos);
  EXPECT_EQ(board.last_seq(), seq);
  EXPECT_EQ(board.active_count(), 1u);

  // Clear it.
  m.clear = true;
  m.ts = 9000;
  auto cleared = board.Raise(m);
  ASSERT_TRUE(cleared.ok());
  EXPECT_NE(cleared->json.find("\"state\":\"cleared\""), std::string::npos) << cleared->json;
  EXPECT_NE(cleared->json.find("\"ts\":9000"), std::string::npos);
  EXPECT_NE(cleared->json.find(id), std::string::npos);
  EXPECT_EQ(board.active_count(), 0u);
  EXPECT_EQ(board.Raise(m).status().code(), Status::Code::kNotFound);

  // A replay of the same raise (same ts) gives the same id again.
  m.clear = false;
  m.ts = 1234;
  auto replay = board.Raise(m);
  ASSERT_TRUE(replay.ok());
  EXPECT_NE(replay->json.find(id), std::string::npos);
}

TEST(AlertBoardTest, ManualAlertValidationAndCap) {
  AlertBoardOptions o = TestOptions();
  o.max_manual_active = 2;
  AlertBoard board(o);
  ManualAlert m;
  EXPECT_EQ(board.Raise(m).status().code(), Status::Code::kInvalidArgument);  // no rule
  m.rule = "x";
  m.severity = "urgent";
  EXPECT_EQ(board.Raise(m).status().code(), Status::Code::kInvalidArgument);
  m.severity = "";
  m.key = {{"a", "1"}, {"a", "2"}};
  EXPECT_EQ(board.Raise(m).status().code(), Status::Code::kInvalidArgument);
  m.key = {{"a", "1"}};
  auto ok = board.Raise(m);
  ASSERT_TRUE(ok.ok());
  EXPECT_NE(ok->json.find("\"severity\":\"warning\""), std::string::npos);
  EXPECT_NE(ok->json.find("\"ts\":1700000000000"), std::string::npos);  // now
  m.key = {{"a", "2"}};
  ASSERT_TRUE(board.Raise(m).ok());
  m.key = {{"a", "3"}};
  EXPECT_EQ(board.Raise(m).status().code(), Status::Code::kUnsupported);
}

TEST(AlertBoardTest, SubscribersReceiveMatchingEvents) {
  AlertBoard board(TestOptions());
  AlertFilter nord;
  nord.tags = {{"zone", "nord"}};
  auto all = board.Subscribe({}, std::nullopt, false);
  auto only_nord = board.Subscribe(nord, std::nullopt, false);
  ASSERT_TRUE(all && only_nord);
  EXPECT_TRUE(all->Next(0ms).empty());
  Emitter n("r", "info", {"zone"}, {"nord"});
  Emitter s("r", "info", {"zone"}, {"sud"});
  const std::string id = n.Raise(board, 1);
  s.Raise(board, 2);
  ASSERT_TRUE(board.Ack(id, "me").ok());
  auto events = all->Next(100ms);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, "alert");
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[0].data, n.json);
  EXPECT_EQ(events[1].seq, 2u);
  EXPECT_EQ(events[2].type, "ack");
  EXPECT_NE(events[2].data.find("\"acked_by\":\"me\""), std::string::npos);
  events = only_nord->Next(100ms);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(events[1].seq, 3u);
  EXPECT_EQ(board.subscriber_count(), 2u);
  only_nord.reset();
  EXPECT_EQ(board.subscriber_count(), 1u);
}

TEST(AlertBoardTest, NextWakesUpWhenAnEventArrives) {
  AlertBoard board(TestOptions());
  auto sub = board.Subscribe({}, std::nullopt, false);
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    Emitter e("r", "info", {"zone"}, {"nord"});
    e.Raise(board, 1);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto events = sub->Next(5000ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4000ms);
  producer.join();
  if (events.empty()) events = sub->Next(1000ms);
  EXPECT_EQ(events.size(), 1u);
}

TEST(AlertBoardTest, SnapshotFirstWhenAsked) {
  AlertBoard board(TestOptions());
  Emitter e("r", "critical", {"zone"}, {"nord"});
  const std::string id = e.Raise(board, 1);
  auto sub = board.Subscribe({}, std::nullopt, true);
  auto events = sub->Next(0ms);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "snapshot");
  EXPECT_EQ(events[0].seq, 1u);
  EXPECT_EQ(Ids(events[0].data), std::vector<std::string>{id});
}

TEST(AlertBoardTest, ResumesFromLastEventIdInTheRing) {
  AlertBoard board(TestOptions());
  Emitter e("r", "info", {"zone"}, {"nord"});
  for (int i = 0; i < 3; ++i) {
    e.Raise(board, i * 10);
    e.Clear(board, i * 10 + 5);
  }
  auto sub = board.Subscribe({}, uint64_t{4}, true);  // saw 1..4
  auto events = sub->Next(0ms);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].seq, 5u);
  EXPECT_EQ(events[1].seq, 6u);
  // Up to date: nothing to replay, no snapshot.
  auto current = board.Subscribe({}, uint64_t{6}, true);
  EXPECT_TRUE(current->Next(0ms).empty());
  // Everything from the very start.
  auto from_start = board.Subscribe({}, uint64_t{0}, false);
  EXPECT_EQ(from_start->Next(0ms).size(), 6u);
}

TEST(AlertBoardTest, SnapshotWhenTheRingLostTheResumePoint) {
  AlertBoardOptions o = TestOptions();
  o.ring_size = 2;
  AlertBoard board(o);
  Emitter e("r", "info", {"zone"}, {"nord"});
  e.Raise(board, 0);
  e.Clear(board, 1);
  const std::string id = e.Raise(board, 2);  // seq 3; ring holds 2..3
  auto lost = board.Subscribe({}, uint64_t{0}, false);
  auto events = lost->Next(0ms);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "snapshot");
  EXPECT_EQ(events[0].seq, 3u);
  EXPECT_EQ(Ids(events[0].data), std::vector<std::string>{id});
  auto resumable = board.Subscribe({}, uint64_t{1}, false);
  EXPECT_EQ(resumable->Next(0ms).size(), 2u);
  // An id from the future (another process) is unknown too.
  auto future = board.Subscribe({}, uint64_t{99}, false);
  events = future->Next(0ms);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "snapshot");
}

TEST(AlertBoardTest, SequenceSeededFromTheClockByDefault) {
  AlertBoard board;
  const uint64_t now_us = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  EXPECT_GT(board.last_seq() + 1, now_us - 60'000'000);
  EXPECT_LE(board.last_seq() + 1, now_us + 1);
}

TEST(AlertBoardTest, SlowSubscriberIsDroppedWithAFinalEvent) {
  AlertBoardOptions o = TestOptions();
  o.subscriber_queue = 3;
  AlertBoard board(o);
  auto slow = board.Subscribe({}, std::nullopt, false);
  Emitter e("r", "info", {"zone"}, {"nord"});
  for (int i = 0; i < 5; ++i) {
    e.Raise(board, i * 10);
    e.Clear(board, i * 10 + 1);
  }
  EXPECT_FALSE(slow->closed());  // the final event is still waiting
  auto events = slow->Next(0ms);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "dropped");
  EXPECT_EQ(events[0].seq, 0u);
  EXPECT_TRUE(slow->closed());
  EXPECT_EQ(board.subscriber_count(), 0u);
  // The ring still has everything for the reconnect.
  auto again = board.Subscribe({}, uint64_t{0}, false);
  EXPECT_EQ(again->Next(0ms).size(), 10u);
}

TEST(AlertBoardTest, CloseEndsSubscriptionsAndRefusesNewOnes) {
  AlertBoardOptions o = TestOptions();
  o.max_subscribers = 1;
  auto board = std::make_unique<AlertBoard>(o);
  auto sub = board->Subscribe({}, std::nullopt, false);
  ASSERT_TRUE(sub);
  EXPECT_EQ(board->Subscribe({}, std::nullopt, false), nullptr);  // cap
  board->Close();
  EXPECT_TRUE(sub->closed());
  EXPECT_TRUE(sub->Next(1000ms).empty());
  EXPECT_EQ(board->Subscribe({}, std::nullopt, false), nullptr);
  board.reset();  // a subscription may outlive the board
  EXPECT_TRUE(sub->closed());
}

TEST(AlertBoardTest, SinkAdapterRecords) {
  AlertBoard board(TestOptions());
  auto sink = board.MakeSink();
  EXPECT_EQ(sink->name(), "alert-board");
  Emitter e("r", "info", {"zone"}, {"nord"});
  e.rec.state = AlertState::kRaised;
  e.rec.ts = e.rec.raise_ts = 5;
  e.id = AlertId(e.rule.name, e.rule.key_tags.data(), e.key.values.data(), 1, 5);
  e.json = AlertDispatcher::RenderJson(e.rec, e.rule, e.key, e.id, e.message);
  ASSERT_TRUE(sink->Write(AlertView{e.rec, e.rule, e.key, e.id, e.message, e.json}).ok());
  ASSERT_TRUE(sink->Flush().ok());
  EXPECT_EQ(board.active_count(), 1u);
}

}  // namespace
}  // namespace vigil
