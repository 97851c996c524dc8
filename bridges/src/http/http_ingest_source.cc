// HttpIngestSource: split and check request bodies on HTTP threads, queue
// them, parse on the router thread.
#include "vigil/bridges/http_ingest_source.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <limits>
#include <vector>

#include "journal/journal_replay.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/codec.h"
#include "vigil/engine/json_parser.h"

namespace vigil::bridges {

namespace {

enum class BodyKind { kSniff, kNdjson };

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

size_t SkipSpace(std::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// Media type without parameters, lower case.
std::string MediaType(std::string_view content_type) {
  std::string t;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c != ' ' && c != '\t') t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return t;
}

// Ends the JSON value starting at s[i] (structurally: strings, nesting),
// stopping at the first `,` or `]` outside it for a scalar. Returns npos
// when the value is cut off (unterminated string or nesting).
size_t ScanValue(std::string_view s, size_t i) {
  int depth = 0;
  bool in_string = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') {
        in_string = false;
        if (depth == 0) return i + 1;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{': case '[': ++depth; break;
      case '}': case ']':
        if (depth == 0) return i;  // a scalar ended by the enclosing array
        if (--depth == 0) return i + 1;
        break;
      case ',':
        if (depth == 0) return i;
        break;
      default:
        if (depth == 0 && IsSpace(c)) return i;
    }
  }
  return depth == 0 && !in_string ? s.size() : std::string_view::npos;
}

}  // namespace

struct HttpIngestSource::Batch {
  struct Span {
    uint32_t offset;
    uint32_t length;
    uint32_t index;  // position of the message in its request
    // Set when the HTTP thread already found the message invalid: the router
    // still reports it (counted in vigil_messages_rejected_total and written
    // to the dead-letter sink), it is just not parsed again.
    RejectReason rejected = RejectReason::kNone;
  };
  std::string data;  // the request body, then SIMDJSON_PADDING spaces
  std::vector<Span> spans;
  uint64_t request = 0;
  size_t bytes = 0;
  // Its journal record: offset, and the offset after it (0, 0: no journal).
  uint64_t journal_offset = 0;
  uint64_t journal_end = 0;
  bool replayed = false;  // read back from the journal after a restart (not counted in queued_*)
};

struct HttpIngestSource::Journaling {
  std::unique_ptr<JournalReplay> replay;
  size_t skip = 0;  // messages of the first replayed record handed over before the restart
};

namespace {

struct Candidate {
  uint32_t offset;
  uint32_t length;
  uint32_t line;  // 1-based for NDJSON, 0 otherwise
};

struct Rejection {
  uint32_t index;
  uint32_t line;
  RejectReason reason;
};

void SplitLines(std::string_view body, std::vector<Candidate>* out) {
  size_t i = 0;
  uint32_t line = 0;
  while (i < body.size()) {
    size_t nl = body.find('\n', i);
    if (nl == std::string_view::npos) nl = body.size();
    ++line;
    size_t b = i, e = nl;
    while (b < e && IsSpace(body[b])) ++b;
    while (e > b && IsSpace(body[e - 1])) --e;
    if (e > b) out->push_back(Candidate{static_cast<uint32_t>(b), static_cast<uint32_t>(e - b), line});
    i = nl + 1;
  }
}

// Splits `[v, v, ...]` into its elements. Returns an error text when the
// array itself is not well-formed.
std::string SplitArray(std::string_view body, size_t start, std::vector<Candidate>* out) {
  size_t i = SkipSpace(body, start + 1);
  if (i < body.size() && body[i] == ']') {
    i = SkipSpace(body, i + 1);
    return i == body.size() ? "" : "content after the closing ']' of the array";
  }
  while (true) {
    i = SkipSpace(body, i);
    if (i >= body.size()) return "the array is not closed";
    const size_t end = ScanValue(body, i);
    if (end == std::string_view::npos) return "the array is not closed (an element is cut off)";
    if (end == i) return "empty array element at byte " + std::to_string(i);
    out->push_back(Candidate{static_cast<uint32_t>(i), static_cast<uint32_t>(end - i), 0});
    i = SkipSpace(body, end);
    if (i >= body.size()) return "the array is not closed";
    if (body[i] == ',') {
      ++i;
      continue;
    }
    if (body[i] == ']') {
      i = SkipSpace(body, i + 1);
      return i == body.size() ? "" : "content after the closing ']' of the array";
    }
    return "expected ',' or ']' at byte " + std::to_string(i) + " of the array";
  }
}

// Nesting as the engine's parser counts it (JsonMessageParser: the root
// object is level 1, each object or array inside one more). simdjson's DOM
// depth limit alone does not match it: its parser does not open a level for
// an empty array or object, so `{"a":[{"b":[]}]}` passed a limit of 3 here
// and was then refused as too_deep by the engine (found by
// tests/fuzz/http_ingest_fuzzer).
int Nesting(simdjson::dom::element e) {
  int inner = 0;
  if (e.type() == simdjson::dom::element_type::OBJECT) {
    for (simdjson::dom::key_value_pair field : simdjson::dom::object(e)) inner = std::max(inner, Nesting(field.value));
    return 1 + inner;
  }
  if (e.type() == simdjson::dom::element_type::ARRAY) {
    for (simdjson::dom::element v : simdjson::dom::array(e)) inner = std::max(inner, Nesting(v));
    return 1 + inner;
  }
  return 0;
}

class Validator {
 public:
  explicit Validator(const MessageFormat& format) : format_(format) {
    // DOM counts the root object as a level; the engine allows max_depth
    // levels below and including the root.
    // On failure (out of memory) parse() allocates again and reports it.
    const simdjson::error_code e = parser_.allocate(4096, static_cast<size_t>(format.max_depth) + 1);
    (void)e;
  }

