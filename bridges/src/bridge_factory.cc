// Bridge factory: sources and sinks from the rules file.
#include "vigil/bridges/bridge_factory.h"

#include <cstdio>

#include "vigil/bridges/basic_sinks.h"
#include "vigil/bridges/file_source.h"

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
  errors.Add(n, "sink '" + s.kind + "' is not available in this build of vigil yet (available: stdout, file)");
}

}  // namespace

void CheckBridges(const RulesFile& file, ConfigErrors& errors) {
  for (const auto& s : file.sources) {
    if (s.kind == "file") {
      CheckFileSource(s, errors);
    } else if (!s.kind.empty()) {
      errors.Add(s.kind_node, "source '" + s.name + "': '" + s.kind +
                                  "' sources are not available in this build of vigil yet (available: file)");
    }
  }
  for (const auto& s : file.sinks) CheckSink(s, errors);
}

Result<std::vector<std::unique_ptr<Source>>> BuildSources(const RulesFile& file) {
  std::vector<std::unique_ptr<Source>> out;
  for (const auto& s : file.sources) {
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

Result<std::vector<std::unique_ptr<Sink>>> BuildSinks(const RulesFile& file, bool interactive) {
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
    } else {
      return Status::Unsupported("sink kind '" + s.kind + "' is not available");
    }
  }
  return out;
}

}  // namespace vigil::bridges
