// AlertDispatcher: rendering and fan-out of alerts to sinks.
#include "vigil/engine/alert_dispatcher.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace vigil {

namespace {

// Length of the well-formed UTF-8 sequence at s[i] (1 to 4), or 0 when the
// bytes there are not one (stray continuation byte, overlong form, surrogate,
// code point above U+10FFFF, truncated sequence).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < n || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

}  // namespace

// Bytes that are not UTF-8 (CSV cells, topics and dead-lettered raw messages
// are not validated) become U+FFFD, so the output is always valid JSON.
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out->append("\xEF\xBF\xBD");
      } else {
        out->append(s.data() + i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendJsonStringMap(std::string* out, const std::map<std::string, std::string>& map) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, v] : map) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, k);
    out->push_back(':');
    AppendJsonString(out, v);
  }
  out->push_back('}');
}

void AppendJsonNumber(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, p);
}

AlertDispatcher::AlertDispatcher(const std::vector<std::shared_ptr<const Rule>>& rules, const KeyTable& keys,
                                 std::vector<Sink*> sinks, Logger* logger)
    : rules_(rules),
      keys_(keys),
      sinks_(std::move(sinks)),
      logger_(logger),
      raised_(rules.size()),
      cleared_(rules.size()),
      sink_errors_by_(sinks_.size()),
      restored_active_(rules.size(), 0) {}

std::string AlertDispatcher::RenderMessage(const std::string& tmpl, const AlertRecord& a, const RuleInfo& rule,
                                           const KeyInfo& key) {
  const char* state = a.state == AlertState::kRaised ? "raised" : "cleared";
  if (tmpl.empty()) {
    std::string m = rule.name + " " + state + ": " + rule.when;
    if (!IsNull(a.value)) {
      m += " (value ";
      AppendJsonNumber(&m, a.value);
      m += ")";
    }
    return m;
  }
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find('{', i);
    if (open == std::string::npos) break;
    size_t close = tmpl.find('}', open);
    if (close == std::string::npos) break;
    out.append(tmpl, i, open - i);
    const std::string name = tmpl.substr(open + 1, close - open - 1);
    std::string value;
    bool known = true;
    if (name == "rule") value = rule.name;
    else if (name == "severity") value = rule.severity;
    else if (name == "state") value = state;
    else if (name == "value") { if (IsNull(a.value)) value = "null"; else AppendJsonNumber(&value, a.value); }
    else if (name == "count") value = std::to_string(a.count);
    else if (name == "ts") value = std::to_string(a.ts);
    else {
      known = false;
      for (size_t k = 0; k < rule.key_tags.size() && k < key.values.size(); ++k) {
        if (rule.key_tags[k] == name) {
          value = key.values[k];
          known = true;
        }
      }
    }
    out += known ? value : tmpl.substr(open, close - open + 1);
    i = close + 1;
  }
  out.append(tmpl, i, std::string::npos);
  return out;
}

std::string AlertDispatcher::RenderJson(const AlertRecord& a, const RuleInfo& rule, const KeyInfo& key,
                                        const std::string& id, const std::string& message) {
  std::string j;
  j.reserve(256);
  j += "{\"id\":";
  AppendJsonString(&j, id);
  j += ",\"rule\":";
  AppendJsonString(&j, rule.name);
  j += ",\"key\":{";
  for (size_t k = 0; k < rule.key_tags.size() && k < key.values.size(); ++k) {
    if (k) j += ',';
    AppendJsonString(&j, rule.key_tags[k]);
    j += ':';
    AppendJsonString(&j, key.values[k]);
  }
  j += "},\"state\":";
  j += a.state == AlertState::kRaised ? "\"raised\"" : "\"cleared\"";
  j += ",\"severity\":";
  AppendJsonString(&j, rule.severity);
  j += ",\"ts\":";
  j += std::to_string(a.ts);
  j += ",\"value\":";
  AppendJsonNumber(&j, a.value);
  j += ",\"count\":";
  j += std::to_string(a.count);
  j += ",\"labels\":";
  AppendJsonStringMap(&j, rule.labels);
  j += ",\"message\":";
  AppendJsonString(&j, message);
  j += '}';
  return j;
}

void AlertDispatcher::Consume(const AlertRecord& a) {
  const RuleInfo& rule = rules_[a.rule]->info();
  const KeyInfo& key = keys_.Get(a.key);
  id_ = AlertId(rule.name, rule.key_tags.data(), key.values.data(), std::min(rule.key_tags.size(), key.values.size()),
                a.raise_ts);
  message_ = RenderMessage(rule.message, a, rule, key);
  json_ = RenderJson(a, rule, key, id_, message_);
  AlertView view{a, rule, key, id_, message_, json_};
  WriteToSinks(view);
  (a.state == AlertState::kRaised ? raised_ : cleared_)[a.rule].Add();
  if (observer_) observer_(view);
  alerts_.fetch_add(1, std::memory_order_relaxed);
}

void AlertDispatcher::WriteToSinks(const AlertView& view) {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Status st = sinks_[i]->Write(view);
    if (!st.ok()) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      sink_errors_by_[i].Add();
      logger_->Log(LogLevel::kError, "sink " + sinks_[i]->name() + ": " + st.message());
    }
  }
}

void AlertDispatcher::Poll() {
  if (inbox_ == nullptr) return;
  for (const ExternalAlert& a : inbox_->Take()) Dispatch(a);
}

void AlertDispatcher::Dispatch(const ExternalAlert& a) {
  AlertView view{a.record, a.rule, a.key, a.id, a.message, a.json};
  WriteToSinks(view);
  {
    std::lock_guard<std::mutex> lock(manual_mu_);
    auto it = manual_counts_.find({a.rule.name, a.rule.severity});
    if (it == manual_counts_.end()) {
      const bool room = manual_counts_.size() < kMaxManualSeries;
      it = manual_counts_.try_emplace({room ? a.rule.name : kOtherManualRule, a.rule.severity}).first;
    }
    ++(a.record.state == AlertState::kRaised ? it->second.first : it->second.second);
  }
  if (observer_) observer_(view);
  alerts_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<AlertDispatcher::ManualCount> AlertDispatcher::ManualCounts() const {
  std::lock_guard<std::mutex> lock(manual_mu_);
  std::vector<ManualCount> out;
  for (const auto& [k, v] : manual_counts_) out.push_back({k.first, k.second, v.first, v.second});
  return out;
}

void AlertDispatcher::Idle() {
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Sink* s = sinks_[i];
    Status st = s->Flush();
    if (!st.ok()) {
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      sink_errors_by_[i].Add();
      logger_->Log(LogLevel::kError, "sink " + s->name() + ": " + st.message());
    }
  }
}

bool AlertDispatcher::Sync() {
  bool ok = true;
  for (size_t i = 0; i < sinks_.size(); ++i) {
    Status st = sinks_[i]->Sync();
    if (!st.ok()) {
      ok = false;
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      sink_errors_by_[i].Add();
      logger_->Log(LogLevel::kError, "sink " + sinks_[i]->name() + " (before a checkpoint): " + st.message());
    }
  }
  return ok;
}

void AlertDispatcher::RestoreActive(const std::vector<size_t>& firing) {
  for (size_t r = 0; r < firing.size() && r < restored_active_.size(); ++r) restored_active_[r] = firing[r];
}

}  // namespace vigil
