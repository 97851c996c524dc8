// LineReader implementation (POSIX read(2)).
#include "file/line_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vigil::bridges {

namespace {
constexpr size_t kChunk = 4 << 20;   // bytes per read
constexpr size_t kPadding = 64;      // simdjson::SIMDJSON_PADDING
}  // namespace

LineReader::LineReader(std::string path, size_t max_line) : path_(std::move(path)), max_line_(max_line) {}

LineReader::~LineReader() {
  if (fd_ >= 0 && !is_stdin_) ::close(fd_);
}

Status LineReader::Open() {
  if (path_ == "-") {
    fd_ = 0;
    is_stdin_ = true;
  } else {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Status::IoError("cannot open '" + path_ + "': " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
      return Status::IoError("'" + path_ + "' is a directory, not a data file");
    }
  }
  buf_.assign(kChunk + kPadding, 0);
  return Status::Ok();
}

uint64_t LineReader::file_size() const {
  struct stat st;
  if (fd_ < 0 || is_stdin_ || ::fstat(fd_, &st) != 0) return 0;
  return static_cast<uint64_t>(st.st_size);
}

Status LineReader::Seek(uint64_t offset, uint64_t line_number) {
  if (is_stdin_) return Status::Unsupported("standard input cannot resume from a position");
  const uint64_t size = file_size();
  if (offset > size) {
    return Status::IoError("'" + path_ + "' has " + std::to_string(size) + " bytes, less than its checkpointed position " +
                           std::to_string(offset) + " (truncated or replaced?)");
  }
  if (::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) < 0) {
    return Status::IoError("seek in '" + path_ + "': " + std::strerror(errno));
  }
  begin_ = end_ = 0;
  skipping_ = false;
  consumed_ = offset;
  line_number_ = line_number;
  return Status::Ok();
}

bool LineReader::Fill() {
  if (begin_ > 0) {  // move the partial line to the front
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (buf_.size() - kPadding - end_ < kChunk / 2) {
    buf_.resize(buf_.size() + kChunk);
  }
  ssize_t n;
  do {
    n = ::read(fd_, buf_.data() + end_, buf_.size() - kPadding - end_);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  end_ += static_cast<size_t>(n);
  return true;
}

// The first line of a file without the UTF-8 byte-order mark that editors
// and spreadsheet exports put before it (a CSV header would otherwise name
// its first column "\xEF\xBB\xBFts", an NDJSON line would not be JSON).
static std::string_view WithoutBom(std::string_view line, bool first_in_file) {
  if (first_in_file && line.size() >= 3 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.remove_prefix(3);
  return line;
}

LineReader::Next LineReader::NextLine(std::string_view* line, size_t* capacity, bool at_eof_final) {
  while (true) {
    const char* start = buf_.data() + begin_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    if (nl != nullptr) {
      const size_t len = static_cast<size_t>(nl - start);
      const bool first = consumed_ == 0;
      begin_ += len + 1;
      consumed_ += len + 1;
      if (skipping_) {
        skipping_ = false;
        continue;  // the tail of an oversize line, already reported
      }
      ++line_number_;
      *line = WithoutBom(std::string_view(start, len), first);
      *capacity = buf_.size() - static_cast<size_t>(line->data() - buf_.data());
      return Next::kLine;
    }
    if (end_ - begin_ > max_line_) {  // oversize: report its beginning, skip the rest
      const bool first = !skipping_;
      *line = std::string_view(start, 256);
      *capacity = buf_.size() - static_cast<size_t>(start - buf_.data());
      consumed_ += end_ - begin_;
      begin_ = end_ = 0;
      if (first) {
        skipping_ = true;
        ++line_number_;
        return Next::kOversize;
      }
      continue;
    }
    if (Fill()) continue;
    if (at_eof_final && end_ > begin_) {  // last line without '\n'
      const size_t len = end_ - begin_;
      const bool first = consumed_ == 0;
      begin_ = end_;
      consumed_ += len;
      ++line_number_;
      if (skipping_) {
        skipping_ = false;
        return Next::kEndOfData;
      }
      *line = WithoutBom(std::string_view(start, len), first);
      *capacity = buf_.size() - static_cast<size_t>(line->data() - buf_.data());
      return Next::kLine;
    }
    return Next::kEndOfData;
  }
}

}  // namespace vigil::bridges