  // `data` must be readable SIMDJSON_PADDING bytes past offset + length.
  RejectReason Check(const char* data, size_t length) {
    if (length > format_.max_message_bytes) return RejectReason::kTooLarge;
    simdjson::dom::element doc;
    const simdjson::error_code e = parser_.parse(data, length, false).get(doc);
    if (e == simdjson::SUCCESS) {
      if (doc.type() != simdjson::dom::element_type::OBJECT) return RejectReason::kNotObject;
      return Nesting(doc) > format_.max_depth ? RejectReason::kTooDeep : RejectReason::kNone;
    }
    if (e == simdjson::DEPTH_ERROR) return RejectReason::kTooDeep;
    // A complete, valid value followed by more text is trailing garbage.
    const std::string_view s(data, length);
    const size_t end = ScanValue(s, SkipSpace(s, 0));
    if (end != std::string_view::npos && end < length && SkipSpace(s, end) < length) {
      simdjson::dom::element first;
      if (parser_.parse(data, end, false).get(first) == simdjson::SUCCESS) return RejectReason::kTrailingGarbage;
    }
    return RejectReason::kInvalidJson;
  }

 private:
  const MessageFormat& format_;
  simdjson::dom::parser parser_;
};

IngestResponse Error(int status, std::string_view message) {
  IngestResponse r;
  r.status = status;
  r.body = "{\"error\":";
  AppendJsonString(&r.body, message);
  r.body += '}';
  return r;
}

}  // namespace

HttpIngestSource::HttpIngestSource(HttpIngestSourceOptions options) : options_(std::move(options)) {}
HttpIngestSource::~HttpIngestSource() = default;

Status HttpIngestSource::Open(const Schema& schema, TagInterner* tags) {
  parser_ = std::make_unique<JsonMessageParser>(schema, options_.format, tags);
  if (options_.journal_dir.empty()) return Status::Ok();
  Result<std::unique_ptr<JournalReplay>> replay =
      JournalReplay::Open(options_.journal_dir, "http source '" + options_.name + "'", options_.logger);
  if (!replay.ok()) return replay.status();
  auto j = std::make_unique<Journaling>();
  j->replay = std::move(replay).value();
  std::lock_guard<std::mutex> lock(mu_);
  journaling_ = std::move(j);
  return Status::Ok();
}

std::string HttpIngestSource::Position() const {
  if (journaling_ == nullptr) return {};
  if (current_ != nullptr && current_next_ < current_->spans.size()) {
    return std::to_string(current_->journal_offset) + ":" + std::to_string(current_next_);
  }
  const JournalReplay& r = *journaling_->replay;
  // Before the replay started, the messages of its first record that were
  // handed over before the restart still count as handed over.
  const size_t skip = !r.done() && !r.started() && r.next_offset() == r.from() ? journaling_->skip : 0;
  return std::to_string(r.next_offset()) + ":" + std::to_string(skip);
}

Status HttpIngestSource::Resume(std::string_view position) {
  if (journaling_ == nullptr || position.empty()) return Status::Ok();
  uint64_t offset = 0, skip = 0;
  std::string_view rest;
  if (!JournalReplay::ParseOffset(position, &offset, &rest) || rest.empty() || rest[0] != ':' ||
      !JournalReplay::ParseOffset(rest.substr(1), &skip, &rest) || !rest.empty()) {
    return Status::InvalidArgument("http source '" + options_.name + "': unreadable position '" +
                                   std::string(position) + "'");
  }
  Status st = journaling_->replay->ResumeAt(offset);
  if (!st.ok()) return st;
  journaling_->skip = journaling_->replay->from() == offset ? skip : 0;
  return Status::Ok();
}

void HttpIngestSource::OnCheckpointDurable(std::string_view position) {
  if (journaling_ != nullptr) journaling_->replay->Release(position);
}

Result<std::unique_ptr<HttpIngestSource::Batch>> HttpIngestSource::NextReplayed() {
  JournalReplay& r = *journaling_->replay;
  std::string record;
  uint64_t offset = 0;
  Result<bool> more = r.Next(&record, &offset);
  if (!more.ok()) return more.status();
  if (!*more) return std::unique_ptr<Batch>();
  Decoder in(record);
  int64_t request = 0;
  uint32_t n = 0;
  auto batch = std::make_unique<Batch>();
  bool good = in.GetInt64(&request) && in.GetFixed32(&n) && n <= record.size() / 16;
  for (uint32_t i = 0; good && i < n; ++i) {
    uint32_t off = 0, len = 0, index = 0, reason = 0;
    good = in.GetFixed32(&off) && in.GetFixed32(&len) && in.GetFixed32(&index) && in.GetFixed32(&reason) &&
           reason < static_cast<uint32_t>(RejectReason::kCount);
    batch->spans.push_back(Batch::Span{off, len, index, static_cast<RejectReason>(reason)});
  }
  const size_t body = in.remaining();
  for (const Batch::Span& s : batch->spans) good = good && uint64_t{s.offset} + s.length <= body;
  if (!good) {
    return Status::Corruption("http source '" + options_.name + "': unreadable journal record at offset " +
                              std::to_string(offset) + " in " + r.journal().dir());
  }
  batch->data.assign(record, record.size() - body, body);
  batch->data.append(simdjson::SIMDJSON_PADDING, ' ');
  batch->request = static_cast<uint64_t>(request);
  batch->bytes = body;
  batch->journal_offset = offset;
  batch->journal_end = IngestJournal::RecordEnd(offset, record.size());
  batch->replayed = true;
  return batch;
}

IngestResponse HttpIngestSource::Submit(std::string body, std::string_view content_type) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  const std::string type = MediaType(content_type);
  BodyKind kind;
  if (type == "application/x-ndjson" || type == "application/ndjson" || type == "application/jsonl" ||
      type == "application/x-jsonlines" || type == "application/jsonlines") {
    kind = BodyKind::kNdjson;
  } else if (type.empty() || type == "application/json" || type == "text/plain" ||
             (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0)) {
    kind = BodyKind::kSniff;
  } else {
    return Error(415, "unsupported Content-Type '" + std::string(content_type) +
                          "' (send application/json or application/x-ndjson)");
  }
  if (body.size() >= std::numeric_limits<uint32_t>::max()) return Error(413, "request body too large");
  const std::string_view view(body);
  const size_t first = SkipSpace(view, 0);
  if (first == view.size()) return Error(400, "empty body: send a JSON object, an array of objects or NDJSON");

