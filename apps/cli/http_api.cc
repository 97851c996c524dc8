// The HTTP API routes: request parsing (query filters, JSON bodies with
// simdjson DOM) and JSON responses; the state lives in ApiContext.
#include "cli/http_api.h"

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

#include "cli/live_page.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/timestamp.h"

namespace vigil::cli {

namespace {

constexpr size_t kDefaultLimit = 100;
constexpr size_t kMaxLimit = 10000;
constexpr size_t kDefaultSeriesLimit = 1000;

bool IsReservedQuery(const std::string& name) {
  return name == "state" || name == "rule" || name == "severity" || name == "limit" || name == "snapshot" ||
         name == "last_event_id";
}

bool KnownSeverity(std::string_view s) {
  return s == "critical" || s == "major" || s == "warning" || s == "info";
}

std::optional<uint64_t> ParseUint(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// rule=, severity= and every other non-reserved parameter as a key tag.
Result<AlertFilter> FilterFrom(const HttpRequest& req) {
  AlertFilter f;
  for (const auto& [name, value] : req.query) {
    if (name == "rule") f.rule = value;
    else if (name == "severity") {
      if (!KnownSeverity(value)) {
        return Status::InvalidArgument("unknown severity '" + value + "' (expected critical, major, warning or info)");
      }
      f.severity = value;
    } else if (!IsReservedQuery(name)) {
      if (name.empty()) return Status::InvalidArgument("empty query parameter name");
      f.tags.emplace_back(name, value);
    }
  }
  return f;
}

std::string SimdjsonError(simdjson::error_code e) { return simdjson::error_message(e); }

// A tag value from JSON: strings as they are, numbers and booleans as their text.
std::optional<std::string> TagText(simdjson::dom::element v) {
  switch (v.type()) {
    case simdjson::dom::element_type::STRING: return std::string(v.get_string().value());
    case simdjson::dom::element_type::INT64: return std::to_string(v.get_int64().value());
    case simdjson::dom::element_type::UINT64: return std::to_string(v.get_uint64().value());
    case simdjson::dom::element_type::DOUBLE: {
      std::string s;
      AppendJsonNumber(&s, v.get_double().value());
      return s;
    }
    case simdjson::dom::element_type::BOOL: return std::string(v.get_bool().value() ? "true" : "false");
    default: return std::nullopt;
  }
}

Result<int64_t> TsFrom(simdjson::dom::element v) {
  std::optional<int64_t> ts;
  switch (v.type()) {
    case simdjson::dom::element_type::STRING:
      ts = TimestampFromString(v.get_string().value(), TimeUnit::kAuto);
      break;
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: {
      std::string text = v.type() == simdjson::dom::element_type::INT64 ? std::to_string(v.get_int64().value())
                         : v.type() == simdjson::dom::element_type::UINT64 ? std::to_string(v.get_uint64().value())
                                                                             : std::string();
      if (text.empty()) AppendJsonNumber(&text, v.get_double().value());
      ts = TimestampFromNumberText(text, TimeUnit::kAuto);
      break;
    }
    default: break;
  }
  if (!ts) {
    return Status::InvalidArgument("'ts' must be epoch seconds/milliseconds or an ISO-8601 time such as "
                                   "2024-11-22T08:00:00Z");
  }
  return *ts;
}

// POST /api/v1/alerts body -> ManualAlert.
Result<ManualAlert> ParseManualAlert(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(body).get(doc); e != simdjson::SUCCESS) {
    return Status::InvalidArgument("invalid JSON: " + SimdjsonError(e));
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Status::InvalidArgument("expected a JSON object such as {\"rule\": \"door-open\", \"key\": {\"zone\": \"nord\"}}");
  }
  ManualAlert a;
  a.severity = "warning";
  for (auto field : obj) {
    const std::string_view name = field.key;
    simdjson::dom::element v = field.value;
    if (name == "rule" || name == "severity" || name == "message") {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) {
        return Status::InvalidArgument("'" + std::string(name) + "' must be a string");
      }
      (name == "rule" ? a.rule : name == "severity" ? a.severity : a.message) = std::string(s);
    } else if (name == "key" || name == "labels") {
      simdjson::dom::object o;
      if (v.get_object().get(o) != simdjson::SUCCESS) {
        return Status::InvalidArgument("'" + std::string(name) + "' must be an object of tag names to values");
      }
      for (auto kv : o) {
        auto text = TagText(kv.value);
        if (!text) {
          return Status::InvalidArgument("'" + std::string(name) + "." + std::string(kv.key) +
                                         "' must be a string, number or boolean");
        }
        if (name == "key") a.key.emplace_back(std::string(kv.key), std::move(*text));
        else a.labels[std::string(kv.key)] = std::move(*text);
      }
    } else if (name == "ts") {
      auto ts = TsFrom(v);
      if (!ts.ok()) return ts.status();
      a.ts = *ts;
    } else if (name == "state") {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS || (s != "raised" && s != "cleared")) {
        return Status::InvalidArgument("'state' must be \"raised\" or \"cleared\"");
      }
      a.clear = s == "cleared";
    } else {
      return Status::InvalidArgument("unknown field '" + std::string(name) +
                                     "' (expected rule, key, severity, message, labels, ts, state)");
    }
  }
  if (a.rule.empty()) return Status::InvalidArgument("'rule' is required: the name of the alert");
  return a;
}

