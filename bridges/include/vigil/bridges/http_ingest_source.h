// HttpIngestSource: messages pushed over HTTP (POST /api/v1/ingest) as a
// live source of the engine.
//
// A request body is a JSON object, a JSON array of objects, or NDJSON (one
// object per line; blank lines are skipped). The HTTP thread that calls
// Submit() splits the body into messages, checks each one's JSON syntax
// (simdjson DOM: invalid_json, not_object, too_large, too_deep,
// trailing_garbage), and enqueues the valid ones — the whole request at once
// — into a bounded queue; the router thread drains it in Poll() and parses
// each message for the rules with JsonMessageParser, reporting what it
// rejects then (bad_timestamp, ...) through MessageHandler::OnReject, which
// counts it and sends it to the dead-letter sink like any other source.
//
// Backpressure: when the queue has no room for a request, Submit() waits up
// to `enqueue_timeout` for the router to make room, then answers 503 with
// nothing enqueued (the client retries the whole request). A request larger
// than the whole queue is accepted when the queue is empty. Nothing accepted
// is ever dropped.
//
// Durability: with a journal (`journal_dir`, set by `vigil run` to
// STATE_DIR/journal/<source> when there is a state dir), Submit() appends
// the request (its body and where each message is) to an IngestJournal
// before it answers 202, in queue order; Position() is the journal offset
// of the next message to hand over ("<record offset>:<message index>"), so
// checkpoints cover it, and after a crash (kill -9) Poll() first replays
// the journal from the checkpointed position: nothing answered 202 is
// lost. A request the journal cannot take (disk full) is answered 503.
// Without a journal Position() is empty: what was queued dies with the
// process.
//
// Thread-safety: Submit() and the counters from any thread, concurrently;
// Open(), Resume(), Poll(), Position() and OnCheckpointDurable() from the
// router thread; Close() from any thread (wakes waiting Submit()s, which
// then answer 503).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "vigil/engine/logger.h"
#include "vigil/engine/message.h"
#include "vigil/engine/source.h"

namespace vigil {
class JsonMessageParser;
}

namespace vigil::bridges {

struct HttpIngestSourceOptions {
  std::string name = "http";
  MessageFormat format;                 // timestamp field/unit, max message size and depth
  int64_t allowed_lateness_ms = 0;
  // Messages waiting for the router, all requests together. Default: 65,536.
  size_t queue_messages = 65536;
  // Bytes of request bodies waiting for the router. Default: 64 MiB.
  size_t queue_bytes = 64u << 20;
  // How long Submit() waits for room before answering 503. Default: 2 s.
  std::chrono::milliseconds enqueue_timeout{2000};
  // Rejections listed in a response (all are counted). Default: 100.
  size_t max_listed_errors = 100;
  // Directory of the journal of accepted requests; empty: none.
  std::string journal_dir;
  // Where the replay of the journal after a restart is reported (optional).
  Logger* logger = nullptr;
};

// What Submit() answers: an HTTP status and its JSON body.
//   202 {"accepted": n, "rejected": m, "errors": [{"index": i, "line": l, "reason": "invalid_json"}, ...]}
//       ("line" for NDJSON only; "errors_truncated": true when not all are listed)
//   400 {"error": ...}  empty body, or an array that is not well-formed
//   415 {"error": ...}  a Content-Type other than JSON / NDJSON
//   503 {"error": ...}  queue full for enqueue_timeout, or the source is closed
struct IngestResponse {
  int status = 202;
  std::string body;
  size_t accepted = 0;
  size_t rejected = 0;
};

class HttpIngestSource final : public Source {
 public:
  explicit HttpIngestSource(HttpIngestSourceOptions options);
  ~HttpIngestSource() override;

  // Source (router thread).
  const std::string& name() const override { return options_.name; }
  void SetWaker(SourceWaker* waker) override { waker_ = waker; }
  Status Open(const Schema& schema, TagInterner* tags) override;
  Result<PollState> Poll(MessageHandler& handler, size_t max_messages) override;
  bool live() const override { return true; }
  int64_t allowed_lateness_ms() const override { return options_.allowed_lateness_ms; }
  // Close(), then the engine drains what was accepted (202) before it stops.
  bool StopAccepting() override {
    Close();
    return true;
  }
  std::string Position() const override;
  Status Resume(std::string_view position) override;
  void OnCheckpointDurable(std::string_view position) override;

  // Any HTTP thread. `content_type` is the request's Content-Type header
  // (parameters such as charset are ignored; empty: sniffed from the body).
  IngestResponse Submit(std::string body, std::string_view content_type);
  // Refuses further Submit()s (503) and wakes those waiting. Poll() still
  // drains what was accepted.
  void Close();

  // Counters, any thread.
  uint64_t accepted_total() const { return accepted_.load(std::memory_order_relaxed); }
  uint64_t rejected_total() const { return rejected_.load(std::memory_order_relaxed); }  // at request time
  uint64_t requests_total() const { return requests_.load(std::memory_order_relaxed); }
  uint64_t throttled_total() const { return throttled_.load(std::memory_order_relaxed); }  // 503s for a full queue
  size_t queued_messages() const;

 private:
  struct Batch;
  bool Enqueue(std::unique_ptr<Batch> batch);
  // The next journal record to replay as a batch; null when none is left.
  Result<std::unique_ptr<Batch>> NextReplayed();

  HttpIngestSourceOptions options_;
  SourceWaker* waker_ = nullptr;
  std::unique_ptr<JsonMessageParser> parser_;  // router thread
  std::unique_ptr<Batch> current_;             // router thread: the batch being drained
  size_t current_next_ = 0;
  ParsedMessage message_;

  // The journal and the replay after a restart (null: no journal).
  struct Journaling;
  std::unique_ptr<Journaling> journaling_;

  mutable std::mutex mu_;
  std::condition_variable room_;
  std::deque<std::unique_ptr<Batch>> queue_;
  size_t queued_messages_ = 0;  // in queue_ and current_
  size_t queued_bytes_ = 0;
  bool closed_ = false;
  uint64_t next_request_ = 1;

  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> throttled_{0};
};

}  // namespace vigil::bridges
