// CompileRules: YAML rule entries -> EventRule / WindowRule / DeadmanRule.
#include "vigil/rules/rule_loader.h"

#include <map>
#include <optional>
#include <set>

#include "deadman_rule.h"
#include "event_rule.h"
#include "expr/compiler.h"
#include "plugin/plugin_path.h"
#include "plugin/plugin_rule.h"
#include "vigil/engine/topic_filter.h"
#include "vigil/engine/timestamp.h"
#include "window_rule.h"

namespace vigil::rules {

namespace {

const std::vector<std::string> kRuleKeys = {"name",  "description", "key",    "match",    "when",    "for",
                                            "clear_when", "severity", "labels", "message", "window", "deadman",
                                            "expect", "plugin", "max_keys"};
const std::vector<std::string> kSeverities = {"critical", "major", "warning", "info"};

uint64_t HashText(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) { h ^= c; h *= 1099511628211ULL; }
  return h;
}

// The definition of a rule as text that depends on its YAML's content, not
// its layout: each scalar as its length and text, each map and sequence as
// its size then its entries in order, null as 'n'. (YAML::Dump gave the
// same independence, but re-emitting the node cost more than parsing it.)
void AppendCanonical(const YAML::Node& n, std::string* out) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar:
      out->push_back('s');
      out->append(std::to_string(n.Scalar().size()));
      out->push_back(':');
      out->append(n.Scalar());
      return;
    case YAML::NodeType::Sequence:
      out->push_back('q');
      out->append(std::to_string(n.size()));
      out->push_back(':');
      for (const auto& item : n) AppendCanonical(item, out);
      return;
    case YAML::NodeType::Map:
      out->push_back('m');
      out->append(std::to_string(n.size()));
      out->push_back(':');
      for (const auto& kv : n) {
        AppendCanonical(kv.first, out);
        AppendCanonical(kv.second, out);
      }
      return;
    case YAML::NodeType::Null:
      out->push_back('n');
      return;
    case YAML::NodeType::Undefined:
      out->push_back('u');
      return;
  }
}

uint64_t DefinitionHash(const YAML::Node& n) {
  std::string text;
  AppendCanonical(n, &text);
  return HashText(text);
}

class RuleBuilder {
 public:
  RuleBuilder(const YAML::Node& node, Schema* schema, TagInterner* tags, ConfigErrors& errors,
              const RuleLoadOptions& options, std::map<std::string, std::string>* plugin_files)
      : n_(node), schema_(schema), tags_(tags), errors_(errors), options_(options), plugin_files_(plugin_files) {}

  std::shared_ptr<const Rule> Build(std::set<std::string>* names) {
    if (!n_.IsMap()) {
      errors_.Add(n_, "each rule must be a map with at least 'name' and 'when', 'window' or 'deadman'");
      return nullptr;
    }
    const size_t before = errors_.size();
    RuleCommon c;
    if (!n_["name"] || !n_["name"].IsScalar() || n_["name"].Scalar().empty()) {
      errors_.Add(n_, "rule without a 'name'");
      c.info.name = "?";
    } else {
      c.info.name = n_["name"].Scalar();
      if (!names->insert(c.info.name).second) errors_.Add(n_["name"], "duplicate rule name '" + c.info.name + "'");
    }
    what_ = "rule '" + c.info.name + "'";
    CheckKeys(n_, kRuleKeys, what_, errors_);
    ReadCommon(&c);
    std::shared_ptr<const Rule> rule;
    if (n_["plugin"]) {
      rule = BuildPlugin(std::move(c));
    } else if (n_["deadman"]) {
      rule = BuildDeadman(std::move(c));
    } else if (n_["window"]) {
      rule = BuildWindow(std::move(c));
    } else {
      rule = BuildEvent(std::move(c));
    }
    return errors_.size() == before ? rule : nullptr;
  }

