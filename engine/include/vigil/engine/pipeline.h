// Pipeline: the sharded, lock-free core. One router thread (the caller of
// Route/Flush/Finish) partitions events by key onto N shard threads through
// bounded single-producer/single-consumer rings; each shard owns the state of
// its keys for every rule; alerts leave each shard through its own ring to one
// alert thread, which hands them to an AlertConsumer.
//
// Determinism: every event carries the source watermark at its arrival, and
// every batch the watermark after it, so each shard fires window ends and
// deadlines at exactly the same points of its key's stream whatever the shard
// count. Backpressure: a full ring blocks the router; nothing is dropped.
//
// Lifecycle: construct, Start(), Route()/Flush() from one thread, Finish()
// (closes open windows when `end_of_input`), which joins all threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vigil/engine/alert.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/latency_histogram.h"
#include "vigil/engine/message.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/status.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

struct EventBatch;

// Receives every alert, on the alert thread, in per-shard emission order.
class AlertConsumer {
 public:
  virtual ~AlertConsumer() = default;
  virtual void Consume(const AlertRecord& alert) = 0;
  // Called on every turn of the alert thread's loop, busy or idle: a cheap
  // check for work that comes from elsewhere (manual alerts).
  virtual void Poll() {}
  // Called when the alert thread found its rings empty (a good time to flush).
  virtual void Idle() {}
  // Whether work from elsewhere is waiting (checked once more just before
  // the alert thread sleeps; whoever adds such work calls
  // Pipeline::WakeAlertThread()).
  virtual bool HasPending() const { return false; }
  // A checkpoint needs every alert consumed so far to be durable in the
  // sinks (file sinks fsync, outboxes persist). Returns false on failure.
  virtual bool Sync() { return true; }
};

// The state changes one shard hands to a checkpoint: (rule, key, blob)
// entries whose blobs are packed in one buffer; an empty blob erases the
// key's stored state. See RuleShard::SaveChanged.
struct StateDelta {
  enum class Op : uint8_t { kPut, kAppendPart, kErasePartsBelow };
  struct Entry {
    uint32_t rule;
    KeyId key;
    uint32_t offset;
    uint32_t size;
    Op op = Op::kPut;
    uint8_t part = 0;
    uint64_t chunk = 0;      // kAppendPart: the chunk; kErasePartsBelow: the bound
    uint32_t parts_size = 0; // restore only: packed parts right after the blob
  };
  std::vector<Entry> entries;
  std::string bytes;
  std::string_view blob(const Entry& e) const { return {bytes.data() + e.offset, e.size}; }
  std::string_view parts(const Entry& e) const { return {bytes.data() + e.offset + e.size, e.parts_size}; }
};

// Receives the pieces of a checkpoint as the pipeline reaches its barrier
// (see Pipeline::Barrier). Called from shard threads and the alert thread.
class CheckpointListener {
 public:
  virtual ~CheckpointListener() = default;
  // Shard `shard` processed everything routed before the barrier of `id`.
  virtual void OnShardState(uint64_t id, uint32_t shard, StateDelta delta) = 0;
  // Every alert emitted before the barrier of `id`, on every shard, reached
  // the AlertConsumer, which synced (`synced` false: it could not).
  virtual void OnAlertsSynced(uint64_t id, bool synced) = 0;
};

struct PipelineOptions {
  uint32_t shards = 2;          // 1..64. Default: number of cores
  uint32_t batch_size = 256;    // events per ring hand-off
  uint32_t ring_batches = 16;    // batches in flight per shard (bounds queueing latency)
  uint32_t alert_ring = 4096;   // alerts in flight per shard
  int64_t key_ttl_ms = 24 * 3600 * 1000;  // engine.key_ttl; <= 0 disables eviction
  CheckpointListener* checkpoints = nullptr;  // receives barrier state (Barrier())
  // Keys one rule tracks at most, all shards together, for rules that do
  // not set their own max_keys (RuleInfo::max_keys); 0 = no limit.
  // Default: 1,000,000 (engine.max_keys_per_rule).
  uint64_t max_keys_per_rule = 1000000;
  // Samples one sliding buffer of one key holds at most; 0 = no limit.
  // Default: 100,000 (engine.max_window_samples).
  uint64_t max_window_samples = 100000;
  // Keep the latest values of every series for ForEachLatest (GET
  // /api/v1/series/latest): a few stores per event on its shard. Default: off.
  bool track_latest = false;
  // Receives rule run-time errors (plugins); null: none logged.
  Logger* logger = nullptr;
};

// The latest values of one series, as ForEachLatest reads them. A series is
// the finest key a message carries: of the schema's key lists complete in
// the message, the one with the most tags (the first of the rules file
// among equals). Pointers are valid during the visit only.
struct LatestValues {
  uint32_t keylist = 0;            // the series' key list; keys[keylist] is its key
  int64_t ts = kMinTime;           // event time of its newest message
  const double* fields = nullptr;  // [schema.field_count()]: newest value of each field, NaN: none yet
  const KeyId* keys = nullptr;     // [schema.keylist_count()]: newest key of each key list, kNoKey: none
};

