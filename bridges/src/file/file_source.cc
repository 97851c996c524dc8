// FileSource implementation: per-file cursors and an event-time merge.
#include "vigil/bridges/file_source.h"

#include <charconv>

#include "file/line_reader.h"
#include "vigil/engine/csv_decoder.h"
#include "vigil/engine/json_parser.h"

namespace vigil::bridges {

namespace {
bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}
bool Blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}
}  // namespace

struct FileSource::Cursor {
  std::unique_ptr<LineReader> reader;
  std::unique_ptr<JsonMessageParser> json;
  std::unique_ptr<CsvMessageDecoder> csv;
  ParsedMessage head;
  bool has_head = false;
  bool done = false;
  uint64_t head_offset = 0;  // where the head's line starts (its position while not handed over)
  uint64_t head_line = 0;
};

FileSource::FileSource(FileSourceOptions options) : options_(std::move(options)) {}
FileSource::~FileSource() = default;

Status FileSource::Open(const Schema& schema, TagInterner* tags) {
  schema_ = &schema;
  tags_ = tags;
  if (options_.paths.empty()) return Status::InvalidArgument("no input files");
  for (const auto& path : options_.paths) {
    auto c = std::make_unique<Cursor>();
    c->reader = std::make_unique<LineReader>(path, options_.format.max_message_bytes);
    Status st = c->reader->Open();
    if (!st.ok()) return st;
    bytes_total_ += c->reader->file_size();
    if (EndsWith(path, ".csv")) {
      c->csv = std::make_unique<CsvMessageDecoder>(schema, options_.format, tags);
    } else {
      c->json = std::make_unique<JsonMessageParser>(schema, options_.format, tags);
    }
    cursors_.push_back(std::move(c));
  }
  return Status::Ok();
}

// Reads lines of `c` until it holds a message (or has nothing more now).
// Rejections are reported to `handler` on the way. Returns true when `c`
// holds a head; sets *rejected when a line was rejected.
bool FileSource::Advance(Cursor& c, MessageHandler& handler, bool* rejected) {
  std::string_view line;
  size_t capacity = 0;
  while (!c.has_head && !c.done) {
    const uint64_t line_start = c.reader->offset();
    const uint64_t line_before = c.reader->line_number();
    LineReader::Next next = c.reader->NextLine(&line, &capacity, !options_.follow);
    if (next == LineReader::Next::kEndOfData) {
      if (!options_.follow) c.done = true;
      return false;
    }
    auto where = [&c] { return c.reader->path() + ":" + std::to_string(c.reader->line_number()); };
    if (next == LineReader::Next::kOversize) {
      handler.OnReject(RejectReason::kTooLarge, line, where());
      *rejected = true;
      continue;
    }
    if (Blank(line)) continue;
    RejectReason r;
    if (c.csv) {
      if (!c.csv->has_header()) {
        Status st = c.csv->SetHeader(line);
        if (!st.ok()) {
          handler.OnReject(RejectReason::kBadCsv, line, where() + " (header: " + st.message() + ")");
          *rejected = true;
          c.done = true;
        }
        continue;
      }
      r = c.csv->Decode(line, &c.head);
    } else {
      r = c.json->Parse(line.data(), line.size(), capacity, &c.head);
    }
    if (r != RejectReason::kNone) {
      handler.OnReject(r, line, c.json ? c.json->Annotate(r, where()) : where());
      *rejected = true;
      continue;
    }
    c.has_head = true;
    c.head_offset = line_start;
    c.head_line = line_before;
  }
  return c.has_head;
}

Result<PollState> FileSource::Poll(MessageHandler& handler, size_t max_messages) {
  size_t handled = 0;
  if (cursors_.size() == 1) {
    Cursor& c = *cursors_[0];
    while (handled < max_messages) {
      bool rejected = false;
      if (!Advance(c, handler, &rejected)) {
        if (rejected) ++handled;
        break;
      }
      handler.OnMessage(c.head);
      c.has_head = false;
      ++handled;
    }
  } else {
    while (handled < max_messages) {
      Cursor* best = nullptr;
      bool waiting = false;
      for (auto& c : cursors_) {
        bool rejected = false;
        if (!Advance(*c, handler, &rejected)) {
          if (!c->done) waiting = true;  // follow mode: more may come
          continue;
        }
        const int64_t ts = c->head.has_ts ? c->head.ts : kMaxTime;
        if (best == nullptr || ts < (best->head.has_ts ? best->head.ts : kMaxTime)) best = c.get();
      }
      // In follow mode a file with nothing yet could still hold older data; the
      // merge does not wait for it (live files are read as they come).
      (void)waiting;
      if (best == nullptr) break;
      handler.OnMessage(best->head);
      best->has_head = false;
      ++handled;
    }
  }
  uint64_t read = 0;
  for (auto& c : cursors_) read += c->reader->offset();
  bytes_read_.store(read, std::memory_order_relaxed);  // once per Poll: no atomic per line
  bool all_done = true;
  for (auto& c : cursors_) all_done = all_done && c->done && !c->has_head;
  if (all_done) return PollState::kFinished;
  return handled > 0 ? PollState::kActive : PollState::kIdle;
}

std::string FileSource::Position() const {
  for (const auto& path : options_.paths) {
    if (path == "-") return {};  // standard input cannot be read again: not resumable
  }
  std::string out = "file1 ";
  for (const auto& c : cursors_) {
    const uint64_t offset = c->has_head ? c->head_offset : c->reader->offset();
    const uint64_t line = c->has_head ? c->head_line : c->reader->line_number();
    out += std::to_string(offset) + ":" + std::to_string(line) + ";";
  }
  return out;
}

Status FileSource::Resume(std::string_view position) {
  if (position.substr(0, 6) != "file1 ") return Status::InvalidArgument("not a file source position");
  std::string_view rest = position.substr(6);
  std::vector<std::pair<uint64_t, uint64_t>> at;
  while (!rest.empty()) {
    const size_t colon = rest.find(':');
    const size_t semi = rest.find(';');
    if (colon == std::string_view::npos || semi == std::string_view::npos || colon > semi) {
      return Status::InvalidArgument("unreadable file source position");
    }
    uint64_t offset = 0, line = 0;
    const std::string_view a = rest.substr(0, colon), b = rest.substr(colon + 1, semi - colon - 1);
    if (std::from_chars(a.data(), a.data() + a.size(), offset).ptr != a.data() + a.size() ||
        std::from_chars(b.data(), b.data() + b.size(), line).ptr != b.data() + b.size()) {
      return Status::InvalidArgument("unreadable file source position");
    }
    at.emplace_back(offset, line);
    rest.remove_prefix(semi + 1);
  }
  if (at.size() != cursors_.size()) {
    return Status::InvalidArgument("the checkpoint has " + std::to_string(at.size()) + " file(s), the source now " +
                                   std::to_string(cursors_.size()));
  }
  for (size_t i = 0; i < cursors_.size(); ++i) {
    Cursor& c = *cursors_[i];
    if (at[i].first == 0) continue;
    if (c.csv) {  // the header row comes first
      std::string_view line;
      size_t capacity = 0;
      while (!c.csv->has_header()) {
        if (c.reader->NextLine(&line, &capacity, true) != LineReader::Next::kLine) {
          return Status::IoError("'" + c.reader->path() + "': cannot read its header row again");
        }
        if (Blank(line)) continue;
        Status st = c.csv->SetHeader(line);
        if (!st.ok()) return st;
      }
    }
    Status st = c.reader->Seek(at[i].first, at[i].second);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace vigil::bridges
