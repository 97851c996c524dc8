// PluginRule: a rule whose logic lives in a plugin (<vigil/plugin.h>).
//
// At load the plugin is created once with the rule's config to validate it
// and learn the fields and tags it reads (they join the schema); then every
// shard creates its own instance. vigil keeps what built-in rules keep: the
// key (`key:` tags), `match:`, the raise/clear lifecycle with repeat counts
// and deterministic ids, and checkpoints (the lifecycle plus the plugin's
// snapshot bytes per key).
//
// Errors at run time (a VIGIL_ERROR return, or an exception that escaped
// the plugin) are caught at the boundary, counted per shard (RuleShard::
// errors, vigil_plugin_errors_total) and logged with the rule's name; after
// `max_errors` of them, over all shards, the rule is disabled: it sees no
// more events and its open alerts stay as they are. The engine and other
// rules go on.
//
// Thread-safety: PluginRule is immutable and shared, except its error
// counter and disabled flag (atomics); each shard's instance is called from
// that shard's thread only.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "plugin/plugin_config.h"
#include "plugin/plugin_library.h"
#include "rule_common.h"
#include "vigil/engine/schema.h"

namespace vigil::rules {

class PluginRule final : public Rule {
 public:
  struct Spec {
    std::shared_ptr<const PluginLibrary> library;
    std::shared_ptr<const PluginConfig> config;
    uint64_t max_errors = 10;  // 0: never disable
    // Fields and tags the validation instance asked for, with their schema slots.
    std::vector<std::pair<std::string, int32_t>> fields;
    std::vector<std::pair<std::string, int32_t>> tags;
    uint32_t field_limit = 0;  // schema field / tag count after validation: bounds of valid indices
    uint32_t tag_limit = 0;
  };

  PluginRule(RuleCommon common, Spec spec);
  const RuleInfo& info() const override { return common_.info; }
  std::unique_ptr<RuleShard> CreateShard(const ShardContext& ctx) const override;

  // Creates a throw-away instance to check `config` at load; registers the
  // fields and tags it asks for in `schema` and records them in `spec`.
  // False with *error when the plugin refuses the config.
  static bool Validate(Spec* spec, Schema* schema, std::string* error);

  const RuleCommon& common() const { return common_; }
  const Spec& spec() const { return spec_; }
  // Counts one run-time error; true when it disables the rule.
  bool CountError() const;
  bool disabled() const { return shared_->disabled.load(std::memory_order_relaxed); }

 private:
  struct Shared {
    std::atomic<uint64_t> errors{0};
    std::atomic<bool> disabled{false};
  };
  RuleCommon common_;
  Spec spec_;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
};

}  // namespace vigil::rules