  std::vector<Candidate> candidates;
  if (kind == BodyKind::kNdjson) {
    SplitLines(view, &candidates);
  } else if (view[first] == '[') {
    std::string err = SplitArray(view, first, &candidates);
    if (!err.empty()) return Error(400, "malformed JSON array: " + err);
  } else {
    const size_t end = ScanValue(view, first);
    if (end != std::string_view::npos && SkipSpace(view, end) == view.size()) {
      candidates.push_back(Candidate{static_cast<uint32_t>(first), static_cast<uint32_t>(end - first), 0});
    } else {
      // Several values one per line (NDJSON sent as application/json).
      SplitLines(view, &candidates);
    }
  }

  auto batch = std::make_unique<Batch>();
  batch->data = std::move(body);
  const size_t body_size = batch->data.size();
  batch->data.append(simdjson::SIMDJSON_PADDING, ' ');
  batch->spans.reserve(candidates.size());
  std::vector<Rejection> rejections;
  Validator validator(options_.format);
  for (uint32_t index = 0; index < candidates.size(); ++index) {
    const Candidate& c = candidates[index];
    const RejectReason r = validator.Check(batch->data.data() + c.offset, c.length);
    batch->spans.push_back(Batch::Span{c.offset, c.length, index, r});
    if (r != RejectReason::kNone) rejections.push_back(Rejection{index, c.line, r});
  }
  batch->bytes = body_size;

