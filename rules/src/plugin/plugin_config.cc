// PluginConfig: checks and the YAML -> JSON conversion.
#include "plugin/plugin_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace vigil::rules {

namespace {

bool PlainScalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

bool ParseNumber(const std::string& s, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

bool ParseBool(const std::string& s, bool* out) {
  if (s == "true" || s == "True" || s == "TRUE") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *out = false;
    return true;
  }
  return false;
}

void AppendJsonString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char kHex[] = "0123456789abcdef";
          *out += "\\u00";
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendJson(std::string* out, const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) {
    *out += "null";
  } else if (n.IsMap()) {
    out->push_back('{');
    bool first = true;
    for (const auto& kv : n) {
      if (!first) out->push_back(',');
      first = false;
      AppendJsonString(out, kv.first.Scalar());
      out->push_back(':');
      AppendJson(out, kv.second);
    }
    out->push_back('}');
  } else if (n.IsSequence()) {
    out->push_back('[');
    bool first = true;
    for (const auto& item : n) {
      if (!first) out->push_back(',');
      first = false;
      AppendJson(out, item);
    }
    out->push_back(']');
  } else {
    const std::string& s = n.Scalar();
    double d = 0;
    bool b = false;
    if (PlainScalar(n) && ParseNumber(s, &d)) {
      *out += s;
    } else if (PlainScalar(n) && ParseBool(s, &b)) {
      *out += b ? "true" : "false";
    } else {
      AppendJsonString(out, s);
    }
  }
}

const char* TypeText(vigil_config_type t) {
  switch (t) {
    case VIGIL_CONFIG_NUMBER: return "a number";
    case VIGIL_CONFIG_INTEGER: return "an integer";
    case VIGIL_CONFIG_STRING: return "a string";
    case VIGIL_CONFIG_BOOL: return "true or false";
    default: return "any value";
  }
}

bool HasType(const YAML::Node& n, vigil_config_type t) {
  double d = 0;
  bool b = false;
  switch (t) {
    case VIGIL_CONFIG_NUMBER: return PlainScalar(n) && ParseNumber(n.Scalar(), &d);
    case VIGIL_CONFIG_INTEGER: return PlainScalar(n) && ParseNumber(n.Scalar(), &d) && d == std::floor(d);
    case VIGIL_CONFIG_STRING: return n.IsScalar();
    case VIGIL_CONFIG_BOOL: return PlainScalar(n) && ParseBool(n.Scalar(), &b);
    default: return true;
  }
}

}  // namespace

std::string YamlToJson(const YAML::Node& node) {
  std::string out;
  if (!node.IsDefined() || node.IsNull()) return "{}";
  AppendJson(&out, node);
  return out;
}

std::shared_ptr<const PluginConfig> PluginConfig::Read(const YAML::Node& node, const YAML::Node& at,
                                                       const vigil_plugin_descriptor& d, const std::string& what,
                                                       ConfigErrors& errors) {
  auto c = std::make_shared<PluginConfig>();
  const bool present = node.IsDefined() && !node.IsNull();
  if (present && !node.IsMap()) {
    errors.Add(node, what + ": 'config' must be a map of the plugin's settings");
    return c;
  }
  c->json_ = YamlToJson(node);
  if (present) {
    for (const auto& kv : node) {
      if (kv.second.IsScalar()) {
        c->scalars_[kv.first.Scalar()] = kv.second.Scalar();
        c->quoted_[kv.first.Scalar()] = !PlainScalar(kv.second);
      }
    }
  }
  if (d.config_keys == nullptr) return c;  // the plugin checks its config itself
  std::vector<std::string> names;
  for (uint32_t i = 0; i < d.config_key_count; ++i) names.emplace_back(d.config_keys[i].name);
  if (present) CheckKeys(node, names, what + " config", errors);
  for (uint32_t i = 0; i < d.config_key_count; ++i) {
    const vigil_config_key& k = d.config_keys[i];
    const std::string help = k.help != nullptr && *k.help != '\0' ? std::string(" (") + k.help + ")" : "";
    const YAML::Node v = present ? node[k.name] : YAML::Node();
    if (!v.IsDefined() || v.IsNull()) {
      if (k.required) errors.Add(present ? node : at, what + ": config needs '" + k.name + "'" + help);
      continue;
    }
    if (!HasType(v, k.type)) {
      errors.Add(v, what + ": config '" + k.name + "' must be " + TypeText(k.type) + help);
    }
  }
  return c;
}

const std::string* PluginConfig::Scalar(const std::string& key) const {
  auto it = scalars_.find(key);
  return it == scalars_.end() ? nullptr : &it->second;
}

bool PluginConfig::Number(const std::string& key, double* out) const {
  const std::string* s = Scalar(key);
  return s != nullptr && !quoted_.at(key) && ParseNumber(*s, out);
}

bool PluginConfig::Bool(const std::string& key, bool* out) const {
  const std::string* s = Scalar(key);
  return s != nullptr && !quoted_.at(key) && ParseBool(*s, out);
}

}  // namespace vigil::rules
