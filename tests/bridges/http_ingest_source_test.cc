// Tests for vigil/bridges/http_ingest_source.h: body formats (object, array,
// NDJSON, NDJSON sent as application/json), per-message rejections at
// request time with their index/line and reason, request errors (400/415),
// parsing on Poll() with rejections reported to the handler, and
// backpressure (503 after the timeout with nothing accepted, a waiting
// request admitted when Poll() makes room, Close()).
#include "vigil/bridges/http_ingest_source.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"

namespace vigil::bridges {
namespace {

using namespace std::chrono_literals;

struct Collected {
  double temp;
  std::string zone;
  bool has_ts;
  int64_t ts;
};

class Collector final : public MessageHandler {
 public:
  Collector(const Schema& schema, const TagInterner& tags) : schema_(schema), tags_(tags) {}
  void OnMessage(ParsedMessage& m) override {
    const int zone = schema_.FindTag("zone");
    messages.push_back(Collected{m.fields[static_cast<size_t>(schema_.FindField("temp"))],
                                 m.tags[static_cast<size_t>(zone)] == 0
                                     ? std::string()
                                     : std::string(tags_.Get(m.tags[static_cast<size_t>(zone)])),
                                 m.has_ts, m.ts});
  }
  void OnReject(RejectReason reason, std::string_view raw, std::string_view where) override {
    rejects.push_back(std::string(RejectReasonName(reason)) + "|" + std::string(raw) + "|" + std::string(where));
  }
  std::vector<Collected> messages;
  std::vector<std::string> rejects;

 private:
  const Schema& schema_;
  const TagInterner& tags_;
};

class HttpIngestSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    schema_.AddField("temp");
    schema_.AddTag("zone");
  }
  std::unique_ptr<HttpIngestSource> Make(HttpIngestSourceOptions o = {}) {
    o.name = "api";
    auto s = std::make_unique<HttpIngestSource>(std::move(o));
    EXPECT_TRUE(s->Open(schema_, &tags_).ok());
    return s;
  }
  // Drains everything queued into a fresh collector.
  Collector Drain(HttpIngestSource& s) {
    Collector c(schema_, tags_);
    while (true) {
      auto st = s.Poll(c, 1000);
      EXPECT_TRUE(st.ok());
      if (!st.ok() || st.value() == PollState::kIdle) break;
    }
    return c;
  }

  Schema schema_;
  TagInterner tags_;
};

TEST_F(HttpIngestSourceTest, LiveAndNamed) {
  auto s = Make();
  EXPECT_TRUE(s->live());
  EXPECT_EQ(s->name(), "api");
  Collector c(schema_, tags_);
  EXPECT_EQ(s->Poll(c, 10).value(), PollState::kIdle);
}

TEST_F(HttpIngestSourceTest, SingleObject) {
  auto s = Make();
  auto r = s->Submit(R"(  {"zone":"nord","temp":21.5,"ts":1700000000000}  )", "application/json");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":0,"errors":[]})");
  EXPECT_EQ(s->queued_messages(), 1u);
  Collector c = Drain(*s);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0].temp, 21.5);
  EXPECT_EQ(c.messages[0].zone, "nord");
  EXPECT_TRUE(c.messages[0].has_ts);
  EXPECT_EQ(c.messages[0].ts, 1700000000000);
  EXPECT_EQ(s->queued_messages(), 0u);
}

TEST_F(HttpIngestSourceTest, PrettyPrintedObjectIsOneMessage) {
  auto s = Make();
  auto r = s->Submit("{\n  \"zone\": \"nord\",\n  \"temp\": 1\n}\n", "application/json; charset=utf-8");
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(Drain(*s).messages.size(), 1u);
}

