// Check and build of the webhook and influxdb sinks.
#include "http/http_sinks_config.h"

#include "vigil/engine/timestamp.h"

#include <strings.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "http/http_url.h"
#include "http/influxdb_sink.h"
#include "http/webhook_sink.h"
#include "vigil/engine/timestamp.h"

namespace vigil::bridges {

namespace {

constexpr int64_t kMaxTimeoutMs = 60'000;

// A secret named by the rules file: an environment variable or a file.
struct SecretRef {
  std::string env;
  std::string file;
  YAML::Node at;  // where it was named, for build-time errors
  bool empty() const { return env.empty() && file.empty(); }
};

struct WebhookConfig {
  WebhookSinkOptions options;
  SecretRef token;
};

struct InfluxDbConfig {
  InfluxDbSinkOptions options;
  SecretRef token;
  SecretRef password;
};

bool IsHeaderNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void ReadUrl(const YAML::Node& n, const std::string& what, std::string* out, ConfigErrors& errors) {
  if (!n["url"]) {
    errors.Add(n, what + " needs a url, e.g. url: http://127.0.0.1:8080/hook");
    return;
  }
  std::optional<std::string> v = ReadString(n["url"], what + " url", errors);
  if (!v) return;
  std::string why;
  if (!ParseHttpUrl(*v, &why)) {
    errors.Add(n["url"], what + " url: " + why);
    return;
  }
  *out = *v;
}

// `<prefix>_env` / `<prefix>_file` (one of them at most).
SecretRef ReadSecretRef(const YAML::Node& n, const std::string& prefix, const std::string& what, ConfigErrors& errors) {
  SecretRef ref;
  const std::string env_key = prefix + "_env";
  const std::string file_key = prefix + "_file";
  if (n[env_key]) {
    if (auto v = ReadString(n[env_key], what + " " + env_key, errors)) ref.env = *v;
    ref.at = n[env_key];
  }
  if (n[file_key]) {
    if (auto v = ReadString(n[file_key], what + " " + file_key, errors)) ref.file = *v;
    if (!ref.env.empty()) errors.Add(n[file_key], what + ": give " + env_key + " or " + file_key + ", not both");
    ref.at = n[file_key];
  }
  return ref;
}

void ReadTimeout(const YAML::Node& n, const std::string& what, std::chrono::milliseconds* out, ConfigErrors& errors) {
  if (!n["timeout"]) return;
  std::optional<int64_t> ms = ReadDurationMs(n["timeout"], what + " timeout", errors);
  if (!ms) return;
  if (*ms < 1 || *ms > kMaxTimeoutMs) {
    errors.Add(n["timeout"], what + " timeout must be between 1ms and 60s, got '" + n["timeout"].Scalar() + "'");
    return;
  }
  *out = std::chrono::milliseconds(*ms);
}

void ReadOptionalString(const YAML::Node& n, const char* key, const std::string& what, std::string* out,
                        ConfigErrors& errors) {
  if (!n[key]) return;
  if (auto v = ReadString(n[key], what + " " + key, errors)) {
    if (v->empty()) errors.Add(n[key], what + " " + key + " must not be empty");
    *out = *v;
  }
}

void ReadHeaders(const YAML::Node& h, const std::string& what,
                 std::vector<std::pair<std::string, std::string>>* out, ConfigErrors& errors) {
  if (!h.IsMap()) {
    errors.Add(h, what + " headers must be a map, e.g. headers: {X-Source: vigil}");
    return;
  }
  for (const auto& kv : h) {
    const std::string& name = kv.first.Scalar();
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsHeaderNameChar)) {
      errors.Add(kv.first, what + ": '" + name + "' is not a valid HTTP header name");
      continue;
    }
    if (!kv.second.IsScalar()) {
      errors.Add(kv.second, what + ": header '" + name + "' must have a string value");
      continue;
    }
    const std::string& value = kv.second.Scalar();
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      errors.Add(kv.second, what + ": header '" + name + "' must not contain a line break");
      continue;
    }
    out->emplace_back(name, value);
  }
}

