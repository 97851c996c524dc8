// KafkaSource: consume, parse, track and commit offsets, rebalance.
#include "kafka/kafka_source.h"

#include <charconv>
#include <cstring>
#include <tuple>

#include "vigil/engine/json_parser.h"

namespace vigil::bridges {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kLagRefresh{1};
// rd_kafka_version() of 2.3.0, which made the fetch back-off of a full
// prefetch queue configurable (fetch.queue.backoff.ms).
constexpr int kFetchQueueBackoffVersion = 0x020300ff;

struct PositionEntry {
  std::string topic;
  int32_t partition;
  int64_t offset;
};

// Parses Position()'s format: "topic:partition:offset,...". Topic names
// cannot contain ':' or ',' (Kafka allows [a-zA-Z0-9._-] only).
Result<std::vector<PositionEntry>> ParsePosition(std::string_view text) {
  std::vector<PositionEntry> out;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t c2 = item.rfind(':');
    const size_t c1 = c2 == std::string_view::npos || c2 == 0 ? std::string_view::npos : item.rfind(':', c2 - 1);
    PositionEntry e{};
    if (c1 == std::string_view::npos || c1 == 0) {
      return Status::InvalidArgument("not a Kafka position: '" + std::string(item) + "' (expected topic:partition:offset)");
    }
    e.topic = std::string(item.substr(0, c1));
    const std::string_view p = item.substr(c1 + 1, c2 - c1 - 1), o = item.substr(c2 + 1);
    if (std::from_chars(p.data(), p.data() + p.size(), e.partition).ptr != p.data() + p.size() || p.empty() ||
        std::from_chars(o.data(), o.data() + o.size(), e.offset).ptr != o.data() + o.size() || o.empty() ||
        e.partition < 0 || e.offset < 0) {
      return Status::InvalidArgument("not a Kafka position: '" + std::string(item) + "' (expected topic:partition:offset)");
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string PartitionNames(const rd_kafka_topic_partition_list_t* parts) {
  std::string s;
  for (int i = 0; i < parts->cnt; ++i) {
    if (i) s += ", ";
    s += parts->elems[i].topic;
    s += '[' + std::to_string(parts->elems[i].partition) + ']';
  }
  return s;
}

}  // namespace

KafkaSource::KafkaSource(KafkaSourceOptions options) : options_(std::move(options)) {}

KafkaSource::~KafkaSource() {
  if (rk_ == nullptr) return;
  // Leave the group (the revoke commits the last durable offsets), serving
  // the rebalance callback here, within close_timeout.
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
  rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_, q);
  bool closed = false;
  if (e != nullptr) {
    Warn(std::string("leaving the group failed: ") + rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    const auto deadline = Clock::now() + options_.close_timeout;
    while (!(closed = rd_kafka_consumer_closed(rk_) != 0) && Clock::now() < deadline) {
      rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 100);
      if (ev == nullptr) continue;
      if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
        OnRebalance(rk_, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), this);
      }
      rd_kafka_event_destroy(ev);
    }
    if (!closed) Warn("did not leave the group within the close timeout; its members will time out instead");
  }
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy_flags(rk_, closed ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

Status KafkaSource::Open(const Schema& schema, TagInterner* tags) {
  parser_ = std::make_unique<JsonMessageParser>(schema, options_.format, tags);
  tags_ = tags;
  key_slot_ = options_.key_tag.empty() ? -1 : schema.FindTag(options_.key_tag);

  kafka::ConfPtr conf(rd_kafka_conf_new());
  kafka::Properties own = {
      {"bootstrap.servers", options_.brokers},
      {"group.id", options_.group},
      {"client.id", "vigil"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", options_.start_latest ? "latest" : "earliest"},
      {"partition.assignment.strategy", "cooperative-sticky"},
      {"statistics.interval.ms", "1000"},  // connection state (OnStats)
  };
  if (rd_kafka_version() < kFetchQueueBackoffVersion) {
    // Before librdkafka 2.3, a partition whose prefetch queue holds
    // queued.min.messages (default 100,000) is not fetched again for a fixed
    // second. A consumer that is slower than its brokers then reads bursts
    // of 100,000 messages and idles for the rest of each second (measured:
    // 0.17 M msg/s instead of 0.7 M). A million keeps about a second of
    // messages queued; queued.max.messages.kbytes (64 MiB) still bounds the
    // memory. A setting of the user's wins (applied below).
    own.emplace_back("queued.min.messages", "1000000");
  }
  Status st = kafka::SetProperties(conf.get(), own);
  if (st.ok()) st = kafka::SetProperties(conf.get(), options_.properties);
  if (!st.ok()) return st;
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaSource::OnRebalance);
  rd_kafka_conf_set_error_cb(conf.get(), &KafkaSource::OnError);
  rd_kafka_conf_set_log_cb(conf.get(), &KafkaSource::OnLog);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &KafkaSource::OnCommit);
  rd_kafka_conf_set_stats_cb(conf.get(), &KafkaSource::OnStats);

  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (rk_ == nullptr) return Status::InvalidArgument(std::string("cannot create the Kafka consumer: ") + err);
  (void)conf.release();  // owned by rk_ now
  rd_kafka_poll_set_consumer(rk_);
  if (waker_ != nullptr) {
    // librdkafka calls this from its own thread when the consumer queue goes
    // from empty to non-empty: the router, waiting while every source is
    // idle, picks the messages up at once.
    rd_kafka_queue_t* q = rd_kafka_queue_get_consumer(rk_);
    if (q != nullptr) {
      rd_kafka_queue_cb_event_enable(
          q, [](rd_kafka_t*, void* opaque) { static_cast<SourceWaker*>(opaque)->Wake(); }, waker_);
      rd_kafka_queue_destroy(q);
    }
  }

  kafka::PartitionListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())));
  for (const auto& t : options_.topics) rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics.get());
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::InvalidArgument(std::string("cannot subscribe to the topics: ") + rd_kafka_err2str(e));
  }
  return Status::Ok();
}

