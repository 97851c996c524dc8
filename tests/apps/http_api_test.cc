// Tests for apps/cli/http_api.h: every route of the HTTP API on a real
// server (127.0.0.1, port 0) — health, readiness, metrics, rules with
// counters, alerts (filters, state=all, limit), manual raise/clear (201/200,
// 400 on malformed JSON or fields, 409 on a rule-file name, the transition
// handed to the sinks, 503 when they cannot take it), ack, latest series
// (tags and limit passed on, errors mapped, 404 without), the SSE
// stream (snapshot, live events, filters, Last-Event-ID resume), ingest
// (202 with rejections, 400, 413, 415, 503 backpressure, 404 without a
// source), reload, the live page, and 401s with a token.
#include "cli/http_api.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <thread>

#include "cli/live_page.h"
#include "engine/http/http_test_client.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::cli {
namespace {

using namespace std::chrono_literals;
using vigil::testing::SseClient;
using vigil::testing::TestClient;

class FakeRule final : public Rule {
 public:
  explicit FakeRule(RuleInfo info) : info_(std::move(info)) {}
  const RuleInfo& info() const override { return info_; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext&) const override { return nullptr; }

 private:
  RuleInfo info_;
};

std::shared_ptr<const Rule> MakeRule(std::string name, std::string kind, std::string severity,
                                     std::vector<std::string> key, std::string when) {
  RuleInfo i;
  i.name = std::move(name);
  i.kind = std::move(kind);
  i.severity = std::move(severity);
  i.key_tags = std::move(key);
  i.when = std::move(when);
  i.labels = {{"team", "ops"}};
  return std::make_shared<FakeRule>(std::move(i));
}

// Parses JSON or fails the test.
struct Json {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  explicit Json(const std::string& text) {
    EXPECT_EQ(parser.parse(text).get(root), simdjson::SUCCESS) << text;
  }
};

class HttpApiTest : public ::testing::Test {
 protected:
  void Start(const std::string& token = "", bridges::HttpIngestSourceOptions ingest_options = {}) {
    schema_.AddField("temp");
    schema_.AddTag("zone");
    ingest_options.name = "api";
    ingest_ = std::make_unique<bridges::HttpIngestSource>(ingest_options);
    ASSERT_TRUE(ingest_->Open(schema_, &tags_).ok());
    AlertBoardOptions bo;
    bo.first_seq = 100;
    board_ = std::make_unique<AlertBoard>(bo);
    rules_ = {MakeRule("zone-overheat", "event", "critical", {"zone"}, "temp > 30"),
              MakeRule("heartbeat-lost", "deadman", "major", {"zone"}, "")};
    ctx_.rules = [this] { return rules_; };
    ctx_.rule_counters = [] { return std::string(R"({"zone-overheat":{"evaluations":12,"alerts":3},"other":{}})"); };
    ctx_.board = board_.get();
    ctx_.ingest = with_ingest_ ? ingest_.get() : nullptr;
    ctx_.metrics_text = [] { return std::string("# TYPE vigil_messages_received_total counter\nvigil_messages_received_total{source=\"api\"} 7\n"); };
    ctx_.ready = [this] { return ready_.load(); };
    ctx_.reload = [this]() -> Status {
      ++reloads_;
      return reload_status_;
    };
    ctx_.on_manual_alert = [this](ExternalAlert t) -> Status {
      std::lock_guard<std::mutex> lock(mu_);
      manual_.push_back(t.json);
      manual_kinds_.push_back(t.rule.kind);
      return manual_status_;
    };
    if (with_series_) ctx_.latest_series = [this](const SeriesQuery& q) -> Result<std::string> {
      std::lock_guard<std::mutex> lock(mu_);
      series_queries_.push_back(q);
      if (!series_status_.ok()) return series_status_;
      return std::string(R"({"series":[],"truncated":false})");
    };
    RegisterApiRoutes(server_, ctx_);
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.token = token;
    o.max_body_bytes = 4096;
    o.sse_poll = 20ms;
    ASSERT_TRUE(server_.Start(o).ok());
    client_ = std::make_unique<TestClient>(server_.port());
  }