 private:
  void ReadCommon(RuleCommon* c) {
    RuleInfo& info = c->info;
    if (n_["key"]) {
      if (auto keys = ReadStringList(n_["key"], what_ + ": 'key'", errors_)) {
        if (keys->size() > 8) errors_.Add(n_["key"], what_ + ": a key has at most 8 tags");
        info.key_tags = *keys;
      }
    }
    info.keylist = schema_->AddKeyList(info.key_tags);
    if (n_["severity"]) {
      if (auto s = ReadString(n_["severity"], what_ + ": 'severity'", errors_)) {
        if (std::find(kSeverities.begin(), kSeverities.end(), *s) == kSeverities.end()) {
          std::string hint = DidYouMean(*s, kSeverities);
          errors_.Add(n_["severity"], what_ + ": unknown severity '" + *s + "' " +
                                          (hint.empty() ? "(expected critical, major, warning or info)"
                                                        : "(did you mean '" + hint + "'?)"));
        } else {
          info.severity = *s;
        }
      }
    }
    if (n_["labels"]) {
      if (!n_["labels"].IsMap()) {
        errors_.Add(n_["labels"], what_ + ": 'labels' must be a map of names to strings");
      } else {
        for (const auto& kv : n_["labels"]) {
          if (!kv.second.IsScalar()) {
            errors_.Add(kv.second, what_ + ": label '" + kv.first.Scalar() + "' must be a string");
            continue;
          }
          info.labels[kv.first.Scalar()] = kv.second.Scalar();
        }
      }
    }
    if (n_["message"]) {
      if (auto m = ReadString(n_["message"], what_ + ": 'message'", errors_)) info.message = *m;
    }
    if (n_["match"]) {
      const YAML::Node& m = n_["match"];
      if (!m.IsMap()) {
        errors_.Add(m, what_ + ": 'match' must be a map of tag: value, e.g. {zone: nord}");
      } else {
        for (const auto& kv : m) {
          const std::string tag = kv.first.Scalar();
          if (tag == "topic") {
            // A topic filter: the source marks matching messages (vigil/engine/topic_filter.h).
            std::optional<std::string> filter;
            if (kv.second.IsScalar()) filter = kv.second.Scalar();
            const std::string bad = filter ? CheckTopicFilter(*filter) : "must be a string";
            if (!bad.empty()) {
              errors_.Add(kv.second, what_ + ": match 'topic': " + bad);
              continue;
            }
            c->match.push_back({schema_->AddTag(TopicFilterTag(*filter)), tags_->Intern(kTopicFilterMatched)});
            continue;
          }
          if (!kv.second.IsScalar()) {
            errors_.Add(kv.second, what_ + ": match value of '" + tag + "' must be a string");
            continue;
          }
          c->match.push_back({schema_->AddTag(tag), tags_->Intern(kv.second.Scalar())});
        }
      }
    }
    if (n_["max_keys"]) {
      if (auto v = ReadInt(n_["max_keys"], what_ + ": 'max_keys'", 1, int64_t{1} << 40, errors_)) info.max_keys = *v;
    }
    info.definition_hash = DefinitionHash(n_);
    // State saved by vigil 0.x before the canonical hash carries the hash of
    // YAML::Dump: computed only when a restore meets such a record.
    info.legacy_definition_hash = [node = n_] { return HashText(YAML::Dump(node)); };
  }

  std::unique_ptr<CompiledExpr> Compile(const char* key, ExprMode mode, RuleCommon* c,
                                        std::vector<AggregateRef>* aggs) {
    const YAML::Node& node = n_[key];
    if (!node.IsScalar() || node.Scalar().empty()) {
      errors_.Add(node, what_ + ": '" + key + "' must be an expression such as temp > 30");
      return nullptr;
    }
    CompileEnv env{mode, schema_, tags_, aggs, &c->fields_named};
    auto result = CompileCondition(node.Scalar(), env);
    if (auto* err = std::get_if<ExprError>(&result)) {
      errors_.AddInScalar(node, err->pos, what_ + ": in '" + key + "': " + err->message);
      return nullptr;
    }
    return std::make_unique<CompiledExpr>(std::move(std::get<CompiledExpr>(result)));
  }

  void Reject(const char* key, const std::string& why) {
    if (n_[key]) errors_.Add(n_[key], what_ + ": '" + key + "' " + why);
  }

