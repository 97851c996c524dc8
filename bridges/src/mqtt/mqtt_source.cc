// MqttSource: Paho callback -> bounded queue -> router thread.
#include "vigil/bridges/mqtt_source.h"

#include <mqtt/async_client.h>

#include <simdjson.h>

#include <cstdlib>

#include "journal/journal_replay.h"
#include "mqtt/mqtt_session.h"
#include "mqtt/topic_pattern.h"
#include "vigil/engine/codec.h"
#include "vigil/engine/json_parser.h"
#include "vigil/engine/topic_filter.h"

namespace vigil::bridges {

namespace {
constexpr size_t kFilterCacheMax = 100000;  // distinct topics remembered for `match: {topic}`

// A message's journal record: this head, then the payload.
std::string JournalHead(const mqtt::message& m) {
  std::string h;
  PutFixed8(&h, m.is_retained() ? 1 : 0);
  PutFixed8(&h, static_cast<uint8_t>(m.get_qos()));
  PutBytes(&h, m.get_topic());
  return h;
}
}  // namespace

struct MqttSource::Journaling {
  std::unique_ptr<JournalReplay> replay;
};

MqttSource::MqttSource(MqttSourceOptions options, const MqttConnectionSettings& connection, Logger* logger)
    : options_(std::move(options)), logger_(logger),
      session_(std::make_unique<MqttSession>(connection, "mqtt source '" + options_.name + "'", logger)) {
  for (const auto& t : options_.topic_tags) {
    auto parsed = TopicTagTemplate::Parse(t);
    if (parsed.ok()) templates_.push_back(std::move(parsed).value());  // checked at load (CheckBridges)
  }
  if (options_.queue_messages == 0) options_.queue_messages = 1;
}

MqttSource::~MqttSource() { Close(); }

void MqttSource::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    room_.notify_all();
  }
  session_->Stop();
}

Status MqttSource::Open(const Schema& schema, TagInterner* tags) {
  tags_ = tags;
  parser_ = std::make_unique<JsonMessageParser>(schema, options_.format, tags);
  for (const auto& t : templates_) {
    std::vector<int> slots;
    for (const auto& name : t.tag_names()) slots.push_back(schema.FindTag(name));
    template_slots_.push_back(std::move(slots));
  }
  topic_slot_ = schema.FindTag("topic");
  retained_slot_ = schema.FindTag("retained");
  true_id_ = tags->Intern("true");
  false_id_ = tags->Intern("false");
  matched_id_ = tags->Intern(kTopicFilterMatched);
  for (uint32_t i = 0; i < schema.tag_count(); ++i) {
    const std::string& name = schema.tag_name(i);
    if (name.rfind(kTopicFilterTagPrefix, 0) == 0) filters_.emplace_back(name.substr(kTopicFilterTagPrefix.size()), i);
  }
  if (!options_.journal_dir.empty()) {  // before the session: what it brings goes after replay_end
    Result<std::unique_ptr<JournalReplay>> replay =
        JournalReplay::Open(options_.journal_dir, "mqtt source '" + options_.name + "'", logger_);
    if (!replay.ok()) return replay.status();
    auto j = std::make_unique<Journaling>();
    j->replay = std::move(replay).value();
    std::lock_guard<std::mutex> lock(mu_);
    journaling_ = std::move(j);
  }
  return session_->Start(
      [this](mqtt::async_client& client) {
        client.set_message_callback([this](mqtt::const_message_ptr msg) { OnArrived(std::move(msg)); });
      },
      [this](bool session_present) {
        std::vector<std::string> filters = options_.topics;
        auto coll = mqtt::string_collection::create(filters);
        std::vector<int> qos(filters.size(), options_.qos);
        session_->client().subscribe(coll, qos)->wait_for(std::chrono::seconds(10));
      });
}

