// OutboxSink: the durable outbox in front of a sink that can fail (MQTT,
// Kafka, webhook, InfluxDB): DESIGN.md "Sinks that can fail retry with
// backoff from a durable outbox and never block the pipeline".
//
// Write() (alert thread) only appends the alert to the outbox and returns:
// a sink that is down never slows the pipeline. A delivery thread takes the
// oldest alerts in order, hands up to `batch` of them to the inner sink
// (Write each, then Flush: one attempt) and removes them only when Flush
// confirmed them; on failure it retries the same alerts, first in line,
// after a capped exponential backoff, so alerts reach the sink in order.
//
// Durability: Sync() — called before each checkpoint is written — persists
// every alert not yet confirmed into the state store (one synced RocksDB
// batch, also deleting the records of alerts confirmed since), so a
// checkpoint never covers an alert that a crash could lose: after a
// restart the outbox starts with what it held and delivers it first.
// Alerts emitted after the last checkpoint are emitted again by the
// restarted engine (same ids): sinks may receive duplicates, never gaps.
// Without a state store (no state dir) the outbox lives in memory.
//
// Pipelined delivery: when the inner sink is also a PipelinedSink (MQTT:
// the broker acknowledges each publish), the delivery thread does not wait
// for a batch's confirmations before sending the next alerts: it sends every
// alert as soon as it is appended, keeps up to the sink's window() of them
// unconfirmed, and removes them from the outbox as the sink confirms them,
// in order. A failure (the sink reports one, or the oldest unconfirmed alert
// waited longer than the sink's timeout_ms()) ends the attempt: after the
// backoff, every alert not confirmed is sent again, oldest first (duplicates
// possible, gaps not).
//
// Bound: at most `max_alerts` waiting (default 1,000,000); beyond that the
// oldest are dropped, counted (vigil_outbox_dropped_total) and logged.
//
// Thread-safety: Write/Flush/Sync from the alert thread; metrics from any
// thread; the inner sink is called from the delivery thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vigil/engine/logger.h"
#include "vigil/engine/sink.h"
#include "vigil/engine/state_store.h"

namespace vigil::bridges {

struct OutboxOptions {
  size_t max_alerts = 1000000;       // Default: 1,000,000 waiting alerts
  size_t batch = 256;                // alerts per delivery attempt
  int64_t retry_min_ms = 100;        // Default: 100 ms, doubling
  int64_t retry_max_ms = 30000;      // Default: 30 s
  int64_t drain_timeout_ms = 5000;   // at shutdown, time given to deliver what is left
};

// An inner sink that confirms alerts one by one, asynchronously (an MQTT
// broker's PUBACKs), so the outbox can keep several in flight (above).
// Send/Confirmed/Restart are called from the outbox's delivery thread only;
// the sink calls the notifier (from any thread, never while holding a lock
// the delivery thread could wait for) whenever a confirmation or a failure
// arrives.
class PipelinedSink {
 public:
  virtual ~PipelinedSink() = default;
  virtual void SetNotifier(std::function<void()> notify) = 0;
  // Starts delivering `alert` as number `seq` (increasing within an attempt).
  // An error ends the attempt.
  virtual Status Send(const AlertView& alert, uint64_t seq) = 0;
  // The highest seq confirmed together with everything sent before it in
  // this attempt (0: none yet), or the error that ended the attempt (lost
  // connection, refused publish).
  virtual Result<uint64_t> Confirmed() = 0;
  // Ends the attempt: forgets what is in flight; the outbox sends it again.
  virtual void Restart() = 0;
  // Unconfirmed alerts the sink accepts at once, and how long one may stay
  // unconfirmed before the attempt counts as failed.
  virtual size_t window() const = 0;
  virtual int64_t timeout_ms() const = 0;
};

class OutboxSink final : public Sink {
 public:
  // `store` (may be null) and `logger` outlive the sink.
  OutboxSink(std::unique_ptr<Sink> inner, StateStore* store, OutboxOptions options, Logger* logger);
  ~OutboxSink() override;

  // Loads what an earlier run left in the outbox and starts delivering.
  Status Start();

  const std::string& name() const override { return inner_->name(); }
  Status Write(const AlertView& alert) override;
  Status Flush() override;
  Status Sync() override;
  void ReportMetrics(std::vector<BridgeMetric>* out) const override;
  uint64_t delivery_failures() const override { return failures(); }
  // The inner sink's: forwarded measurements bypass the outbox (they have
  // their own queue; see vigil/engine/measurement_sink.h).
  MeasurementSink* measurement_sink() override { return inner_->measurement_sink(); }

  size_t depth() const;
  uint64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Waits until the outbox is empty or `timeout` passed; true when empty.
  bool WaitEmpty(std::chrono::milliseconds timeout);

  // What an outbox record holds: enough to rebuild the AlertView a sink
  // formats from (rule name, kind, severity, labels, key tags and values,
  // the record's numbers, id, message and JSON), with no reference to the
  // rule set of the run that emitted it.
  struct Decoded {
    AlertRecord record;
    RuleInfo rule;
    KeyInfo key;
    std::string id;
    std::string message;
    std::string json;
    AlertView view() const { return AlertView{record, rule, key, id, message, json}; }
  };
  // The outbox record of an alert, and back (null: malformed).
  static std::string Encode(const AlertView& alert);
  static std::unique_ptr<Decoded> Decode(std::string_view record);

 private:
  struct Entry {
    uint64_t seq;
    std::string record;
    bool persisted;
  };
  void DeliveryLoop();
  void PipelinedLoop(PipelinedSink* sink);
  // Removes the entries up to `seq` (confirmed) from the queue; returns how many.
  size_t ConfirmUpTo(uint64_t seq);

  std::unique_ptr<Sink> inner_;
  StateStore* store_;
  OutboxOptions options_;
  Logger* logger_;
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable wake_;   // delivery thread: work or stop
  std::condition_variable empty_;  // WaitEmpty
  std::deque<Entry> queue_;
  std::vector<uint64_t> to_delete_;  // persisted, since confirmed or dropped
  uint64_t next_seq_ = 1;
  bool stopping_ = false;
  bool started_ = false;
  bool notified_ = false;  // PipelinedSink: a confirmation or failure arrived

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> depth_{0};
};

}  // namespace vigil::bridges
