// RulesFile: the parsed rules file (DESIGN.md "Rules file"), before rules,
// sources and sinks are built from it by their components.
//
// The engine reads the sections it owns (engine, http) and the parts of
// sources common to all kinds (name, timestamp, allowed_lateness,
// topic_tags, also when written inside the kind's map); the kind-specific
// settings of sources and sinks, and the rules, stay YAML nodes for bridges/ and rules/ to read, reporting errors
// into the same ConfigErrors. Load-time only; single-threaded.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vigil/engine/config_errors.h"
#include "vigil/engine/message.h"

namespace vigil {

struct EngineSettings {
  // 0 = number of cores. Reloadable: a reload restarts the pipeline with the
  // new count (the state is re-partitioned, docs/durability.md).
  uint32_t shards = 0;
  std::string state_dir = "./vigil-state";  // Default: ./vigil-state. Not reloadable.
  int64_t checkpoint_interval_ms = 1000;    // Default: 1s
  int64_t key_ttl_ms = 24 * 3600 * 1000;    // Default: 24h
  // Keys one rule tracks at most (all shards together) unless the rule
  // sets its own `max_keys`; 0 = no limit. Default: 1,000,000.
  uint64_t max_keys_per_rule = 1000000;
  // Samples one sliding buffer (one `f(x, W)` of one key) holds at most;
  // 0 = no limit. Default: 100,000.
  uint64_t max_window_samples = 100000;
  // Distinct tag values and key tuples the engine keeps at most (every
  // rule and source together); 0 = no limit. Default: 2,000,000 each.
  uint64_t max_tag_values = 2000000;
  uint64_t max_key_tuples = 2000000;
};

struct HttpSettings {
  std::string listen;                       // empty = no HTTP server; loopback only unless allow_remote
  std::string token_env;                    // environment variable holding the bearer token
  std::string token_file;                   // or a file holding it (relative to the rules file)
  bool protect_metrics = false;             // also require the token on /metrics and /healthz
  bool allow_remote = false;                // accept a non-loopback listen address
  size_t max_body_bytes = 8u << 20;         // Default: 8 MiB (413 beyond)
  uint32_t max_connections = 16;            // concurrent requests served; Default: 16 (1..1024)
  std::string tls_cert;                     // PEM certificate (chain), relative to the rules file; with tls_key
  std::string tls_key;                      // PEM private key (unencrypted); both or neither: HTTPS only
  bool tls13_only = false;                  // tls_min_version: "1.2" (default) or "1.3"
};

struct SourceSettings {
  std::string name;
  std::string kind;             // "file", "mqtt", "kafka", "http"
  YAML::Node node;              // the whole source entry
  YAML::Node kind_node;         // the kind's own settings
  MessageFormat format;
  int64_t allowed_lateness_ms = 0;
  // Topic templates such as "entrepot/{zone}/{sensor}/v1"; the first that
  // fits a message's topic gives its tags (checked by bridges/).
  std::vector<std::string> topic_tags;
  // Where topic_tags was written (source level or inside the kind's map),
  // for error positions; undefined when absent.
  YAML::Node topic_tags_node{YAML::NodeType::Undefined};
  // `decoder:` (a map or a list of maps: payload decoder plugins), checked
  // and turned into format.decoders by rules/ (vigil/rules/plugin_loader.h).
  YAML::Node decoder_node;
};

struct SinkSettings {
  std::string kind;             // "stdout", "file", "mqtt", "kafka", "webhook", "influxdb"
  YAML::Node node;              // the kind's own settings
};

struct RulesFile {
  std::string path;
  std::string directory;        // for relative paths inside the file
  EngineSettings engine;
  HttpSettings http;
  std::vector<SourceSettings> sources;
  std::vector<SinkSettings> sinks;
  YAML::Node rules;             // sequence of rule maps (checked by rules/)
};

// Reads and checks the file. Returns false (with `errors` filled) on a YAML
// syntax error or when the file cannot be read; section errors are recorded
// in `errors` and loading continues, so callers check errors.empty().
bool LoadRulesFile(const std::string& path, RulesFile* out, ConfigErrors& errors);
// Same, from text (for tests and stdin); `path` is used in messages.
bool LoadRulesText(const std::string& text, const std::string& path, RulesFile* out, ConfigErrors& errors);

}  // namespace vigil