std::string KafkaSource::EffectiveProperty(const std::string& name) const {
  if (rk_ == nullptr) return {};
  char value[512];
  size_t size = sizeof value;
  if (rd_kafka_conf_get(rd_kafka_conf(rk_), name.c_str(), value, &size) != RD_KAFKA_CONF_OK) return {};
  return value;
}

Result<PollState> KafkaSource::Poll(MessageHandler& handler, size_t max_messages) {
  if (rk_ == nullptr) return PollState::kIdle;
  size_t handled = 0;
  poll_handler_ = &handler;
  struct Clear {
    MessageHandler** p;
    ~Clear() { *p = nullptr; }
  } clear{&poll_handler_};
  while (handled < max_messages) {
    kafka::MessagePtr m(rd_kafka_consumer_poll(rk_, 0));
    if (m == nullptr) break;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
      errors_.fetch_add(1, std::memory_order_relaxed);
      if (m->err == RD_KAFKA_RESP_ERR__FATAL) break;
      Warn((m->rkt != nullptr ? kafka::MessageWhere(m.get()) + ": " : std::string()) + rd_kafka_message_errstr(m.get()));
      continue;
    }
    Deliver(m.get(), handler);
    ++handled;
  }
  if (handled > 0) connected_.store(true, std::memory_order_relaxed);
  char fatal[512];
  if (rd_kafka_fatal_error(rk_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::IoError(std::string("fatal Kafka consumer error: ") + fatal);
  }
  const auto now = Clock::now();
  if (now >= next_lag_refresh_) {
    next_lag_refresh_ = now + kLagRefresh;
    RefreshLag();
  }
  return handled > 0 ? PollState::kActive : PollState::kIdle;
}

KafkaSource::Cursor* KafkaSource::CursorFor(const rd_kafka_message_t* m) {
  if (m->rkt == last_rkt_ && m->partition == last_partition_ && last_cursor_ != nullptr) return last_cursor_;
  TopicPartition key(rd_kafka_topic_name(m->rkt), m->partition);
  auto it = cursors_.find(key);
  if (it == cursors_.end()) {
    // Not in our assignment (should not happen): track it anyway, so its
    // messages are covered by Position().
    it = cursors_.emplace(key, Cursor{key.first, key.second}).first;
  }
  last_rkt_ = m->rkt;
  last_partition_ = m->partition;
  last_cursor_ = &it->second;
  return last_cursor_;
}

void KafkaSource::Deliver(const rd_kafka_message_t* m, MessageHandler& handler) {
  CursorFor(m)->next = m->offset + 1;
  bytes_.Add(m->len);
  const char* data = static_cast<const char*>(m->payload);
  if (data == nullptr) {  // a tombstone: no value at all
    handler.OnReject(RejectReason::kInvalidJson, std::string_view(), kafka::MessageWhere(m));
    return;
  }
  const RejectReason r = parser_->Parse(data, m->len, m->len, &message_);
  if (r != RejectReason::kNone) {
    handler.OnReject(r, std::string_view(data, m->len), parser_->Annotate(r, kafka::MessageWhere(m)));
    return;
  }
  if (key_slot_ >= 0 && m->key != nullptr && m->key_len > 0) {
    message_.tags[key_slot_] = tags_->Intern(std::string_view(static_cast<const char*>(m->key), m->key_len));
  }
  if (!message_.has_ts) {
    rd_kafka_timestamp_type_t type;
    const int64_t ts = rd_kafka_message_timestamp(m, &type);
    if (ts >= 0 && type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE) {
      message_.ts = ts;
      message_.has_ts = true;
    }
  }
  handler.OnMessage(message_);
}

