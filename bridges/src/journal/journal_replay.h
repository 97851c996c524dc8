// JournalReplay: a push source's IngestJournal together with the replay of
// what it held when the source opened: the records from the checkpointed
// position (or, with no checkpoint, from the journal's beginning) up to
// the journal's end at Open — records appended later arrive through the
// source's own queue. Also keeps the source's position: the offset of the
// next record to hand over.
//
// Thread-safety: journal() as IngestJournal's; the rest on the router
// thread (Open, Resume, Poll, Position, OnCheckpointDurable of the source).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "journal/ingest_journal.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/status.h"

namespace vigil::bridges {

class JournalReplay {
 public:
  // Opens the journal in `dir`. `what` names the source in messages
  // ("http source 'api'"); `logger` may be null.
  static Result<std::unique_ptr<JournalReplay>> Open(const std::string& dir, std::string what, Logger* logger);

  IngestJournal& journal() { return *journal_; }

  // Replays from `offset`, a checkpointed position, instead of the
  // beginning. An offset before the journal's first record is an error
  // (its segments were removed by hand): what they held cannot be replayed.
  Status ResumeAt(uint64_t offset);
  // The next record to replay: true with its bytes and offset; false once
  // none is left (then logs how many messages were replayed, if any).
  Result<bool> Next(std::string* record, uint64_t* offset);
  void CountReplayed(uint64_t messages) { replayed_ += messages; }
  bool done() const { return done_; }
  bool started() const { return reader_ != nullptr; }
  uint64_t from() const { return from_; }

  // The source's position: offset of the next record to hand over.
  uint64_t next_offset() const { return next_offset_; }
  void set_next_offset(uint64_t offset) { next_offset_ = offset; }
  // A checkpoint holding `position` (text starting with an offset) is
  // durable: the segments before it go.
  void Release(std::string_view position);
  // The offset at the start of a position's text; false when there is none.
  static bool ParseOffset(std::string_view text, uint64_t* offset, std::string_view* rest);

 private:
  JournalReplay(std::unique_ptr<IngestJournal> journal, std::string what, Logger* logger);

  std::unique_ptr<IngestJournal> journal_;
  std::string what_;
  Logger* logger_;
  std::unique_ptr<IngestJournal::Reader> reader_;
  uint64_t from_ = 0;
  uint64_t end_ = 0;
  bool done_ = false;
  uint64_t replayed_ = 0;
  uint64_t next_offset_ = 0;
};

}  // namespace vigil::bridges
