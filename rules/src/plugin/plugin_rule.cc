// PluginRule and its shard: the lifecycle, checkpoints and error handling
// vigil wraps around a plugin's on_event / on_watermark.
#include "plugin/plugin_rule.h"

#include <algorithm>
#include <exception>

#include "plugin/plugin_host.h"
#include "vigil/engine/state_header.h"

namespace vigil::rules {

namespace {

int32_t FindName(const std::vector<std::pair<std::string, int32_t>>& names, std::string_view name) {
  for (const auto& [n, slot] : names) {
    if (n == name) return slot;
  }
  return -1;
}

// The context of the validation instance at load: field and tag requests
// join the schema.
class LoadCtx final : public vigil_host_ctx {
 public:
  LoadCtx(PluginRule::Spec* spec, Schema* schema) : vigil_host_ctx(spec->config.get()), spec_(spec), schema_(schema) {}
  int32_t FieldIndex(std::string_view name) override {
    const int32_t slot = static_cast<int32_t>(schema_->AddField(name));
    if (FindName(spec_->fields, name) < 0) spec_->fields.emplace_back(std::string(name), slot);
    return slot;
  }
  int32_t TagIndex(std::string_view name) override {
    const int32_t slot = static_cast<int32_t>(schema_->AddTag(name));
    if (FindName(spec_->tags, name) < 0) spec_->tags.emplace_back(std::string(name), slot);
    return slot;
  }
  void Log(vigil_log_level, std::string_view) override {}

 private:
  PluginRule::Spec* spec_;
  Schema* schema_;
};

LogLevel ToLogLevel(vigil_log_level level) {
  switch (level) {
    case VIGIL_LOG_DEBUG: return LogLevel::kDebug;
    case VIGIL_LOG_INFO: return LogLevel::kInfo;
    case VIGIL_LOG_WARN: return LogLevel::kWarn;
    default: return LogLevel::kError;
  }
}

class PluginRuleShard final : public RuleShard, public vigil_host_ctx {
 public:
  PluginRuleShard(const PluginRule& rule, const ShardContext& ctx)
      : vigil_host_ctx(rule.spec().config.get()), rule_(rule), d_(rule.spec().library->descriptor()),
        shard_(ctx.shard), rule_index_(ctx.rule_index), keys_(ctx.keys), tags_(ctx.tags),
        logger_(ctx.logger != nullptr ? ctx.logger : &null_logger_),
        prefix_("[" + rule.info().name + ":" + rule.info().plugin + ":" + std::to_string(ctx.shard) + "] ") {
    key_budget_ = ctx.key_budget;
    const std::string& json = rule.spec().config->json();
    instance_ = Guarded("create", [&] {
      return d_.create(json.c_str(), json.size(), PluginHostTable(), static_cast<vigil_host_ctx*>(this));
    });
    if (instance_ == nullptr && !escaped_) {
      Fail("create", "the plugin refused to start on this shard" + (error.empty() ? std::string() : ": " + error));
    }
  }

  ~PluginRuleShard() override {
    if (instance_ != nullptr) {
      void* instance = instance_;
      instance_ = nullptr;
      try {
        d_.destroy(instance);
      } catch (...) {
      }
    }
  }

  void OnEvent(const Event& e, AlertOutput& out) noexcept override {
    if (instance_ == nullptr || rule_.disabled()) return;
    uint32_t slot = 0;
    const KeyId key = rule_.common().OwnedKey(e, shard_, &slot);
    if (key == kNoKey) return;
    if (!Tracked(slot, key) && !AdmitKey()) return;  // beyond max_keys: not tracked, counted
    KeyRec& rec = Record(slot, key);
    rec.last_ts = std::max(rec.last_ts, e.ts);
    MarkDirty(slot, key);
    const vigil_event event{&e, key, tags_, field_limit_, tag_limit_};
    Emitter emitter(this, &out, e.ingest_ns);
    evaluations_.Add();
    current_key_ = key;  // emits for the event's own key skip the key table
    current_slot_ = slot;
    Call("on_event", [&] { return d_.on_event(instance_, &event, &emitter); });
    current_key_ = kNoKey;
  }

