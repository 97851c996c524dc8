// OutboxSink: append on the alert thread, deliver in order on its own
// thread, persist at checkpoints.
#include "vigil/bridges/outbox_sink.h"

#include <algorithm>

#include "vigil/engine/codec.h"
#include "vigil/engine/key_table.h"

namespace vigil::bridges {

namespace {
constexpr uint8_t kRecordVersion = 1;
}

std::string OutboxSink::Encode(const AlertView& a) {
  std::string out;
  out.reserve(a.json.size() * 2 + 64);
  PutFixed8(&out, kRecordVersion);
  PutFixed8(&out, static_cast<uint8_t>(a.record.state));
  PutInt64(&out, a.record.ts);
  PutInt64(&out, a.record.raise_ts);
  PutDouble(&out, a.record.value);
  PutFixed32(&out, a.record.count);
  PutBytes(&out, a.rule.name);
  PutBytes(&out, a.rule.kind);
  PutBytes(&out, a.rule.severity);
  PutFixed32(&out, static_cast<uint32_t>(a.rule.labels.size()));
  for (const auto& [k, v] : a.rule.labels) {
    PutBytes(&out, k);
    PutBytes(&out, v);
  }
  const size_t n = std::min(a.rule.key_tags.size(), a.key.values.size());
  PutFixed32(&out, static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; ++i) {
    PutBytes(&out, a.rule.key_tags[i]);
    PutBytes(&out, a.key.values[i]);
  }
  PutBytes(&out, a.id);
  PutBytes(&out, a.message);
  PutBytes(&out, a.json);
  return out;
}

std::unique_ptr<OutboxSink::Decoded> OutboxSink::Decode(std::string_view record) {
  auto d = std::make_unique<Decoded>();
  Decoder in(record);
  uint8_t version = 0, state = 0;
  uint32_t labels = 0, tags = 0;
  std::string_view s;
  auto str = [&](std::string* out) {
    if (!in.GetBytes(&s)) return false;
    out->assign(s);
    return true;
  };
  if (!in.GetFixed8(&version) || version != kRecordVersion || !in.GetFixed8(&state) || state > 1 ||
      !in.GetInt64(&d->record.ts) || !in.GetInt64(&d->record.raise_ts) || !in.GetDouble(&d->record.value) ||
      !in.GetFixed32(&d->record.count) || !str(&d->rule.name) || !str(&d->rule.kind) || !str(&d->rule.severity) ||
      !in.GetFixed32(&labels) || labels > record.size()) {
    return nullptr;
  }
  d->record.state = static_cast<AlertState>(state);
  for (uint32_t i = 0; i < labels; ++i) {
    std::string k, v;
    if (!str(&k) || !str(&v)) return nullptr;
    d->rule.labels[k] = v;
  }
  if (!in.GetFixed32(&tags) || tags > record.size()) return nullptr;
  for (uint32_t i = 0; i < tags; ++i) {
    std::string k, v;
    if (!str(&k) || !str(&v)) return nullptr;
    d->rule.key_tags.push_back(std::move(k));
    d->key.values.push_back(std::move(v));
  }
  if (!str(&d->id) || !str(&d->message) || !str(&d->json)) return nullptr;
  return d;
}

OutboxSink::OutboxSink(std::unique_ptr<Sink> inner, StateStore* store, OutboxOptions options, Logger* logger)
    : inner_(std::move(inner)), store_(store), options_(options), logger_(logger) {
  if (options_.batch == 0) options_.batch = 1;
  if (options_.max_alerts == 0) options_.max_alerts = 1;
  options_.retry_min_ms = std::max<int64_t>(options_.retry_min_ms, 1);
  options_.retry_max_ms = std::max(options_.retry_max_ms, options_.retry_min_ms);
}

Status OutboxSink::Start() {
  if (store_ != nullptr) {
    std::vector<uint64_t> corrupt;
    Status st = store_->ForEachOutbox(name(), [&](uint64_t seq, std::string_view value) {
      if (Decode(value) == nullptr) {
        corrupt.push_back(seq);
        return;
      }
      queue_.push_back(Entry{seq, std::string(value), true});
      next_seq_ = std::max(next_seq_, seq + 1);
    });
    if (!st.ok()) return st;
    if (!corrupt.empty()) {
      // Unreadable records cannot be delivered; say so and remove them.
      if (logger_ != nullptr) {
        logger_->Log(LogLevel::kError, "sink '" + name() + "': " + std::to_string(corrupt.size()) +
                                           " unreadable outbox records dropped");
      }
      (void)store_->WriteOutbox(name(), {}, corrupt);
    }
    if (!queue_.empty() && logger_ != nullptr) {
      logger_->Log(LogLevel::kInfo, "sink '" + name() + "': " + std::to_string(queue_.size()) +
                                        " alerts left in the outbox by the last run are delivered first");
    }
  }
  depth_.store(queue_.size(), std::memory_order_relaxed);
  started_ = true;
  if (auto* pipelined = dynamic_cast<PipelinedSink*>(inner_.get())) {
    pipelined->SetNotifier([this] {
      std::lock_guard<std::mutex> lock(mu_);
      notified_ = true;
      wake_.notify_all();
    });
    thread_ = std::thread([this, pipelined] { PipelinedLoop(pipelined); });
  } else {
    thread_ = std::thread([this] { DeliveryLoop(); });
  }
  return Status::Ok();
}

OutboxSink::~OutboxSink() {
  if (started_) {
    const bool drained = WaitEmpty(std::chrono::milliseconds(options_.drain_timeout_ms));
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      wake_.notify_all();
    }
    thread_.join();
    // Remove the records of alerts confirmed since the last Sync, and keep
    // what is left (the final checkpoint's Sync persisted it).
    std::vector<std::pair<uint64_t, std::string>> puts;
    size_t left = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Entry& e : queue_) {
        if (!e.persisted) puts.emplace_back(e.seq, std::move(e.record));
      }
      left = queue_.size();
    }
    if (store_ != nullptr) (void)store_->WriteOutbox(name(), puts, to_delete_);
    if (!drained && logger_ != nullptr) {
      logger_->Log(LogLevel::kWarn, "sink '" + name() + "': " + std::to_string(left) + " alerts not delivered at exit" +
                                        (store_ != nullptr ? "; kept in the outbox for the next run"
                                                           : " and lost (no state dir, the outbox is in memory)"));
    }
  }
}