  // Records an engine alert transition on the board, as the alert thread would.
  std::string EngineAlert(const std::string& rule_name, const std::string& zone, AlertState state, int64_t ts,
                          int64_t raise_ts) {
    const RuleInfo& rule = rules_[rule_name == "zone-overheat" ? 0 : 1]->info();
    KeyInfo key;
    key.values = {zone};
    AlertRecord rec;
    rec.state = state;
    rec.ts = ts;
    rec.raise_ts = raise_ts;
    rec.value = 31;
    const std::string id = AlertId(rule.name, rule.key_tags.data(), key.values.data(), 1, raise_ts);
    const std::string message = AlertDispatcher::RenderMessage(rule.message, rec, rule, key);
    const std::string json = AlertDispatcher::RenderJson(rec, rule, key, id, message);
    board_->Record(AlertView{rec, rule, key, id, message, json});
    return id;
  }

  void TearDown() override { server_.Stop(); }

  Schema schema_;
  TagInterner tags_;
  std::unique_ptr<bridges::HttpIngestSource> ingest_;
  std::unique_ptr<AlertBoard> board_;
  std::vector<std::shared_ptr<const Rule>> rules_;
  ApiContext ctx_;
  HttpServer server_;
  std::unique_ptr<TestClient> client_;
  std::atomic<bool> ready_{true};
  std::atomic<int> reloads_{0};
  Status reload_status_;
  bool with_ingest_ = true;
  bool with_series_ = true;
  std::mutex mu_;
  std::vector<std::string> manual_;
  std::vector<std::string> manual_kinds_;
  Status manual_status_;
  std::vector<SeriesQuery> series_queries_;
  Status series_status_;
};

TEST_F(HttpApiTest, HealthReadinessAndMetrics) {
  Start();
  auto r = client_->Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
  EXPECT_EQ(client_->Get("/readyz").status, 200);
  ready_ = false;
  r = client_->Get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  r = client_->Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(*r.Header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("vigil_messages_received_total{source=\"api\"} 7"), std::string::npos);
}

TEST_F(HttpApiTest, RulesWithActiveCountsAndCounters) {
  Start();
  EngineAlert("zone-overheat", "nord", AlertState::kRaised, 1000, 1000);
  auto r = client_->Get("/api/v1/rules");
  ASSERT_EQ(r.status, 200);
  Json j(r.body);
  auto rules = j.root["rules"].get_array();
  ASSERT_EQ(rules.size(), 2u);
  auto first = rules.at(0);
  EXPECT_EQ(std::string_view(first["name"].get_string()), "zone-overheat");
  EXPECT_EQ(std::string_view(first["kind"].get_string()), "event");
  EXPECT_EQ(std::string_view(first["severity"].get_string()), "critical");
  EXPECT_EQ(std::string_view(first["when"].get_string()), "temp > 30");
  EXPECT_EQ(std::string_view(first["key"].at(0).get_string()), "zone");
  EXPECT_EQ(std::string_view(first["labels"]["team"].get_string()), "ops");
  EXPECT_EQ(int64_t(first["active_alerts"].get_int64()), 1);
  EXPECT_EQ(int64_t(first["counters"]["evaluations"].get_int64()), 12);
  auto second = rules.at(1);
  EXPECT_EQ(int64_t(second["active_alerts"].get_int64()), 0);
  EXPECT_EQ(second["counters"].get_object().size(), 0u);
}

TEST_F(HttpApiTest, AlertsActiveAllAndFilters) {
  Start();
  const std::string a = EngineAlert("zone-overheat", "nord", AlertState::kRaised, 1000, 1000);
  const std::string b = EngineAlert("heartbeat-lost", "sud", AlertState::kRaised, 2000, 2000);
  EngineAlert("zone-overheat", "nord", AlertState::kCleared, 3000, 1000);

  auto r = client_->Get("/api/v1/alerts");
  ASSERT_EQ(r.status, 200);
  {
    Json j(r.body);
    auto alerts = j.root["alerts"].get_array();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(std::string_view(alerts.at(0)["id"].get_string()), b);
    EXPECT_EQ(bool(alerts.at(0)["acked"].get_bool()), false);
  }
  r = client_->Get("/api/v1/alerts?state=all");
  {
    Json j(r.body);
    EXPECT_EQ(j.root["alerts"].get_array().size(), 3u);
  }
  r = client_->Get("/api/v1/alerts?state=all&rule=zone-overheat&limit=1");
  {
    Json j(r.body);
    auto alerts = j.root["alerts"].get_array();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(std::string_view(alerts.at(0)["state"].get_string()), "cleared");
    EXPECT_EQ(std::string_view(alerts.at(0)["id"].get_string()), a);
  }
  r = client_->Get("/api/v1/alerts?state=all&zone=sud&severity=major");
  {
    Json j(r.body);
    EXPECT_EQ(j.root["alerts"].get_array().size(), 1u);
  }
  EXPECT_EQ(client_->Get("/api/v1/alerts?state=firing").status, 400);
  EXPECT_EQ(client_->Get("/api/v1/alerts?severity=urgent").status, 400);
  EXPECT_EQ(client_->Get("/api/v1/alerts?state=all&limit=0").status, 400);
  EXPECT_EQ(client_->Get("/api/v1/alerts?state=all&limit=x").status, 400);
}

TEST_F(HttpApiTest, ManualRaiseAckAndClear) {
  Start();
  auto r = client_->Post("/api/v1/alerts",
                         R"({"rule":"door-open","key":{"zone":"nord","door":3},"severity":"major",)"
                         R"("message":"door 3 open","labels":{"source":"bms"},"ts":"2024-11-22T08:00:00Z"})",
                         {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id;
  {
    Json j(r.body);
    id = std::string(std::string_view(j.root["id"].get_string()));
    EXPECT_EQ(std::string_view(j.root["key"]["door"].get_string()), "3");
    EXPECT_EQ(int64_t(j.root["ts"].get_int64()), 1732262400000);
    EXPECT_EQ(std::string_view(j.root["message"].get_string()), "door 3 open");
  }
  const std::vector<std::string> names = {"door", "zone"}, values = {"3", "nord"};
  EXPECT_EQ(id, AlertId("manual:door-open", names.data(), values.data(), 2, 1732262400000));
  {
    // The transition for the sinks: the alert JSON, of kind "manual".
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_EQ(manual_.size(), 1u);
    EXPECT_EQ(manual_kinds_[0], "manual");
    Json t(manual_[0]);
    EXPECT_EQ(std::string_view(t.root["id"].get_string()), id);
    EXPECT_EQ(std::string_view(t.root["state"].get_string()), "raised");
    EXPECT_EQ(std::string_view(t.root["severity"].get_string()), "major");
    EXPECT_EQ(std::string_view(t.root["labels"]["source"].get_string()), "bms");
    EXPECT_EQ(manual_[0].find("acked"), std::string::npos) << "sinks get the transition, not the board entry";
  }
  // Again: the same alert, 200, count 2.
  r = client_->Post("/api/v1/alerts", R"({"rule":"door-open","key":{"door":"3","zone":"nord"},"severity":"major"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"count\":2"), std::string::npos) << r.body;

  // Ack.
  r = client_->Post("/api/v1/alerts/" + id + "/ack", R"({"by":"alice"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"acked_by\":\"alice\""), std::string::npos);
  r = client_->Post("/api/v1/alerts/" + id + "/ack", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"acked_by\":\"api\""), std::string::npos);
  EXPECT_EQ(client_->Post("/api/v1/alerts/ffff/ack", "").status, 404);
  EXPECT_EQ(client_->Post("/api/v1/alerts/" + id + "/ack", R"({"who":"x"})").status, 400);
  EXPECT_EQ(client_->Get("/api/v1/alerts/" + id + "/ack").status, 405);

