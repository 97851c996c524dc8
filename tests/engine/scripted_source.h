// ScriptedSource: a Source for engine tests that parses a fixed list of
// JSON lines (rejects go to the handler), then stays idle until `release`
// is set, then finishes. With `available`, only the lines below its value
// are handed out so far (a test feeds in steps). With `holds_accepted`,
// StopAccepting() says its lines were accepted for good (like the HTTP
// ingest's 202): the engine drains them at a stop. Router thread only, like
// any Source.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "vigil/engine/json_parser.h"
#include "vigil/engine/source.h"

namespace vigil::testing {

class ScriptedSource final : public Source {
 public:
  ScriptedSource(std::vector<std::string> lines, std::atomic<bool>* release,
                 std::atomic<size_t>* available = nullptr, bool holds_accepted = false)
      : lines_(std::move(lines)), release_(release), available_(available), holds_accepted_(holds_accepted) {}
  bool StopAccepting() override {
    ++stop_calls;
    return holds_accepted_;
  }
  int stop_calls = 0;
  const std::string& name() const override { return name_; }
  Status Open(const Schema& schema, TagInterner* tags) override {
    parser_ = std::make_unique<JsonMessageParser>(schema, MessageFormat{}, tags);
    return Status::Ok();
  }
  Result<PollState> Poll(MessageHandler& handler, size_t max) override {
    size_t n = 0;
    const size_t end = available_ != nullptr ? std::min(lines_.size(), available_->load()) : lines_.size();
    for (; next_ < end && n < max; ++next_, ++n) {
      const std::string& l = lines_[next_];
      RejectReason r = parser_->Parse(l.data(), l.size(), l.size(), &m_);
      if (r == RejectReason::kNone) {
        handler.OnMessage(m_);
      } else {
        handler.OnReject(r, l, "test");
      }
    }
    if (n > 0) return PollState::kActive;
    return release_->load() && next_ == lines_.size() ? PollState::kFinished : PollState::kIdle;
  }

 private:
  std::string name_ = "scripted";
  std::vector<std::string> lines_;
  std::atomic<bool>* release_;
  std::atomic<size_t>* available_;
  bool holds_accepted_;
  std::unique_ptr<JsonMessageParser> parser_;
  ParsedMessage m_;
  size_t next_ = 0;
};

}  // namespace vigil::testing
