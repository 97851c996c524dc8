// LineReader: reads a file (or stdin) in large chunks and hands out its lines
// as views into a buffer that keeps simdjson's padding readable after them.
//
// A line longer than `max_line` is not buffered whole: the reader skips it
// and reports it (its first bytes) as oversize. In follow mode, end of file
// is not the end: a later call sees what was appended (like `tail -f`).
// Thread-safety: one thread. Views are valid until the next call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/status.h"

namespace vigil::bridges {

class LineReader {
 public:
  enum class Next { kLine, kOversize, kEndOfData };

  LineReader(std::string path, size_t max_line);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  Status Open();
  // kLine: *line is the next line without its '\n', readable up to
  // `*capacity` bytes from its start. kOversize: the line was too long,
  // *line holds its beginning. kEndOfData: nothing more now (a partial
  // last line without '\n' is returned as a line only once `at_eof_final`).
  Next NextLine(std::string_view* line, size_t* capacity, bool at_eof_final);

  const std::string& path() const { return path_; }
  uint64_t line_number() const { return line_number_; }   // of the line last returned
  uint64_t offset() const { return consumed_; }           // byte offset after the last returned line
  uint64_t file_size() const;
  // Continues at byte `offset` (the start of a line), counting lines from
  // `line_number` (the line before it). Not for stdin.
  Status Seek(uint64_t offset, uint64_t line_number);

 private:
  bool Fill();  // reads more; false when nothing could be read

  std::string path_;
  size_t max_line_;
  int fd_ = -1;
  bool is_stdin_ = false;
  std::vector<char> buf_;
  size_t begin_ = 0, end_ = 0;   // unread bytes [begin_, end_)
  bool skipping_ = false;        // inside an oversize line
  uint64_t line_number_ = 0;
  uint64_t consumed_ = 0;
};

}  // namespace vigil::bridges