  // Clear.
  r = client_->Post("/api/v1/alerts", R"({"rule":"door-open","key":{"door":"3","zone":"nord"},"state":"cleared"})");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"state\":\"cleared\""), std::string::npos);
  EXPECT_EQ(client_->Post("/api/v1/alerts", R"({"rule":"door-open","key":{"door":"3","zone":"nord"},"state":"cleared"})").status,
            404);
  EXPECT_EQ(board_->active_count(), 0u);
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(manual_.size(), 2u);  // raise and clear (not the repeat)
  EXPECT_NE(manual_[1].find("\"state\":\"cleared\""), std::string::npos) << manual_[1];
}

TEST_F(HttpApiTest, ManualAlertTheSinksCannotTakeIs503) {
  Start();
  manual_status_ = Status::Unsupported("the engine has stopped");
  auto r = client_->Post("/api/v1/alerts", R"({"rule":"door-open","key":{"door":"3"}})");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("not written to the sinks: the engine has stopped"), std::string::npos) << r.body;
  EXPECT_EQ(board_->active_count(), 1u);  // on the board all the same
}

TEST_F(HttpApiTest, LatestSeriesPassesTagsAndLimit) {
  Start();
  auto r = client_->Get("/api/v1/series/latest?zone=nord&device=d%201");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"series":[],"truncated":false})");
  EXPECT_EQ(*r.Header("Content-Type"), "application/json");
  EXPECT_EQ(client_->Get("/api/v1/series/latest?limit=5").status, 200);
  EXPECT_EQ(client_->Get("/api/v1/series/latest?limit=99999").status, 200);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ASSERT_EQ(series_queries_.size(), 3u);
    const std::vector<std::pair<std::string, std::string>> want = {{"zone", "nord"}, {"device", "d 1"}};
    EXPECT_EQ(series_queries_[0].tags, want);
    EXPECT_EQ(series_queries_[0].limit, 1000u);  // the default
    EXPECT_TRUE(series_queries_[1].tags.empty());
    EXPECT_EQ(series_queries_[1].limit, 5u);
    EXPECT_EQ(series_queries_[2].limit, 10000u);  // the maximum
  }
  EXPECT_EQ(client_->Get("/api/v1/series/latest?limit=0").status, 400);
  EXPECT_EQ(client_->Get("/api/v1/series/latest?limit=many").status, 400);
  EXPECT_EQ(client_->Post("/api/v1/series/latest", "").status, 405);
  series_status_ = Status::InvalidArgument("unknown tag 'room'");
  r = client_->Get("/api/v1/series/latest?room=1");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("unknown tag 'room'"), std::string::npos) << r.body;
  series_status_ = Status::Unsupported("the engine is not running");
  EXPECT_EQ(client_->Get("/api/v1/series/latest").status, 503);
}