Status OutboxSink::Write(const AlertView& alert) {
  std::string record = Encode(alert);
  std::lock_guard<std::mutex> lock(mu_);
  if (queue_.size() >= options_.max_alerts) {
    const Entry& old = queue_.front();
    if (old.persisted) to_delete_.push_back(old.seq);
    queue_.pop_front();
    if (dropped_.fetch_add(1, std::memory_order_relaxed) % 10000 == 0 && logger_ != nullptr) {
      logger_->Log(LogLevel::kError, "sink '" + name() + "': outbox full (" + std::to_string(options_.max_alerts) +
                                         " alerts waiting); dropping the oldest (counted in vigil_outbox_dropped_total)");
    }
  }
  queue_.push_back(Entry{next_seq_++, std::move(record), false});
  depth_.store(queue_.size(), std::memory_order_relaxed);
  wake_.notify_one();
  return Status::Ok();
}

Status OutboxSink::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  wake_.notify_one();
  return Status::Ok();
}

Status OutboxSink::Sync() {
  if (store_ == nullptr) return Status::Ok();
  std::vector<std::pair<uint64_t, std::string>> puts;
  std::vector<uint64_t> deletes;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Entry& e : queue_) {
      if (!e.persisted) {
        puts.emplace_back(e.seq, e.record);
        e.persisted = true;
      }
    }
    deletes.swap(to_delete_);
  }
  Status st = store_->WriteOutbox(name(), puts, deletes);
  if (!st.ok()) {
    // Not durable: mark them again so the next Sync retries.
    std::lock_guard<std::mutex> lock(mu_);
    size_t p = 0;
    for (Entry& e : queue_) {
      while (p < puts.size() && puts[p].first < e.seq) ++p;
      if (p < puts.size() && puts[p].first == e.seq) e.persisted = false;
    }
    // Entries confirmed meanwhile were queued for deletion as persisted;
    // deleting a record that was never written is harmless.
    to_delete_.insert(to_delete_.end(), deletes.begin(), deletes.end());
    return st;
  }
  return Status::Ok();
}