  std::shared_ptr<const Rule> BuildEvent(RuleCommon c) {
    c.info.kind = "event";
    // A missing `when` is reported with the other problems of the rule, not instead of them.
    if (!n_["when"]) errors_.Add(n_, what_ + " needs 'when' (an event rule), 'window' (a window rule) or 'deadman'");
    Reject("expect", "only applies to deadman rules");
    std::vector<AggregateRef> aggs;
    std::unique_ptr<CompiledExpr> when;
    if (n_["when"]) when = Compile("when", ExprMode::kEvent, &c, &aggs);
    std::unique_ptr<CompiledExpr> clear;
    if (n_["clear_when"]) clear = Compile("clear_when", ExprMode::kEvent, &c, &aggs);
    int64_t for_ms = 0;
    if (n_["for"]) for_ms = ReadDurationMs(n_["for"], what_ + ": 'for'", errors_).value_or(0);
    if (!when) return nullptr;
    c.info.when = n_["when"].Scalar();
    return std::make_shared<EventRule>(std::move(c), std::move(*when), std::move(clear), for_ms, aggs);
  }

  std::shared_ptr<const Rule> BuildWindow(RuleCommon c) {
    c.info.kind = "window";
    const YAML::Node& w = n_["window"];
    int64_t size = 0, every = 0;
    if (!w.IsMap()) {
      errors_.Add(w, what_ + ": 'window' must be a map such as {size: 5m, every: 1m}");
    } else {
      CheckKeys(w, {"size", "every"}, what_ + " 'window'", errors_);
      if (!w["size"]) {
        errors_.Add(w, what_ + ": 'window' needs a 'size', e.g. {size: 5m}");
      } else if (auto v = ReadDurationMs(w["size"], what_ + ": window size", errors_)) {
        size = *v;
        if (size <= 0) errors_.Add(w["size"], what_ + ": window size must be positive");
      }
      if (w["every"]) {
        if (auto v = ReadDurationMs(w["every"], what_ + ": window 'every'", errors_)) {
          every = *v;
          if (every <= 0) errors_.Add(w["every"], what_ + ": window 'every' must be positive");
          if (size > 0 && every > size) {
            errors_.Add(w["every"], what_ + ": window 'every' larger than 'size' would leave gaps between windows");
          }
        }
      }
    }
    Reject("for", "is not available on window rules (each window is evaluated once, at its end)");
    Reject("expect", "only applies to deadman rules");
    if (!n_["when"]) errors_.Add(n_, what_ + ": a window rule needs 'when', e.g. when: avg(temp) > 27");
    std::vector<AggregateRef> aggs;
    std::unique_ptr<CompiledExpr> when;
    if (n_["when"]) when = Compile("when", ExprMode::kWindow, &c, &aggs);
    std::unique_ptr<CompiledExpr> clear;
    if (n_["clear_when"]) clear = Compile("clear_when", ExprMode::kWindow, &c, &aggs);
    if (!when || size <= 0) return nullptr;
    c.info.when = n_["when"].Scalar();
    return std::make_shared<WindowRule>(std::move(c), std::move(*when), std::move(clear), size, every, aggs);
  }

  std::shared_ptr<const Rule> BuildDeadman(RuleCommon c) {
    c.info.kind = "deadman";
    for (const char* k : {"when", "clear_when", "for", "window"}) {
      Reject(k, "does not apply to a deadman rule (it raises on silence and clears on the next message)");
    }
    auto timeout = ReadDurationMs(n_["deadman"], what_ + ": 'deadman'", errors_);
    if (timeout && *timeout <= 0) errors_.Add(n_["deadman"], what_ + ": 'deadman' timeout must be positive");
    std::vector<std::vector<std::string>> expect;
    if (n_["expect"]) {
      const YAML::Node& e = n_["expect"];
      if (!e.IsSequence()) {
        errors_.Add(e, what_ + ": 'expect' must be a list of key values, e.g. [nord, sud]");
      } else {
        for (const auto& item : e) {
          std::vector<std::string> values;
          if (item.IsScalar() && c.info.key_tags.size() == 1) {
            values.push_back(item.Scalar());
          } else if (item.IsMap()) {
            CheckKeys(item, c.info.key_tags, what_ + " 'expect' entry", errors_);
            for (const auto& tag : c.info.key_tags) {
              if (!item[tag] || !item[tag].IsScalar()) {
                errors_.Add(item, what_ + ": 'expect' entry lacks key tag '" + tag + "'");
                values.clear();
                break;
              }
              values.push_back(item[tag].Scalar());
            }
          } else {
            errors_.Add(item, what_ + ": with a key of several tags, each 'expect' entry is a map such as "
                                      "{zone: nord, sensor: temp}");
          }
          if (!values.empty()) expect.push_back(std::move(values));
        }
      }
    }
    if (!timeout || *timeout <= 0) return nullptr;
    c.info.when = "deadman " + FormatDurationMs(*timeout);
    return std::make_shared<DeadmanRule>(std::move(c), *timeout, std::move(expect));
  }