TEST_F(HttpApiTest, LatestSeriesWithoutAnEngineIs404) {
  with_series_ = false;
  Start();
  EXPECT_EQ(client_->Get("/api/v1/series/latest").status, 404);
}

TEST_F(HttpApiTest, ManualRaiseErrors) {
  Start();
  struct Case {
    const char* body;
    int status;
    const char* error;
  };
  for (const Case& c : {Case{"{\"rule\": ", 400, "invalid JSON"},
                        Case{"[1]", 400, "expected a JSON object"},
                        Case{"{}", 400, "'rule' is required"},
                        Case{R"({"rule":"x","sev":"major"})", 400, "unknown field 'sev'"},
                        Case{R"({"rule":"x","severity":"urgent"})", 400, "unknown severity"},
                        Case{R"({"rule":"x","key":{"zone":[1]}})", 400, "'key.zone' must be"},
                        Case{R"({"rule":"x","key":"nord"})", 400, "'key' must be an object"},
                        Case{R"({"rule":"x","ts":"yesterday"})", 400, "'ts' must be"},
                        Case{R"({"rule":"x","state":"firing"})", 400, "'state' must be"},
                        Case{R"({"rule":"zone-overheat"})", 409, "is a rule of the rules file"}}) {
    auto r = client_->Post("/api/v1/alerts", c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.error), std::string::npos) << c.body << " -> " << r.body;
    EXPECT_EQ(r.body.rfind("{\"error\":", 0), 0u) << r.body;
  }
  EXPECT_EQ(client_->Post("/api/v1/alerts", std::string(5000, ' ')).status, 413);
}