HttpResponse FromStatus(const Status& st) {
  switch (st.code()) {
    case Status::Code::kInvalidArgument: return HttpResponse::Error(400, st.message());
    case Status::Code::kNotFound: return HttpResponse::Error(404, st.message());
    case Status::Code::kUnsupported: return HttpResponse::Error(503, st.message());
    default: return HttpResponse::Error(500, st.message());
  }
}

std::vector<std::shared_ptr<const Rule>> RulesOf(const ApiContext& ctx) {
  return ctx.rules ? ctx.rules() : std::vector<std::shared_ptr<const Rule>>{};
}

std::string RulesJson(const ApiContext& ctx) {
  const auto rules = RulesOf(ctx);
  const auto active = ctx.board->ActiveCountByRule();
  simdjson::dom::parser parser;
  simdjson::dom::object counters;
  bool have_counters = false;
  std::string counters_text;
  if (ctx.rule_counters) {
    counters_text = ctx.rule_counters();
    simdjson::dom::element doc;
    have_counters = parser.parse(counters_text).get(doc) == simdjson::SUCCESS &&
                    doc.get_object().get(counters) == simdjson::SUCCESS;
  }
  std::string j = "{\"rules\":[";
  for (size_t i = 0; i < rules.size(); ++i) {
    const RuleInfo& r = rules[i]->info();
    if (i) j += ',';
    j += "{\"name\":";
    AppendJsonString(&j, r.name);
    j += ",\"kind\":";
    AppendJsonString(&j, r.kind);
    j += ",\"severity\":";
    AppendJsonString(&j, r.severity);
    j += ",\"when\":";
    AppendJsonString(&j, r.when);
    j += ",\"key\":[";
    for (size_t k = 0; k < r.key_tags.size(); ++k) {
      if (k) j += ',';
      AppendJsonString(&j, r.key_tags[k]);
    }
    j += "],\"labels\":";
    AppendJsonStringMap(&j, r.labels);
    j += ",\"message\":";
    AppendJsonString(&j, r.message);
    auto it = active.find(r.name);
    j += ",\"active_alerts\":" + std::to_string(it == active.end() ? 0 : it->second);
    j += ",\"counters\":";
    simdjson::dom::object mine;
    if (have_counters && counters[r.name].get_object().get(mine) == simdjson::SUCCESS) {
      j += simdjson::minify(mine);
    } else {
      j += "{}";
    }
    j += '}';
  }
  j += "]}";
  return j;
}