  void OnWatermark(int64_t watermark, AlertOutput& out) noexcept override {
    next_deadline_ = kMaxTime;  // timers are one-shot: the plugin asks again
    if (instance_ == nullptr || rule_.disabled() || d_.on_watermark == nullptr) return;
    Emitter emitter(this, &out, 0);
    Call("on_watermark", [&] { return d_.on_watermark(instance_, watermark, &emitter); });
  }

  size_t EvictIdle(int64_t cutoff) noexcept override {
    size_t evicted = 0;
    for (uint32_t slot = 0; slot < recs_.size(); ++slot) {
      KeyRec& rec = recs_[slot];
      if (rec.key == kNoKey || rec.firing || rec.last_ts >= cutoff) continue;
      const KeyId key = rec.key;
      if (instance_ != nullptr && d_.forget != nullptr) {
        Guarded("forget", [&] {
          d_.forget(instance_, key);
          return 0;
        });
      }
      if (!rec.dirty) dirty_.push_back({slot, key});
      rec = KeyRec{};
      rec.dirty = 1;
      --key_count_;
      ForgetKey();
      ++evicted;
    }
    return evicted;
  }

  size_t KeyCount() const noexcept override { return key_count_; }
  size_t MemoryBytes() const noexcept override { return recs_.capacity() * sizeof(KeyRec); }

  // Blob: the lifecycle header, the key's last ts, the plugin's bytes.
  void SaveChanged(KeyStateWriter& w) noexcept override {
    std::string blob, bytes;
    for (const auto& [dirty_slot, dirty_key] : dirty_) {
      const KeyId key = dirty_key;  // a plain variable: lambdas below capture it (clang 14)
      KeyRec& rec = recs_[dirty_slot];
      rec.dirty = 0;
      blob.clear();
      bytes.clear();
      if (rec.key == key) {
        if (instance_ != nullptr && d_.snapshot != nullptr) {
          vigil_buffer buffer{&bytes};
          if (!Call("snapshot", [&] { return d_.snapshot(instance_, key, &buffer); })) bytes.clear();
        }
        if (rec.firing || !bytes.empty()) {
          PutStateHeader(&blob, {static_cast<uint8_t>(rec.firing ? 2 : 0), rec.raise_ts, rec.count});
          PutInt64(&blob, rec.last_ts);
          PutBytes(&blob, bytes);
        }
      }
      w.Put(key, blob);
    }
    dirty_.clear();
  }

  bool RestoreKey(KeyId key, uint32_t slot, std::string_view blob, std::string_view parts) noexcept override {
    Decoder in(blob);
    StateHeader h;
    int64_t last_ts = 0;
    std::string_view bytes;
    if (!GetStateHeader(&in, &h) || !in.GetInt64(&last_ts) || !in.GetBytes(&bytes) || !in.AtEnd()) return false;
    if (instance_ != nullptr && d_.restore != nullptr && !bytes.empty()) {
      if (!Call("restore", [&] { return d_.restore(instance_, key, bytes.data(), bytes.size()); })) return false;
    }
    if (!Tracked(slot, key)) KeepKey();  // restored keys are kept whatever the budget
    KeyRec& rec = Record(slot, key);
    rec.last_ts = last_ts;
    rec.firing = h.firing() ? 1 : 0;
    rec.raise_ts = h.raise_ts;
    rec.count = h.count;
    if (rec.firing) ++firing_restored_;
    return true;
  }

  size_t FinishRestore() noexcept override { return firing_restored_; }

  // --- vigil_host_ctx ---
  int32_t FieldIndex(std::string_view name) override { return FindName(rule_.spec().fields, name); }
  int32_t TagIndex(std::string_view name) override { return FindName(rule_.spec().tags, name); }
  bool KeyTag(uint64_t key, uint32_t i, vigil_string* out) override {
    const KeyInfo* info = Owned(key);
    if (info == nullptr || i >= info->values.size()) return false;
    *out = {info->values[i].data(), info->values[i].size()};
    return true;
  }
  void SetTimer(int64_t ts_ms) override { next_deadline_ = std::min(next_deadline_, ts_ms); }
  void MarkChanged(uint64_t key) override {
    const KeyInfo* info = Owned(key);
    if (info != nullptr && info->slot < recs_.size() && recs_[info->slot].key == key) {
      MarkDirty(info->slot, static_cast<KeyId>(key));
    }
  }
  void Log(vigil_log_level level, std::string_view message) override {
    logger_->Log(ToLogLevel(level), prefix_ + std::string(message));
  }

