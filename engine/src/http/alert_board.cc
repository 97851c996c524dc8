// AlertBoard: active alerts, the ring of recent events, subscriptions.
#include "vigil/engine/alert_board.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "vigil/engine/alert_dispatcher.h"

namespace vigil {

namespace {

using Key = std::vector<std::pair<std::string, std::string>>;

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool KnownSeverity(const std::string& s) {
  return s == "critical" || s == "major" || s == "warning" || s == "info";
}

void AppendKeyJson(std::string* j, const Key& key) {
  *j += '{';
  for (size_t i = 0; i < key.size(); ++i) {
    if (i) *j += ',';
    AppendJsonString(j, key[i].first);
    *j += ':';
    AppendJsonString(j, key[i].second);
  }
  *j += '}';
}

}  // namespace

struct AlertSubscription::State {
  AlertFilter filter;
  std::deque<BoardEvent> queue;
  std::condition_variable cv;
  bool closed = false;  // nothing more will be queued
};

struct AlertSubscription::Shared {
  struct Entry {
    std::string id;
    std::string rule;
    std::string severity;
    Key key;
    std::string json;  // the last transition (raised)
    int64_t raise_ts = 0;
    uint32_t count = 1;
    bool manual = false;
    std::string manual_key;  // index into `manual` when manual
    std::string message;
    std::map<std::string, std::string> labels;
    bool acked = false;
    std::string acked_by;
    int64_t acked_at = 0;
  };
  struct RingItem {
    BoardEvent event;
    std::string rule;
    std::string severity;
    Key key;
  };

  AlertBoardOptions options;
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> active;
  std::unordered_map<std::string, std::string> manual;  // rule + key -> id
  std::deque<RingItem> ring;
  uint64_t next_seq = 1;
  std::vector<std::shared_ptr<State>> subscribers;
  bool closed = false;

  int64_t Now() const { return options.now_ms ? options.now_ms() : SystemNowMs(); }

  static std::string EntryJson(const Entry& e) {
    std::string j = e.json;
    if (!j.empty() && j.back() == '}') j.pop_back();
    j += ",\"acked\":";
    j += e.acked ? "true" : "false";
    if (e.acked) {
      j += ",\"acked_by\":";
      AppendJsonString(&j, e.acked_by);
      j += ",\"acked_at\":";
      j += std::to_string(e.acked_at);
    }
    j += '}';
    return j;
  }

  // Lock held.
  std::string ActiveJsonLocked(const AlertFilter& filter) const {
    std::vector<const Entry*> list;
    for (const auto& [id, e] : active) {
      if (AlertBoard::Matches(filter, e.rule, e.severity, e.key)) list.push_back(&e);
    }
    std::sort(list.begin(), list.end(), [](const Entry* a, const Entry* b) {
      return a->raise_ts != b->raise_ts ? a->raise_ts > b->raise_ts : a->id < b->id;
    });
    std::string j = "{\"alerts\":[";
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) j += ',';
      j += EntryJson(*list[i]);
    }
    j += "]}";
    return j;
  }

  // Lock held. Appends the event to the ring and to every matching subscriber.
  void Publish(std::string type, std::string data, const std::string& rule, const std::string& severity,
               const Key& key) {
    RingItem item;
    item.event.seq = next_seq++;
    item.event.type = std::move(type);
    item.event.data = std::move(data);
    item.rule = rule;
    item.severity = severity;
    item.key = key;
    for (auto it = subscribers.begin(); it != subscribers.end();) {
      State& s = **it;
      if (!AlertBoard::Matches(s.filter, rule, severity, key)) {
        ++it;
        continue;
      }
      if (s.queue.size() >= options.subscriber_queue) {
        // Too slow: drop what it has not taken; it resumes from the ring
        // with the last id it received.
        s.queue.clear();
        s.queue.push_back(BoardEvent{0, "dropped",
                                     "{\"error\":\"subscriber too slow: reconnect with Last-Event-ID to resume\"}"});
        s.closed = true;
        s.cv.notify_all();
        it = subscribers.erase(it);
        continue;
      }
      s.queue.push_back(item.event);
      s.cv.notify_all();
      ++it;
    }
    ring.push_back(std::move(item));
    while (ring.size() > options.ring_size) ring.pop_front();
  }

  // The transition of manual alert `e` with everything the sinks need.
  static ExternalAlert Transition(const Entry& e, AlertState state, int64_t ts) {
    ExternalAlert t;
    t.rule.name = e.rule;
    t.rule.kind = kManualAlertKind;
    t.rule.severity = e.severity;
    t.rule.labels = e.labels;
    for (const auto& [tag, value] : e.key) {
      t.rule.key_tags.push_back(tag);
      t.key.values.push_back(value);
    }
    t.record.state = state;
    t.record.ts = ts;
    t.record.raise_ts = e.raise_ts;
    t.record.value = std::numeric_limits<double>::quiet_NaN();
    t.record.count = e.count;
    t.id = e.id;
    t.message = e.message;
    t.json = AlertDispatcher::RenderJson(t.record, t.rule, t.key, t.id, t.message);
    return t;
  }
  static std::string Render(const Entry& e, AlertState state, int64_t ts) { return Transition(e, state, ts).json; }
};

