// Bridge factory: sources and sinks from the rules file.
#include "vigil/bridges/bridge_factory.h"

#include <cctype>
#include <cstdio>

#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/file_source.h"
#include "vigil/bridges/http_ingest_source.h"
#include "vigil/bridges/outbox_sink.h"
#include "http/http_sinks_config.h"
#include "kafka/kafka_config.h"
#include "mqtt/mqtt_config.h"

namespace vigil::bridges {

std::string ResolvePath(const std::string& dir, const std::string& path) {
  if (path.empty() || path == "-" || path[0] == '/' || dir.empty() || dir == ".") return path;
  return dir + "/" + path;
}

namespace {

void CheckFileSource(const SourceSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.kind_node;
  if (!n.IsMap()) {
    errors.Add(n, "source '" + s.name + "': 'file' must be a map such as {path: data.ndjson, follow: true}");
    return;
  }
  CheckKeys(n, {"path", "follow"}, "file source '" + s.name + "'", errors);
  if (!n["path"]) errors.Add(n, "file source '" + s.name + "' needs a 'path'");
  else (void)ReadStringList(n["path"], "file source 'path'", errors);
  if (n["follow"]) (void)ReadBool(n["follow"], "file source 'follow'", errors);
}

OutboxOptions ReadOutbox(const YAML::Node& sink, const std::string& what, ConfigErrors& errors);

void CheckSink(const SinkSettings& s, const RulesFile& file, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  if (s.kind == "mqtt") {
    CheckMqttSink(s, file, errors);
    (void)ReadOutbox(n, "sink 'mqtt'", errors);
    return;
  }
  if (s.kind == "kafka") {
    CheckKafkaSink(s, errors);
    (void)ReadOutbox(n, "sink 'kafka'", errors);
    return;
  }
  if (s.kind == "webhook") {
    CheckWebhookSink(s, errors);
    (void)ReadOutbox(n, "sink 'webhook'", errors);
    return;
  }
  if (s.kind == "influxdb") {
    CheckInfluxDbSink(s, errors);
    (void)ReadOutbox(n, "sink 'influxdb'", errors);
    return;
  }
  if (s.kind == "stdout") {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      errors.Add(n, "sink 'stdout' takes a map such as {format: text}");
      return;
    }
    CheckKeys(n, {"format"}, "sink 'stdout'", errors);
    if (n["format"] && (!n["format"].IsScalar() || (n["format"].Scalar() != "json" && n["format"].Scalar() != "text"))) {
      errors.Add(n["format"], "sink 'stdout': format must be json or text");
    }
    return;
  }
  if (s.kind == "file") {
    if (!n.IsMap() || !n["path"]) {
      errors.Add(n, "sink 'file' needs a path, e.g. {path: alerts.ndjson}");
      return;
    }
    CheckKeys(n, {"path", "fsync"}, "sink 'file'", errors);
    (void)ReadString(n["path"], "sink 'file' path", errors);
    if (n["fsync"]) (void)ReadBool(n["fsync"], "sink 'file' fsync", errors);
    return;
  }
  errors.Add(n, "sink '" + s.kind + "' is not available in this build of vigil yet (available: stdout, file, mqtt, kafka, webhook, influxdb)");
}

// `outbox: {max_alerts: N, retry_min: 100ms, retry_max: 30s, batch: N}` of a sink that can fail.
OutboxOptions ReadOutbox(const YAML::Node& sink, const std::string& what, ConfigErrors& errors) {
  OutboxOptions o;
  if (!sink.IsMap() || !sink["outbox"]) return o;
  const YAML::Node& n = sink["outbox"];
  if (!n.IsMap()) {
    errors.Add(n, what + ": 'outbox' must be a map such as {max_alerts: 1000000, retry_max: 30s}");
    return o;
  }
  CheckKeys(n, {"max_alerts", "batch", "retry_min", "retry_max", "drain_timeout"}, what + " 'outbox'", errors);
  if (n["max_alerts"]) {
    if (auto v = ReadInt(n["max_alerts"], what + " outbox 'max_alerts'", 1, int64_t{1} << 40, errors)) {
      o.max_alerts = static_cast<size_t>(*v);
    }
  }
  if (n["batch"]) {
    if (auto v = ReadInt(n["batch"], what + " outbox 'batch'", 1, 100000, errors)) o.batch = static_cast<size_t>(*v);
  }
  if (n["retry_min"]) o.retry_min_ms = ReadDurationMs(n["retry_min"], what + " outbox 'retry_min'", errors).value_or(o.retry_min_ms);
  if (n["retry_max"]) o.retry_max_ms = ReadDurationMs(n["retry_max"], what + " outbox 'retry_max'", errors).value_or(o.retry_max_ms);
  if (n["drain_timeout"]) {
    o.drain_timeout_ms = ReadDurationMs(n["drain_timeout"], what + " outbox 'drain_timeout'", errors).value_or(o.drain_timeout_ms);
  }
  return o;
}

// Wraps a sink that can fail in its durable outbox and starts delivery.
Result<std::unique_ptr<Sink>> WithOutbox(std::unique_ptr<Sink> inner, const YAML::Node& node, const RulesFile& file,
                                         const BridgeContext& context) {
  ConfigErrors errors(file.path);
  OutboxOptions o = ReadOutbox(node, "sink '" + inner->name() + "'", errors);
  auto outbox = std::make_unique<OutboxSink>(std::move(inner), context.state, o, context.logger);
  Status st = outbox->Start();
  if (!st.ok()) return st;
  return std::unique_ptr<Sink>(std::move(outbox));
}

}  // namespace