  IngestResponse resp;
  resp.accepted = batch->spans.size() - rejections.size();
  resp.rejected = rejections.size();
  if (!batch->spans.empty()) {
    std::unique_lock<std::mutex> lock(mu_);
    batch->request = next_request_++;
    const size_t n = batch->spans.size();
    const size_t bytes = batch->bytes;
    auto fits = [&] {
      return closed_ || queued_messages_ == 0 ||
             (queued_messages_ + n <= options_.queue_messages && queued_bytes_ + bytes <= options_.queue_bytes);
    };
    if (!room_.wait_for(lock, options_.enqueue_timeout, fits)) {
      lock.unlock();
      throttled_.fetch_add(1, std::memory_order_relaxed);
      IngestResponse busy = Error(503, "ingest queue full (" + std::to_string(queued_messages()) +
                                           " messages waiting): retry later; nothing of this request was accepted");
      return busy;
    }
    if (closed_) return Error(503, "source '" + options_.name + "' is shutting down; nothing of this request was accepted");
    if (journaling_ != nullptr) {
      // In the journal before the 202, in queue order (under mu_). The
      // record (read back by NextReplayed): request number, span count,
      // each span (offset, length, index, reason), then the body.
      std::string head;
      PutInt64(&head, static_cast<int64_t>(batch->request));
      PutFixed32(&head, static_cast<uint32_t>(batch->spans.size()));
      for (const Batch::Span& s : batch->spans) {
        PutFixed32(&head, s.offset);
        PutFixed32(&head, s.length);
        PutFixed32(&head, s.index);
        PutFixed32(&head, static_cast<uint32_t>(s.rejected));
      }
      Result<uint64_t> at =
          journaling_->replay->journal().Append(head, std::string_view(batch->data.data(), body_size));
      if (!at.ok()) {
        return Error(503, "source '" + options_.name + "' cannot journal the request (" + at.status().message() +
                              "); nothing of this request was accepted");
      }
      batch->journal_offset = *at;
      batch->journal_end = IngestJournal::RecordEnd(*at, head.size() + body_size);
    }
    queued_messages_ += n;
    queued_bytes_ += bytes;
    queue_.push_back(std::move(batch));
    if (queue_.size() == 1 && waker_ != nullptr) waker_->Wake();  // the router may be waiting
  }
  accepted_.fetch_add(resp.accepted, std::memory_order_relaxed);
  rejected_.fetch_add(resp.rejected, std::memory_order_relaxed);

