// The sinks that need nothing but a file descriptor: stdout (JSON lines or a
// readable text form) and an append-only NDJSON file, plus the dead-letter
// file for rejected messages.
//
// Thread-safety: a sink is called from the alert thread only; the dead-letter
// file from any thread (one mutex, uncontended on the router's path).
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "vigil/engine/engine.h"
#include "vigil/engine/sink.h"

namespace vigil::bridges {

// Writes each alert as one line to a stdio stream it does not own.
class StreamSink final : public Sink {
 public:
  enum class Format { kJson, kText };
  StreamSink(std::string name, std::FILE* stream, Format format, bool color);
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;

 private:
  std::string name_;
  std::FILE* stream_;
  Format format_;
  bool color_;
  std::string line_;
};

// Appends alerts as NDJSON to a file; Flush() writes the buffer out and, with
// `fsync`, makes it durable.
class FileSink final : public Sink {
 public:
  static Result<std::unique_ptr<FileSink>> Open(const std::string& path, bool fsync);
  ~FileSink() override;
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  // Writes what is buffered and fsyncs (before every checkpoint).
  Status Sync() override;

 private:
  FileSink(std::string path, int fd, bool fsync);
  Status WriteBuffer();
  std::string name_;
  std::string path_;
  int fd_;
  bool fsync_;
  std::string buffer_;
};

// Writes each rejected message as a JSON line: {"source","reason","where","message"}.
class DeadLetterFile final : public DeadLetterWriter {
 public:
  static Result<std::unique_ptr<DeadLetterFile>> Open(const std::string& path);
  ~DeadLetterFile() override;
  void Write(std::string_view source, RejectReason reason, std::string_view where, std::string_view raw) override;
  void Flush() override;
  // An alert a sink's peer refused for good (HTTP 4xx): one line
  // {"sink","reason","alert":{...}} (any thread).
  void WriteRejectedAlert(std::string_view sink, std::string_view alert_json, std::string_view reason);

 private:
  explicit DeadLetterFile(std::FILE* f) : file_(f) {}
  std::mutex mu_;  // the router writes rejected messages, sink threads rejected alerts
  std::FILE* file_;
  std::string line_;
};

}  // namespace vigil::bridges