std::string KafkaSource::Position() const {
  std::map<TopicPartition, int64_t> all = resume_;
  for (const auto& [key, c] : cursors_) {
    if (c.next >= 0) all[key] = c.next;
  }
  std::string s;
  for (const auto& [key, offset] : all) {
    if (!s.empty()) s += ',';
    s += key.first + ':' + std::to_string(key.second) + ':' + std::to_string(offset);
  }
  return s;
}

Status KafkaSource::Resume(std::string_view position) {
  Result<std::vector<PositionEntry>> entries = ParsePosition(position);
  if (!entries.ok()) return entries.status();
  for (auto& e : *entries) resume_[{std::move(e.topic), e.partition}] = e.offset;
  return Status::Ok();
}

void KafkaSource::OnCheckpointDurable(std::string_view position) {
  if (rk_ == nullptr) return;
  Result<std::vector<PositionEntry>> entries = ParsePosition(position);
  if (!entries.ok()) return;  // our own format: cannot happen
  kafka::PartitionListPtr commit(rd_kafka_topic_partition_list_new(static_cast<int>(entries->size())));
  for (const PositionEntry& e : *entries) {
    auto it = cursors_.find({e.topic, e.partition});
    if (it == cursors_.end()) continue;  // revoked since, or not assigned yet: not ours to commit
    Cursor& c = it->second;
    c.durable = e.offset;
    if (c.committed == e.offset) continue;
    c.committed = e.offset;
    rd_kafka_topic_partition_list_add(commit.get(), e.topic.c_str(), e.partition)->offset = e.offset;
  }
  if (commit->cnt == 0) return;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, commit.get(), 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    Warn(std::string("committing offsets failed (retried at the next checkpoint): ") + rd_kafka_err2str(err));
    for (int i = 0; i < commit->cnt; ++i) {
      auto it = cursors_.find({commit->elems[i].topic, commit->elems[i].partition});
      if (it != cursors_.end()) it->second.committed = -1;
    }
  }
}

void KafkaSource::Assign(rd_kafka_topic_partition_list_t* parts) {
  int resumed = 0;
  for (int i = 0; i < parts->cnt; ++i) {
    rd_kafka_topic_partition_t& p = parts->elems[i];
    TopicPartition key(p.topic, p.partition);
    Cursor& c = cursors_.emplace(key, Cursor{key.first, key.second}).first->second;
    auto r = resume_.find(key);
    if (r == resume_.end()) continue;  // the group's committed offset, else auto.offset.reset
    p.offset = r->second;
    c.next = c.durable = r->second;
    resume_.erase(r);
    ++resumed;
  }
  if (options_.logger != nullptr) {
    options_.logger->Log(LogLevel::kInfo, "kafka source '" + options_.name + "': assigned " + PartitionNames(parts) +
                                              (resumed > 0 ? " (" + std::to_string(resumed) +
                                                                 " resumed from the checkpoint)"
                                                           : ""));
  }
}

void KafkaSource::Revoke(rd_kafka_topic_partition_list_t* parts, bool lost) {
  // Checkpoint first (issue: "on revoke, checkpoint first"): the durable
  // offsets then cover every message handed over from these partitions, so
  // their new owner starts exactly where this consumer stopped. Without it
  // (no state dir, a failed checkpoint, a lost assignment) the last durable
  // checkpoint's offsets are committed and the new owner reprocesses what
  // came after them.
  const bool checkpointed = !lost && poll_handler_ != nullptr && poll_handler_->CheckpointNow();
  kafka::PartitionListPtr commit(rd_kafka_topic_partition_list_new(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i) {
    auto it = cursors_.find({parts->elems[i].topic, parts->elems[i].partition});
    if (it == cursors_.end()) continue;
    if (!lost && it->second.durable >= 0) {
      rd_kafka_topic_partition_list_add(commit.get(), it->second.topic.c_str(), it->second.partition)->offset =
          it->second.durable;
    }
    cursors_.erase(it);
  }
  if (commit->cnt > 0) {
    // Synchronous: the new owner must find these offsets when it starts.
    const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, commit.get(), 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      Warn(std::string("committing the revoked partitions' offsets failed: ") + rd_kafka_err2str(err));
    }
  }
  if (options_.logger != nullptr) {
    options_.logger->Log(LogLevel::kInfo, "kafka source '" + options_.name + "': " + (lost ? "lost " : "revoked ") +
                                              PartitionNames(parts) +
                                              (checkpointed ? " after a checkpoint (offsets committed exactly)"
                                               : lost       ? ""
                                                            : " (committed the last durable checkpoint's offsets)"));
  }
}

