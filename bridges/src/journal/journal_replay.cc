// JournalReplay: open, resume, replay and release a push source's journal.
#include "journal/journal_replay.h"

#include <algorithm>

namespace vigil::bridges {

JournalReplay::JournalReplay(std::unique_ptr<IngestJournal> journal, std::string what, Logger* logger)
    : journal_(std::move(journal)), what_(std::move(what)), logger_(logger) {
  // With no checkpointed position (none yet, or a new source), every record
  // still in the journal was accepted and never durably processed.
  from_ = next_offset_ = journal_->begin();
  end_ = journal_->end();
}

Result<std::unique_ptr<JournalReplay>> JournalReplay::Open(const std::string& dir, std::string what,
                                                           Logger* logger) {
  Result<std::unique_ptr<IngestJournal>> journal = IngestJournal::Open(dir);
  if (!journal.ok()) return Status::IoError(what + ": " + journal.status().message());
  if ((*journal)->truncated_at_open() > 0 && logger != nullptr) {
    logger->Log(LogLevel::kWarn, what + ": the journal " + dir + " ended with a record cut short (" +
                                     std::to_string((*journal)->truncated_at_open()) +
                                     " bytes, input never acknowledged): removed");
  }
  return std::unique_ptr<JournalReplay>(new JournalReplay(std::move(journal).value(), std::move(what), logger));
}

bool JournalReplay::ParseOffset(std::string_view text, uint64_t* offset, std::string_view* rest) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i < 20) v = v * 10 + static_cast<uint64_t>(text[i++] - '0');
  if (i == 0) return false;
  *offset = v;
  *rest = text.substr(i);
  return true;
}

Status JournalReplay::ResumeAt(uint64_t offset) {
  if (offset < journal_->begin()) {
    return Status::Corruption(what_ + ": the journal in " + journal_->dir() + " starts at " +
                              std::to_string(journal_->begin()) + ", after the checkpointed position " +
                              std::to_string(offset) + " (segments removed by hand?)");
  }
  from_ = next_offset_ = std::min(offset, end_);
  return Status::Ok();
}

Result<bool> JournalReplay::Next(std::string* record, uint64_t* offset) {
  if (done_) return false;
  if (reader_ == nullptr) reader_ = journal_->Read(from_, end_);
  Result<bool> more = reader_->Next(record, offset);
  if (!more.ok() || *more) return more;
  done_ = true;
  reader_.reset();
  if (replayed_ > 0 && logger_ != nullptr) {
    logger_->Log(LogLevel::kInfo, what_ + ": replayed " + std::to_string(replayed_) +
                                      " messages accepted before the restart from its journal " + journal_->dir());
  }
  return false;
}

void JournalReplay::Release(std::string_view position) {
  uint64_t offset = 0;
  std::string_view rest;
  if (ParseOffset(position, &offset, &rest)) journal_->Release(offset);
}

}  // namespace vigil::bridges
