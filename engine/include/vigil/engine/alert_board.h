// AlertBoard: what the HTTP API knows about alerts — the active alerts by
// id, a bounded ring of recent events (alert transitions and acks), manual
// alerts raised through the API, and live subscriptions for the
// server-sent-events stream.
//
// Feeding: the pipeline's alert thread calls Record() for every alert
// transition (through the Sink that MakeSink() returns, or directly from a
// sink). HTTP threads query, ack, raise and subscribe.
//
// Events: every change gets the next sequence number (a uint64 that only
// grows; the first is seeded from the wall clock in microseconds, so numbers
// keep growing across restarts and a Last-Event-ID from an earlier process
// is recognised as unknown rather than silently skipping events). The
// sequence number is the SSE `id`, so a client that reconnects with
// Last-Event-ID resumes from the ring; when the ring no longer holds that
// point, it gets a fresh snapshot instead.
//
// Event types (`BoardEvent::type`):
//   "alert"    — a transition, data = DESIGN.md's alert JSON (raised or cleared)
//   "ack"      — data = {"id","rule","key","acked_by","acked_at"}
//   "snapshot" — data = {"alerts":[active alerts...]} (id = seq at the time)
//   "dropped"  — the subscriber was too slow; it is closed after this event
//                (no id: reconnect with the last id received to resume)
//
// Manual alerts (POST /api/v1/alerts) are recorded here when raised; the
// transition Raise() returns is for the sinks, and the board's own sink
// (MakeSink) skips alerts of kind kManualAlertKind so that they are not
// recorded twice. The id is
// AlertId("manual:" + rule, key tag names, key values, raise ts), so the same
// call with the same ts yields the same id, and manual alerts cannot collide
// with the ids of engine rules. Raising a rule+key that is already active
// adds to its count instead of opening a second alert.
//
// Thread-safety: every method may be called from any thread; one mutex
// guards everything (alerts are rare). Record() holds it for O(subscribers)
// queue appends and never waits for a subscriber: a subscriber whose queue
// is full is dropped. Subscriptions hold the board's state alive, so they
// may outlive the AlertBoard object.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vigil/engine/alert_inbox.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/status.h"

namespace vigil {

struct AlertBoardOptions {
  // Recent events kept for GET ?state=all and Last-Event-ID resume. Default: 10,000.
  size_t ring_size = 10000;
  // Events a subscriber may have waiting before it is dropped. Default: 1,024.
  size_t subscriber_queue = 1024;
  // Live subscriptions at once (Subscribe returns null beyond). Default: 64.
  size_t max_subscribers = 64;
  // Active manual alerts at once (Raise fails beyond). Default: 10,000.
  size_t max_manual_active = 10000;
  // Wall clock in epoch ms (manual alerts without ts, ack times). Default: system clock.
  std::function<int64_t()> now_ms;
  // First sequence number; 0 = the wall clock in microseconds. Default: 0.
  uint64_t first_seq = 0;
};

// Which alerts a query or a subscription wants. Empty fields match anything;
// every tag must be in the alert's key with that value.
struct AlertFilter {
  std::string rule;
  std::string severity;
  std::vector<std::pair<std::string, std::string>> tags;
};

struct BoardEvent {
  uint64_t seq = 0;  // 0 for "dropped"
  std::string type;  // "alert", "ack", "snapshot", "dropped"
  std::string data;  // JSON
};

// A manual alert (POST /api/v1/alerts).
struct ManualAlert {
  std::string rule;                                        // required
  std::vector<std::pair<std::string, std::string>> key;    // tag -> value, any order
  std::string severity = "warning";                        // critical, major, warning, info
  std::string message;                                     // Default: "<rule> raised manually"
  std::map<std::string, std::string> labels;
  int64_t ts = 0;                                          // event time in ms; 0 = now
  bool clear = false;                                      // clear the active alert of rule+key instead
};

struct ManualResult {
  bool created = false;  // a new alert (or a clear) was recorded; false = repeat of an active one
  std::string json;      // the alert as it now stands
  // When `created`: the transition for the sinks (Engine::SubmitAlert);
  // its rule.kind is kManualAlertKind, which the board's own sink skips.
  ExternalAlert transition;
};

class AlertBoard;

// One live subscription. Used by one thread (the SSE handler's).
class AlertSubscription {
 public:
  ~AlertSubscription();  // unsubscribes
  AlertSubscription(const AlertSubscription&) = delete;
  AlertSubscription& operator=(const AlertSubscription&) = delete;

  // Waits up to `timeout` for events and returns those waiting (possibly
  // none). After a "dropped" event or Close() of the board, closed() is true
  // and nothing more arrives.
  std::vector<BoardEvent> Next(std::chrono::milliseconds timeout);
  bool closed() const;

 private:
  friend class AlertBoard;
  struct State;
  struct Shared;
  AlertSubscription(std::shared_ptr<Shared> board, std::shared_ptr<State> state);
  std::shared_ptr<Shared> board_;
  std::shared_ptr<State> state_;
};

class AlertBoard {
 public:
  explicit AlertBoard(AlertBoardOptions options = {});
  ~AlertBoard();  // Close()s
  AlertBoard(const AlertBoard&) = delete;
  AlertBoard& operator=(const AlertBoard&) = delete;

  // Alert thread: one transition of an engine rule.
  void Record(const AlertView& alert);
  // A Sink (named "alert-board") whose Write() calls Record(); it does not
  // own the board, which must outlive it.
  std::unique_ptr<Sink> MakeSink();

  // {"alerts":[...]}: the active alerts matching `filter`, newest raise
  // first; each is its last alert JSON plus "acked" (and "acked_by",
  // "acked_at" once acked).
  std::string ActiveJson(const AlertFilter& filter) const;
  // {"alerts":[...]}: up to `limit` recent transitions matching `filter`
  // (raised and cleared, engine and manual), newest first.
  std::string RecentJson(const AlertFilter& filter, size_t limit) const;

  // Acknowledges active alert `id`. Returns the alert JSON with its ack;
  // NotFound when no active alert has that id. Acking again updates who/when.
  Result<std::string> Ack(const std::string& id, const std::string& who);

  // Raises (or, with `clear`, clears) a manual alert. InvalidArgument for a
  // missing rule or an unknown severity; NotFound for a clear with nothing
  // active; Unsupported when max_manual_active alerts are open.
  Result<ManualResult> Raise(const ManualAlert& alert);

  // Subscribes to the events matching `filter`. With `last_event_id` still in
  // the ring, the events after it are queued first; otherwise (or when
  // `snapshot` is set and there is no last_event_id) a "snapshot" event comes
  // first. Returns null when max_subscribers are subscribed or the board is
  // closed.
  std::unique_ptr<AlertSubscription> Subscribe(const AlertFilter& filter, std::optional<uint64_t> last_event_id,
                                               bool snapshot);

  // Ends every subscription (they see closed()); later Subscribe()s fail.
  void Close();

  size_t active_count() const;
  // Active alerts per rule name (rules with none are absent).
  std::map<std::string, size_t> ActiveCountByRule() const;
  size_t subscriber_count() const;
  uint64_t last_seq() const;  // sequence number of the newest event (first_seq - 1 when none)

  // True when the alert (its rule, severity, key tags and values) matches.
  static bool Matches(const AlertFilter& filter, const std::string& rule, const std::string& severity,
                      const std::vector<std::pair<std::string, std::string>>& key);

 private:
  std::shared_ptr<AlertSubscription::Shared> shared_;
};

}  // namespace vigil