void MqttSource::OnArrived(std::shared_ptr<const mqtt::message> msg) {
  if (msg == nullptr) return;
  received_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(msg->get_payload_ref().size(), std::memory_order_relaxed);
  if (msg->is_retained()) retained_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock<std::mutex> lock(mu_);
  if (queue_.size() >= options_.queue_messages && !closed_) {
    waits_.fetch_add(1, std::memory_order_relaxed);
    room_.wait(lock, [&] { return queue_.size() < options_.queue_messages || closed_; });
  }
  // Once closed, what still arrives is queued anyway: Poll drains it before
  // the engine stops, nothing acknowledged is dropped.
  Item item{std::move(msg)};
  if (journaling_ != nullptr) {  // in the journal before Paho gets the callback back, in queue order
    const std::string head = JournalHead(*item.msg);
    const std::string& payload = item.msg->get_payload_str();
    Result<uint64_t> at = journaling_->replay->journal().Append(head, payload);
    if (at.ok()) {
      item.journal_offset = *at;
      item.journal_end = IngestJournal::RecordEnd(*at, head.size() + payload.size());
    } else if (journal_errors_.fetch_add(1, std::memory_order_relaxed) % 10000 == 0 && logger_ != nullptr) {
      logger_->Log(LogLevel::kError, "mqtt source '" + options_.name + "': " + at.status().message() +
                                         "; the message is processed but would be lost by a crash");
    }
  }
  queue_.push_back(std::move(item));
  if (queue_.size() == 1 && waker_ != nullptr) waker_->Wake();  // the router may be waiting
}

void MqttSource::AddTopicTags(const std::string& topic, bool retained, ParsedMessage* out) {
  for (size_t t = 0; t < templates_.size(); ++t) {
    const std::vector<int>& slots = template_slots_[t];
    const bool fits = templates_[t].Extract(topic, [&](int index, std::string_view value) {
      const int slot = slots[static_cast<size_t>(index)];
      if (slot >= 0) out->tags[static_cast<size_t>(slot)] = tags_->Intern(value);
    });
    if (fits) break;
  }
  if (topic_slot_ >= 0) out->tags[static_cast<size_t>(topic_slot_)] = tags_->Intern(topic);
  if (retained_slot_ >= 0) out->tags[static_cast<size_t>(retained_slot_)] = retained ? true_id_ : false_id_;
  if (filters_.empty()) return;
  auto it = filter_cache_.find(topic);
  if (it == filter_cache_.end()) {
    if (filter_cache_.size() >= kFilterCacheMax) filter_cache_.clear();
    std::vector<uint32_t> matching;
    for (const auto& [filter, slot] : filters_) {
      if (TopicMatches(filter, topic)) matching.push_back(slot);
    }
    it = filter_cache_.emplace(topic, std::move(matching)).first;
  }
  // The parser left every topic-filter tag empty (it never reads them from a payload).
  for (uint32_t slot : it->second) out->tags[slot] = matched_id_;
}

std::string MqttSource::Position() const {
  return journaling_ == nullptr ? std::string() : std::to_string(journaling_->replay->next_offset());
}

Status MqttSource::Resume(std::string_view position) {
  if (journaling_ == nullptr || position.empty()) return Status::Ok();
  uint64_t offset = 0;
  std::string_view rest;
  if (!JournalReplay::ParseOffset(position, &offset, &rest) || !rest.empty()) {
    return Status::InvalidArgument("mqtt source '" + options_.name + "': unreadable position '" +
                                   std::string(position) + "'");
  }
  return journaling_->replay->ResumeAt(offset);
}

void MqttSource::OnCheckpointDurable(std::string_view position) {
  if (journaling_ != nullptr) journaling_->replay->Release(position);
}

