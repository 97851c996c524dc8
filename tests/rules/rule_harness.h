// RuleHarness: drives loaded rules the way the pipeline does, without
// threads, rings or parsing, so a test can state messages and read alerts.
//
// Rules come from YAML text (the `rules:` list, or a document holding one)
// through vigil::rules::CompileRules. Every rule gets one RuleShard
// (ShardContext{0, 1, index, &keys, &tags, &arena}, KeyTable of 1 shard, one
// KeyStateArena shared by the rules as on a pipeline shard). Each message is
// turned into an Event as the router would: fields NaN when absent, tags
// interned, keys interned per schema key list (kNoKey when a tag is missing),
// key_shards 0, key_slots from KeyInfo::slot. Order of work copies engine/src/pipeline/
// pipeline.cc: OnStart(first ts) once, then per message the watermark (the
// highest ts so far, minus an optional allowed lateness) advances first and
// every rule with watermark >= next_deadline() gets OnWatermark (also when
// the watermark did not move); then every rule gets OnEvent. End() gives
// the due deadlines their OnWatermark, then calls OnEndOfInput.
// Alerts land, in emission order, in alerts().
//
// Limits (engine.max_keys_per_rule, engine.max_window_samples) apply as on
// a pipeline when given: one KeyBudget per rule, in ShardContext.
//
// Thread-safety: none; one test, one harness.
#pragma once

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "vigil/engine/alert.h"
#include "vigil/engine/codec.h"
#include "vigil/engine/config_errors.h"
#include "vigil/engine/event.h"
#include "vigil/engine/key_state_arena.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/schema.h"
#include "vigil/engine/tag_interner.h"
#include "vigil/rules/rule_loader.h"

namespace vigil::rules::testing {

// One input message: event time, numeric fields, string tags.
struct Msg {
  int64_t ts = 0;
  std::map<std::string, double> fields;
  std::map<std::string, std::string> tags;
};

// Collects what the rule shards emit.
class VectorAlertOutput final : public AlertOutput {
 public:
  void Emit(const AlertRecord& alert) noexcept override { alerts.push_back(alert); }
  std::vector<AlertRecord> alerts;
};

// The engine limits a harness applies (PipelineOptions); 0 = none.
struct HarnessLimits {
  uint64_t max_keys_per_rule = 0;
  uint64_t max_window_samples = 0;
};

class RuleHarness {
 public:
  // Loads `yaml`; a load error fails the current test (see errors()).
  // `logger` receives what rule shards report at run time (plugin errors).
  explicit RuleHarness(const std::string& yaml, int64_t allowed_lateness_ms = 0, Logger* logger = nullptr,
                       HarnessLimits limits = {})
      : errors_("rules.yaml"), keys_(1), lateness_(allowed_lateness_ms) {
    root_ = YAML::Load(yaml);
    const YAML::Node list = root_.IsMap() && root_["rules"] ? root_["rules"] : root_;
    rules_ = CompileRules(list, &schema_, &tags_, errors_);
    EXPECT_TRUE(errors_.empty()) << ErrorText();
    if (!errors_.empty()) return;
    for (uint32_t i = 0; i < rules_.size(); ++i) {
      const uint64_t max_keys = rules_[i]->info().max_keys != 0 ? rules_[i]->info().max_keys : limits.max_keys_per_rule;
      budgets_.push_back(std::make_unique<KeyBudget>(max_keys));
      ShardContext ctx{0, 1, i, &keys_, &tags_, &arena_};
      ctx.logger = logger;
      ctx.key_budget = budgets_.back().get();
      ctx.max_window_samples = limits.max_window_samples;
      shards_.push_back(rules_[i]->CreateShard(ctx));
    }
  }

  bool ok() const { return errors_.empty() && !shards_.empty(); }
  std::string ErrorText() const {
    std::string s;
    for (const auto& e : errors_.Formatted()) s += e + "\n";
    return s;
  }