HttpResponse GetAlerts(ApiContext& ctx, const HttpRequest& req) {
  auto filter = FilterFrom(req);
  if (!filter.ok()) return FromStatus(filter.status());
  const std::string* state = req.Query("state");
  size_t limit = kDefaultLimit;
  if (const std::string* l = req.Query("limit")) {
    auto v = ParseUint(*l);
    if (!v || *v == 0) return HttpResponse::Error(400, "'limit' must be a positive integer");
    limit = static_cast<size_t>(std::min<uint64_t>(*v, kMaxLimit));
  }
  if (state == nullptr || *state == "active") return HttpResponse::Json(200, ctx.board->ActiveJson(*filter));
  if (*state == "all") return HttpResponse::Json(200, ctx.board->RecentJson(*filter, limit));
  return HttpResponse::Error(400, "unknown state '" + *state + "' (expected active or all)");
}

HttpResponse PostAlert(ApiContext& ctx, const HttpRequest& req) {
  auto alert = ParseManualAlert(req.body);
  if (!alert.ok()) return FromStatus(alert.status());
  for (const auto& rule : RulesOf(ctx)) {
    if (rule->info().name == alert->rule) {
      return HttpResponse::Error(409, "'" + alert->rule +
                                          "' is a rule of the rules file; manual alerts need a name of their own");
    }
  }
  auto result = ctx.board->Raise(*alert);
  if (!result.ok()) return FromStatus(result.status());
  if (result->created && ctx.on_manual_alert) {
    const Status st = ctx.on_manual_alert(std::move(result->transition));
    if (!st.ok()) return HttpResponse::Error(503, "recorded on the alert board, but not written to the sinks: " + st.message());
  }
  return HttpResponse::Json(result->created && !alert->clear ? 201 : 200, std::move(result->json));
}

// GET /api/v1/series/latest: every parameter but `limit` is a tag equality.
HttpResponse GetLatestSeries(ApiContext& ctx, const HttpRequest& req) {
  if (!ctx.latest_series) return HttpResponse::Error(404, "latest values are not available in this mode");
  SeriesQuery q;
  q.limit = kDefaultSeriesLimit;
  for (const auto& [name, value] : req.query) {
    if (name == "limit") {
      auto v = ParseUint(value);
      if (!v || *v == 0) return HttpResponse::Error(400, "'limit' must be a positive integer");
      q.limit = static_cast<size_t>(std::min<uint64_t>(*v, kMaxLimit));
    } else if (name.empty()) {
      return HttpResponse::Error(400, "empty query parameter name");
    } else {
      q.tags.emplace_back(name, value);
    }
  }
  auto json = ctx.latest_series(q);
  if (!json.ok()) return FromStatus(json.status());
  return HttpResponse::Json(200, std::move(json).value());
}

HttpResponse PostAck(ApiContext& ctx, const HttpRequest& req) {
  std::string who = "api";
  if (req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (auto e = parser.parse(req.body).get(doc); e != simdjson::SUCCESS) {
      return HttpResponse::Error(400, "invalid JSON: " + SimdjsonError(e));
    }
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
      return HttpResponse::Error(400, "expected a JSON object such as {\"by\": \"alice\"}");
    }
    for (auto field : obj) {
      std::string_view s;
      if (field.key != "by") return HttpResponse::Error(400, "unknown field '" + std::string(field.key) + "' (expected by)");
      if (field.value.get_string().get(s) != simdjson::SUCCESS) return HttpResponse::Error(400, "'by' must be a string");
      who = std::string(s);
    }
  }
  auto acked = ctx.board->Ack(*req.Param("id"), who);
  if (!acked.ok()) return FromStatus(acked.status());
  return HttpResponse::Json(200, std::move(acked).value());
}