TEST_F(HttpApiTest, StreamSnapshotLiveEventsAndResume) {
  Start();
  const std::string a = EngineAlert("zone-overheat", "nord", AlertState::kRaised, 1000, 1000);
  SseClient sse(server_.port(), "/api/v1/alerts/stream");
  ASSERT_EQ(sse.status(), 200);
  auto e = sse.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "snapshot");
  EXPECT_EQ(e->id, "100");
  EXPECT_NE(e->data.find(a), std::string::npos);

  // A manual raise through the API arrives on the stream.
  auto r = client_->Post("/api/v1/alerts", R"({"rule":"door-open","key":{"zone":"sud"}})");
  ASSERT_EQ(r.status, 201);
  e = sse.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "alert");
  EXPECT_EQ(e->id, "101");
  EXPECT_NE(e->data.find("\"rule\":\"door-open\""), std::string::npos);
  EngineAlert("zone-overheat", "nord", AlertState::kCleared, 2000, 1000);
  e = sse.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "102");
  EXPECT_NE(e->data.find("\"state\":\"cleared\""), std::string::npos);
  sse.Close();

  // Events while disconnected, then resume after 101.
  EngineAlert("zone-overheat", "est", AlertState::kRaised, 3000, 3000);
  SseClient resumed(server_.port(), "/api/v1/alerts/stream", {{"Last-Event-ID", "101"}});
  ASSERT_EQ(resumed.status(), 200);
  e = resumed.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "102");
  e = resumed.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "103");
  EXPECT_NE(e->data.find("\"zone\":\"est\""), std::string::npos);
  EXPECT_FALSE(resumed.Next(100ms));

  // The same through the query parameter, with a filter and no snapshot.
  SseClient filtered(server_.port(), "/api/v1/alerts/stream?last_event_id=100&zone=sud");
  e = filtered.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "101");
  EXPECT_FALSE(filtered.Next(100ms));
  SseClient quiet(server_.port(), "/api/v1/alerts/stream?snapshot=false&rule=zone-overheat");
  ASSERT_EQ(quiet.status(), 200);
  EXPECT_FALSE(quiet.Next(100ms));
  EngineAlert("zone-overheat", "ouest", AlertState::kRaised, 4000, 4000);
  e = quiet.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, "104");
}

TEST_F(HttpApiTest, StreamAckEventsAndBadFilter) {
  Start();
  const std::string id = EngineAlert("zone-overheat", "nord", AlertState::kRaised, 1000, 1000);
  SseClient sse(server_.port(), "/api/v1/alerts/stream?snapshot=false");
  ASSERT_EQ(sse.status(), 200);
  ASSERT_EQ(client_->Post("/api/v1/alerts/" + id + "/ack", R"({"by":"bob"})").status, 200);
  auto e = sse.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->event, "ack");
  EXPECT_NE(e->data.find("\"acked_by\":\"bob\""), std::string::npos);
  SseClient bad(server_.port(), "/api/v1/alerts/stream?severity=loud");
  EXPECT_EQ(bad.status(), 400);
  EXPECT_NE(bad.response().body.find("unknown severity"), std::string::npos);
}