TEST_F(HttpIngestSourceTest, ArrayWithRejectedElements) {
  auto s = Make();
  auto r = s->Submit(R"([{"zone":"a","temp":1}, 42, {"zone":"b","temp":tru}, {"zone":"c","temp":3}, "x", [1]])",
                     "application/json");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.rejected, 4u);
  EXPECT_EQ(r.body,
            R"({"accepted":2,"rejected":4,"errors":[{"index":1,"reason":"not_object"},)"
            R"({"index":2,"reason":"invalid_json"},{"index":4,"reason":"not_object"},)"
            R"({"index":5,"reason":"not_object"}]})");
  Collector c = Drain(*s);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].zone, "a");
  EXPECT_EQ(c.messages[1].zone, "c");
  // The rejected elements still reach the router, in order, so that they are
  // counted in vigil_messages_rejected_total and dead-lettered.
  ASSERT_EQ(c.rejects.size(), 4u);
  EXPECT_EQ(c.rejects[0].substr(0, c.rejects[0].find('|')), "not_object");
  EXPECT_EQ(c.rejects[1].substr(0, c.rejects[1].rfind('|')), "invalid_json|{\"zone\":\"b\",\"temp\":tru}");
  EXPECT_EQ(s->accepted_total(), 2u);
  EXPECT_EQ(s->rejected_total(), 4u);
}

TEST_F(HttpIngestSourceTest, ArraysWithStringsHoldingBrackets) {
  auto s = Make();
  auto r = s->Submit(R"([{"zone":"a],[\"{","temp":1},{"zone":"}","temp":2}])", "");
  EXPECT_EQ(r.accepted, 2u) << r.body;
  Collector c = Drain(*s);
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[0].zone, "a],[\"{");
  EXPECT_EQ(c.messages[1].zone, "}");
  EXPECT_EQ(s->Submit("[]", "application/json").body, R"({"accepted":0,"rejected":0,"errors":[]})");
}

TEST_F(HttpIngestSourceTest, MalformedArrayIs400) {
  auto s = Make();
  for (const char* bad : {R"([{"temp":1})", R"([{"temp":1} {"temp":2}])", R"([{"temp":1}] x)", R"([{"a":"unterminated]")",
                          R"([{"temp":1},,{"temp":2}])"}) {
    auto r = s->Submit(bad, "application/json");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("malformed JSON array"), std::string::npos) << r.body;
  }
  EXPECT_EQ(s->queued_messages(), 0u);
}

TEST_F(HttpIngestSourceTest, NdjsonWithLineNumbers) {
  auto s = Make();
  const std::string body =
      "{\"zone\":\"a\",\"temp\":1}\r\n"
      "\n"
      "{\"zone\":\"b\",\"temp\":\n"
      "{\"zone\":\"c\",\"temp\":3} trailing\n"
      "   {\"zone\":\"d\",\"temp\":4}   \n"
      "[1,2]\n"
      "{\"zone\":\"e\",\"temp\":5}";
  auto r = s->Submit(body, "application/x-ndjson");
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body,
            R"({"accepted":3,"rejected":3,"errors":[{"index":1,"line":3,"reason":"invalid_json"},)"
            R"({"index":2,"line":4,"reason":"trailing_garbage"},{"index":4,"line":6,"reason":"not_object"}]})");
  Collector c = Drain(*s);
  ASSERT_EQ(c.messages.size(), 3u);
  EXPECT_EQ(c.messages[0].zone, "a");
  EXPECT_EQ(c.messages[1].zone, "d");
  EXPECT_EQ(c.messages[2].zone, "e");
}

TEST_F(HttpIngestSourceTest, NdjsonSentAsJsonIsSplitIntoLines) {
  auto s = Make();
  auto r = s->Submit("{\"zone\":\"a\",\"temp\":1}\n{\"zone\":\"b\",\"temp\":2}\n", "application/json");
  EXPECT_EQ(r.accepted, 2u) << r.body;
  r = s->Submit("{\"zone\":\"a\",\"temp\":1}\n{\"zone\":\"b\",\"temp\":2}\n", "");
  EXPECT_EQ(r.accepted, 2u) << r.body;
}

