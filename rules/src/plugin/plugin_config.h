// PluginConfig: the `config:` map of a plugin rule or decoder, checked
// against the keys the plugin declares, and offered to the plugin both as
// JSON text and through the host's config_* accessors.
//
// Thread-safety: immutable after Read; shared by every instance.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <memory>
#include <string>

#include "vigil/engine/config_errors.h"
#include "vigil/plugin.h"

namespace vigil::rules {

class PluginConfig {
 public:
  // Checks `node` (a map, or absent) against `d`'s config keys: unknown
  // keys (with a "did you mean"), missing required keys and values of the
  // wrong type are errors in `errors`, prefixed by `what`. Returns the
  // config even with errors (the caller checks errors).
  // `at`: where to report a missing config (the plugin entry).
  static std::shared_ptr<const PluginConfig> Read(const YAML::Node& node, const YAML::Node& at,
                                                  const vigil_plugin_descriptor& d, const std::string& what,
                                                  ConfigErrors& errors);

  const std::string& json() const { return json_; }
  // Top-level scalars: text as written (strings stay valid while the config lives).
  const std::string* Scalar(const std::string& key) const;
  bool Number(const std::string& key, double* out) const;
  bool Bool(const std::string& key, bool* out) const;

 private:
  std::string json_;
  std::map<std::string, std::string> scalars_;
  std::map<std::string, bool> quoted_;  // written in quotes: a string, never a number
};

// YAML -> JSON: plain scalars that read as numbers become numbers,
// true/false booleans, null/~ null; everything else a string.
std::string YamlToJson(const YAML::Node& node);

}  // namespace vigil::rules
