// IngestJournal: an append-only log of what a push source accepted, written
// before it says so (the HTTP ingest's 202, the MQTT acknowledgement to the
// broker), so that a crash loses none of it: after a restart the source
// replays the journal from the position of its last durable checkpoint.
//
// A record is [u32 length, little-endian][bytes]. Records go into segment
// files named by the offset of their first byte (`00000000000000000000.log`);
// offsets are byte positions in the concatenation of every segment ever
// written, so they only grow, and a position (the offset of the next record
// to process) stays valid while older segments are deleted (Release).
// Appends use write(2): once it returns, the record is in the kernel's page
// cache and survives a crash of the process (kill -9), not a power loss
// (no fsync; see docs/durability.md). A write cut short (a full disk, the
// process killed inside the call) is cut off again: at Open the last
// segment is truncated after its last complete record.
//
// Thread-safety: Append, end() and Release from any thread (one mutex);
// a Reader belongs to one thread and reads segments Release keeps.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "vigil/engine/status.h"

namespace vigil::bridges {

class IngestJournal {
 public:
  static constexpr uint64_t kDefaultSegmentBytes = 64ull << 20;

  // Opens (creating it) the journal in `dir`. `segment_bytes`: a segment is
  // closed once it holds that much (tests make it small).
  static Result<std::unique_ptr<IngestJournal>> Open(const std::string& dir,
                                                     uint64_t segment_bytes = kDefaultSegmentBytes);
  ~IngestJournal();
  IngestJournal(const IngestJournal&) = delete;
  IngestJournal& operator=(const IngestJournal&) = delete;

  // Appends the record `head` + `body`; returns its offset. An error (the
  // disk is full) appends nothing.
  Result<uint64_t> Append(std::string_view head, std::string_view body);
  // Offset after a record of `bytes` bytes at `offset` (its length prefix included).
  static uint64_t RecordEnd(uint64_t offset, uint64_t bytes) { return offset + 4 + bytes; }
  // Offset after the newest record, and of the oldest record kept.
  uint64_t end() const;
  uint64_t begin() const;
  // Deletes the segments that only hold records before `offset` (never the
  // one being written).
  void Release(uint64_t offset);
  const std::string& dir() const { return dir_; }
  // Bytes a shortened last segment lost at Open (a write cut short).
  uint64_t truncated_at_open() const { return truncated_at_open_; }

  // Reads the records from `from` (a record's offset) up to `to`.
  class Reader {
   public:
    ~Reader();
    // The next record: true with its bytes and offset; false at `to`.
    Result<bool> Next(std::string* record, uint64_t* offset);

   private:
    friend class IngestJournal;
    Reader(std::map<uint64_t, std::string> segments, uint64_t from, uint64_t to);
    std::map<uint64_t, std::string> segments_;  // start offset -> path
    uint64_t pos_;
    uint64_t to_;
    uint64_t file_start_ = 0;
    std::FILE* file_ = nullptr;
  };
  std::unique_ptr<Reader> Read(uint64_t from, uint64_t to) const;

 private:
  IngestJournal(std::string dir, uint64_t segment_bytes) : dir_(std::move(dir)), segment_bytes_(segment_bytes) {}
  std::string SegmentPath(uint64_t start) const;
  Status OpenSegment(uint64_t start);

  const std::string dir_;
  const uint64_t segment_bytes_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::string> segments_;  // start offset -> path
  int fd_ = -1;                               // the last segment, open for appends
  uint64_t fd_start_ = 0;
  uint64_t end_ = 0;
  uint64_t truncated_at_open_ = 0;
};

}  // namespace vigil::bridges