TEST_F(HttpIngestSourceTest, TooLargeAndTooDeep) {
  HttpIngestSourceOptions o;
  o.format.max_message_bytes = 40;
  auto s = Make(o);
  std::string deep;
  for (int i = 0; i < 65; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 65; ++i) deep += "}";
  std::string ok64;
  for (int i = 0; i < 64; ++i) ok64 += "{\"a\":";
  ok64 += "1";
  for (int i = 0; i < 64; ++i) ok64 += "}";
  HttpIngestSourceOptions big;
  auto t = Make(big);
  auto r = t->Submit(deep + "\n" + ok64 + "\n", "application/x-ndjson");
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":1,"errors":[{"index":0,"line":1,"reason":"too_deep"}]})");
  r = s->Submit("{\"zone\":\"" + std::string(50, 'x') + "\"}\n{\"temp\":1}", "application/x-ndjson");
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":1,"errors":[{"index":0,"line":1,"reason":"too_large"}]})");
}

// The request-time depth check counts levels as the engine's parser does,
// empty arrays and objects included (simdjson's DOM limit skips them).
// Found by tests/fuzz/http_ingest_fuzzer.
TEST_F(HttpIngestSourceTest, DepthCountsEmptyContainersAsTheEngineDoes) {
  HttpIngestSourceOptions o;
  o.format.max_depth = 3;
  auto s = Make(o);
  IngestResponse r = s->Submit(R"({"ts":[{"ts":[]}]})" "\n" R"({"a":[{"b":{}}]})" "\n" R"({"a":[{"b":[1]}]})" "\n"
                               R"({"a":[{}]})" "\n" R"({"a":[[]],"b":{"c":{}}})" "\n",
                               "application/x-ndjson");
  EXPECT_EQ(r.body, R"({"accepted":2,"rejected":3,"errors":[{"index":0,"line":1,"reason":"too_deep"},)"
                    R"({"index":1,"line":2,"reason":"too_deep"},{"index":2,"line":3,"reason":"too_deep"}]})");
  // What was accepted is not refused later by the engine's parser.
  const Collector c = Drain(*s);
  EXPECT_EQ(c.messages.size(), 2u);
  ASSERT_EQ(c.rejects.size(), 3u);  // the request-time rejections, reported again
  for (const std::string& reject : c.rejects) EXPECT_EQ(reject.rfind("too_deep|", 0), 0u) << reject;
}

TEST_F(HttpIngestSourceTest, RequestErrors) {
  auto s = Make();
  auto r = s->Submit("", "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("empty body"), std::string::npos);
  EXPECT_EQ(s->Submit(" \n\t", "application/x-ndjson").status, 400);
  r = s->Submit("{}", "text/csv");
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("text/csv"), std::string::npos);
  EXPECT_EQ(s->Submit("{}", "application/vnd.sensor+json").status, 202);
  EXPECT_EQ(s->Submit("not json", "application/json").body,
            R"({"accepted":0,"rejected":1,"errors":[{"index":0,"line":1,"reason":"invalid_json"}]})");
  EXPECT_EQ(s->requests_total(), 5u);
}

TEST_F(HttpIngestSourceTest, ErrorListIsCapped) {
  HttpIngestSourceOptions o;
  o.max_listed_errors = 2;
  auto s = Make(o);
  auto r = s->Submit("x\ny\nz\n", "application/x-ndjson");
  EXPECT_EQ(r.rejected, 3u);
  EXPECT_NE(r.body.find("\"errors_truncated\":true"), std::string::npos) << r.body;
}

TEST_F(HttpIngestSourceTest, PollRejectsWhatOnlyTheEngineParserSees) {
  auto s = Make();
  auto r = s->Submit("{\"zone\":\"a\",\"temp\":1,\"ts\":\"yesterday\"}\n{\"zone\":\"b\",\"temp\":2}", "application/x-ndjson");
  EXPECT_EQ(r.accepted, 2u);  // valid JSON both
  Collector c = Drain(*s);
  ASSERT_EQ(c.messages.size(), 1u);
  ASSERT_EQ(c.rejects.size(), 1u);
  EXPECT_EQ(c.rejects[0], "bad_timestamp|{\"zone\":\"a\",\"temp\":1,\"ts\":\"yesterday\"}|api request 1 #0");
}