void StreamAlerts(ApiContext& ctx, const HttpRequest& req, SseStream& out) {
  auto filter = FilterFrom(req);
  if (!filter.ok()) {
    out.Reject(FromStatus(filter.status()));
    return;
  }
  std::optional<uint64_t> last;
  const std::string* last_text = req.Header("Last-Event-ID");
  if (last_text == nullptr || last_text->empty()) last_text = req.Query("last_event_id");
  if (last_text != nullptr && !last_text->empty()) last = ParseUint(*last_text).value_or(0);
  const std::string* snap = req.Query("snapshot");
  const bool snapshot = snap == nullptr || !(*snap == "false" || *snap == "0" || *snap == "no");
  auto sub = ctx.board->Subscribe(*filter, last, snapshot);
  if (sub == nullptr) {
    HttpResponse r = HttpResponse::Error(503, "too many alert stream subscribers");
    r.headers.emplace_back("Retry-After", "5");
    out.Reject(r);
    return;
  }
  if (!out.KeepAlive()) return;  // headers out now, before the first event
  while (true) {
    for (const BoardEvent& e : sub->Next(out.poll_interval())) {
      if (!out.Send(e.type, e.data, e.seq != 0 ? std::to_string(e.seq) : std::string())) return;
    }
    if (sub->closed() || !out.KeepAlive()) return;
  }
}

HttpResponse PostIngest(ApiContext& ctx, HttpRequest& req) {
  if (ctx.ingest == nullptr) {
    return HttpResponse::Error(404, "no http source: add one to the rules file, e.g. sources: - {name: api, http: {}}");
  }
  const std::string* type = req.Header("Content-Type");
  bridges::IngestResponse r = ctx.ingest->Submit(std::move(req.body), type != nullptr ? *type : std::string_view());
  HttpResponse out = HttpResponse::Json(r.status, std::move(r.body));
  if (r.status == 503) out.headers.emplace_back("Retry-After", "1");
  return out;
}

HttpResponse PostReload(ApiContext& ctx) {
  if (!ctx.reload) return HttpResponse::Error(501, "reload is not available in this mode");
  const Status st = ctx.reload();
  if (st.ok()) return HttpResponse::Json(200, "{\"status\":\"reloaded\"}");
  return HttpResponse::Error(st.code() == Status::Code::kInvalidArgument ? 400 : 500, st.message());
}

}  // namespace

void RegisterApiRoutes(HttpServer& server, ApiContext& ctx) {
  ApiContext* c = &ctx;
  server.Route("GET", "/healthz", [](HttpRequest&) { return HttpResponse::Json(200, "{\"status\":\"ok\"}"); });
  server.Route("GET", "/readyz", [c](HttpRequest&) {
    if (!c->ready || c->ready()) return HttpResponse::Json(200, "{\"status\":\"ready\"}");
    return HttpResponse::Error(503, "not ready: sources not connected or state not loaded yet");
  });
  server.Route("GET", "/metrics", [c](HttpRequest&) {
    return HttpResponse::Text(200, c->metrics_text ? c->metrics_text() : std::string(),
                              "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Route("GET", "/api/v1/rules", [c](HttpRequest&) { return HttpResponse::Json(200, RulesJson(*c)); });
  server.Route("GET", "/api/v1/alerts", [c](HttpRequest& req) { return GetAlerts(*c, req); });
  server.Route("POST", "/api/v1/alerts", [c](HttpRequest& req) { return PostAlert(*c, req); });
  server.Route("POST", "/api/v1/alerts/{id}/ack", [c](HttpRequest& req) { return PostAck(*c, req); });
  server.RouteStream("GET", "/api/v1/alerts/stream",
                     [c](const HttpRequest& req, SseStream& out) { StreamAlerts(*c, req, out); });
  server.Route("GET", "/api/v1/series/latest", [c](HttpRequest& req) { return GetLatestSeries(*c, req); });
  server.Route("POST", "/api/v1/ingest", [c](HttpRequest& req) { return PostIngest(*c, req); });
  server.Route("POST", "/-/reload", [c](HttpRequest&) { return PostReload(*c); });
  server.Route("GET", "/", [](HttpRequest&) {
    return HttpResponse::Text(200, std::string(kLivePageHtml), "text/html; charset=utf-8");
  });
}

}  // namespace vigil::cli