std::optional<WebhookConfig> ReadWebhook(const SinkSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  const std::string what = "sink 'webhook'";
  if (!n.IsMap()) {
    errors.Add(n, what + " needs a url, e.g. webhook: {url: \"http://127.0.0.1:8080/hook\"}");
    return std::nullopt;
  }
  const size_t before = errors.size();
  CheckKeys(n, {"url", "headers", "token_env", "token_file", "batch", "max_batch", "timeout", "name", "outbox"}, what, errors);
  WebhookConfig c;
  ReadUrl(n, what, &c.options.url, errors);
  if (n["headers"]) ReadHeaders(n["headers"], what, &c.options.headers, errors);
  c.token = ReadSecretRef(n, "token", what, errors);
  for (const auto& [k, v] : c.options.headers) {
    if (!c.token.empty() && strcasecmp(k.c_str(), "Authorization") == 0) {
      errors.Add(n["headers"], what + ": an Authorization header and token_env/token_file both set the "
                                     "Authorization header; keep one");
    }
  }
  if (n["batch"]) {
    if (auto v = ReadBool(n["batch"], what + " batch", errors)) c.options.batch = *v;
  }
  if (n["max_batch"]) {
    if (auto v = ReadInt(n["max_batch"], what + " max_batch", 1, 10'000, errors)) c.options.max_batch = *v;
  }
  ReadTimeout(n, what, &c.options.timeout, errors);
  ReadOptionalString(n, "name", what, &c.options.name, errors);
  if (errors.size() != before) return std::nullopt;
  return c;
}

// `forward: raw | window:<duration>`, with `measurement` (default
// vigil_measurements) and `forward_queue` (points held at most).
void ReadForward(const YAML::Node& n, const std::string& what, InfluxDbSinkOptions* o, ConfigErrors& errors) {
  if (!n["forward"]) {
    for (const char* k : {"measurement", "forward_queue"}) {
      if (n[k]) errors.Add(n[k], what + ": '" + k + "' goes with forward: raw or forward: window:<duration>");
    }
    return;
  }
  const std::string hint = " (expected raw or window:<duration>, e.g. window:1m)";
  auto v = ReadString(n["forward"], what + " forward", errors);
  if (!v) return;
  ForwardSpec spec;
  if (*v == "raw") {
    spec.mode = ForwardMode::kRaw;
  } else if (v->rfind("window:", 0) == 0) {
    spec.mode = ForwardMode::kWindow;
    std::string d = v->substr(7);
    while (!d.empty() && d.front() == ' ') d.erase(d.begin());
    const std::optional<int64_t> ms = ParseDurationMs(d);
    if (!ms || *ms <= 0) {
      errors.Add(n["forward"], what + ": forward window '" + d + "' is not a positive duration" + hint);
      return;
    }
    spec.window_ms = *ms;
  } else {
    errors.Add(n["forward"], what + ": unknown forward '" + *v + "'" + hint);
    return;
  }
  if (n["measurement"]) {
    auto m = ReadString(n["measurement"], what + " measurement", errors);
    if (m && m->empty()) errors.Add(n["measurement"], what + ": measurement must not be empty");
    if (m && !m->empty()) spec.measurement = *m;
  }
  if (n["forward_queue"]) {
    if (auto q = ReadInt(n["forward_queue"], what + " forward_queue", 1, int64_t{1} << 30, errors)) {
      o->forward_queue = static_cast<size_t>(*q);
    }
  }
  o->forward = spec;
}

std::optional<InfluxDbConfig> ReadInfluxDb(const SinkSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  const std::string what = "sink 'influxdb'";
  if (!n.IsMap()) {
    errors.Add(n, what + " needs a url and a db (1.x) or org and bucket (2.x), e.g. influxdb: {url: "
                         "\"http://127.0.0.1:8086\", db: vigil}");
    return std::nullopt;
  }
  const size_t before = errors.size();
  CheckKeys(n,
            {"url", "version", "db", "retention_policy", "username", "password_env", "password_file", "org", "bucket",
             "token_env", "token_file", "max_batch", "timeout", "name", "forward", "measurement", "forward_queue",
             "outbox"},
            what, errors);
  InfluxDbConfig c;
  InfluxDbSinkOptions& o = c.options;
  ReadUrl(n, what, &o.url, errors);
  if (!o.url.empty() && ParseHttpUrl(o.url)->path.find_first_of("?#") != std::string::npos) {
    errors.Add(n["url"], what + " url must be the server's base URL without a query, e.g. http://127.0.0.1:8086");
  }
  ReadForward(n, what, &o, errors);
  ReadOptionalString(n, "db", what, &o.db, errors);
  ReadOptionalString(n, "retention_policy", what, &o.retention_policy, errors);
  ReadOptionalString(n, "username", what, &o.username, errors);
  ReadOptionalString(n, "org", what, &o.org, errors);
  ReadOptionalString(n, "bucket", what, &o.bucket, errors);
  c.password = ReadSecretRef(n, "password", what, errors);
  c.token = ReadSecretRef(n, "token", what, errors);
  if (n["version"]) {
    if (auto v = ReadInt(n["version"], what + " version", 1, 2, errors)) o.version = static_cast<int>(*v);
  } else if (n["db"]) {
    o.version = 1;
  } else if (n["bucket"]) {
    o.version = 2;
  } else {
    errors.Add(n, what + " needs db (InfluxDB 1.x) or org and bucket (InfluxDB 2.x)");
    return std::nullopt;
  }
  const char* v1_keys[] = {"db", "retention_policy", "username", "password_env", "password_file"};
  const char* v2_keys[] = {"org", "bucket", "token_env", "token_file"};
  if (o.version == 1) {
    if (!n["db"]) errors.Add(n, what + " version 1 needs a db (the database to write to)");
    for (const char* k : v2_keys) {
      if (n[k]) errors.Add(n[k], what + ": '" + k + "' is for InfluxDB 2.x (version: 2); 1.x uses db, username, password_env");
    }
    if (!c.password.empty() && !n["username"]) errors.Add(c.password.at, what + ": a password needs a username");
  } else {
    if (!n["org"]) errors.Add(n, what + " version 2 needs an org");
    if (!n["bucket"]) errors.Add(n, what + " version 2 needs a bucket");
    for (const char* k : v1_keys) {
      if (n[k]) errors.Add(n[k], what + ": '" + k + "' is for InfluxDB 1.x (version: 1); 2.x uses org, bucket, token_env");
    }
  }
  if (n["max_batch"]) {
    if (auto v = ReadInt(n["max_batch"], what + " max_batch", 1, 100'000, errors)) o.max_batch = *v;
  }
  ReadTimeout(n, what, &o.timeout, errors);
  ReadOptionalString(n, "name", what, &o.name, errors);
  if (errors.size() != before) return std::nullopt;
  return c;
}

// A build-time error at `at`: "file:line:column: message".
Status ErrorAt(const RulesFile& file, const YAML::Node& at, std::string message) {
  ConfigErrors e(file.path);
  e.Add(at, std::move(message));
  return Status::InvalidArgument(e.Formatted().front());
}

// The value of a secret (first line of a file, trailing blanks cut). The
// secret itself never appears in an error.
Result<std::string> ReadSecret(const SecretRef& ref, const std::string& what, const RulesFile& file) {
  if (!ref.env.empty()) {
    const char* v = std::getenv(ref.env.c_str());
    if (v == nullptr || *v == '\0') {
      return ErrorAt(file, ref.at, what + " names the environment variable '" + ref.env +
                                       "', which is not set (export it, or remove the key)");
    }
    return std::string(v);
  }
  const std::string path = ResolvePath(file.directory, ref.file);
  std::ifstream in(path);
  std::string line;
  if (!in) return ErrorAt(file, ref.at, what + " file '" + path + "' cannot be read");
  if (!std::getline(in, line)) line.clear();
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  if (line.empty()) return ErrorAt(file, ref.at, what + " file '" + path + "' is empty");
  return line;
}

// The first error of re-reading an entry CheckBridges accepted (not expected).
Status Unchecked(const ConfigErrors& errors) {
  return Status::InvalidArgument(errors.empty() ? "sink settings not checked" : errors.Formatted().front());
}

RejectedAlertHandler BindRejected(const SinkEnvironment& env, std::string name) {
  if (!env.on_rejected) return nullptr;
  return [cb = env.on_rejected, name = std::move(name)](std::string_view json, std::string_view reason) {
    cb(name, json, reason);
  };
}

}  // namespace

void CheckWebhookSink(const SinkSettings& s, ConfigErrors& errors) { (void)ReadWebhook(s, errors); }

void CheckInfluxDbSink(const SinkSettings& s, ConfigErrors& errors) { (void)ReadInfluxDb(s, errors); }

Result<std::unique_ptr<Sink>> BuildWebhookSink(const SinkSettings& s, const RulesFile& file,
                                               const SinkEnvironment& env) {
  ConfigErrors errors(file.path);
  std::optional<WebhookConfig> c = ReadWebhook(s, errors);
  if (!c) return Unchecked(errors);
  WebhookSinkOptions& o = c->options;
  if (!c->token.empty()) {
    Result<std::string> token = ReadSecret(c->token, "sink 'webhook' token", file);
    if (!token.ok()) return token.status();
    o.bearer_token = std::move(token).value();
  }
  if (o.name.empty()) o.name = "webhook:" + ParseHttpUrl(o.url)->Origin();
  o.logger = env.logger;
  o.on_rejected = BindRejected(env, o.name);
  auto sink = WebhookSink::Create(std::move(o));
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(sink).value());
}

Result<std::unique_ptr<Sink>> BuildInfluxDbSink(const SinkSettings& s, const RulesFile& file,
                                                const SinkEnvironment& env) {
  ConfigErrors errors(file.path);
  std::optional<InfluxDbConfig> c = ReadInfluxDb(s, errors);
  if (!c) return Unchecked(errors);
  InfluxDbSinkOptions& o = c->options;
  if (!c->token.empty()) {
    Result<std::string> token = ReadSecret(c->token, "sink 'influxdb' token", file);
    if (!token.ok()) return token.status();
    o.token = std::move(token).value();
  }
  if (!c->password.empty()) {
    Result<std::string> password = ReadSecret(c->password, "sink 'influxdb' password", file);
    if (!password.ok()) return password.status();
    o.password = std::move(password).value();
  }
  if (o.name.empty()) {
    o.name = "influxdb:" + ParseHttpUrl(o.url)->Origin() + "/" + (o.version == 1 ? o.db : o.bucket);
  }
  o.logger = env.logger;
  o.on_rejected = BindRejected(env, o.name);
  auto sink = InfluxDbSink::Create(std::move(o));
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(sink).value());
}

}  // namespace vigil::bridges