TEST_F(HttpIngestSourceTest, PollHonoursMaxMessagesAcrossRequests) {
  auto s = Make();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(s->Submit("{\"temp\":1}\n{\"temp\":2}\n{\"temp\":3}", "application/x-ndjson").accepted, 3u);
  }
  Collector c(schema_, tags_);
  EXPECT_EQ(s->Poll(c, 4).value(), PollState::kActive);
  EXPECT_EQ(c.messages.size(), 4u);
  EXPECT_EQ(s->queued_messages(), 5u);
  EXPECT_EQ(s->Poll(c, 100).value(), PollState::kActive);
  EXPECT_EQ(c.messages.size(), 9u);
  EXPECT_EQ(s->queued_messages(), 0u);
  EXPECT_EQ(s->Poll(c, 100).value(), PollState::kIdle);
}

TEST_F(HttpIngestSourceTest, FullQueueAnswers503AndAcceptsNothing) {
  HttpIngestSourceOptions o;
  o.queue_messages = 4;
  o.enqueue_timeout = 30ms;
  auto s = Make(o);
  EXPECT_EQ(s->Submit("{\"temp\":1}\n{\"temp\":2}\n{\"temp\":3}", "application/x-ndjson").status, 202);
  auto r = s->Submit("{\"temp\":4}\n{\"temp\":5}", "application/x-ndjson");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("nothing of this request was accepted"), std::string::npos);
  EXPECT_EQ(s->throttled_total(), 1u);
  EXPECT_EQ(s->queued_messages(), 3u);
  EXPECT_EQ(s->Submit("{\"temp\":4}", "application/x-ndjson").status, 202);  // still fits
  EXPECT_EQ(Drain(*s).messages.size(), 4u);
  // A request larger than the whole queue is admitted into an empty queue.
  EXPECT_EQ(s->Submit("{\"temp\":1}\n{\"temp\":2}\n{\"temp\":3}\n{\"temp\":4}\n{\"temp\":5}", "application/x-ndjson").status,
            202);
  EXPECT_EQ(Drain(*s).messages.size(), 5u);
}