void CheckHttpSource(const SourceSettings& s, const RulesFile& file, int* http_sources, ConfigErrors& errors) {
  const YAML::Node& n = s.kind_node;
  if (!n.IsNull() && !n.IsMap()) {
    errors.Add(n, "source '" + s.name + "': 'http' takes a map, e.g. http: {} (messages arrive on POST /api/v1/ingest)");
    return;
  }
  CheckKeys(n, {"queue_messages"}, "http source '" + s.name + "'", errors);
  if (n.IsMap() && n["queue_messages"]) (void)ReadInt(n["queue_messages"], "queue_messages", 1, 1 << 24, errors);
  if (++*http_sources > 1) errors.Add(n, "only one 'http' source is supported (POST /api/v1/ingest feeds it)");
  if (file.http.listen.empty()) {
    errors.Add(n, "source '" + s.name + "' receives POST /api/v1/ingest: set http.listen, e.g. http: {listen: "
                  "127.0.0.1:9464}");
  }
}

void CheckBridges(const RulesFile& file, ConfigErrors& errors) {
  int http_sources = 0;
  for (const auto& s : file.sources) {
    if (s.topic_tags_node.IsDefined() && s.kind != "mqtt" && s.kind != "kafka") {
      errors.Add(s.topic_tags_node, "source '" + s.name + "': topic_tags needs a source with topics (mqtt)");
    }
    if (s.kind == "file") {
      CheckFileSource(s, errors);
    } else if (s.kind == "http") {
      CheckHttpSource(s, file, &http_sources, errors);
    } else if (s.kind == "mqtt") {
      CheckMqttSource(s, file, errors);
    } else if (s.kind == "kafka") {
      CheckKafkaSource(s, errors);
    } else if (!s.kind.empty()) {
      errors.Add(s.kind_node, "source '" + s.name + "': '" + s.kind +
                                  "' sources are not available in this build of vigil yet (available: file, http, mqtt, kafka)");
    }
  }
  for (const auto& s : file.sinks) CheckSink(s, file, errors);
}

std::string JournalDir(const std::string& state_dir, const std::string& source) {
  if (state_dir.empty()) return {};
  std::string safe;
  for (char c : source) safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  if (safe != source || safe.empty()) {  // keep distinct names distinct
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : source) h = (h ^ c) * 1099511628211ULL;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    safe += "-";
    safe += hex;
  }
  return state_dir + "/journal/" + safe;
}