AlertSubscription::AlertSubscription(std::shared_ptr<Shared> board, std::shared_ptr<State> state)
    : board_(std::move(board)), state_(std::move(state)) {}

AlertSubscription::~AlertSubscription() {
  std::lock_guard<std::mutex> lock(board_->mu);
  auto& subs = board_->subscribers;
  subs.erase(std::remove(subs.begin(), subs.end(), state_), subs.end());
}

std::vector<BoardEvent> AlertSubscription::Next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(board_->mu);
  state_->cv.wait_for(lock, timeout, [this] { return !state_->queue.empty() || state_->closed; });
  std::vector<BoardEvent> out(std::make_move_iterator(state_->queue.begin()),
                              std::make_move_iterator(state_->queue.end()));
  state_->queue.clear();
  return out;
}

bool AlertSubscription::closed() const {
  std::lock_guard<std::mutex> lock(board_->mu);
  return state_->closed && state_->queue.empty();
}

class AlertBoardSink final : public Sink {
 public:
  explicit AlertBoardSink(AlertBoard* board) : board_(board) {}
  const std::string& name() const override { return name_; }
  Status Write(const AlertView& alert) override {
    // Raise() recorded the manual alerts already; the sinks get them too.
    if (alert.rule.kind != kManualAlertKind) board_->Record(alert);
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }

 private:
  AlertBoard* board_;
  std::string name_ = "alert-board";
};

AlertBoard::AlertBoard(AlertBoardOptions options) : shared_(std::make_shared<AlertSubscription::Shared>()) {
  shared_->options = std::move(options);
  if (shared_->options.ring_size == 0) shared_->options.ring_size = 1;
  if (shared_->options.subscriber_queue == 0) shared_->options.subscriber_queue = 1;
  uint64_t first = shared_->options.first_seq;
  if (first == 0) {
    first = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  }
  shared_->next_seq = std::max<uint64_t>(first, 1);
}

AlertBoard::~AlertBoard() { Close(); }