Result<MqttSource::Item> MqttSource::NextReplayed() {
  JournalReplay& r = *journaling_->replay;
  std::string record;
  uint64_t offset = 0;
  Result<bool> more = r.Next(&record, &offset);
  if (!more.ok()) return more.status();
  if (!*more) return Item{};
  Decoder in(record);
  uint8_t retained = 0, qos = 0;
  std::string_view topic;
  if (!in.GetFixed8(&retained) || !in.GetFixed8(&qos) || !in.GetBytes(&topic) || qos > 2) {
    return Status::Corruption("mqtt source '" + options_.name + "': unreadable journal record at offset " +
                              std::to_string(offset) + " in " + r.journal().dir());
  }
  const std::string_view payload = std::string_view(record).substr(record.size() - in.remaining());
  Item item;
  item.msg = mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, retained != 0);
  item.journal_offset = offset;
  item.journal_end = IngestJournal::RecordEnd(offset, record.size());
  r.CountReplayed(1);
  return item;
}

void MqttSource::Handle(const Item& item, MessageHandler& handler) {
  const mqtt::message& msg = *item.msg;
  const std::string& payload = msg.get_payload_str();
  const RejectReason r = parser_->Parse(payload.data(), payload.size(), payload.capacity(), &message_);
  if (r != RejectReason::kNone) {
    where_ = parser_->Annotate(r, msg.get_topic());
    handler.OnReject(r, payload, where_);
  } else {
    AddTopicTags(msg.get_topic(), msg.is_retained(), &message_);
    handler.OnMessage(message_);
  }
  if (journaling_ != nullptr && item.journal_end != 0) journaling_->replay->set_next_offset(item.journal_end);
}

Result<PollState> MqttSource::Poll(MessageHandler& handler, size_t max_messages) {
  if (journaling_ != nullptr && !journaling_->replay->done()) {
    size_t replayed = 0;
    while (replayed < max_messages) {
      Result<Item> item = NextReplayed();
      if (!item.ok()) return item.status();
      if (item->msg == nullptr) break;
      Handle(*item, handler);
      ++replayed;
    }
    if (replayed > 0) return PollState::kActive;
  }
  if (draining_.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    const size_t n = std::min(max_messages, queue_.size());
    for (size_t i = 0; i < n; ++i) {
      draining_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    if (n > 0) room_.notify_all();
  }
  if (draining_.empty()) return PollState::kIdle;
  size_t done = 0;
  while (!draining_.empty() && done < max_messages) {
    Item item = std::move(draining_.front());
    draining_.pop_front();
    ++done;
    Handle(item, handler);
  }
  return PollState::kActive;
}

bool MqttSource::connected() const { return session_->connected(); }

size_t MqttSource::queued_messages() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void MqttSource::ReportMetrics(std::vector<BridgeMetric>* out) const {
  using T = BridgeMetric::Type;
  const std::vector<std::pair<std::string, std::string>> l = {{"source", options_.name}};
  out->push_back({"vigil_source_bytes_total", "Payload bytes received from each broker source.", T::kCounter, l,
                  static_cast<double>(bytes_.load(std::memory_order_relaxed))});
  out->push_back({"vigil_mqtt_retained_messages_total", "Retained MQTT messages received (processed like others).",
                  T::kCounter, l, static_cast<double>(retained_.load(std::memory_order_relaxed))});
  out->push_back({"vigil_mqtt_connects_total", "Successful MQTT connects (the first and every reconnect).",
                  T::kCounter, l, static_cast<double>(session_->connects())});
  out->push_back({"vigil_mqtt_connection_losses_total", "MQTT connections lost.", T::kCounter, l,
                  static_cast<double>(session_->connection_losses())});
  bool journaled = false;
  {
    std::lock_guard<std::mutex> lock(mu_);  // Open sets journaling_ on the router thread
    journaled = journaling_ != nullptr;
  }
  if (journaled) {
    out->push_back({"vigil_source_journal_errors_total",
                    "Accepted messages a source's journal could not take (processed, but a crash would lose them).",
                    T::kCounter, l, static_cast<double>(journal_errors_.load(std::memory_order_relaxed))});
  }
  out->push_back({"vigil_source_backpressure_waits_total",
                  "Times a broker source waited for room in its queue (the pipeline was behind).", T::kCounter, l,
                  static_cast<double>(waits_.load(std::memory_order_relaxed))});
}

}  // namespace vigil::bridges
