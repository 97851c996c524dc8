// StreamSink, FileSink, DeadLetterFile.
#include "vigil/bridges/basic_sinks.h"

#include <fcntl.h>
#include <sys/stat.h>
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

// Appends. A last line without its newline is the torn write of a crash:
// an alert that no checkpoint covered, which the restarted engine emits
// again, so it is cut off rather than glued to the next alert.
Result<std::unique_ptr<FileSink>> FileSink::Open(const std::string& path, bool fsync) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("cannot open alert file '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    off_t end = st.st_size;
    char buf[4096];
    off_t keep = -1;
    while (end > 0 && keep < 0) {
      const off_t start = end > static_cast<off_t>(sizeof buf) ? end - static_cast<off_t>(sizeof buf) : 0;
      const ssize_t n = ::pread(fd, buf, static_cast<size_t>(end - start), start);
      if (n <= 0) break;
      for (ssize_t i = n - 1; i >= 0; --i) {
        if (buf[i] == '\n') {
          keep = start + i + 1;
          break;
        }
      }
      end = start;
    }
    if (keep < 0) keep = 0;
    if (keep < st.st_size && ::ftruncate(fd, keep) != 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      return Status::IoError("cannot cut the torn last line of alert file '" + path + "': " + err);
    }
  }
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
  Status st = WriteBuffer();
  if (!st.ok()) return st;
  if (fsync_ && ::fdatasync(fd_) != 0) return Status::IoError("fsync '" + path_ + "': " + std::strerror(errno));
  return Status::Ok();
}

Status FileSink::Sync() {
  Status st = WriteBuffer();
  if (!st.ok()) return st;
  if (::fdatasync(fd_) != 0) return Status::IoError("fsync '" + path_ + "': " + std::strerror(errno));
  return Status::Ok();
}

Status FileSink::WriteBuffer() {
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
  std::lock_guard<std::mutex> lock(mu_);
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

void DeadLetterFile::WriteRejectedAlert(std::string_view sink, std::string_view alert_json, std::string_view reason) {
  std::lock_guard<std::mutex> lock(mu_);
  line_ = "{\"sink\":";
  AppendJsonString(&line_, sink);
  line_ += ",\"reason\":";
  AppendJsonString(&line_, reason);
  line_ += ",\"alert\":";
  line_ += alert_json;  // one line of JSON, as the sink received it
  line_ += "}\n";
  std::fwrite(line_.data(), 1, line_.size(), file_);
  std::fflush(file_);
}

void DeadLetterFile::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  std::fflush(file_);
}

}  // namespace vigil::bridges