struct ShardStats {
  uint64_t events = 0;          // events delivered to the shard
  uint64_t keys = 0;            // keys with state, all rules
  uint64_t state_bytes = 0;     // approximate bytes of rule state
  uint64_t alerts = 0;
  uint64_t late_events = 0;     // messages that missed a closed window
  uint64_t evicted_keys = 0;    // (rule, key) states evicted after key_ttl of silence
};

class Doorbell;

class Pipeline {
 public:
  Pipeline(const Schema& schema, TagInterner* tags, KeyTable* keys, std::vector<std::shared_ptr<const Rule>> rules,
           PipelineOptions options, AlertConsumer* consumer);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Creates the shards and their rule states (Start() does it when not
  // done), so that checkpointed state can be restored into them first.
  Status Create();
  // Before Start(): the checkpointed state `blob` of rule `rule` for `key`
  // (interned in the key table). False when the rule cannot read it.
  bool RestoreKey(uint32_t rule, KeyId key, std::string_view blob, std::string_view parts);
  // Before Start(), after the last RestoreKey: the restored input had
  // started at `start_ts` and reached `watermark`. Rebuilds every rule's
  // timers; returns, per rule, the keys restored with an open alert.
  std::vector<size_t> FinishRestore(int64_t start_ts, int64_t watermark);

  Status Start();

  // Router thread. `m.ts` must be set (event time or ingest time).
  void Route(const ParsedMessage& m, uint32_t source, int64_t watermark, int64_t ingest_ns) noexcept;
  // The first message of the input had event time `ts` (call once, before Route).
  void SetStart(int64_t ts) noexcept { start_ts_ = ts; }
  // Hands every partial batch to its shard, with the watermark `watermark`.
  void Flush(int64_t watermark) noexcept;
  // Router thread: like Flush, then a barrier for checkpoint `id` on every
  // shard; the CheckpointListener receives each shard's state changes up to
  // it, then the news that every alert emitted before it was synced.
  void Barrier(uint64_t id, int64_t watermark) noexcept;
  // Hands over what is pending with the final `watermark`, tells every shard
  // to stop (closing open windows first when `end_of_input`), waits for every
  // alert to reach the consumer, joins all threads.
  void Finish(int64_t watermark, bool end_of_input);
  // After Finish(): every shard's state changes since its last barrier.
  StateDelta CollectFinal();

  uint32_t shards() const { return options_.shards; }

  // Any thread, while the pipeline runs: wakes the alert thread if it sleeps
  // (it sleeps while its rings are empty; shards wake it when they emit).
  void WakeAlertThread();

  // Live telemetry, readable from any thread while the pipeline runs
  // (relaxed counters, folded at scrape time).
  struct ShardTelemetry {
    uint64_t events = 0;        // events processed
    uint64_t backlog = 0;       // events handed over but not processed yet
    uint64_t keys = 0;          // keys with state (published once per batch)
  };
  ShardTelemetry Telemetry(uint32_t shard) const;
  // Rule `rule` on every shard: `when` evaluations, late messages of `source`.
  uint64_t RuleEvaluations(uint32_t rule) const;
  uint64_t RuleErrors(uint32_t rule) const;
  // Rule `rule` on every shard: messages not tracked because their new key
  // was beyond max_keys; samples not added to a full sliding buffer.
  uint64_t RuleKeysRejected(uint32_t rule) const;
  uint64_t RuleSamplesRejected(uint32_t rule) const;
  uint64_t LateEvents(uint32_t source) const;
  // With track_latest, any thread while the pipeline exists: calls
  // visit(values) for every series (not evicted by key_ttl) until it returns
  // false. Each is a consistent copy of one moment of that series; shards
  // keep writing meanwhile.
  void ForEachLatest(const std::function<bool(const LatestValues&)>& visit) const;
  // Event-done latency of every shard (ingest -> processed), merged.
  void MergeLatency(LatencyHistogram* into) const;
  // After Finish(): per-shard counters and the merged latency histograms.
  std::vector<ShardStats> Stats() const;
  const LatencyHistogram& event_latency() const { return event_latency_; }
  const LatencyHistogram& alert_latency() const { return alert_latency_; }

 private:
  class Shard;
  class AlertOutputImpl;
  friend class AlertOutputImpl;
  EventBatch* Acquire(uint32_t shard);
  void Send(uint32_t shard, int64_t watermark, bool end_of_input);
  void AlertLoop();

  const Schema& schema_;
  TagInterner* tags_;
  KeyTable* keys_;
  std::vector<std::shared_ptr<const Rule>> rules_;
  PipelineOptions options_;
  NullLogger null_logger_;  // rule shards' logger when options_.logger is null
  AlertConsumer* consumer_;
  std::vector<std::unique_ptr<KeyBudget>> key_budgets_;  // [rule], shared by the rule's shards
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<EventBatch*> current_;
  std::vector<int64_t> sent_watermark_;
  std::vector<std::vector<uint32_t>> keylist_tags_;
  std::vector<uint32_t> series_order_;  // key lists by decreasing tag count: the first complete one is the series
  int64_t start_ts_ = kMinTime;
  std::thread alert_thread_;
  std::unique_ptr<Doorbell> alert_bell_;  // the alert thread sleeps on it
  std::atomic<uint32_t> shards_done_{0};
  bool created_ = false;
  LatencyHistogram event_latency_;
  LatencyHistogram alert_latency_;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace vigil
