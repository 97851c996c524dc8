// The rules file's `mqtt:` sources and sinks.
#include "mqtt/mqtt_config.h"

#include "mqtt/mqtt_session.h"
#include "mqtt/topic_pattern.h"
#include "vigil/bridges/mqtt_sink.h"
#include "vigil/bridges/mqtt_source.h"
#include "vigil/engine/topic_filter.h"

namespace vigil::bridges {

namespace {

std::vector<std::string> With(std::vector<std::string> keys, std::initializer_list<const char*> more) {
  for (const char* k : more) keys.emplace_back(k);
  return keys;
}

// An mqtt sink without a url talks to the broker of the first mqtt source.
const YAML::Node* FirstMqttSource(const RulesFile& file) {
  for (const auto& s : file.sources) {
    if (s.kind == "mqtt" && s.kind_node.IsMap()) return &s.kind_node;
  }
  return nullptr;
}

MqttConnectionSettings SinkConnection(const SinkSettings& s, const RulesFile& file, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  ConfigErrors ignored(errors.file());
  const YAML::Node* src = FirstMqttSource(file);
  MqttConnectionSettings c = ReadMqttConnection(n, "sink 'mqtt'", file.directory, DefaultMqttClientId("alerts"), errors);
  if (!n["url"] && src != nullptr) {
    // Inherit the source's broker and credentials, with the sink's own client id.
    MqttConnectionSettings from = ReadMqttConnection(*src, "mqtt source", file.directory, c.client_id, ignored);
    from.client_id = n["client_id"] ? c.client_id : DefaultMqttClientId("alerts");
    from.clean_start = c.clean_start;
    return from;
  }
  return c;
}

std::string Joined(const ConfigErrors& errors) {
  std::string out;
  for (const auto& e : errors.Formatted()) out += (out.empty() ? "" : "\n") + e;
  return out;
}

int ReadQos(const YAML::Node& n, const std::string& what, ConfigErrors& errors) {
  if (!n["qos"]) return 1;
  auto v = ReadInt(n["qos"], what + " 'qos'", 0, 2, errors);
  return v ? static_cast<int>(*v) : 1;
}

}  // namespace

void CheckMqttSource(const SourceSettings& s, const RulesFile& file, ConfigErrors& errors) {
  const YAML::Node& n = s.kind_node;
  const std::string what = "mqtt source '" + s.name + "'";
  if (!n.IsMap()) {
    errors.Add(n, what + ": 'mqtt' must be a map such as {url: tcp://127.0.0.1:1883, topics: [\"sensors/#\"]}");
    return;
  }
  CheckKeys(n, With(MqttConnectionKeys(), {"topics", "qos", "queue_messages", "topic_tags"}), what, errors);
  (void)ReadMqttConnection(n, what, file.directory, DefaultMqttClientId(s.name), errors);
  if (!n["topics"]) {
    errors.Add(n, what + " needs 'topics', e.g. topics: [\"entrepot/+/+/v1\"]");
  } else if (auto topics = ReadStringList(n["topics"], what + " 'topics'", errors)) {
    if (topics->empty()) errors.Add(n["topics"], what + ": 'topics' must list at least one topic filter");
    for (const auto& t : *topics) {
      std::string filter = t;
      if (filter.rfind("$share/", 0) == 0) {
        const size_t slash = filter.find('/', 7);
        if (slash == std::string::npos || slash == 7) {
          errors.Add(n["topics"], what + ": a shared subscription is $share/<group>/<filter>, got '" + t + "'");
          continue;
        }
        filter = filter.substr(slash + 1);
      }
      const std::string bad = CheckTopicFilter(filter);
      if (!bad.empty()) errors.Add(n["topics"], what + ": topic '" + t + "': " + bad);
    }
  }
  (void)ReadQos(n, what, errors);
  if (n["queue_messages"]) (void)ReadInt(n["queue_messages"], what + " 'queue_messages'", 1, 1 << 24, errors);
  for (const auto& t : s.topic_tags) {
    auto parsed = TopicTagTemplate::Parse(t);
    if (!parsed.ok()) errors.Add(s.topic_tags_node, "source '" + s.name + "': " + parsed.status().message());
  }
}

void CheckMqttSink(const SinkSettings& s, const RulesFile& file, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  if (!n.IsMap()) {
    errors.Add(n, "sink 'mqtt' must be a map such as {topic: \"alerts/{rule}/{zone}\", qos: 1, retain: true}");
    return;
  }
  CheckKeys(n, With(MqttConnectionKeys(), {"topic", "qos", "retain", "timeout", "outbox"}), "sink 'mqtt'", errors);
  (void)SinkConnection(s, file, errors);
  if (n["topic"]) {
    if (auto v = ReadString(n["topic"], "sink 'mqtt' topic", errors)) {
      auto t = TopicTemplate::Parse(*v);
      if (!t.ok()) errors.Add(n["topic"], "sink 'mqtt': " + t.status().message());
    }
  }
  (void)ReadQos(n, "sink 'mqtt'", errors);
  if (n["retain"]) (void)ReadBool(n["retain"], "sink 'mqtt' retain", errors);
  if (n["timeout"]) (void)ReadDurationMs(n["timeout"], "sink 'mqtt' timeout", errors);
}

Result<std::unique_ptr<Source>> BuildMqttSource(const SourceSettings& s, const RulesFile& file, Logger* logger,
                                                const std::string& journal_dir) {
  ConfigErrors errors(file.path);
  const YAML::Node& n = s.kind_node;
  MqttSourceOptions o;
  o.name = s.name;
  o.topics = ReadStringList(n["topics"], "topics", errors).value_or(std::vector<std::string>{});
  o.qos = ReadQos(n, "mqtt", errors);
  o.topic_tags = s.topic_tags;
  o.format = s.format;
  o.allowed_lateness_ms = s.allowed_lateness_ms;
  if (n["queue_messages"]) o.queue_messages = n["queue_messages"].as<size_t>();
  o.journal_dir = journal_dir;
  MqttConnectionSettings c = ReadMqttConnection(n, "mqtt source '" + s.name + "'", file.directory,
                                                DefaultMqttClientId(s.name), errors);
  if (!errors.empty()) return Status::InvalidArgument(Joined(errors));
  return std::unique_ptr<Source>(std::make_unique<MqttSource>(std::move(o), c, logger));
}

Result<std::unique_ptr<Sink>> BuildMqttSink(const SinkSettings& s, const RulesFile& file, Logger* logger) {
  ConfigErrors errors(file.path);
  const YAML::Node& n = s.node;
  MqttSinkOptions o;
  if (n["topic"]) o.topic = n["topic"].Scalar();
  o.qos = ReadQos(n, "mqtt", errors);
  if (n["retain"]) o.retain = ReadBool(n["retain"], "retain", errors).value_or(false);
  if (n["timeout"]) o.timeout_ms = ReadDurationMs(n["timeout"], "timeout", errors).value_or(o.timeout_ms);
  MqttConnectionSettings c = SinkConnection(s, file, errors);
  if (!errors.empty()) return Status::InvalidArgument(Joined(errors));
  auto sink = MqttSink::Create(std::move(o), c, logger);
  if (!sink.ok()) return sink.status();
  return std::unique_ptr<Sink>(std::move(sink).value());
}

}  // namespace vigil::bridges