  void Feed(const Msg& m) {
    if (!ok()) return;
    if (!started_) {
      started_ = true;
      start_ts_ = m.ts;
      for (auto& r : shards_) r->OnStart(m.ts, out_);
    }
    if (!seen_any_ || m.ts > max_ts_) max_ts_ = m.ts;
    seen_any_ = true;
    AdvanceTo(max_ts_ - lateness_);

    std::vector<double> fields(schema_.field_count() + 1, NullValue());
    std::vector<uint32_t> tags(schema_.tag_count() + 1, kNoTag);
    for (const auto& [name, value] : m.fields) {
      const int slot = schema_.FindField(name);
      if (slot >= 0) fields[static_cast<size_t>(slot)] = value;
    }
    for (const auto& [name, value] : m.tags) {
      const int slot = schema_.FindTag(name);
      if (slot >= 0) tags[static_cast<size_t>(slot)] = tags_.Intern(value);
    }
    std::vector<KeyId> keys(schema_.keylist_count() + 1, kNoKey);
    std::vector<uint8_t> key_shards(schema_.keylist_count() + 1, 0);
    std::vector<uint32_t> key_slots(schema_.keylist_count() + 1, 0);
    for (uint32_t k = 0; k < schema_.keylist_count(); ++k) {
      const auto& slots = schema_.keylist(k);
      uint32_t ids[8] = {};
      bool complete = slots.size() <= 8;
      for (size_t t = 0; complete && t < slots.size(); ++t) {
        ids[t] = tags[slots[t]];
        complete = ids[t] != kNoTag;
      }
      if (!complete) continue;
      keys[k] = keys_.Intern(k, ids, slots.size(), tags_);
      if (keys[k] != kNoKey) key_slots[k] = keys_.Get(keys[k]).slot;
    }
    Event e;
    e.ts = m.ts;
    e.watermark = watermark_;
    e.ingest_ns = 0;
    e.source = 0;
    e.fields = fields.data();
    e.tags = tags.data();
    e.keys = keys.data();
    e.key_shards = key_shards.data();
    e.key_slots = key_slots.data();
    for (auto& r : shards_) r->OnEvent(e, out_);
  }

  void Feed(const std::vector<Msg>& messages) {
    for (const Msg& m : messages) Feed(m);
  }

  // End of a finite input: every open window closes.
  void End() {
    if (!ok()) return;
    AdvanceTo(watermark_);  // deadlines a late message made due at the last watermark
    for (auto& r : shards_) r->OnEndOfInput(out_);
  }

  const std::vector<AlertRecord>& alerts() const { return out_.alerts; }
  void ClearAlerts() { out_.alerts.clear(); }
  RuleShard& shard(size_t i = 0) { return *shards_.at(i); }
  const Rule& rule(size_t i = 0) const { return *rules_.at(i); }
  size_t rule_count() const { return rules_.size(); }
  int64_t watermark() const { return watermark_; }
  const Schema& schema() const { return schema_; }

  // The key's tag values joined by '/', "-" for a key of no tags.
  std::string KeyText(KeyId key) const {
    const auto& values = keys_.Get(key).values;
    if (values.empty()) return "-";
    std::string s;
    for (size_t i = 0; i < values.size(); ++i) s += (i ? "/" : "") + values[i];
    return s;
  }
  std::vector<std::string> KeyValues(KeyId key) const { return keys_.Get(key).values; }

  // "raised nord 1000" — state, key, ts: enough for most sequence checks.
  std::string Brief(const AlertRecord& a) const {
    std::ostringstream s;
    if (rules_.size() > 1) s << rules_.at(a.rule)->info().name << " ";
    s << (a.state == AlertState::kRaised ? "raised" : "cleared") << " " << KeyText(a.key) << " " << a.ts;
    return s.str();
  }
  std::vector<std::string> Briefs() const {
    std::vector<std::string> out;
    for (const auto& a : alerts()) out.push_back(Brief(a));
    return out;
  }

  // The alert id the sink would render (rule, key tags and values, raise ts).
  std::string Id(const AlertRecord& a) const {
    const RuleInfo& info = rules_.at(a.rule)->info();
    const auto& values = keys_.Get(a.key).values;
    return AlertId(info.name, info.key_tags.data(), values.data(), values.size(), a.raise_ts);
  }