  // plugin: {path: ./librule_x.so, config: {...}, max_errors: 10}
  std::shared_ptr<const Rule> BuildPlugin(RuleCommon c) {
    c.info.kind = "plugin";
    for (const char* k : {"when", "clear_when", "for", "window", "deadman", "expect"}) {
      Reject(k, "does not apply to a plugin rule (the plugin decides when to raise and clear)");
    }
    const YAML::Node& p = n_["plugin"];
    if (!p.IsMap()) {
      errors_.Add(p, what_ + ": 'plugin' must be a map such as {path: ./librule_x.so, config: {...}}");
      return nullptr;
    }
    CheckKeys(p, {"path", "config", "max_errors"}, what_ + " 'plugin'", errors_);
    PluginRule::Spec spec;
    if (p["max_errors"]) {
      if (auto v = ReadInt(p["max_errors"], what_ + ": plugin 'max_errors'", 0, int64_t{1} << 40, errors_)) {
        spec.max_errors = static_cast<uint64_t>(*v);
      }
    }
    if (!p["path"]) {
      errors_.Add(p, what_ + ": 'plugin' needs a 'path' to the plugin's shared library");
      return nullptr;
    }
    auto path = ReadString(p["path"], what_ + ": plugin 'path'", errors_);
    if (!path) return nullptr;
    auto lib = PluginLibrary::Open(ResolvePluginPath(*path, options_.directory), VIGIL_PLUGIN_RULE);
    if (!lib.ok()) {
      errors_.Add(p["path"], what_ + ": " + lib.status().message());
      return nullptr;
    }
    spec.library = *lib;
    c.info.plugin = spec.library->name();
    // One name, one library: metrics and logs name plugins, not files.
    const auto [known, fresh] = plugin_files_->emplace(c.info.plugin, spec.library->file_id());
    if (!fresh && known->second != spec.library->file_id()) {
      errors_.Add(p["path"], what_ + ": plugin '" + c.info.plugin + "' of " + spec.library->path() +
                                 " has the name of another plugin library already loaded (" + known->second +
                                 "): give each plugin its own name");
      return nullptr;
    }
    const std::string plugin_what = what_ + ": plugin '" + c.info.plugin + "'";
    const size_t before = errors_.size();
    spec.config = PluginConfig::Read(p["config"], p, spec.library->descriptor(), plugin_what, errors_);
    if (errors_.size() != before) return nullptr;
    std::string why;
    if (!PluginRule::Validate(&spec, schema_, &why)) {
      errors_.Add(p["config"] ? p["config"] : p, plugin_what + " refused its config: " + why);
      return nullptr;
    }
    c.info.when = "plugin " + c.info.plugin;
    return std::make_shared<PluginRule>(std::move(c), std::move(spec));
  }

  const YAML::Node& n_;
  Schema* schema_;
  TagInterner* tags_;
  ConfigErrors& errors_;
  const RuleLoadOptions& options_;
  std::map<std::string, std::string>* plugin_files_;  // plugin name -> file id of the library
  std::string what_;
};

}  // namespace

std::vector<std::shared_ptr<const Rule>> CompileRules(const YAML::Node& rules, Schema* schema, TagInterner* tags,
                                                      ConfigErrors& errors, const RuleLoadOptions& options) {
  std::vector<std::shared_ptr<const Rule>> out;
  if (!rules || !rules.IsSequence()) return out;
  std::set<std::string> names;
  std::map<std::string, std::string> plugin_files;
  for (const auto& node : rules) {
    try {
      auto rule = RuleBuilder(node, schema, tags, errors, options, &plugin_files).Build(&names);
      if (rule) out.push_back(std::move(rule));
    } catch (const YAML::Exception& e) {
      errors.Add(e.mark.line + 1, e.mark.column + 1, e.msg);
    }
  }
  if (out.empty() && errors.empty()) errors.Add(rules, "the rules list is empty");
  return out;
}

}  // namespace vigil::rules