TEST_F(HttpApiTest, IngestAcceptsAndReportsRejections) {
  Start();
  auto r = client_->Post("/api/v1/ingest", "{\"zone\":\"nord\",\"temp\":31}\n{bad\n{\"zone\":\"sud\",\"temp\":20}\n",
                         {{"Content-Type", "application/x-ndjson"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"accepted":2,"rejected":1,"errors":[{"index":1,"line":2,"reason":"invalid_json"}]})");
  r = client_->Post("/api/v1/ingest", R"([{"zone":"est","temp":1}])", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 202);
  // 3 accepted and the rejected line (queued too, for the dead-letter sink).
  EXPECT_EQ(ingest_->queued_messages(), 4u);
  r = client_->Post("/api/v1/ingest", R"([{"zone":"est","temp":1})", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 400);
  r = client_->Post("/api/v1/ingest", "a,b\n1,2", {{"Content-Type", "text/csv"}});
  EXPECT_EQ(r.status, 415);
  r = client_->Post("/api/v1/ingest", std::string(5000, ' '), {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(client_->Get("/api/v1/ingest").status, 405);
}

TEST_F(HttpApiTest, IngestBackpressureIs503WithRetryAfter) {
  bridges::HttpIngestSourceOptions o;
  o.queue_messages = 2;
  o.enqueue_timeout = 20ms;
  Start("", o);
  EXPECT_EQ(client_->Post("/api/v1/ingest", "{\"temp\":1}\n{\"temp\":2}", {{"Content-Type", "application/x-ndjson"}}).status,
            202);
  auto r = client_->Post("/api/v1/ingest", "{\"temp\":3}", {{"Content-Type", "application/x-ndjson"}});
  EXPECT_EQ(r.status, 503);
  ASSERT_NE(r.Header("Retry-After"), nullptr);
  EXPECT_EQ(ingest_->queued_messages(), 2u);
}

TEST_F(HttpApiTest, IngestWithoutHttpSourceIs404) {
  with_ingest_ = false;
  Start();
  auto r = client_->Post("/api/v1/ingest", "{}", {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("no http source"), std::string::npos);
}

TEST_F(HttpApiTest, Reload) {
  Start();
  auto r = client_->Post("/-/reload", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(reloads_.load(), 1);
  reload_status_ = Status::InvalidArgument("rules.yaml:3:7: unknown key 'wehn'");
  r = client_->Post("/-/reload", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("rules.yaml:3:7"), std::string::npos);
  reload_status_ = Status::IoError("disk on fire");
  EXPECT_EQ(client_->Post("/-/reload", "").status, 500);
  EXPECT_EQ(client_->Get("/-/reload").status, 405);
}

TEST_F(HttpApiTest, ReloadUnavailableIs501) {
  Start();
  server_.Stop();
  ApiContext ctx;
  ctx.board = board_.get();
  HttpServer other;
  RegisterApiRoutes(other, ctx);
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  ASSERT_TRUE(other.Start(o).ok());
  TestClient c(other.port());
  EXPECT_EQ(c.Post("/-/reload", "").status, 501);
  // Defaults: no rules, empty metrics, ready.
  EXPECT_EQ(c.Get("/api/v1/rules").body, R"({"rules":[]})");
  EXPECT_EQ(c.Get("/metrics").body, "");
  EXPECT_EQ(c.Get("/readyz").status, 200);
}

TEST_F(HttpApiTest, LivePage) {
  Start("secret");
  auto r = client_->Get("/");
  EXPECT_EQ(r.status, 200);  // the page itself holds no data: open
  EXPECT_EQ(*r.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(r.body, kLivePageHtml);
  EXPECT_NE(r.body.find("EventSource"), std::string::npos);
  EXPECT_NE(r.body.find("/api/v1/alerts/stream"), std::string::npos);
  EXPECT_NE(r.body.find("vigil_messages_received_total"), std::string::npos);
  EXPECT_EQ(r.body.find("http://"), std::string::npos);  // nothing from elsewhere
  EXPECT_EQ(r.body.find("https://"), std::string::npos);
}

TEST_F(HttpApiTest, TokenRequiredOnApiAndAdminRoutes) {
  Start("secret");
  const vigil::testing::Headers auth = {{"Authorization", "Bearer secret"}};
  for (const char* path : {"/api/v1/rules", "/api/v1/alerts", "/api/v1/alerts/stream"}) {
    auto r = client_->Get(path);
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_EQ(r.body.rfind("{\"error\":", 0), 0u);
  }
  EXPECT_EQ(client_->Post("/api/v1/alerts", R"({"rule":"x"})").status, 401);
  EXPECT_EQ(client_->Post("/api/v1/alerts/abc/ack", "").status, 401);
  EXPECT_EQ(client_->Post("/api/v1/ingest", "{}", {{"Content-Type", "application/json"}}).status, 401);
  EXPECT_EQ(client_->Post("/-/reload", "").status, 401);
  EXPECT_EQ(reloads_.load(), 0);
  EXPECT_EQ(ingest_->queued_messages(), 0u);
  EXPECT_EQ(client_->Get("/api/v1/rules", auth).status, 200);
  EXPECT_EQ(client_->Post("/api/v1/ingest", "{}", {{"Content-Type", "application/json"}, auth[0]}).status, 202);
  SseClient sse(server_.port(), "/api/v1/alerts/stream", auth);
  EXPECT_EQ(sse.status(), 200);
  EXPECT_EQ(client_->Get("/metrics").status, 200);
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(HttpApiTest, IngestedMessagesReachThePoller) {
  Start();
  ASSERT_EQ(client_->Post("/api/v1/ingest", R"([{"zone":"nord","temp":31},{"zone":"sud","temp":20}])").status, 202);
  struct Count final : MessageHandler {
    int messages = 0;
    void OnMessage(ParsedMessage&) override { ++messages; }
    void OnReject(RejectReason, std::string_view, std::string_view) override {}
  } handler;
  ASSERT_TRUE(ingest_->Poll(handler, 100).ok());
  EXPECT_EQ(handler.messages, 2);
}

}  // namespace
}  // namespace vigil::cli