 private:
  // The lifecycle vigil keeps per key (indexed by the key's slot).
  struct KeyRec {
    KeyId key = kNoKey;
    uint8_t firing = 0;
    uint8_t dirty = 0;
    uint32_t count = 0;
    int64_t raise_ts = 0;
    int64_t last_ts = kMinTime;
  };

  class Emitter final : public vigil_emitter {
   public:
    Emitter(PluginRuleShard* shard, AlertOutput* out, int64_t ingest_ns)
        : shard_(shard), out_(out), ingest_ns_(ingest_ns) {}
    void Emit(uint64_t key, vigil_alert_state state, int64_t ts_ms, double value) override {
      shard_->Transition(key, state, ts_ms, value, ingest_ns_, *out_);
    }

   private:
    PluginRuleShard* shard_;
    AlertOutput* out_;
    int64_t ingest_ns_;
  };

  bool Tracked(uint32_t slot, KeyId key) const { return slot < recs_.size() && recs_[slot].key == key; }

  KeyRec& Record(uint32_t slot, KeyId key) {
    if (slot >= recs_.size()) recs_.resize(slot + 1 + slot / 2);
    KeyRec& rec = recs_[slot];
    if (rec.key == kNoKey) {
      rec.key = key;
      ++key_count_;
    }
    return rec;
  }

  void MarkDirty(uint32_t slot, KeyId key) {
    KeyRec& rec = recs_[slot];
    if (rec.dirty) return;
    rec.dirty = 1;
    dirty_.push_back({slot, key});
  }

  // The key's info when `key` is a key of this rule owned by this shard.
  const KeyInfo* Owned(uint64_t key) const {
    if (key == kNoKey || key > keys_->size()) return nullptr;
    const KeyInfo& info = keys_->Get(static_cast<KeyId>(key));
    if (info.keylist != rule_.info().keylist || info.shard != shard_) return nullptr;
    return &info;
  }

  // The slot of `key` when this rule has state for it on this shard, else -1.
  int64_t SlotOf(uint64_t key) const {
    if (key == current_key_ && key != kNoKey) return current_slot_;
    const KeyInfo* info = Owned(key);
    if (info == nullptr || info->slot >= recs_.size() || recs_[info->slot].key != key) return -1;
    return info->slot;
  }

  void Transition(uint64_t key, vigil_alert_state state, int64_t ts, double value, int64_t ingest_ns,
                  AlertOutput& out) {
    const int64_t slot = SlotOf(key);
    if (slot < 0) {
      Fail("emit", "emit for key " + std::to_string(key) + ", which this rule has not seen on this shard");
      return;
    }
    if (state != VIGIL_ALERT_RAISE && state != VIGIL_ALERT_CLEAR) {
      Fail("emit", "emit with state " + std::to_string(static_cast<int>(state)) + " (expected raise or clear)");
      return;
    }
    KeyRec& rec = recs_[slot];
    const KeyId id = static_cast<KeyId>(key);
    if (state == VIGIL_ALERT_RAISE) {
      if (rec.firing) {
        ++rec.count;
      } else {
        rec.firing = 1;
        rec.count = 1;
        rec.raise_ts = ts;
        EmitAlert(out, rule_index_, id, AlertState::kRaised, ts, ts, value, 1, ingest_ns);
      }
    } else if (rec.firing) {
      rec.firing = 0;
      EmitAlert(out, rule_index_, id, AlertState::kCleared, ts, rec.raise_ts, value, rec.count, ingest_ns);
    } else {
      return;
    }
    MarkDirty(static_cast<uint32_t>(slot), id);
  }