  std::string& j = resp.body;
  j = "{\"accepted\":" + std::to_string(resp.accepted) + ",\"rejected\":" + std::to_string(resp.rejected) +
      ",\"errors\":[";
  const size_t listed = std::min(rejections.size(), options_.max_listed_errors);
  for (size_t i = 0; i < listed; ++i) {
    if (i) j += ',';
    j += "{\"index\":" + std::to_string(rejections[i].index);
    if (rejections[i].line != 0) j += ",\"line\":" + std::to_string(rejections[i].line);
    j += ",\"reason\":\"";
    j += RejectReasonName(rejections[i].reason);
    j += "\"}";
  }
  j += ']';
  if (listed < rejections.size()) j += ",\"errors_truncated\":true";
  j += '}';
  resp.status = 202;
  return resp;
}

void HttpIngestSource::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  room_.notify_all();
}

size_t HttpIngestSource::queued_messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queued_messages_;
}

Result<PollState> HttpIngestSource::Poll(MessageHandler& handler, size_t max_messages) {
  if (parser_ == nullptr) return PollState::kIdle;
  size_t handled = 0;
  size_t handled_queued = 0;  // of them, from queue_ (not replayed from the journal)
  size_t released_bytes = 0;
  auto finish_current = [&] {
    if (!current_->replayed) released_bytes += current_->bytes;
    if (journaling_ != nullptr) journaling_->replay->set_next_offset(current_->journal_end);
    current_.reset();
  };
  while (handled < max_messages) {
    if (current_ == nullptr || current_next_ >= current_->spans.size()) {
      if (current_ != nullptr) finish_current();
      if (journaling_ != nullptr && !journaling_->replay->done()) {
        Result<std::unique_ptr<Batch>> replayed = NextReplayed();
        if (!replayed.ok()) return replayed.status();
        if (*replayed != nullptr) {
          current_ = std::move(replayed).value();
          current_next_ = 0;
          if (current_->journal_offset == journaling_->replay->from()) {
            current_next_ = std::min(journaling_->skip, current_->spans.size());
          }
          continue;
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty()) break;
      current_ = std::move(queue_.front());
      queue_.pop_front();
      current_next_ = 0;
    }
    const Batch::Span& span = current_->spans[current_next_++];
    const char* data = current_->data.data() + span.offset;
    const RejectReason r = span.rejected != RejectReason::kNone
                               ? span.rejected
                               : parser_->Parse(data, span.length, current_->data.size() - span.offset, &message_);
    if (r == RejectReason::kNone) {
      handler.OnMessage(message_);
    } else {
      handler.OnReject(r, std::string_view(data, span.length),
                       parser_->Annotate(r, options_.name + " request " + std::to_string(current_->request) + " #" +
                                                std::to_string(span.index)));
    }
    ++handled;
    if (!current_->replayed) {
      ++handled_queued;
    } else {
      journaling_->replay->CountReplayed(1);
    }
  }
  if (current_ != nullptr && current_next_ >= current_->spans.size()) finish_current();
  if (handled_queued > 0 || released_bytes > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    queued_messages_ -= handled_queued;
    queued_bytes_ -= released_bytes;
    room_.notify_all();
  }
  return handled > 0 ? PollState::kActive : PollState::kIdle;
}

}  // namespace vigil::bridges
