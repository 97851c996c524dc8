// Checkpointer: assembles a checkpoint from the pieces the pipeline hands
// over at its barrier (each shard's state changes, then the news that the
// alerts before the barrier are synced in the sinks) and the router's part
// (source positions, watermark), and writes it to the StateStore as one
// synced WriteBatch on its own thread, so neither the shards nor the alert
// thread wait for the disk.
//
// A checkpoint that cannot be completed (a sink could not sync, RocksDB
// failed) is not lost: its state changes are kept and written with the next
// one, while the stored positions stay at the last durable checkpoint.
// Once a checkpoint is durable, its source positions wait in TakeDurable()
// for the router, which tells the sources (a Kafka source commits offsets).
// Thread-safety: Begin/Busy/WaitIdle/CommitFinal/TakeDurable from the router thread;
// the CheckpointListener calls from shard and alert threads; the counters
// from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <chrono>
#include <thread>
#include <vector>

#include "vigil/engine/key_table.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/pipeline.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/state_store.h"

namespace vigil {

class Checkpointer final : public CheckpointListener {
 public:
  Checkpointer(StateStore* store, const std::vector<std::shared_ptr<const Rule>>& rules, const KeyTable& keys,
               uint32_t shards, Logger* logger);
  ~Checkpointer() override;

  // Router thread, right before Pipeline::Barrier(id).
  void Begin(uint64_t id, StoredProgress progress, std::vector<StoredSource> sources);
  // True while a checkpoint is in flight.
  bool Busy() const;
  void WaitIdle();
  // WaitIdle for at most `timeout`; false when a checkpoint is still in flight.
  bool WaitIdleFor(std::chrono::milliseconds timeout);
  // After Pipeline::Finish(): writes `final_delta` with the final positions,
  // synchronously, then flushes the memtable (fast next start).
  Status CommitFinal(StoredProgress progress, std::vector<StoredSource> sources, const StateDelta& final_delta,
                     bool alerts_synced);

  // The source positions of the newest checkpoint made durable since the
  // last call, if any (each durable checkpoint is handed over at most once;
  // an older one not yet taken is superseded). Cheap when there is none.
  std::optional<std::vector<StoredSource>> TakeDurable();

  void OnShardState(uint64_t id, uint32_t shard, StateDelta delta) override;
  void OnAlertsSynced(uint64_t id, bool synced) override;

  // Telemetry (any thread).
  uint64_t succeeded() const { return succeeded_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  double last_success_seconds() const { return last_success_s_.load(std::memory_order_relaxed); }
  double last_duration_seconds() const { return last_duration_s_.load(std::memory_order_relaxed); }
  uint64_t last_bytes() const { return last_bytes_.load(std::memory_order_relaxed); }
  uint64_t total_bytes() const { return total_bytes_.load(std::memory_order_relaxed); }
  double max_duration_seconds() const { return max_duration_s_.load(std::memory_order_relaxed); }
  // Checkpoint durations (sum, count, buckets), for the histogram.
  struct Durations {
    std::vector<double> bounds;
    std::vector<uint64_t> buckets;  // cumulative not applied: per bucket, + overflow last
    double sum = 0;
    uint64_t count = 0;
  };
  Durations durations() const;

 private:
  void Loop();
  void AddDelta(const StateDelta& delta);
  // Checkpointer thread: logs a failed checkpoint at most once every 10 s
  // (the first at once, then how many failed since), and the first success
  // after failures.
  void LogFailure(uint64_t id, const std::string& why);
  void LogRecovered(uint64_t id);
  Status Write(const StoredProgress& progress, const std::vector<StoredSource>& sources, double started_s);
  // Before new changes join pending_: after a failed commit, asks the store
  // whether that commit became durable all the same (its log record was
  // written before the error, or the store flushed it when it closed; the
  // progress record it carried tells); if so pending_ is dropped, since
  // writing it again would apply its part appends twice. Fails while the
  // store cannot tell (closed, disk still full): nothing may be committed
  // then.
  Status Reconcile();

  StateStore* store_;
  const std::vector<std::shared_ptr<const Rule>>& rules_;
  const KeyTable& keys_;
  uint32_t shards_;
  Logger* logger_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool in_flight_ = false;
  uint64_t id_ = 0;
  StoredProgress progress_;
  std::vector<StoredSource> sources_;
  std::vector<StateDelta> deltas_;
  uint32_t shards_reported_ = 0;
  bool alerts_reported_ = false;
  bool alerts_synced_ = false;
  double begun_s_ = 0;
  StateStore::Batch pending_;  // state changes not yet durable (failed checkpoints carry over)
  std::optional<StoredProgress> unsure_;  // progress of the last failed commit, until Reconcile
  std::optional<std::vector<StoredSource>> durable_;  // positions of the last durable checkpoint, not yet taken
  std::atomic<bool> durable_ready_{false};
  std::thread thread_;
  // Failure log rate limit (checkpointer thread only).
  double last_failure_log_s_ = 0;
  uint64_t failures_unlogged_ = 0;
  uint64_t failures_in_a_row_ = 0;

  std::atomic<uint64_t> succeeded_{0}, failed_{0}, last_bytes_{0}, total_bytes_{0};
  std::atomic<double> last_success_s_{0}, last_duration_s_{0}, max_duration_s_{0};
  mutable std::mutex hist_mu_;
  Durations durations_;
};

}  // namespace vigil
