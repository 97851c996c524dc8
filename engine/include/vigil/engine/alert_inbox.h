// AlertInbox: alert transitions that come from outside the rules (a manual
// alert, POST /api/v1/alerts) on their way to the sinks.
//
// Sinks are only ever called from the pipeline's alert thread, so another
// thread never writes to them: it pushes the transition here and the alert
// thread (AlertDispatcher::Poll) takes it on its next turn (Push wakes it
// through the waker the engine sets, SetWaker) and writes it to every sink
// like a rule's alert.
//
// Thread-safety: Push() from any thread; Take() and Close() from one thread
// at a time (the alert thread, then the engine's after the pipeline
// stopped). One mutex; an empty inbox costs Take() one relaxed load.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "vigil/engine/alert.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/rule.h"

namespace vigil {

// Kind of the RuleInfo of a manual alert (RuleInfo::kind).
inline constexpr const char* kManualAlertKind = "manual";

// One transition with everything an AlertView points to. `rule` holds the
// name, kind, severity, labels and key tag names; `key.values` the values in
// the same order; `record` the state, ts, raise_ts, value and count
// (record.rule and record.key are unused).
struct ExternalAlert {
  RuleInfo rule;
  KeyInfo key;
  AlertRecord record;
  std::string id;
  std::string message;
  std::string json;  // DESIGN.md's alert object, one line
};

class AlertInbox {
 public:
  // Transitions waiting at most (the alert thread not running yet, e.g.
  // while a large state is restored).
  static constexpr size_t kMaxPending = 65536;

  // False (and `alert` dropped) once Close() was called — the pipeline has
  // stopped and nothing would take it — or when kMaxPending are waiting.
  bool Push(ExternalAlert alert) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || queue_.size() >= kMaxPending) return false;
    queue_.push_back(std::move(alert));
    pending_.store(true, std::memory_order_seq_cst);
    if (waker_) waker_();  // under the lock: SetWaker(nullptr) waits for it
    return true;
  }
  // Called by each Push (under the inbox's lock: it must not take it); null: none.
  void SetWaker(std::function<void()> waker) {
    std::lock_guard<std::mutex> lock(mu_);
    waker_ = std::move(waker);
  }
  // Whether Take() would return something.
  bool pending() const { return pending_.load(std::memory_order_seq_cst); }

  // Everything pushed so far, oldest first.
  std::vector<ExternalAlert> Take() {
    if (!pending_.load(std::memory_order_acquire)) return {};
    std::lock_guard<std::mutex> lock(mu_);
    pending_.store(false, std::memory_order_relaxed);
    std::vector<ExternalAlert> out;
    out.swap(queue_);
    return out;
  }

  // Refuses further pushes; returns what was still waiting.
  std::vector<ExternalAlert> Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    pending_.store(false, std::memory_order_relaxed);
    std::vector<ExternalAlert> out;
    out.swap(queue_);
    return out;
  }

 private:
  std::mutex mu_;
  std::vector<ExternalAlert> queue_;
  std::atomic<bool> pending_{false};
  bool closed_ = false;
  std::function<void()> waker_;
};

}  // namespace vigil
