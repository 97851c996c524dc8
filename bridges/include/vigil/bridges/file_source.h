// FileSource: NDJSON and CSV files (or stdin, "-") as one source.
//
// Several files are merged in event time (each file in its own order; ties
// go to the earlier file), so data split by time or by device replays the
// same. `.csv` files need a header row. With `follow`, the source keeps
// reading what is appended (tail -f) and never finishes; without, it
// finishes at the end of its files.
// Thread-safety: driven by the engine's router thread; progress counters are
// atomics readable from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/message.h"
#include "vigil/engine/source.h"

namespace vigil::bridges {

struct FileSourceOptions {
  std::string name = "file";
  std::vector<std::string> paths;
  bool follow = false;              // Default: false
  MessageFormat format;
  int64_t allowed_lateness_ms = 0;
};

class FileSource final : public Source {
 public:
  explicit FileSource(FileSourceOptions options);
  ~FileSource() override;

  const std::string& name() const override { return options_.name; }
  Status Open(const Schema& schema, TagInterner* tags) override;
  Result<PollState> Poll(MessageHandler& handler, size_t max_messages) override;
  int64_t allowed_lateness_ms() const override { return options_.allowed_lateness_ms; }
  // "file1 OFFSET:LINE;..." per file, in order: the byte offset and line
  // number after the last line handed over (or skipped as rejected).
  std::string Position() const override;
  Status Resume(std::string_view position) override;

  // Progress, for a progress bar: bytes consumed and total size of the files.
  uint64_t bytes_read() const { return bytes_read_.load(std::memory_order_relaxed); }
  uint64_t bytes_total() const { return bytes_total_; }

 private:
  struct Cursor;
  bool Advance(Cursor& c, MessageHandler& handler, bool* rejected);

  FileSourceOptions options_;
  std::vector<std::unique_ptr<Cursor>> cursors_;
  std::atomic<uint64_t> bytes_read_{0};
  uint64_t bytes_total_ = 0;
  const Schema* schema_ = nullptr;
  TagInterner* tags_ = nullptr;
};

}  // namespace vigil::bridges