  // Runs a plugin call that returns VIGIL_OK / VIGIL_ERROR; false on error.
  template <typename F>
  bool Call(const char* what, F&& f) noexcept {
    error.clear();
    const int32_t rc = Guarded(what, std::forward<F>(f), int32_t{VIGIL_ERROR});
    if (rc == VIGIL_OK) return true;
    if (!escaped_) Fail(what, error.empty() ? "returned an error without a reason" : error);
    return false;
  }

  // Runs `f`; an exception escaping the plugin is counted as an error.
  template <typename F, typename R = std::invoke_result_t<F>>
  R Guarded(const char* what, F&& f, R on_exception = R{}) noexcept {
    escaped_ = false;
    try {
      return f();
    } catch (const std::exception& e) {
      escaped_ = true;
      Fail(what, std::string("exception escaped the plugin: ") + e.what());
    } catch (...) {
      escaped_ = true;
      Fail(what, "unknown exception escaped the plugin");
    }
    return on_exception;
  }

  void Fail(const char* what, const std::string& why) noexcept {
    try {
      errors_.Add();
      const bool disabled_now = rule_.CountError();
      const uint64_t n = errors_.Get();
      // Bounded by max_errors; without a bound, powers of two keep it rare.
      if (n <= 10 || (n & (n - 1)) == 0 || disabled_now) {
        logger_->Log(LogLevel::kError, prefix_ + "plugin error in " + what + ": " + why + " (" + std::to_string(n) +
                                           " on this shard)");
      }
      if (disabled_now) {
        logger_->Log(LogLevel::kError, prefix_ + "rule '" + rule_.info().name + "' disabled after " +
                                           std::to_string(rule_.spec().max_errors) +
                                           " plugin errors (plugin.max_errors); other rules go on");
      }
    } catch (...) {
    }
  }

  NullLogger null_logger_;  // declared first: logger_ may point at it
  const PluginRule& rule_;
  const vigil_plugin_descriptor& d_;
  uint32_t shard_;
  uint32_t rule_index_;
  const KeyTable* keys_;
  const TagInterner* tags_;
  Logger* logger_;
  std::string prefix_;
  void* instance_ = nullptr;
  bool escaped_ = false;
  KeyId current_key_ = kNoKey;  // the key of the event on_event is handling
  uint32_t current_slot_ = 0;
  uint32_t field_limit_ = rule_.spec().field_limit;  // valid indices for event_field / event_tag
  uint32_t tag_limit_ = rule_.spec().tag_limit;
  std::vector<KeyRec> recs_;
  std::vector<std::pair<uint32_t, KeyId>> dirty_;
  size_t key_count_ = 0;
  size_t firing_restored_ = 0;
};

}  // namespace

PluginRule::PluginRule(RuleCommon common, Spec spec) : common_(std::move(common)), spec_(std::move(spec)) {}

std::unique_ptr<RuleShard> PluginRule::CreateShard(const ShardContext& ctx) const {
  return std::make_unique<PluginRuleShard>(*this, ctx);
}

bool PluginRule::CountError() const {
  const uint64_t n = shared_->errors.fetch_add(1, std::memory_order_relaxed) + 1;
  if (spec_.max_errors == 0 || n != spec_.max_errors) return false;
  shared_->disabled.store(true, std::memory_order_relaxed);
  return true;
}

bool PluginRule::Validate(Spec* spec, Schema* schema, std::string* error) {
  const vigil_plugin_descriptor& d = spec->library->descriptor();
  LoadCtx ctx(spec, schema);
  const std::string& json = spec->config->json();
  void* instance = nullptr;
  try {
    instance = d.create(json.c_str(), json.size(), PluginHostTable(), &ctx);
  } catch (const std::exception& e) {
    *error = std::string("exception escaped create: ") + e.what();
    return false;
  } catch (...) {
    *error = "unknown exception escaped create";
    return false;
  }
  spec->field_limit = static_cast<uint32_t>(schema->field_count());
  spec->tag_limit = static_cast<uint32_t>(schema->tag_count());
  if (instance == nullptr) {
    *error = ctx.error.empty() ? "create returned no instance (no reason given)" : ctx.error;
    return false;
  }
  try {
    d.destroy(instance);
  } catch (...) {
  }
  return true;
}

}  // namespace vigil::rules
