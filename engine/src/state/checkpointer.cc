// Checkpointer implementation.
#include "state/checkpointer.h"

#include <chrono>

namespace vigil {

namespace {
double WallNowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double SteadySeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

Checkpointer::Checkpointer(StateStore* store, const std::vector<std::shared_ptr<const Rule>>& rules,
                           const KeyTable& keys, uint32_t shards, Logger* logger)
    : store_(store), rules_(rules), keys_(keys), shards_(shards), logger_(logger) {
  durations_.bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  durations_.buckets.assign(durations_.bounds.size() + 1, 0);
  thread_ = std::thread([this] { Loop(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Checkpointer::Begin(uint64_t id, StoredProgress progress, std::vector<StoredSource> sources) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_ = true;
  id_ = id;
  progress_ = progress;
  sources_ = std::move(sources);
  deltas_.clear();
  shards_reported_ = 0;
  alerts_reported_ = false;
  alerts_synced_ = false;
  begun_s_ = SteadySeconds();
}

bool Checkpointer::Busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

void Checkpointer::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !in_flight_; });
}

bool Checkpointer::WaitIdleFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return !in_flight_; });
}

void Checkpointer::OnShardState(uint64_t id, uint32_t shard, StateDelta delta) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id != id_) return;
    deltas_.push_back(std::move(delta));
    ++shards_reported_;
  }
  cv_.notify_all();
}

void Checkpointer::OnAlertsSynced(uint64_t id, bool synced) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (id != id_) return;
    alerts_reported_ = true;
    alerts_synced_ = synced;
  }
  cv_.notify_all();
}

void Checkpointer::AddDelta(const StateDelta& delta) {
  for (const StateDelta::Entry& e : delta.entries) {
    const std::string& rule = rules_[e.rule]->info().name;
    const std::vector<std::string>& values = keys_.Get(e.key).values;
    switch (e.op) {
      case StateDelta::Op::kPut:
        pending_.PutKey(rule, values, delta.blob(e));
        break;
      case StateDelta::Op::kAppendPart:
        pending_.AppendPart(rule, values, e.part, e.chunk, delta.blob(e));
        break;
      case StateDelta::Op::kErasePartsBelow:
        pending_.ErasePartsBelow(rule, values, e.part, e.chunk);
        break;
    }
  }
}

Status Checkpointer::Write(const StoredProgress& progress, const std::vector<StoredSource>& sources,
                           double started_s) {
  for (const auto& s : sources) pending_.PutSource(s);
  StoredProgress p = progress;
  p.written_ms = static_cast<int64_t>(WallNowSeconds() * 1000);
  pending_.PutProgress(p);
  const size_t bytes = pending_.bytes();
  Status st = store_->Commit(pending_);
  if (!st.ok()) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    unsure_ = p;
    return st;
  }
  pending_.Clear();
  const double took = SteadySeconds() - started_s;
  last_duration_s_.store(took, std::memory_order_relaxed);
  last_bytes_.store(bytes, std::memory_order_relaxed);
  total_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (took > max_duration_s_.load(std::memory_order_relaxed)) max_duration_s_.store(took, std::memory_order_relaxed);
  last_success_s_.store(WallNowSeconds(), std::memory_order_relaxed);
  succeeded_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(hist_mu_);
    size_t b = 0;
    while (b < durations_.bounds.size() && took > durations_.bounds[b]) ++b;
    ++durations_.buckets[b];
    durations_.sum += took;
    ++durations_.count;
  }
  return Status::Ok();
}

Status Checkpointer::Reconcile() {
  if (!unsure_) return Status::Ok();
  Result<std::optional<StoredProgress>> stored = store_->Progress();
  if (!stored.ok()) return stored.status();
  const std::optional<StoredProgress>& s = *stored;
  if (s && s->checkpoint == unsure_->checkpoint && s->written_ms == unsure_->written_ms &&
      s->watermark == unsure_->watermark && s->start_ts == unsure_->start_ts) {
    pending_.Clear();  // the failed commit is durable after all
  }
  unsure_.reset();
  return Status::Ok();
}

void Checkpointer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || (in_flight_ && shards_reported_ == shards_ && alerts_reported_); });
    if (stop_) return;
    std::vector<StateDelta> deltas = std::move(deltas_);
    deltas_.clear();
    const StoredProgress progress = progress_;
    std::vector<StoredSource> sources = std::move(sources_);
    const bool synced = alerts_synced_;
    const uint64_t id = id_;
    const double begun = begun_s_;
    lock.unlock();
    const Status known = Reconcile();
    for (const auto& d : deltas) AddDelta(d);
    if (!synced) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      LogFailure(id, "skipped: a sink could not make its alerts durable; its state is written with the next "
                     "checkpoint");
    } else if (!known.ok()) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      LogFailure(id, "failed (retried with the next one): " + known.message());
    } else {
      Status st = Write(progress, sources, begun);
      if (!st.ok()) {
        LogFailure(id, "failed (retried with the next one): " + st.message());
      } else {
        LogRecovered(id);
        lock.lock();
        durable_ = std::move(sources);
        durable_ready_.store(true, std::memory_order_release);
        lock.unlock();
      }
    }
    lock.lock();
    in_flight_ = false;
    cv_.notify_all();
  }
}

void Checkpointer::LogFailure(uint64_t id, const std::string& why) {
  ++failures_in_a_row_;
  const double now = SteadySeconds();
  if (last_failure_log_s_ != 0 && now - last_failure_log_s_ < 10) {
    ++failures_unlogged_;
    return;
  }
  const std::string more =
      failures_unlogged_ == 0 ? "" : " (" + std::to_string(failures_unlogged_) + " more failed in the last 10 s)";
  logger_->Log(LogLevel::kError, "checkpoint " + std::to_string(id) + " " + why + more);
  last_failure_log_s_ = now;
  failures_unlogged_ = 0;
}

void Checkpointer::LogRecovered(uint64_t id) {
  if (failures_in_a_row_ == 0) return;
  logger_->Log(LogLevel::kInfo, "checkpoint " + std::to_string(id) + " written after " +
                                    std::to_string(failures_in_a_row_) + " failed checkpoint(s): state is durable again");
  failures_in_a_row_ = 0;
  failures_unlogged_ = 0;
  last_failure_log_s_ = 0;
}

Status Checkpointer::CommitFinal(StoredProgress progress, std::vector<StoredSource> sources,
                                 const StateDelta& final_delta, bool alerts_synced) {
  WaitIdle();
  const double begun = SteadySeconds();
  const Status known = Reconcile();
  AddDelta(final_delta);
  if (!alerts_synced) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    return Status::IoError("final checkpoint not written: a sink could not make its alerts durable");
  }
  if (!known.ok()) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    return known;
  }
  Status st = Write(progress, sources, begun);
  if (!st.ok()) return st;
  st = store_->Flush();
  if (!st.ok()) return st;
  return store_->Compact();
}

std::optional<std::vector<StoredSource>> Checkpointer::TakeDurable() {
  if (!durable_ready_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  durable_ready_.store(false, std::memory_order_relaxed);
  std::optional<std::vector<StoredSource>> out = std::move(durable_);
  durable_.reset();
  return out;
}

Checkpointer::Durations Checkpointer::durations() const {
  std::lock_guard<std::mutex> lock(hist_mu_);
  return durations_;
}

}  // namespace vigil
