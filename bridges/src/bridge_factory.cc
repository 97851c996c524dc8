// Bridge factory: sources and sinks from the rules file.
#include "vigil/bridges/bridge_factory.h"

#include <cstdio>

#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/file_source.h"
#include "vigil/bridges/http_ingest_source.h"
#include "http/http_sinks_config.h"

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

void CheckSink(const SinkSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
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
  if (s.kind == "webhook") {
    CheckWebhookSink(s, errors);
    return;
  }
  if (s.kind == "influxdb") {
    CheckInfluxDbSink(s, errors);
    return;
  }
  errors.Add(n, "sink '" + s.kind + "' is not available in this build of vigil yet (available: stdout, file)");
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
    if (s.kind == "file") {
      CheckFileSource(s, errors);
    } else if (s.kind == "http") {
      CheckHttpSource(s, file, &http_sources, errors);
    } else if (!s.kind.empty()) {
      errors.Add(s.kind_node, "source '" + s.name + "': '" + s.kind +
                                  "' sources are not available in this build of vigil yet (available: file, http)");
    }
  }
  for (const auto& s : file.sinks) CheckSink(s, errors);
}

Result<std::vector<std::unique_ptr<Source>>> BuildSources(const RulesFile& file) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : file.sources) {
    if (s.kind == "http") {
      HttpIngestSourceOptions o;
      o.name = s.name;
      o.format = s.format;
      o.allowed_lateness_ms = s.allowed_lateness_ms;
      if (s.kind_node.IsMap() && s.kind_node["queue_messages"]) {
        o.queue_messages = s.kind_node["queue_messages"].as<size_t>();
      }
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
                                                      const SinkEnvironment& env) {
  std::vector<std::unique_ptr<Sink>> out;
  for (const auto& s : file.sinks) {
    if (s.kind == "stdout") {
      const bool text = s.node.IsMap() && s.node["format"] && s.node["format"].Scalar() == "text";
      out.push_back(std::make_unique<StreamSink>("stdout", stdout,
                                                 text ? StreamSink::Format::kText : StreamSink::Format::kJson,
                                                 text && interactive));
    } else if (s.kind == "file") {
      const bool fsync = s.node["fsync"] && s.node["fsync"].Scalar() == "true";
      auto sink = FileSink::Open(ResolvePath(file.directory, s.node["path"].Scalar()), fsync);
      if (!sink.ok()) return sink.status();
      out.push_back(std::move(sink).value());
    } else if (s.kind == "webhook" || s.kind == "influxdb") {
      auto sink = s.kind == "webhook" ? BuildWebhookSink(s, file, env) : BuildInfluxDbSink(s, file, env);
      if (!sink.ok()) return sink.status();
      out.push_back(std::move(sink).value());
    } else {
      return Status::Unsupported("sink kind '" + s.kind + "' is not available");
    }
  }
  return out;
}

}  // namespace vigil::bridges
