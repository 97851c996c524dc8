// Checking and building Kafka sources and sinks from the rules file.
#include "kafka/kafka_config.h"

#include <regex.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kafka/kafka_common.h"
#include "kafka/kafka_sink.h"
#include "kafka/kafka_source.h"
#include "vigil/bridges/bridge_factory.h"

namespace vigil::bridges {

namespace {

enum class Side { kSource, kSink };

// Brokers of a kafka sink that names none, when no kafka source gives them:
// a broker on this host, Kafka's usual port (DESIGN.md's example sink is
// `kafka: {topic: alerts}`).
constexpr const char* kDefaultSinkBrokers = "127.0.0.1:9092";

// librdkafka properties a rules file may set. Connection and security for
// both sides, tuning per side; what vigil sets itself is refused (Reserved).
const std::vector<std::string> kCommonProperties = {
    "security.protocol", "client.id", "client.rack", "socket.timeout.ms", "socket.keepalive.enable",
    "socket.connection.setup.timeout.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
    "broker.address.family", "metadata.max.age.ms", "topic.metadata.refresh.interval.ms", "debug"};
const std::vector<std::string> kSourceProperties = {
    "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "group.instance.id", "fetch.max.bytes",
    "max.partition.fetch.bytes", "fetch.min.bytes", "fetch.wait.max.ms", "queued.min.messages",
    "queued.max.messages.kbytes", "isolation.level", "check.crcs"};
const std::vector<std::string> kSinkProperties = {
    "compression.type", "linger.ms", "batch.num.messages", "batch.size", "queue.buffering.max.messages",
    "queue.buffering.max.kbytes", "message.max.bytes", "request.timeout.ms", "partitioner"};

// What vigil sets itself, and where the rules file says it instead.
const char* Reserved(const std::string& key) {
  if (key == "bootstrap.servers" || key == "metadata.broker.list") return "set it with 'brokers'";
  if (key == "group.id") return "set it with 'group'";
  if (key == "auto.offset.reset") return "set it with 'start: earliest|latest'";
  if (key == "enable.auto.commit" || key == "enable.auto.offset.store") {
    return "vigil commits offsets itself, once the checkpoint covering them is durable";
  }
  if (key == "partition.assignment.strategy") return "vigil uses cooperative-sticky";
  if (key == "acks" || key == "enable.idempotence") return "the sink always uses acks=all and enable.idempotence=true";
  if (key == "message.timeout.ms" || key == "delivery.timeout.ms") return "set it with 'timeout'";
  if (key == "statistics.interval.ms") return "vigil uses the statistics for vigil_source_connected";
  if (key == "sasl.password" || key == "ssl.key.password") {
    return "secrets do not belong in the rules file: use password_env or password_file (for sasl.password)";
  }
  return nullptr;
}

bool Allowed(const std::string& key, Side side) {
  if (key.rfind("sasl.", 0) == 0 || key.rfind("ssl.", 0) == 0) return true;
  const auto& own = side == Side::kSource ? kSourceProperties : kSinkProperties;
  return std::find(kCommonProperties.begin(), kCommonProperties.end(), key) != kCommonProperties.end() ||
         std::find(own.begin(), own.end(), key) != own.end();
}

// Reads `properties:` (a map of scalars), checking each against the
// whitelist and librdkafka's own validation.
kafka::Properties ReadProperties(const YAML::Node& n, Side side, const std::string& what, ConfigErrors& errors) {
  kafka::Properties out;
  if (!n.IsMap()) {
    errors.Add(n, what + ": 'properties' must be a map of librdkafka settings, e.g. {security.protocol: SASL_SSL}");
    return out;
  }
  kafka::ConfPtr probe(rd_kafka_conf_new());
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    if (const char* why = Reserved(key)) {
      errors.Add(kv.first, what + ": property '" + key + "' cannot be set here: " + why);
      continue;
    }
    if (!Allowed(key, side)) {
      std::vector<std::string> names = kCommonProperties;
      const auto& own = side == Side::kSource ? kSourceProperties : kSinkProperties;
      names.insert(names.end(), own.begin(), own.end());
      const std::string hint = DidYouMean(key, names);
      errors.Add(kv.first, what + ": property '" + key + "' is not passed to Kafka" +
                               (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                               "; allowed: sasl.*, ssl.*, security.protocol, client.id and the tuning settings "
                               "listed in docs/rules-reference.md");
      continue;
    }
    if (!kv.second.IsScalar()) {
      errors.Add(kv.second, what + ": property '" + key + "' must be a single value");
      continue;
    }
    Status st = kafka::SetProperty(probe.get(), key, kv.second.Scalar());
    if (!st.ok()) {
      errors.Add(kv.second, what + ": " + st.message());
      continue;
    }
    out.emplace_back(key, kv.second.Scalar());
  }
  return out;
}

bool ValidTopicName(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

// librdkafka matches "^..." subscriptions with POSIX extended regexes.
std::string RegexError(const std::string& pattern) {
  regex_t re;
  const int rc = regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc == 0) {
    regfree(&re);
    return "";
  }
  char buf[256];
  regerror(rc, &re, buf, sizeof buf);
  return buf;
}

void CheckBrokers(const YAML::Node& n, const std::string& what, ConfigErrors& errors) {
  auto list = ReadStringList(n, what + " 'brokers'", errors);
  if (!list) return;
  if (list->empty() || std::any_of(list->begin(), list->end(), [](const std::string& b) { return b.empty(); })) {
    errors.Add(n, what + ": 'brokers' must name at least one host:port");
  }
}

void CheckPassword(const YAML::Node& n, const std::string& what, ConfigErrors& errors) {
  if (n["password_env"]) (void)ReadString(n["password_env"], what + " 'password_env'", errors);
  if (n["password_file"]) (void)ReadString(n["password_file"], what + " 'password_file'", errors);
  if (n["password_env"] && n["password_file"]) {
    errors.Add(n["password_file"], what + ": give either password_env or password_file, not both");
  }
}

std::string JoinBrokers(const YAML::Node& n) {
  if (n.IsScalar()) return n.Scalar();
  std::string s;
  for (const auto& b : n) s += (s.empty() ? "" : ",") + b.Scalar();
  return s;
}

// sasl.password from password_env / password_file (never logged).
Result<kafka::Properties> WithPassword(kafka::Properties props, const YAML::Node& n, const RulesFile& file,
                                       const std::string& what) {
  if (n["password_env"]) {
    const std::string var = n["password_env"].Scalar();
    const char* v = std::getenv(var.c_str());
    if (v == nullptr || *v == '\0') {
      return Status::InvalidArgument(what + ": password_env names '" + var + "', which is not set or empty");
    }
    props.emplace_back("sasl.password", v);
  } else if (n["password_file"]) {
    const std::string path = ResolvePath(file.directory, n["password_file"].Scalar());
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidArgument(what + ": cannot read password_file '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string pw = ss.str();
    while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
    if (pw.empty()) return Status::InvalidArgument(what + ": password_file '" + path + "' is empty");
    props.emplace_back("sasl.password", std::move(pw));
  }
  return props;
}

// A kafka sink without `brokers` uses the first kafka source's brokers and
// security (its sasl.*, ssl.* and connection properties and its password),
// as the mqtt sink does with the first mqtt source; with no kafka source,
// kDefaultSinkBrokers.
const SourceSettings* FirstKafkaSource(const RulesFile& file) {
  for (const auto& s : file.sources) {
    if (s.kind == "kafka" && s.kind_node.IsMap()) return &s;
  }
  return nullptr;
}

bool InheritedByTheSink(const std::string& key) {
  return key.rfind("sasl.", 0) == 0 || key.rfind("ssl.", 0) == 0 ||
         std::find(kCommonProperties.begin(), kCommonProperties.end(), key) != kCommonProperties.end();
}

// Brokers, properties and the node holding password_env/password_file of a
// sink, inherited from `src` (may be null) where the sink has no brokers.
struct SinkConnection {
  std::string brokers;
  kafka::Properties properties;
  YAML::Node password_node;
  std::string inherited_from;  // source name, "" when the sink names its brokers or takes the default
};

SinkConnection ReadSinkConnection(const YAML::Node& n, const SourceSettings* src, const std::string& what,
                                  ConfigErrors& errors) {
  SinkConnection c;
  c.password_node.reset(n);  // reset, not =: assigning to a bound YAML::Node rewrites the node it refers to
  if (n["brokers"]) {
    c.brokers = JoinBrokers(n["brokers"]);
  } else if (src == nullptr) {
    c.brokers = kDefaultSinkBrokers;
  } else {
    const YAML::Node& s = src->kind_node;
    c.brokers = s["brokers"] ? JoinBrokers(s["brokers"]) : kDefaultSinkBrokers;
    c.inherited_from = src->name;
    ConfigErrors ignored(errors.file());  // reported at the source
    if (s["properties"] && s["properties"].IsMap()) {
      for (auto& [key, value] : ReadProperties(s["properties"], Side::kSource, what, ignored)) {
        if (InheritedByTheSink(key)) c.properties.emplace_back(key, value);
      }
    }
    if (!n["password_env"] && !n["password_file"]) c.password_node.reset(s);
  }
  if (n["properties"]) {
    for (auto& [key, value] : ReadProperties(n["properties"], Side::kSink, what, errors)) {
      const std::string& name = key;  // clang 14 does not capture structured bindings
      auto same = std::find_if(c.properties.begin(), c.properties.end(), [&](const auto& p) { return p.first == name; });
      if (same != c.properties.end()) c.properties.erase(same);  // the sink's own setting wins
      c.properties.emplace_back(key, value);
    }
  }
  return c;
}

}  // namespace

void CheckKafkaSource(const SourceSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.kind_node;
  const std::string what = "kafka source '" + s.name + "'";
  if (!n.IsMap()) {
    errors.Add(n, "source '" + s.name + "': 'kafka' must be a map such as {brokers: \"127.0.0.1:9092\", topics: "
                  "[sensors], group: vigil}");
    return;
  }
  CheckKeys(n,
            {"brokers", "topics", "group", "key_tag", "start", "properties", "password_env", "password_file",
             "topic_tags"},
            what, errors);
  if (!n["brokers"]) errors.Add(n, what + " needs 'brokers', e.g. brokers: \"127.0.0.1:9092\"");
  else CheckBrokers(n["brokers"], what, errors);
  if (!n["topics"]) {
    errors.Add(n, what + " needs 'topics': a list of topic names or ^regex patterns, e.g. topics: [sensors]");
  } else if (auto topics = ReadStringList(n["topics"], what + " 'topics'", errors)) {
    if (topics->empty()) errors.Add(n["topics"], what + ": 'topics' is empty");
    for (const auto& t : *topics) {
      if (t.rfind('^', 0) == 0) {
        const std::string err = RegexError(t);
        if (!err.empty()) errors.Add(n["topics"], what + ": topic pattern '" + t + "' is not a valid regular expression: " + err);
      } else if (!ValidTopicName(t)) {
        errors.Add(n["topics"], what + ": '" + t + "' is not a Kafka topic name (letters, digits, '.', '_', '-'; "
                                       "start a pattern with '^')");
      }
    }
  }
  if (!n["group"]) {
    errors.Add(n, what + " needs 'group' (the consumer group id; vigil commits its offsets there)");
  } else if (auto g = ReadString(n["group"], what + " 'group'", errors); g && g->empty()) {
    errors.Add(n["group"], what + ": 'group' is empty");
  }
  if (n["key_tag"]) (void)ReadString(n["key_tag"], what + " 'key_tag'", errors);
  if (n["start"]) {
    auto v = ReadString(n["start"], what + " 'start'", errors);
    if (v && *v != "earliest" && *v != "latest") {
      errors.Add(n["start"], what + ": start must be earliest or latest, got '" + *v + "'");
    }
  }
  if (n["properties"]) (void)ReadProperties(n["properties"], Side::kSource, what, errors);
  CheckPassword(n, what, errors);
  if (s.topic_tags_node.IsDefined()) {
    // Kafka topic names have no levels ('/' is not allowed in them).
    errors.Add(s.topic_tags_node, what + ": topic_tags is for MQTT topics; use key_tag for the Kafka message key");
  }
}

void CheckKafkaSink(const SinkSettings& s, ConfigErrors& errors) {
  const YAML::Node& n = s.node;
  const std::string what = "sink 'kafka'";
  if (!n.IsMap()) {
    errors.Add(n, "sink 'kafka' needs a map such as {brokers: \"127.0.0.1:9092\", topic: alerts}");
    return;
  }
  CheckKeys(n, {"brokers", "topic", "properties", "password_env", "password_file", "timeout", "outbox"}, what, errors);
  if (n["brokers"]) CheckBrokers(n["brokers"], what, errors);  // else inherited or the default (FirstKafkaSource)
  if (!n["topic"]) {
    errors.Add(n, what + " needs 'topic', e.g. topic: alerts");
  } else if (auto t = ReadString(n["topic"], what + " 'topic'", errors); t && !ValidTopicName(*t)) {
    errors.Add(n["topic"], what + ": '" + *t + "' is not a Kafka topic name (letters, digits, '.', '_', '-')");
  }
  if (n["timeout"]) {
    auto ms = ReadDurationMs(n["timeout"], what + " 'timeout'", errors);
    if (ms && (*ms < 100 || *ms > 3600000)) errors.Add(n["timeout"], what + ": timeout must be between 100ms and 1h");
  }
  if (n["properties"]) (void)ReadProperties(n["properties"], Side::kSink, what, errors);
  CheckPassword(n, what, errors);
}

Result<std::unique_ptr<Source>> BuildKafkaSource(const SourceSettings& s, const RulesFile& file, Logger* logger) {
  const YAML::Node& n = s.kind_node;
  const std::string what = "kafka source '" + s.name + "'";
  KafkaSourceOptions o;
  o.name = s.name;
  o.brokers = JoinBrokers(n["brokers"]);
  if (n["topics"].IsScalar()) o.topics.push_back(n["topics"].Scalar());
  else for (const auto& t : n["topics"]) o.topics.push_back(t.Scalar());
  o.group = n["group"].Scalar();
  if (n["key_tag"]) o.key_tag = n["key_tag"].Scalar();
  o.start_latest = n["start"] && n["start"].Scalar() == "latest";
  ConfigErrors ignored(file.path);
  if (n["properties"]) o.properties = ReadProperties(n["properties"], Side::kSource, what, ignored);
  auto props = WithPassword(std::move(o.properties), n, file, what);
  if (!props.ok()) return props.status();
  o.properties = std::move(props).value();
  o.format = s.format;
  o.allowed_lateness_ms = s.allowed_lateness_ms;
  o.logger = logger;
  return std::unique_ptr<Source>(std::make_unique<KafkaSource>(std::move(o)));
}

Result<std::unique_ptr<Sink>> BuildKafkaSink(const SinkSettings& s, const RulesFile& file, Logger* logger) {
  const YAML::Node& n = s.node;
  const std::string what = "sink 'kafka'";
  KafkaSinkOptions o;
  o.topic = n["topic"].Scalar();
  ConfigErrors ignored(file.path);
  if (n["timeout"]) {
    if (auto ms = ReadDurationMs(n["timeout"], "timeout", ignored)) o.timeout = std::chrono::milliseconds(*ms);
  }
  SinkConnection c = ReadSinkConnection(n, FirstKafkaSource(file), what, ignored);
  o.brokers = c.brokers;
  auto props = WithPassword(std::move(c.properties), c.password_node, file, what);
  if (!props.ok()) return props.status();
  o.properties = std::move(props).value();
  o.logger = logger;
  if (logger != nullptr && !n["brokers"]) {
    logger->Log(LogLevel::kInfo, what + ": no 'brokers': using " + o.brokers +
                 (c.inherited_from.empty() ? " (the default)" : " and the security settings of kafka source '" +
                                                                     c.inherited_from + "'"));
  }
  auto sink = KafkaSink::Create(std::move(o));
  if (!sink.ok()) return Status::InvalidArgument(what + ": " + sink.status().message());
  return std::unique_ptr<Sink>(std::move(sink).value());
}

}  // namespace vigil::bridges