void OutboxSink::DeliveryLoop() {
  int64_t backoff = options_.retry_min_ms;
  bool failing = false;
  std::vector<Entry> batch;
  while (true) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const size_t n = std::min(options_.batch, queue_.size());
      for (size_t i = 0; i < n; ++i) batch.push_back(Entry{queue_[i].seq, queue_[i].record, false});
    }
    Status st = Status::Ok();
    for (const Entry& e : batch) {
      std::unique_ptr<Decoded> d = Decode(e.record);
      if (d == nullptr) continue;  // cannot happen: records are checked when loaded
      st = inner_->Write(d->view());
      if (!st.ok()) break;
    }
    // Flush even after a failed Write: it ends the attempt (the sink drops
    // what it staged), so the retry starts clean.
    Status flushed = inner_->Flush();
    if (st.ok()) st = flushed;
    if (st.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t last = batch.back().seq;
      while (!queue_.empty() && queue_.front().seq <= last) {
        if (queue_.front().persisted) to_delete_.push_back(queue_.front().seq);
        queue_.pop_front();
      }
      depth_.store(queue_.size(), std::memory_order_relaxed);
      delivered_.fetch_add(batch.size(), std::memory_order_relaxed);
      if (queue_.empty()) empty_.notify_all();
      if (failing && logger_ != nullptr) {
        logger_->Log(LogLevel::kInfo, "sink '" + name() + "': delivering again; " + std::to_string(queue_.size()) +
                                          " alerts waiting in the outbox");
      }
      failing = false;
      backoff = options_.retry_min_ms;
      continue;
    }
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!failing && logger_ != nullptr) {
      logger_->Log(LogLevel::kWarn, "sink '" + name() + "': " + st.message() + "; alerts wait in the outbox, retrying " +
                                        "with backoff up to " + std::to_string(options_.retry_max_ms) + " ms");
    }
    failing = true;
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_; });
    if (stopping_) return;
    backoff = std::min(backoff * 2, options_.retry_max_ms);
  }
}

size_t OutboxSink::ConfirmUpTo(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  while (!queue_.empty() && queue_.front().seq <= seq) {
    if (queue_.front().persisted) to_delete_.push_back(queue_.front().seq);
    queue_.pop_front();
    ++n;
  }
  depth_.store(queue_.size(), std::memory_order_relaxed);
  delivered_.fetch_add(n, std::memory_order_relaxed);
  if (queue_.empty()) empty_.notify_all();
  return n;
}