void KafkaSource::OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                              void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  self->last_cursor_ = nullptr;
  self->last_rkt_ = nullptr;
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rd_kafka_error_t* error = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->Assign(parts);
    if (cooperative) {
      error = rd_kafka_incremental_assign(rk, parts);
    } else if (rd_kafka_resp_err_t e = rd_kafka_assign(rk, parts); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      error = rd_kafka_error_new(e, "%s", rd_kafka_err2str(e));
    }
  } else {
    self->Revoke(parts, rd_kafka_assignment_lost(rk) != 0 || err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS);
    if (cooperative) {
      error = rd_kafka_incremental_unassign(rk, parts);
    } else {
      (void)rd_kafka_assign(rk, nullptr);
    }
  }
  if (error != nullptr) {
    self->errors_.fetch_add(1, std::memory_order_relaxed);
    self->Warn(std::string("rebalance: ") + rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
}

void KafkaSource::OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  self->errors_.fetch_add(1, std::memory_order_relaxed);
  if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) self->connected_.store(false, std::memory_order_relaxed);
  self->Warn(reason);
}

void KafkaSource::OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  auto* self = static_cast<KafkaSource*>(rd_kafka_opaque(rk));
  // Broker failures also arrive through OnError: log them once.
  if (self == nullptr || std::strcmp(facility, "FAIL") == 0) return;
  kafka::LogFromKafka(self->options_.logger, "source '" + self->options_.name + "'", level, facility, text);
}

void KafkaSource::OnCommit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets,
                           void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
    self->commits_.Add();
    return;
  }
  self->errors_.fetch_add(1, std::memory_order_relaxed);
  self->Warn(std::string("offset commit failed (retried at the next checkpoint): ") + rd_kafka_err2str(err));
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    auto it = self->cursors_.find({offsets->elems[i].topic, offsets->elems[i].partition});
    if (it != self->cursors_.end()) it->second.committed = -1;
  }
}

int KafkaSource::OnStats(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) {
  // Brokers report "state":"UP" once connected (the group's state is lower case).
  auto* self = static_cast<KafkaSource*>(opaque);
  const bool up = std::string_view(json, json_len).find("\"state\":\"UP\"") != std::string_view::npos;
  self->connected_.store(up, std::memory_order_relaxed);
  return 0;  // librdkafka frees `json`
}

void KafkaSource::RefreshLag() {
  std::vector<Lag> lag;
  lag.reserve(cursors_.size());
  for (const auto& [key, c] : cursors_) {
    int64_t low = -1, high = -1;
    // Cached from the last fetch response: no request to the broker.
    if (rd_kafka_get_watermark_offsets(rk_, c.topic.c_str(), c.partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        high < 0) {
      continue;
    }
    const int64_t position = c.next >= 0 ? c.next : low;
    if (position < 0) continue;
    lag.push_back(Lag{c.topic, c.partition, std::max<int64_t>(0, high - position)});
  }
  std::lock_guard<std::mutex> lock(lag_mu_);
  lag_.swap(lag);
}

void KafkaSource::ReportMetrics(std::vector<BridgeMetric>* out) const {
  const std::pair<std::string, std::string> source{"source", options_.name};
  {
    std::lock_guard<std::mutex> lock(lag_mu_);
    for (const Lag& l : lag_) {
      out->push_back(BridgeMetric{"vigil_kafka_consumer_lag",
                                  "Messages in the partition after the consumer's position (high watermark - position).",
                                  BridgeMetric::Type::kGauge,
                                  {source, {"topic", l.topic}, {"partition", std::to_string(l.partition)}},
                                  static_cast<double>(l.lag)});
    }
  }
  out->push_back(BridgeMetric{"vigil_source_bytes_total", "Bytes of message payloads read by the source.",
                              BridgeMetric::Type::kCounter, {source}, static_cast<double>(bytes_.Get())});
  out->push_back(BridgeMetric{"vigil_source_errors_total",
                              "Errors of the source's connection or protocol (not rejected messages).",
                              BridgeMetric::Type::kCounter, {source}, static_cast<double>(errors_total())});
}

void KafkaSource::Warn(const std::string& what) {
  if (options_.logger != nullptr) options_.logger->Log(LogLevel::kWarn, "kafka source '" + options_.name + "': " + what);
}

}  // namespace vigil::bridges
