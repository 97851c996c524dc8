// The rule interfaces the engine drives; rule kinds (event, window, deadman,
// plugins) live in rules/ and implement them.
//
// A Rule is the immutable, loaded definition, shared by every thread. For
// each shard the pipeline asks it for a RuleShard, which owns the state of
// the keys that hash to that shard and is only ever called from that shard's
// thread. Per message the shard first advances the watermark (calling
// OnWatermark on every rule whose next_deadline() is due), then calls OnEvent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/engine/alert.h"
#include "vigil/engine/event.h"
#include "vigil/engine/key_state_arena.h"
#include "vigil/engine/key_table.h"
#include "vigil/engine/logger.h"
#include "vigil/engine/relaxed_counter.h"
#include "vigil/engine/tag_interner.h"

namespace vigil {

// What the engine and the sinks know about a rule.
struct RuleInfo {
  std::string name;
  std::string kind;                 // "event", "window", "deadman", "plugin"
  std::string plugin;               // plugin rules: the plugin's name (metrics, logs)
  std::string severity = "warning";
  std::map<std::string, std::string> labels;
  std::string message;              // template, may be empty
  std::string when;                 // source text of the condition (for messages and the API)
  std::vector<std::string> key_tags;
  uint32_t keylist = 0;             // schema key-list slot
  uint64_t definition_hash = 0;     // changes when the rule's definition changes
  // The hash earlier vigil versions stored for the same definition (empty:
  // none); a restore that finds it keeps the rule's state.
  std::function<uint64_t()> legacy_definition_hash;
  // The rule's `max_keys`: keys it tracks at most, all shards together;
  // 0 = the engine's default (engine.max_keys_per_rule).
  uint64_t max_keys = 0;
};

// How many more keys one rule may track, shared by the rule's shards and
// owned by the pipeline (one per rule). Touched only when a shard meets a
// key it does not track yet, or forgets one: never per event.
// Thread-safety: any thread (relaxed atomics).
class KeyBudget {
 public:
  // `limit` 0 = no limit.
  explicit KeyBudget(uint64_t limit)
      : left_(limit == 0 || limit > uint64_t{INT64_MAX} ? INT64_MAX : static_cast<int64_t>(limit)) {}
  // Takes one key when any is left. A race at the very limit may refuse a
  // key that would just have fitted; it never lets one more in.
  bool TryTake() noexcept {
    if (left_.fetch_sub(1, std::memory_order_relaxed) > 0) return true;
    left_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // Restored or configured keys (`expect:`) are always kept, even past the limit.
  void Take() noexcept { left_.fetch_sub(1, std::memory_order_relaxed); }
  void Give() noexcept { left_.fetch_add(1, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> left_;
};

// Everything a RuleShard may touch at creation (main thread, before start).
struct ShardContext {
  uint32_t shard = 0;
  uint32_t shard_count = 1;
  uint32_t rule_index = 0;
  KeyTable* keys = nullptr;
  TagInterner* tags = nullptr;
  // Where the rule keeps fixed-size per-key records (shared by the shard's rules).
  KeyStateArena* arena = nullptr;
  // Where run-time problems are reported (plugin errors). Never null.
  Logger* logger = nullptr;
  // The rule's key budget (max_keys), shared with its other shards; null = no limit.
  KeyBudget* key_budget = nullptr;
  // Samples one sliding buffer of one key may hold (engine.max_window_samples); 0 = no limit.
  uint64_t max_window_samples = 0;
};

// Receives the state of keys when a checkpoint is taken (shard thread).
// `state` is an opaque blob the rule kind reads back in RestoreKey; empty
// means the key has nothing worth keeping (any stored state is erased).
// Every non-empty blob starts with the common header of state_header.h.
class KeyStateWriter {
 public:
  virtual ~KeyStateWriter() = default;
  virtual void Put(KeyId key, std::string_view state) = 0;
  // Incremental parts of a key's state (the samples of a sliding buffer,
  // each written once): appends `bytes` to part record (part, chunk) of
  // `key`; ErasePartsBelow drops its records (part, c < below); a rule
  // that erases a key with parts erases them too (UINT64_MAX). RestoreKey
  // receives them packed.
  virtual void AppendPart(KeyId key, uint8_t part, uint64_t chunk, std::string_view bytes) = 0;
  virtual void ErasePartsBelow(KeyId key, uint8_t part, uint64_t below) = 0;
};

class RuleShard {
 public:
  virtual ~RuleShard() = default;
  // The source's first message had event time `start_ts` (called once, before any event).
  virtual void OnStart(int64_t start_ts, AlertOutput& out) noexcept {}
  // A message; the rule decides whether it sees it (key owned by this shard, match, fields).
  virtual void OnEvent(const Event& event, AlertOutput& out) noexcept = 0;
  // The watermark reached `watermark` >= next_deadline(): fire what is due, in time order.
  virtual void OnWatermark(int64_t watermark, AlertOutput& out) noexcept {}
  // End of a finite input: close what is open (windows).
  virtual void OnEndOfInput(AlertOutput& out) noexcept {}
  // Evicts the state of keys whose last message is older than `cutoff`
  // (engine.key_ttl), except what an open alert or a pending `for` still
  // needs. Returns the number of keys evicted.
  virtual size_t EvictIdle(int64_t cutoff) noexcept { return 0; }
  virtual size_t KeyCount() const noexcept = 0;

  // Durability (DESIGN.md "Durability and delivery"). SaveChanged hands `w`
  // the state of every key whose state changed since the previous call
  // (incremental checkpoints); shard thread, between events.
  virtual void SaveChanged(KeyStateWriter& w) noexcept {}
  // Recovery, before the pipeline starts: the state SaveChanged wrote for
  // `key`, which has slot `slot` on this shard now, and its part records
  // (StateStore::ForEachPart format; empty when none). False when they
  // cannot be read (the key then starts fresh). May run on a thread other
  // than the shard's (never concurrently with it).
  virtual bool RestoreKey(KeyId key, uint32_t slot, std::string_view state, std::string_view parts) noexcept {
    return false;
  }
  // After the last RestoreKey: rebuilds timers (deadlines, window ends) and
  // next_deadline(). Returns the number of keys with an open alert.
  virtual size_t FinishRestore() noexcept { return 0; }
  // Bytes of state held outside the shard's KeyStateArena.
  virtual size_t MemoryBytes() const noexcept = 0;

  // Earliest event time at which OnWatermark has work; kMaxTime when none.
  int64_t next_deadline() const noexcept { return next_deadline_; }
  static constexpr uint32_t kMaxSourcesTracked = 16;
  // Messages that arrived after one of their windows had closed (all sources).
  uint64_t late_events() const noexcept {
    uint64_t n = 0;
    for (const auto& c : late_by_source_) n += c.Get();
    return n;
  }
  // Late messages of source `source` (sources beyond the 16th share the last counter).
  uint64_t late_events(uint32_t source) const noexcept {
    return late_by_source_[source < kMaxSourcesTracked ? source : kMaxSourcesTracked - 1].Get();
  }
  // Times `when` was evaluated (the rule saw a message, or a window closed).
  uint64_t evaluations() const noexcept { return evaluations_.Get(); }
  // Run-time errors of the rule (a plugin that failed), for vigil_plugin_errors_total.
  uint64_t errors() const noexcept { return errors_.Get(); }
  // Messages this rule did not track because their key was new and the
  // rule's max_keys was reached.
  uint64_t keys_rejected() const noexcept { return keys_rejected_.Get(); }
  // Samples not added to a full sliding buffer (engine.max_window_samples).
  uint64_t samples_rejected() const noexcept { return samples_rejected_.Get(); }

 protected:
  // A key this shard does not track yet: true when the rule's budget
  // (max_keys) has room; otherwise the message is counted and the rule
  // must ignore it. Keys already tracked are never refused.
  bool AdmitKey() noexcept {
    if (key_budget_ == nullptr || key_budget_->TryTake()) return true;
    keys_rejected_.Add();
    return false;
  }
  // A key restored from a checkpoint or listed in `expect:`: kept whatever the budget.
  void KeepKey() noexcept {
    if (key_budget_ != nullptr) key_budget_->Take();
  }
  // A tracked key was forgotten (key_ttl eviction).
  void ForgetKey() noexcept {
    if (key_budget_ != nullptr) key_budget_->Give();
  }
  void CountSampleRejected() noexcept { samples_rejected_.Add(); }

  KeyBudget* key_budget_ = nullptr;
  RelaxedCounter keys_rejected_;
  RelaxedCounter samples_rejected_;
  void CountLate(uint32_t source) noexcept {
    late_by_source_[source < kMaxSourcesTracked ? source : kMaxSourcesTracked - 1].Add();
  }

  int64_t next_deadline_ = kMaxTime;
  RelaxedCounter late_by_source_[kMaxSourcesTracked];
  RelaxedCounter evaluations_;
  RelaxedCounter errors_;
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual const RuleInfo& info() const = 0;
  virtual std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const = 0;
};

}  // namespace vigil