bool AlertBoard::Matches(const AlertFilter& filter, const std::string& rule, const std::string& severity,
                         const std::vector<std::pair<std::string, std::string>>& key) {
  if (!filter.rule.empty() && filter.rule != rule) return false;
  if (!filter.severity.empty() && filter.severity != severity) return false;
  for (const auto& [tag, value] : filter.tags) {
    bool found = false;
    for (const auto& [k, v] : key) {
      if (k == tag && v == value) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

void AlertBoard::Record(const AlertView& alert) {
  Key key;
  const size_t n = std::min(alert.rule.key_tags.size(), alert.key.values.size());
  key.reserve(n);
  for (size_t i = 0; i < n; ++i) key.emplace_back(alert.rule.key_tags[i], alert.key.values[i]);
  auto& s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (alert.record.state == AlertState::kRaised) {
    auto& e = s.active[alert.id];
    e.id = alert.id;
    e.rule = alert.rule.name;
    e.severity = alert.rule.severity;
    e.key = key;
    e.json = alert.json;
    e.raise_ts = alert.record.raise_ts;
    e.count = alert.record.count;
  } else {
    s.active.erase(alert.id);
  }
  s.Publish("alert", alert.json, alert.rule.name, alert.rule.severity, key);
}

std::unique_ptr<Sink> AlertBoard::MakeSink() { return std::make_unique<AlertBoardSink>(this); }

std::string AlertBoard::ActiveJson(const AlertFilter& filter) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->ActiveJsonLocked(filter);
}

std::string AlertBoard::RecentJson(const AlertFilter& filter, size_t limit) const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::string j = "{\"alerts\":[";
  size_t n = 0;
  for (auto it = shared_->ring.rbegin(); it != shared_->ring.rend() && n < limit; ++it) {
    if (it->event.type != "alert" || !Matches(filter, it->rule, it->severity, it->key)) continue;
    if (n++) j += ',';
    j += it->event.data;
  }
  j += "]}";
  return j;
}

Result<std::string> AlertBoard::Ack(const std::string& id, const std::string& who) {
  auto& s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.active.find(id);
  if (it == s.active.end()) return Status::NotFound("no active alert with id '" + id + "'");
  auto& e = it->second;
  e.acked = true;
  e.acked_by = who;
  e.acked_at = s.Now();
  std::string data = "{\"id\":";
  AppendJsonString(&data, e.id);
  data += ",\"rule\":";
  AppendJsonString(&data, e.rule);
  data += ",\"key\":";
  AppendKeyJson(&data, e.key);
  data += ",\"acked_by\":";
  AppendJsonString(&data, e.acked_by);
  data += ",\"acked_at\":" + std::to_string(e.acked_at) + "}";
  s.Publish("ack", std::move(data), e.rule, e.severity, e.key);
  return AlertSubscription::Shared::EntryJson(e);
}

Result<ManualResult> AlertBoard::Raise(const ManualAlert& in) {
  if (in.rule.empty()) return Status::InvalidArgument("a manual alert needs a 'rule' name");
  if (in.rule.size() > 256) return Status::InvalidArgument("rule name longer than 256 bytes");
  const std::string severity = in.severity.empty() ? "warning" : in.severity;
  if (!KnownSeverity(severity)) {
    return Status::InvalidArgument("unknown severity '" + severity + "' (expected critical, major, warning or info)");
  }
  Key key = in.key;
  std::sort(key.begin(), key.end());
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i].first.empty()) return Status::InvalidArgument("key tag names must not be empty");
    if (i > 0 && key[i].first == key[i - 1].first) {
      return Status::InvalidArgument("key tag '" + key[i].first + "' given twice");
    }
  }
  std::string index = in.rule;
  for (const auto& [tag, value] : key) index += '\x1f' + tag + '=' + value;

  auto& s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  const int64_t now = in.ts != 0 ? in.ts : s.Now();
  auto found = s.manual.find(index);
  if (in.clear) {
    if (found == s.manual.end()) return Status::NotFound("no active manual alert for rule '" + in.rule + "' and this key");
    AlertSubscription::Shared::Entry e = std::move(s.active.at(found->second));
    s.active.erase(found->second);
    s.manual.erase(found);
    if (!in.message.empty()) e.message = in.message;
    ExternalAlert t = s.Transition(e, AlertState::kCleared, now);
    s.Publish("alert", t.json, e.rule, e.severity, e.key);
    std::string json = t.json;
    return ManualResult{true, std::move(json), std::move(t)};
  }
  if (found != s.manual.end()) {
    AlertSubscription::Shared::Entry& e = s.active.at(found->second);
    ++e.count;
    e.json = s.Render(e, AlertState::kRaised, e.raise_ts);
    return ManualResult{false, AlertSubscription::Shared::EntryJson(e), {}};
  }
  if (s.manual.size() >= s.options.max_manual_active) {
    return Status::Unsupported("too many active manual alerts (max " + std::to_string(s.options.max_manual_active) +
                               "); clear some first");
  }
  AlertSubscription::Shared::Entry e;
  std::vector<std::string> names, values;
  for (const auto& [tag, value] : key) {
    names.push_back(tag);
    values.push_back(value);
  }
  e.id = AlertId("manual:" + in.rule, names.data(), values.data(), names.size(), now);
  e.rule = in.rule;
  e.severity = severity;
  e.key = key;
  e.raise_ts = now;
  e.manual = true;
  e.manual_key = index;
  e.message = in.message.empty() ? in.rule + " raised manually" : in.message;
  e.labels = in.labels;
  ExternalAlert t = s.Transition(e, AlertState::kRaised, now);
  e.json = t.json;
  const std::string id = e.id;
  s.manual[index] = id;
  auto& slot = s.active[id];
  slot = std::move(e);
  s.Publish("alert", t.json, slot.rule, slot.severity, slot.key);
  return ManualResult{true, AlertSubscription::Shared::EntryJson(slot), std::move(t)};
}

std::unique_ptr<AlertSubscription> AlertBoard::Subscribe(const AlertFilter& filter,
                                                         std::optional<uint64_t> last_event_id, bool snapshot) {
  auto& s = *shared_;
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.closed || s.subscribers.size() >= s.options.max_subscribers) return nullptr;
  auto state = std::make_shared<AlertSubscription::State>();
  state->filter = filter;
  bool resumed = false;
  if (last_event_id) {
    const uint64_t newest = s.next_seq - 1;
    const uint64_t oldest = s.ring.empty() ? s.next_seq : s.ring.front().event.seq;
    if (*last_event_id <= newest && *last_event_id + 1 >= oldest) {
      resumed = true;
      for (const auto& item : s.ring) {
        if (item.event.seq > *last_event_id && Matches(filter, item.rule, item.severity, item.key)) {
          state->queue.push_back(item.event);
        }
      }
    }
  }
  if (!resumed && (snapshot || last_event_id)) {
    state->queue.push_back(BoardEvent{s.next_seq - 1, "snapshot", s.ActiveJsonLocked(filter)});
  }
  s.subscribers.push_back(state);
  return std::unique_ptr<AlertSubscription>(new AlertSubscription(shared_, std::move(state)));
}

void AlertBoard::Close() {
  std::lock_guard<std::mutex> lock(shared_->mu);
  shared_->closed = true;
  for (auto& sub : shared_->subscribers) {
    sub->closed = true;
    sub->cv.notify_all();
  }
  shared_->subscribers.clear();
}

size_t AlertBoard::active_count() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->active.size();
}

std::map<std::string, size_t> AlertBoard::ActiveCountByRule() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::map<std::string, size_t> out;
  for (const auto& [id, e] : shared_->active) ++out[e.rule];
  return out;
}

size_t AlertBoard::subscriber_count() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->subscribers.size();
}

uint64_t AlertBoard::last_seq() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->next_seq - 1;
}

}  // namespace vigil