TEST_F(HttpIngestSourceTest, WaitingRequestIsAdmittedWhenPollMakesRoom) {
  HttpIngestSourceOptions o;
  o.queue_messages = 2;
  o.enqueue_timeout = 10s;
  auto s = Make(o);
  ASSERT_EQ(s->Submit("{\"temp\":1}\n{\"temp\":2}", "application/x-ndjson").status, 202);
  IngestResponse late;
  std::thread producer([&] { late = s->Submit("{\"temp\":3}", "application/x-ndjson"); });
  // The producer is blocked: the queue stays at 2 until the router drains.
  Collector c(schema_, tags_);
  while (c.messages.size() < 3) {
    ASSERT_TRUE(s->Poll(c, 1).ok());
    std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(late.status, 202);
  EXPECT_EQ(c.messages[2].temp, 3);
}

TEST_F(HttpIngestSourceTest, CloseWakesWaitingRequests) {
  HttpIngestSourceOptions o;
  o.queue_messages = 1;
  o.enqueue_timeout = 10s;
  auto s = Make(o);
  ASSERT_EQ(s->Submit("{\"temp\":1}", "").status, 202);
  IngestResponse late;
  std::thread producer([&] { late = s->Submit("{\"temp\":2}", ""); });
  const auto t0 = std::chrono::steady_clock::now();
  s->Close();  // wakes the producer if it waits already; refuses it if not
  producer.join();
  EXPECT_EQ(late.status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(s->Submit("{\"temp\":3}", "").status, 503);
  EXPECT_EQ(Drain(*s).messages.size(), 1u);  // what was accepted is still delivered
}


// With a journal, what was answered 202 survives the process: a new source
// on the same journal, resumed from a checkpointed Position(), hands over
// exactly the messages after it (also from the middle of a request), then
// what arrives next; without a checkpointed position it replays everything.
class HttpIngestJournalTest : public HttpIngestSourceTest {
 protected:
  void SetUp() override {
    HttpIngestSourceTest::SetUp();
    char tmpl[] = "/tmp/vigil-ingest-journal-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<HttpIngestSource> MakeJournaled() {
    HttpIngestSourceOptions o;
    o.journal_dir = dir_ + "/journal/api";
    return Make(std::move(o));
  }
  static std::vector<double> Temps(const Collector& c) {
    std::vector<double> t;
    for (const auto& m : c.messages) t.push_back(m.temp);
    return t;
  }
  std::string dir_;
};

TEST_F(HttpIngestJournalTest, AResumedSourceHandsOverExactlyWhatCameAfterThePosition) {
  std::string position;
  {
    auto s = MakeJournaled();
    EXPECT_EQ(s->Position(), "0:0");
    ASSERT_EQ(s->Submit("{\"temp\":1}\n{\"temp\":2}\n{\"temp\":3}", "application/x-ndjson").status, 202);
    ASSERT_EQ(s->Submit("[{\"temp\":4},{\"temp\":5},{\"temp\":\"x\"]", "application/json").status, 400);
    ASSERT_EQ(s->Submit("[{\"temp\":4},{\"temp\":5}]", "application/json").status, 202);
    Collector c(schema_, tags_);
    ASSERT_TRUE(s->Poll(c, 2).ok());  // 1, 2: stops inside the first request
    EXPECT_EQ(Temps(c), (std::vector<double>{1, 2}));
    position = s->Position();
    EXPECT_EQ(position, "0:2");
    // The process dies here: 3, 4 and 5 were answered 202, never processed.
  }
  auto s = MakeJournaled();
  ASSERT_TRUE(s->Resume(position).ok());
  ASSERT_EQ(s->Submit("{\"temp\":6}", "application/json").status, 202);  // arrives while replaying
  Collector c = Drain(*s);
  EXPECT_EQ(Temps(c), (std::vector<double>{3, 4, 5, 6}));
  // Everything handed over: the position is the journal's end.
  const std::string end = s->Position();
  EXPECT_NE(end, position);
  EXPECT_EQ(end.substr(end.find(':')), ":0");
  s->OnCheckpointDurable(end);
  s.reset();
  auto again = MakeJournaled();
  ASSERT_TRUE(again->Resume(end).ok());
  EXPECT_TRUE(Drain(*again).messages.empty());
}

TEST_F(HttpIngestJournalTest, WithoutACheckpointEverythingInTheJournalIsReplayedWithItsRejections) {
  {
    auto s = MakeJournaled();
    auto r = s->Submit("{\"temp\":1}\nnot json\n{\"temp\":2}", "application/x-ndjson");
    ASSERT_EQ(r.status, 202);
    ASSERT_EQ(r.rejected, 1u);
  }
  auto s = MakeJournaled();
  Collector c = Drain(*s);
  EXPECT_EQ(Temps(c), (std::vector<double>{1, 2}));
  ASSERT_EQ(c.rejects.size(), 1u);
  EXPECT_EQ(c.rejects[0].substr(0, c.rejects[0].find('|')), "invalid_json");
  EXPECT_NE(c.rejects[0].find("not json"), std::string::npos);
}

TEST_F(HttpIngestJournalTest, ARequestTheJournalCannotTakeIsRefusedWhole) {
  auto s = MakeJournaled();
  ASSERT_EQ(s->Submit("{\"temp\":1}", "application/json").status, 202);
  // Files of this process may not grow past 40 bytes (as on a full disk):
  // the next record cannot be written.
  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 40;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  auto r = s->Submit("{\"temp\":2,\"zone\":\"a rather long zone name\"}", "application/json");
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &old), 0);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("cannot journal"), std::string::npos) << r.body;
  // Nothing of it was queued or journaled; the journal goes on after it.
  ASSERT_EQ(s->Submit("{\"temp\":3}", "application/json").status, 202);
  EXPECT_EQ(Temps(Drain(*s)), (std::vector<double>{1, 3}));
  s.reset();
  EXPECT_EQ(Temps(Drain(*MakeJournaled())), (std::vector<double>{1, 3}));
}

}  // namespace
}  // namespace vigil::bridges