  // A checkpoint store as the engine keeps it: (rule name, key values) ->
  // state blob, updated incrementally by Checkpoint().
  using Store = std::map<std::pair<std::string, std::vector<std::string>>, std::string>;
  // (rule, key values) -> (part, chunk) -> appended bytes
  using Parts = std::map<std::pair<std::string, std::vector<std::string>>, std::map<std::pair<uint8_t, uint64_t>, std::string>>;
  struct Saved {
    Store states;
    Parts parts;
    int64_t max_ts = kMinTime, watermark = kMinTime, start_ts = kMinTime;
  };
  // Applies every rule shard's changes since the last call to `saved`.
  void Checkpoint(Saved* saved) {
    class Writer final : public KeyStateWriter {
     public:
      Writer(Saved* s, const std::string& rule, const KeyTable& keys) : s_(s), rule_(rule), keys_(keys) {}
      void Put(KeyId key, std::string_view blob) override {
        auto k = std::make_pair(rule_, keys_.Get(key).values);
        if (blob.empty()) {
          s_->states.erase(k);
          s_->parts.erase(k);
        } else {
          s_->states[k] = std::string(blob);
        }
      }
      void AppendPart(KeyId key, uint8_t part, uint64_t chunk, std::string_view bytes) override {
        s_->parts[std::make_pair(rule_, keys_.Get(key).values)][{part, chunk}].append(bytes);
      }
      void ErasePartsBelow(KeyId key, uint8_t part, uint64_t below) override {
        auto& m = s_->parts[std::make_pair(rule_, keys_.Get(key).values)];
        for (auto it = m.begin(); it != m.end();) {
          it = it->first.first == part && it->first.second < below ? m.erase(it) : std::next(it);
        }
      }

     private:
      Saved* s_;
      const std::string& rule_;
      const KeyTable& keys_;
    };
    for (uint32_t i = 0; i < shards_.size(); ++i) {
      Writer w(saved, rules_[i]->info().name, keys_);
      shards_[i]->SaveChanged(w);
    }
    saved->max_ts = max_ts_;
    saved->watermark = watermark_;
    saved->start_ts = start_ts_;
  }
  // A fresh harness takes over from `saved`. Returns the number of keys
  // restored with an open alert; fails the test on an unreadable blob.
  size_t Restore(const Saved& saved) {
    for (const auto& [k, blob] : saved.states) {
      uint32_t r = 0;
      while (r < rules_.size() && rules_[r]->info().name != k.first) ++r;
      EXPECT_LT(r, rules_.size()) << "no rule " << k.first;
      if (r == rules_.size()) continue;
      const RuleInfo& info = rules_[r]->info();
      std::vector<uint32_t> ids;
      for (const auto& v : k.second) ids.push_back(tags_.Intern(v));
      const KeyId key = keys_.Intern(info.keylist, ids.data(), ids.size(), tags_);
      std::string packed;  // StateStore::ForEachPart format
      auto p = saved.parts.find(k);
      if (p != saved.parts.end()) {
        for (const auto& [pc, bytes] : p->second) {
          PutFixed8(&packed, pc.first);
          PutFixed64(&packed, pc.second);
          PutBytes(&packed, bytes);
        }
      }
      EXPECT_TRUE(shards_[r]->RestoreKey(key, keys_.Get(key).slot, blob, packed)) << "rule " << k.first;
    }
    size_t firing = 0;
    for (auto& s : shards_) firing += s->FinishRestore();
    max_ts_ = saved.max_ts;
    watermark_ = saved.watermark;
    start_ts_ = saved.start_ts;
    seen_any_ = saved.max_ts != kMinTime;
    if (saved.start_ts != kMinTime) {
      started_ = true;
      for (auto& r : shards_) r->OnStart(saved.start_ts, out_);
    }
    return firing;
  }

 private:
  void AdvanceTo(int64_t wm) {
    if (wm < watermark_ || wm == kMinTime) return;
    watermark_ = wm;
    for (auto& r : shards_) {
      if (wm >= r->next_deadline()) r->OnWatermark(wm, out_);
    }
  }

  YAML::Node root_;
  Schema schema_;
  TagInterner tags_;
  ConfigErrors errors_;
  KeyTable keys_;
  KeyStateArena arena_;
  std::vector<std::shared_ptr<const Rule>> rules_;
  std::vector<std::unique_ptr<KeyBudget>> budgets_;  // [rule]; before shards_, which point to them
  std::vector<std::unique_ptr<RuleShard>> shards_;
  VectorAlertOutput out_;
  int64_t lateness_ = 0;
  int64_t watermark_ = kMinTime;
  int64_t max_ts_ = kMinTime;
  int64_t start_ts_ = kMinTime;
  bool seen_any_ = false;
  bool started_ = false;
};

// Shorthands for messages: M(ts, {{"temp", 31}}, {{"zone", "nord"}}).
inline Msg M(int64_t ts, std::map<std::string, double> fields, std::map<std::string, std::string> tags = {}) {
  return Msg{ts, std::move(fields), std::move(tags)};
}

}  // namespace vigil::rules::testing