void OutboxSink::PipelinedLoop(PipelinedSink* sink) {
  using Clock = std::chrono::steady_clock;
  int64_t backoff = options_.retry_min_ms;
  bool failing = false;
  uint64_t sent = 0;  // the last seq sent in this attempt (0: none)
  std::deque<std::pair<uint64_t, Clock::time_point>> in_flight;  // sent, not confirmed, oldest first
  std::vector<Entry> batch;
  while (true) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      const size_t window = std::max<size_t>(sink->window(), 1);
      // Something to send: the newest entry was not sent yet (entries are in seq order).
      auto ready = [&] {
        return stopping_ || notified_ ||
               (in_flight.size() < window && !queue_.empty() && queue_.back().seq > sent);
      };
      if (in_flight.empty()) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, in_flight.front().second + std::chrono::milliseconds(sink->timeout_ms()), ready);
      }
      if (stopping_) return;
      notified_ = false;
      const size_t room = window > in_flight.size() ? std::min(window - in_flight.size(), options_.batch) : 0;
      for (size_t i = 0; i < queue_.size() && batch.size() < room; ++i) {
        if (queue_[i].seq > sent) batch.push_back(Entry{queue_[i].seq, queue_[i].record, false});
      }
    }
    Status st = Status::Ok();
    for (const Entry& e : batch) {
      std::unique_ptr<Decoded> d = Decode(e.record);
      if (d == nullptr) continue;  // cannot happen: records are checked when loaded
      st = sink->Send(d->view(), e.seq);
      if (!st.ok()) break;
      sent = e.seq;
      in_flight.emplace_back(e.seq, Clock::now());
    }
    if (st.ok()) {
      Result<uint64_t> confirmed = sink->Confirmed();
      if (!confirmed.ok()) {
        st = confirmed.status();
      } else {
        const uint64_t upto = *confirmed;
        while (!in_flight.empty() && in_flight.front().first <= upto) in_flight.pop_front();
        if (upto != 0 && ConfirmUpTo(upto) > 0 && failing) {
          if (logger_ != nullptr) {
            logger_->Log(LogLevel::kInfo, "sink '" + name() + "': delivering again; " + std::to_string(depth()) +
                                              " alerts waiting in the outbox");
          }
          failing = false;
          backoff = options_.retry_min_ms;
        }
      }
    }
    if (st.ok() && !in_flight.empty() &&
        Clock::now() - in_flight.front().second > std::chrono::milliseconds(sink->timeout_ms())) {
      st = Status::IoError("not confirmed within " + std::to_string(sink->timeout_ms()) + " ms");
    }
    if (st.ok()) continue;
    // The attempt failed: start over from the oldest unconfirmed alert.
    failures_.fetch_add(1, std::memory_order_relaxed);
    if (!failing && logger_ != nullptr) {
      logger_->Log(LogLevel::kWarn, "sink '" + name() + "': " + st.message() + "; alerts wait in the outbox, retrying " +
                                        "with backoff up to " + std::to_string(options_.retry_max_ms) + " ms");
    }
    failing = true;
    sink->Restart();
    in_flight.clear();
    sent = 0;
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(backoff), [&] { return stopping_; });
    if (stopping_) return;
    notified_ = false;
    backoff = std::min(backoff * 2, options_.retry_max_ms);
  }
}

bool OutboxSink::WaitEmpty(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return empty_.wait_for(lock, timeout, [&] { return queue_.empty(); });
}

size_t OutboxSink::depth() const { return depth_.load(std::memory_order_relaxed); }

void OutboxSink::ReportMetrics(std::vector<BridgeMetric>* out) const {
  using T = BridgeMetric::Type;
  const std::vector<std::pair<std::string, std::string>> l = {{"sink", name()}};
  out->push_back({"vigil_outbox_depth", "Alerts waiting in each sink's outbox for delivery.", T::kGauge, l,
                  static_cast<double>(depth())});
  out->push_back({"vigil_outbox_delivered_total", "Alerts each sink confirmed delivered.", T::kCounter, l,
                  static_cast<double>(delivered())});
  out->push_back({"vigil_outbox_delivery_failures_total",
                  "Failed delivery attempts of each sink (the alerts stay in the outbox and are retried).", T::kCounter,
                  l, static_cast<double>(failures())});
  out->push_back({"vigil_outbox_dropped_total", "Alerts dropped because an outbox was full (outbox.max_alerts).",
                  T::kCounter, l, static_cast<double>(dropped())});
  inner_->ReportMetrics(out);
}

}  // namespace vigil::bridges
