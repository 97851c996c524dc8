// LoadRulesFile: YAML -> RulesFile, with positioned errors.
#include "vigil/engine/rules_file.h"

#include "config/env_expansion.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace vigil {

namespace {

// Where to report a problem with the value of `key` in `map`: at the value, or
// at the key when the value is empty ("rules:" and nothing after it), since
// yaml-cpp marks an empty value at the next token, lines further down or past
// the end of the file.
YAML::Node ReportAt(const YAML::Node& map, const std::string& key) {
  for (const auto& kv : map) {
    if (kv.first.Scalar() == key) return kv.second.IsNull() ? kv.first : kv.second;
  }
  return map[key];
}

void ReadEngine(const YAML::Node& n, const YAML::Node& at, EngineSettings* e, ConfigErrors& errors) {
  if (!n.IsMap()) {
    errors.Add(at, "'engine' must be a map, e.g. {shards: 2, state_dir: ./vigil-state}");
    return;
  }
  CheckKeys(n,
            {"shards", "state_dir", "checkpoint_interval", "key_ttl", "max_keys_per_rule", "max_window_samples",
             "max_tag_values", "max_key_tuples"},
            "'engine'", errors);
  if (n["shards"]) {
    if (auto v = ReadInt(n["shards"], "engine.shards", 0, 64, errors)) e->shards = static_cast<uint32_t>(*v);
  }
  if (n["state_dir"]) {
    if (auto v = ReadString(n["state_dir"], "engine.state_dir", errors)) e->state_dir = *v;
  }
  if (n["checkpoint_interval"]) {
    if (auto v = ReadDurationMs(n["checkpoint_interval"], "engine.checkpoint_interval", errors)) {
      e->checkpoint_interval_ms = *v;
    }
  }
  if (n["key_ttl"]) {
    if (auto v = ReadDurationMs(n["key_ttl"], "engine.key_ttl", errors)) e->key_ttl_ms = *v;
  }
  const std::pair<const char*, uint64_t EngineSettings::*> limits[] = {
      {"max_keys_per_rule", &EngineSettings::max_keys_per_rule},
      {"max_window_samples", &EngineSettings::max_window_samples},
      {"max_tag_values", &EngineSettings::max_tag_values},
      {"max_key_tuples", &EngineSettings::max_key_tuples},
  };
  for (const auto& [key, field] : limits) {
    if (!n[key]) continue;
    if (auto v = ReadInt(n[key], std::string("engine.") + key, 0, int64_t{1} << 40, errors)) {
      e->*field = static_cast<uint64_t>(*v);
    }
  }
}

// http.tls_cert / tls_key / tls_min_version. The files are read by `vigil
// run` (like token_file: they may exist only where vigil runs); here only
// that both are given.
void ReadHttpTls(const YAML::Node& n, HttpSettings* h, ConfigErrors& errors) {
  if (n["tls_cert"]) {
    if (auto v = ReadString(n["tls_cert"], "http.tls_cert", errors)) h->tls_cert = *v;
  }
  if (n["tls_key"]) {
    if (auto v = ReadString(n["tls_key"], "http.tls_key", errors)) h->tls_key = *v;
  }
  if (n["tls_cert"] && !n["tls_key"]) {
    errors.Add(n["tls_cert"], "http.tls_cert needs http.tls_key (the certificate's PEM private key) next to it");
  } else if (n["tls_key"] && !n["tls_cert"]) {
    errors.Add(n["tls_key"], "http.tls_key needs http.tls_cert (the PEM certificate chain) next to it");
  }
  if (n["tls_min_version"]) {
    if (auto v = ReadString(n["tls_min_version"], "http.tls_min_version", errors)) {
      if (*v == "1.3") {
        h->tls13_only = true;
      } else if (*v != "1.2") {
        errors.Add(n["tls_min_version"], "http.tls_min_version must be \"1.2\" or \"1.3\", not '" + *v + "'");
      }
      if (!n["tls_cert"] && !n["tls_key"]) {
        errors.Add(n["tls_min_version"], "http.tls_min_version without http.tls_cert and http.tls_key (no TLS)");
      }
    }
  }
}

void ReadHttp(const YAML::Node& n, const YAML::Node& at, HttpSettings* h, ConfigErrors& errors) {
  if (!n.IsMap()) {
    errors.Add(at, "'http' must be a map, e.g. {listen: 127.0.0.1:9464}");
    return;
  }
  CheckKeys(n,
            {"listen", "token_env", "token_file", "protect_metrics", "allow_remote", "max_body_bytes",
             "max_connections", "tls_cert", "tls_key", "tls_min_version"},
            "'http'", errors);
  if (n["listen"]) {
    if (auto v = ReadString(n["listen"], "http.listen", errors)) h->listen = *v;
  }
  if (n["token_env"]) {
    if (auto v = ReadString(n["token_env"], "http.token_env", errors)) h->token_env = *v;
  }
  if (n["token_file"]) {
    if (auto v = ReadString(n["token_file"], "http.token_file", errors)) h->token_file = *v;
  }
  if (n["protect_metrics"]) {
    if (auto v = ReadBool(n["protect_metrics"], "http.protect_metrics", errors)) h->protect_metrics = *v;
  }
  if (n["allow_remote"]) {
    if (auto v = ReadBool(n["allow_remote"], "http.allow_remote", errors)) h->allow_remote = *v;
  }
  if (n["max_body_bytes"]) {
    if (auto v = ReadInt(n["max_body_bytes"], "http.max_body_bytes", 1024, int64_t{1} << 30, errors)) {
      h->max_body_bytes = static_cast<size_t>(*v);
    }
  }
  if (n["max_connections"]) {
    if (auto v = ReadInt(n["max_connections"], "http.max_connections", 1, 1024, errors)) {
      h->max_connections = static_cast<uint32_t>(*v);
    }
  }
  ReadHttpTls(n, h, errors);
}

const std::vector<std::string> kSourceKinds = {"file", "mqtt", "kafka", "http"};
const std::vector<std::string> kSinkKinds = {"stdout", "file", "mqtt", "kafka", "webhook", "influxdb"};

void ReadTimestamp(const YAML::Node& n, const YAML::Node& at, SourceSettings* s, ConfigErrors& errors) {
  if (n.IsScalar()) {  // shorthand: timestamp: field_name
    s->format.ts_fields = {n.Scalar()};
    return;
  }
  if (!n.IsMap()) {
    errors.Add(at, "'timestamp' must be a map, e.g. {field: ts, unit: auto}");
    return;
  }
  CheckKeys(n, {"field", "unit", "timezone"}, "'timestamp' of source '" + s->name + "'", errors);
  if (n["field"]) {
    if (auto v = ReadStringList(n["field"], "timestamp.field", errors)) s->format.ts_fields = *v;
  }
  if (n["unit"]) {
    if (auto v = ReadString(n["unit"], "timestamp.unit", errors)) {
      if (auto u = ParseTimeUnit(*v)) {
        s->format.unit = *u;
      } else {
        errors.Add(n["unit"], "unknown timestamp unit '" + *v + "' (expected auto, s, ms, us, ns or iso)");
      }
    }
  }
  if (n["timezone"]) {
    auto v = ReadString(n["timezone"], "timestamp.timezone", errors);
    // "+02:00" style offsets; named zones would need tzdata and are refused clearly.
    std::optional<int64_t> probe;
    if (v) probe = TimestampFromString("1970-01-01T00:00:00" + *v, TimeUnit::kIso, 0);
    if (v && (*v == "UTC" || *v == "Z")) {
      s->format.default_offset_minutes = 0;
    } else if (probe) {
      s->format.default_offset_minutes = static_cast<int>(-*probe / 60000);
    } else if (v) {
      errors.Add(n["timezone"], "timezone must be UTC or an offset such as +02:00, got '" + *v + "'");
    }
  }
}

// `topic_tags` sits at the source level or inside the kind's own map
// (`mqtt: {..., topic_tags: "entrepot/{zone}/{sensor}/v1"}`, as DESIGN.md
// writes it); once, not in both places. Whether the kind has topics with
// levels is checked by bridges/.
void ReadTopicTags(const YAML::Node& n, SourceSettings* s, ConfigErrors& errors) {
  const YAML::Node& kind = s->kind_node;
  const bool outer = static_cast<bool>(n["topic_tags"]);
  const bool inner = kind.IsMap() && kind["topic_tags"];
  if (outer && inner) {
    errors.Add(kind["topic_tags"], "source '" + s->name + "' has topic_tags both at the source level and inside '" +
                                       s->kind + "': give it once");
    return;
  }
  if (!outer && !inner) return;
  s->topic_tags_node = outer ? ReportAt(n, "topic_tags") : ReportAt(kind, "topic_tags");
  const YAML::Node& value = outer ? n["topic_tags"] : kind["topic_tags"];
  if (auto v = ReadStringList(value, "topic_tags", errors)) s->topic_tags = *v;
}

void ReadSource(const YAML::Node& n, size_t index, RulesFile* f, ConfigErrors& errors) {
  SourceSettings s;
  s.node = n;
  if (!n.IsMap()) {
    errors.Add(n, "each source must be a map with a name and one of: file, mqtt, kafka, http");
    return;
  }
  s.name = n["name"] && n["name"].IsScalar() ? n["name"].Scalar() : "source" + std::to_string(index + 1);
  std::vector<std::string> allowed = {"name",           "timestamp", "allowed_lateness", "topic_tags",
                                      "max_message_bytes", "max_depth", "max_fields", "decoder"};
  allowed.insert(allowed.end(), kSourceKinds.begin(), kSourceKinds.end());
  CheckKeys(n, allowed, "source '" + s.name + "'", errors);
  for (const auto& k : kSourceKinds) {
    if (!n[k]) continue;
    if (!s.kind.empty()) {
      errors.Add(n[k], "source '" + s.name + "' has both '" + s.kind + "' and '" + k + "': give one kind per source");
      continue;
    }
    s.kind = k;
    s.kind_node = n[k];
  }
  if (s.kind.empty()) errors.Add(n, "source '" + s.name + "' needs one of: file, mqtt, kafka, http");
  if (n["timestamp"]) ReadTimestamp(n["timestamp"], ReportAt(n, "timestamp"), &s, errors);
  if (n["allowed_lateness"]) {
    if (auto v = ReadDurationMs(n["allowed_lateness"], "allowed_lateness", errors)) s.allowed_lateness_ms = *v;
  }
  ReadTopicTags(n, &s, errors);
  if (n["max_message_bytes"]) {
    if (auto v = ReadInt(n["max_message_bytes"], "max_message_bytes", 16, int64_t{1} << 30, errors)) {
      s.format.max_message_bytes = static_cast<size_t>(*v);
    }
  }
  if (n["decoder"]) s.decoder_node = n["decoder"];
  if (n["max_depth"]) {
    if (auto v = ReadInt(n["max_depth"], "max_depth", 1, 1024, errors)) s.format.max_depth = static_cast<int>(*v);
  }
  if (n["max_fields"]) {
    if (auto v = ReadInt(n["max_fields"], "max_fields", 1, int64_t{1} << 24, errors)) {
      s.format.max_fields = static_cast<size_t>(*v);
    }
  }
  for (const auto& other : f->sources) {
    if (other.name == s.name) errors.Add(n["name"] ? n["name"] : n, "duplicate source name '" + s.name + "'");
  }
  f->sources.push_back(std::move(s));
}

void ReadSink(const YAML::Node& n, RulesFile* f, ConfigErrors& errors) {
  if (!n.IsMap() || n.size() != 1) {
    errors.Add(n, "each sink is a map with one kind, e.g. - stdout: {} or - file: {path: alerts.ndjson}");
    return;
  }
  const std::string kind = n.begin()->first.Scalar();
  if (std::find(kSinkKinds.begin(), kSinkKinds.end(), kind) == kSinkKinds.end()) {
    std::string hint = DidYouMean(kind, kSinkKinds);
    errors.Add(n.begin()->first, "unknown sink '" + kind + "'" +
                                     (hint.empty() ? " (expected stdout, file, mqtt, kafka, webhook or influxdb)"
                                                   : " (did you mean '" + hint + "'?)"));
    return;
  }
  f->sinks.push_back(SinkSettings{kind, n.begin()->second});
}

bool Parse(const YAML::Node& root, RulesFile* f, ConfigErrors& errors) {
  if (!root.IsDefined() || root.IsNull()) {
    errors.Add(1, 1, "the rules file is empty: it needs at least a 'rules:' list");
    return true;
  }
  if (!root.IsMap()) {
    errors.Add(root, "the rules file must be a map with keys engine, http, sources, rules, sinks");
    return true;
  }
  CheckKeys(root, {"engine", "http", "sources", "rules", "sinks"}, "the rules file", errors);
  if (root["engine"]) ReadEngine(root["engine"], ReportAt(root, "engine"), &f->engine, errors);
  if (root["http"]) ReadHttp(root["http"], ReportAt(root, "http"), &f->http, errors);
  if (root["sources"]) {
    if (!root["sources"].IsSequence()) {
      errors.Add(ReportAt(root, "sources"), "'sources' must be a list");
    } else {
      size_t i = 0;
      for (const auto& s : root["sources"]) ReadSource(s, i++, f, errors);
    }
  }
  if (root["sinks"]) {
    if (!root["sinks"].IsSequence()) {
      errors.Add(ReportAt(root, "sinks"), "'sinks' must be a list");
    } else {
      for (const auto& s : root["sinks"]) ReadSink(s, f, errors);
    }
  }
  if (!root["rules"]) {
    errors.Add(root, "the rules file has no 'rules:' list");
  } else if (!root["rules"].IsSequence()) {
    errors.Add(ReportAt(root, "rules"), "'rules' must be a list of rules");
  } else {
    f->rules = root["rules"];
  }
  return true;
}

}  // namespace

bool LoadRulesText(const std::string& raw, const std::string& path, RulesFile* out, ConfigErrors& errors) {
  out->path = path;
  errors.SetSource(raw);
  const std::string text = ExpandEnvReferences(raw, errors);
  if (!errors.empty()) return false;
  size_t slash = path.find_last_of('/');
  out->directory = slash == std::string::npos ? "." : path.substr(0, slash);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    errors.Add(e.mark.line + 1, e.mark.column + 1, "YAML syntax error: " + e.msg);
    return false;
  } catch (const YAML::Exception& e) {
    errors.Add(1, 1, std::string("YAML error: ") + e.what());
    return false;
  }
  try {
    return Parse(root, out, errors);
  } catch (const YAML::Exception& e) {
    errors.Add(e.mark.line + 1, e.mark.column + 1, e.msg);
    return false;
  }
}

bool LoadRulesFile(const std::string& path, RulesFile* out, ConfigErrors& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.Add(1, 1, "cannot open the rules file (does it exist and is it readable?)");
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return LoadRulesText(ss.str(), path, out, errors);
}

}  // namespace vigil
