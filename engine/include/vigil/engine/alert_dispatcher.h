// AlertDispatcher: the AlertConsumer that renders each AlertRecord into
// DESIGN.md's alert JSON (id, key tags, message template) and writes it to
// every sink. It also takes the manual alerts of an AlertInbox (Poll) and
// writes them to the same sinks, so sinks see one stream from one thread.
//
// Thread-safety: called from the pipeline's alert thread only (Dispatch
// also from the thread that joined it); counters are atomics readable from
// any thread, ManualCounts() takes a mutex.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "vigil/engine/alert_inbox.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/pipeline.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/sink.h"

namespace vigil {

class AlertDispatcher final : public AlertConsumer {
 public:
  AlertDispatcher(const std::vector<std::shared_ptr<const Rule>>& rules, const KeyTable& keys,
                  std::vector<Sink*> sinks, Logger* logger);

  void Consume(const AlertRecord& alert) override;
  // Takes what the inbox holds (SetInbox) and Dispatch()es it.
  void Poll() override;
  void Idle() override;
  bool HasPending() const override { return inbox_ != nullptr && inbox_->pending(); }
  bool Sync() override;
  // Before the pipeline starts: per rule, the open alerts restored from a
  // checkpoint (they count as active; their clears will come).
  void RestoreActive(const std::vector<size_t>& firing);
  // Open alerts of `rule`: restored + raised - cleared.
  uint64_t active(uint32_t rule) const {
    const uint64_t up = (rule < restored_active_.size() ? restored_active_[rule] : 0) + raised(rule);
    const uint64_t down = cleared(rule);
    return up > down ? up - down : 0;
  }

  uint64_t alerts() const { return alerts_.load(std::memory_order_relaxed); }
  uint64_t sink_errors() const { return sink_errors_.load(std::memory_order_relaxed); }
  // Per rule: transitions emitted (active = raised - cleared); per sink: write errors.
  uint64_t raised(uint32_t rule) const { return rule < raised_.size() ? raised_[rule].Get() : 0; }
  uint64_t cleared(uint32_t rule) const { return rule < cleared_.size() ? cleared_[rule].Get() : 0; }
  uint64_t sink_errors(size_t sink) const { return sink < sink_errors_by_.size() ? sink_errors_by_[sink].Get() : 0; }
  const std::vector<Sink*>& sinks() const { return sinks_; }
  // Called on the alert thread for every alert after the sinks (the HTTP alert board).
  void SetObserver(std::function<void(const AlertView&)> observer) { observer_ = std::move(observer); }
  // Where Poll() takes manual alerts from (before the pipeline starts). Null: none.
  void SetInbox(AlertInbox* inbox) { inbox_ = inbox; }
  // Writes a manual alert to every sink (and the observer), counted in
  // alerts() and ManualCounts(). Alert thread, or after it was joined.
  void Dispatch(const ExternalAlert& alert);

  // Transitions of manual alerts by (rule name, severity): raised, cleared.
  // At most kMaxManualSeries pairs; the ones beyond are counted under the
  // rule name kOtherManualRule. Any thread.
  struct ManualCount {
    std::string rule, severity;
    uint64_t raised = 0, cleared = 0;
  };
  static constexpr size_t kMaxManualSeries = 256;
  static constexpr const char* kOtherManualRule = "_other_manual_";
  std::vector<ManualCount> ManualCounts() const;

  // Renders the message template: {rule} {severity} {state} {value} {count}
  // {ts} and any key tag by name ({zone}); unknown placeholders stay as they are.
  static std::string RenderMessage(const std::string& tmpl, const AlertRecord& a, const RuleInfo& rule,
                                   const KeyInfo& key);
  static std::string RenderJson(const AlertRecord& a, const RuleInfo& rule, const KeyInfo& key,
                                const std::string& id, const std::string& message);

 private:
  void WriteToSinks(const AlertView& view);
  const std::vector<std::shared_ptr<const Rule>>& rules_;
  const KeyTable& keys_;
  std::vector<Sink*> sinks_;
  Logger* logger_;
  std::atomic<uint64_t> alerts_{0};
  std::atomic<uint64_t> sink_errors_{0};
  std::vector<RelaxedCounter> raised_, cleared_, sink_errors_by_;
  std::vector<uint64_t> restored_active_;
  std::function<void(const AlertView&)> observer_;
  std::string json_, message_, id_;
  AlertInbox* inbox_ = nullptr;
  mutable std::mutex manual_mu_;
  std::map<std::pair<std::string, std::string>, std::pair<uint64_t, uint64_t>> manual_counts_;
};

// Appends `s` to `out` as a JSON string (quotes and escapes included); bytes
// that are not well-formed UTF-8 become U+FFFD, so the result is valid JSON.
void AppendJsonString(std::string* out, std::string_view s);
// Appends a map of strings as a JSON object ({"k":"v",...}).
void AppendJsonStringMap(std::string* out, const std::map<std::string, std::string>& map);
// Appends a number as JSON (shortest round-trip form; null for NaN/inf).
void AppendJsonNumber(std::string* out, double v);

}  // namespace vigil
