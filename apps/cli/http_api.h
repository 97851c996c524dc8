// The HTTP API of `vigil run` (docs/http-api.md, docs/openapi.yaml): the
// routes it puts on the HttpServer and what they read from the running
// engine.
//
//   GET  /healthz                    process up
//   GET  /readyz                     200 when ApiContext::ready(), else 503
//   GET  /metrics                    ApiContext::metrics_text() (Prometheus text format)
//   GET  /api/v1/rules               definitions, active alerts and counters per rule
//   GET  /api/v1/alerts              ?state=active|all&rule=&severity=&limit=&<tag>=<value>
//   POST /api/v1/alerts              raise (or clear) a manual alert
//   POST /api/v1/alerts/{id}/ack     acknowledge an active alert
//   GET  /api/v1/alerts/stream       server-sent events, filters as /alerts, Last-Event-ID resume
//   GET  /api/v1/series/latest       ?<tag>=<value>&limit=: latest field values per series
//   POST /api/v1/ingest              JSON object, JSON array or NDJSON into the http source
//   POST /-/reload                   ApiContext::reload()
//   GET  /                           the live page
//
// Thread-safety: handlers run on the server's worker threads, concurrently;
// every callback in ApiContext must be thread-safe. The context (and what
// it points to) must outlive the server's Stop().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "vigil/bridges/http_ingest_source.h"
#include "vigil/engine/alert_board.h"
#include "vigil/engine/engine.h"
#include "vigil/engine/http_server.h"
#include "vigil/engine/rule.h"
#include "vigil/engine/status.h"

namespace vigil::cli {

struct ApiContext {
  // The rules now loaded (a copy of the current set: after a reload it
  // returns the new one). Null: no rules.
  std::function<std::vector<std::shared_ptr<const Rule>>()> rules;
  // Per-rule counters as one JSON object keyed by rule name, each value an
  // object that GET /api/v1/rules shows as that rule's "counters", e.g.
  // {"zone-overheat": {"evaluations": 1200, "alerts": 3}}. Null or invalid
  // JSON: every rule shows {}.
  std::function<std::string()> rule_counters;
  // Required: active and recent alerts, manual alerts, the event stream.
  AlertBoard* board = nullptr;
  // The `http` source fed by POST /api/v1/ingest; null: that route answers
  // 404 (no http source in the rules file).
  bridges::HttpIngestSource* ingest = nullptr;
  // The /metrics body, Prometheus text format 0.0.4. Null: empty body.
  std::function<std::string()> metrics_text;
  // Readiness for /readyz (sources connected, state loaded). Null: ready.
  std::function<bool()> ready;
  // POST /-/reload. InvalidArgument (a rules-file error, "file:line:col: ...")
  // answers 400, any other error 500. Null: 501.
  std::function<Status()> reload;
  // Called (on an HTTP thread) after a manual alert was raised or cleared,
  // with the transition, to hand it to the sinks (Engine::SubmitAlert). An
  // error answers 503 (the alert stays on the board). Optional.
  std::function<Status(ExternalAlert transition)> on_manual_alert;
  // GET /api/v1/series/latest (Engine::LatestSeriesJson): InvalidArgument
  // answers 400, Unsupported 503. Null: 404.
  std::function<Result<std::string>(const SeriesQuery& query)> latest_series;
};

// Registers every route above on `server` (before server.Start()). `ctx`
// is kept by reference.
void RegisterApiRoutes(HttpServer& server, ApiContext& ctx);

}  // namespace vigil::cli
