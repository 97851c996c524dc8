// StreamSink, FileSink, DeadLetterFile.
#include "vigil/bridges/basic_sinks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/timestamp.h"

namespace vigil::bridges {

StreamSink::StreamSink(std::string name, std::FILE* stream, Format format, bool color)
    : name_(std::move(name)), stream_(stream), format_(format), color_(color) {}

Status StreamSink::Write(const AlertView& a) {
  if (format_ == Format::kJson) {
    line_ = a.json;
  } else {
    const bool raised = a.record.state == AlertState::kRaised;
    const char* on = "";
    const char* off = "";
    if (color_) {
      off = "\033[0m";
      if (!raised) on = "\033[32m";
      else if (a.rule.severity == "critical") on = "\033[1;31m";
      else if (a.rule.severity == "major") on = "\033[31m";
      else if (a.rule.severity == "warning") on = "\033[33m";
      else on = "\033[36m";
    }
    line_ = FormatIsoMillis(a.record.ts);
    line_ += ' ';
    line_ += on;
    line_ += raised ? "RAISED " : "CLEARED";
    line_ += off;
    line_ += ' ';
    line_ += a.rule.severity;
    line_.append(a.rule.severity.size() < 8 ? 8 - a.rule.severity.size() : 0, ' ');
    line_ += ' ';
    line_ += a.rule.name;
    for (size_t k = 0; k < a.rule.key_tags.size() && k < a.key.values.size(); ++k) {
      line_ += ' ';
      line_ += a.rule.key_tags[k];
      line_ += '=';
      line_ += a.key.values[k];
    }
    line_ += "  ";
    line_ += a.message;
    line_ += "  [id ";
    line_ += a.id;
    line_ += ']';
  }
  line_ += '\n';
  if (std::fwrite(line_.data(), 1, line_.size(), stream_) != line_.size()) {
    return Status::IoError(std::string("write failed: ") + std::strerror(errno));
  }
  return Status::Ok();
}

Status StreamSink::Flush() {
  if (std::fflush(stream_) != 0) return Status::IoError(std::string("flush failed: ") + std::strerror(errno));
  return Status::Ok();
}

Result<std::unique_ptr<FileSink>> FileSink::Open(const std::string& path, bool fsync) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot open alert file '" + path + "': " + std::strerror(errno));
  return std::unique_ptr<FileSink>(new FileSink(path, fd, fsync));
}

FileSink::FileSink(std::string path, int fd, bool fsync)
    : name_("file:" + path), path_(std::move(path)), fd_(fd), fsync_(fsync) {}

FileSink::~FileSink() {
  (void)Flush();
  ::close(fd_);
}

Status FileSink::Write(const AlertView& a) {
  buffer_ += a.json;
  buffer_ += '\n';
  if (buffer_.size() >= (1 << 16)) return Flush();
  return Status::Ok();
}

Status FileSink::Flush() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = ::write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      // Keep what was not written; the next Flush retries it.
      buffer_.erase(0, off);
      return Status::IoError("writing '" + path_ + "': " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  buffer_.clear();
  if (fsync_ && ::fdatasync(fd_) != 0) return Status::IoError("fsync '" + path_ + "': " + std::strerror(errno));
  return Status::Ok();
}

Result<std::unique_ptr<DeadLetterFile>> DeadLetterFile::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "ae");
  if (f == nullptr) return Status::IoError("cannot open dead-letter file '" + path + "': " + std::strerror(errno));
  return std::unique_ptr<DeadLetterFile>(new DeadLetterFile(f));
}

DeadLetterFile::~DeadLetterFile() { std::fclose(file_); }

void DeadLetterFile::Write(std::string_view source, RejectReason reason, std::string_view where,
                           std::string_view raw) {
  line_ = "{\"source\":";
  AppendJsonString(&line_, source);
  line_ += ",\"reason\":";
  AppendJsonString(&line_, RejectReasonName(reason));
  line_ += ",\"where\":";
  AppendJsonString(&line_, where);
  line_ += ",\"message\":";
  AppendJsonString(&line_, raw.substr(0, 64 * 1024));
  line_ += "}\n";
  std::fwrite(line_.data(), 1, line_.size(), file_);
}

void DeadLetterFile::Flush() { std::fflush(file_); }

}  // namespace vigil::bridges