Result<std::vector<std::unique_ptr<Source>>> BuildSources(const RulesFile& file, const BridgeContext& context) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : file.sources) {
    if (s.kind == "mqtt") {
      auto source = BuildMqttSource(s, file, context.logger, JournalDir(context.state_dir, s.name));
      if (!source.ok()) return source.status();
      out.push_back(std::move(source).value());
      continue;
    }
    if (s.kind == "kafka") {
      auto source = BuildKafkaSource(s, file, context.logger);
      if (!source.ok()) return source.status();
      out.push_back(std::move(source).value());
      continue;
    }
    if (s.kind == "http") {
      HttpIngestSourceOptions o;
      o.name = s.name;
      o.format = s.format;
      o.allowed_lateness_ms = s.allowed_lateness_ms;
      if (s.kind_node.IsMap() && s.kind_node["queue_messages"]) {
        o.queue_messages = s.kind_node["queue_messages"].as<size_t>();
      }
      o.journal_dir = JournalDir(context.state_dir, s.name);
      o.logger = context.logger;
      out.push_back(std::make_unique<HttpIngestSource>(std::move(o)));
      continue;
    }
    if (s.kind != "file") return Status::Unsupported("source kind '" + s.kind + "' is not available");
    FileSourceOptions o;
    o.name = s.name;
    const YAML::Node& n = s.kind_node;
    if (n["path"].IsScalar()) {
      o.paths.push_back(ResolvePath(file.directory, n["path"].Scalar()));
    } else {
      for (const auto& p : n["path"]) o.paths.push_back(ResolvePath(file.directory, p.Scalar()));
    }
    o.follow = n["follow"] && n["follow"].Scalar() == "true";
    o.format = s.format;
    o.allowed_lateness_ms = s.allowed_lateness_ms;
    out.push_back(std::make_unique<FileSource>(std::move(o)));
  }
  return out;
}

Result<std::vector<std::unique_ptr<Sink>>> BuildSinks(const RulesFile& file, bool interactive,
                                                      const BridgeContext& context) {
  std::vector<std::unique_ptr<Sink>> out;
  for (const auto& s : file.sinks) {
    if (s.kind == "mqtt") {
      auto sink = BuildMqttSink(s, file, context.logger);
      if (!sink.ok()) return sink.status();
      auto wrapped = WithOutbox(std::move(sink).value(), s.node, file, context);
      if (!wrapped.ok()) return wrapped.status();
      out.push_back(std::move(wrapped).value());
    } else if (s.kind == "kafka") {
      auto sink = BuildKafkaSink(s, file, context.logger);
      if (!sink.ok()) return sink.status();
      auto wrapped = WithOutbox(std::move(sink).value(), s.node, file, context);
      if (!wrapped.ok()) return wrapped.status();
      out.push_back(std::move(wrapped).value());
    } else if (s.kind == "webhook" || s.kind == "influxdb") {
      const SinkEnvironment env{context.logger, context.on_rejected};
      auto sink = s.kind == "webhook" ? BuildWebhookSink(s, file, env) : BuildInfluxDbSink(s, file, env);
      if (!sink.ok()) return sink.status();
      auto wrapped = WithOutbox(std::move(sink).value(), s.node, file, context);
      if (!wrapped.ok()) return wrapped.status();
      out.push_back(std::move(wrapped).value());
    } else if (s.kind == "stdout") {
      const bool text = s.node.IsMap() && s.node["format"] && s.node["format"].Scalar() == "text";
      out.push_back(std::make_unique<StreamSink>("stdout", stdout,
                                                 text ? StreamSink::Format::kText : StreamSink::Format::kJson,
                                                 text && interactive));
    } else if (s.kind == "file") {
      const bool fsync = s.node["fsync"] && s.node["fsync"].Scalar() == "true";
      auto sink = FileSink::Open(ResolvePath(file.directory, s.node["path"].Scalar()), fsync);
      if (!sink.ok()) return sink.status();
      out.push_back(std::move(sink).value());
    } else {
      return Status::Unsupported("sink kind '" + s.kind + "' is not available");
    }
  }
  return out;
}

}  // namespace vigil::bridges
