// `vigil state inspect STATE_DIR`: what a state dir holds, as JSON, for
// operators: the checkpoint's progress, every source's position, every
// rule's stored definition and key count, every open alert (with the id
// its clear will carry) and, on request, the keys themselves. Opens the
// database read-only, so it also works beside a running `vigil run`.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "vigil/engine/alert.h"
#include "vigil/engine/alert_dispatcher.h"
#include "vigil/engine/event.h"
#include "vigil/engine/state_header.h"
#include "vigil/engine/state_store.h"
#include "vigil/engine/timestamp.h"

namespace vigil::cli {

namespace {

struct InspectArgs {
  std::string dir;
  std::vector<std::string> key_filters;  // tag=value
  std::string rule;
  bool all_keys = false;
};

const char* PhaseName(uint8_t phase) { return phase == 2 ? "firing" : phase == 1 ? "pending" : "ok"; }

void AppendTs(std::string* out, int64_t ts) {
  if (ts == kMinTime) {
    *out += "null";
  } else {
    AppendJsonString(out, FormatIsoMillis(ts));
  }
}

int Inspect(const InspectArgs& a) {
  std::map<std::string, std::string> filters;
  for (const auto& f : a.key_filters) {
    const size_t eq = f.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "vigil state inspect: --key wants TAG=VALUE, got '%s'\n", f.c_str());
      return kExitUsage;
    }
    filters[f.substr(0, eq)] = f.substr(eq + 1);
  }
  auto opened = StateStore::Open(a.dir, /*read_only=*/true);
  if (!opened.ok()) {
    std::fprintf(stderr, "vigil state inspect: %s\n", opened.status().message().c_str());
    return kExitRuntime;
  }
  StateStore& store = **opened;
  auto rules = store.Rules();
  auto sources = store.Sources();
  auto progress = store.Progress();
  for (const Status* st : {&rules.status(), &sources.status(), &progress.status()}) {
    if (!st->ok()) {
      std::fprintf(stderr, "vigil state inspect: %s\n", st->message().c_str());
      return kExitRuntime;
    }
  }
  std::map<std::string, const StoredRule*, std::less<>> by_name;
  for (const auto& r : *rules) by_name[r.name] = &r;

  std::string out = "{\"state_dir\":";
  AppendJsonString(&out, a.dir);
  out += ",\"format\":" + std::to_string(StateStore::kFormatVersion) + ",\"progress\":";
  if (progress->has_value()) {
    const StoredProgress& p = **progress;
    out += "{\"checkpoint\":" + std::to_string(p.checkpoint) + ",\"written\":";
    AppendTs(&out, p.written_ms);
    out += ",\"watermark\":";
    AppendTs(&out, p.watermark);
    out += ",\"input_start\":";
    AppendTs(&out, p.start_ts);
    out += ",\"shards\":" + std::to_string(p.shards) + "}";
  } else {
    out += "null";
  }
  out += ",\"sources\":[";
  for (size_t i = 0; i < sources->size(); ++i) {
    const StoredSource& s = (*sources)[i];
    out += i ? ",{\"name\":" : "{\"name\":";
    AppendJsonString(&out, s.name);
    out += ",\"started\":";
    out += s.started ? "true" : "false";
    out += ",\"max_ts\":";
    AppendTs(&out, s.started ? s.max_ts : kMinTime);
    out += ",\"position\":";
    AppendJsonString(&out, s.position);
    out += "}";
  }
  out += "]";

  // One pass over the key states: counts per rule, open alerts, keys shown.
  std::map<std::string, uint64_t> counts, open_counts;
  std::string open_alerts, keys;
  uint64_t unreadable = 0;
  Status st = store.ForEachKey([&](std::string_view rule, const std::vector<std::string>& values,
                                   std::string_view blob, std::string_view parts) {
    ++counts[std::string(rule)];
    auto it = by_name.find(rule);
    const StoredRule* def = it != by_name.end() ? it->second : nullptr;
    Decoder in(blob);
    StateHeader h;
    if (!GetStateHeader(&in, &h)) {
      ++unreadable;
      return true;
    }
    bool match = a.rule.empty() || a.rule == rule;
    for (const auto& [tag, value] : filters) {
      bool found = false;
      for (size_t t = 0; def != nullptr && t < def->key_tags.size() && t < values.size(); ++t) {
        found = found || (def->key_tags[t] == tag && values[t] == value);
      }
      match = match && found;
    }
    std::string entry = "{\"rule\":";
    AppendJsonString(&entry, rule);
    entry += ",\"key\":{";
    for (size_t t = 0; t < values.size(); ++t) {
      if (t) entry += ",";
      AppendJsonString(&entry, def != nullptr && t < def->key_tags.size() ? def->key_tags[t] : std::to_string(t));
      entry += ":";
      AppendJsonString(&entry, values[t]);
    }
    entry += "},\"phase\":\"" + std::string(PhaseName(h.phase)) + "\"";
    if (h.firing()) {
      ++open_counts[std::string(rule)];
      std::string id = def != nullptr && def->key_tags.size() == values.size()
                           ? AlertId(std::string(rule), def->key_tags.data(), values.data(), values.size(), h.raise_ts)
                           : std::string();
      entry += ",\"alert_id\":";
      AppendJsonString(&entry, id);
      entry += ",\"raised\":";
      AppendTs(&entry, h.raise_ts);
      entry += ",\"count\":" + std::to_string(h.count);
    }
    entry += ",\"bytes\":" + std::to_string(blob.size() + parts.size()) + "}";
    if (h.firing() && match) open_alerts += (open_alerts.empty() ? "" : ",") + entry;
    if (match && (a.all_keys || !filters.empty())) keys += (keys.empty() ? "" : ",") + entry;
    return true;
  });
  if (!st.ok()) {
    std::fprintf(stderr, "vigil state inspect: %s\n", st.message().c_str());
    return kExitRuntime;
  }
  out += ",\"rules\":[";
  for (size_t i = 0; i < rules->size(); ++i) {
    const StoredRule& r = (*rules)[i];
    out += i ? ",{\"name\":" : "{\"name\":";
    AppendJsonString(&out, r.name);
    out += ",\"kind\":";
    AppendJsonString(&out, r.kind);
    out += ",\"key\":[";
    for (size_t t = 0; t < r.key_tags.size(); ++t) {
      if (t) out += ",";
      AppendJsonString(&out, r.key_tags[t]);
    }
    char hash[20];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(r.definition_hash));
    out += "],\"definition_hash\":\"" + std::string(hash) + "\",\"keys\":" + std::to_string(counts[r.name]) +
           ",\"open_alerts\":" + std::to_string(open_counts[r.name]) + "}";
  }
  out += "],\"open_alerts\":[" + open_alerts + "]";
  // Alerts waiting in the durable outboxes of sinks that can fail.
  auto outboxes = store.OutboxDepths();
  if (outboxes.ok()) {
    out += ",\"outboxes\":{";
    bool first = true;
    for (const auto& [sink, n] : *outboxes) {
      if (!first) out += ",";
      first = false;
      AppendJsonString(&out, sink);
      out += ":" + std::to_string(n);
    }
    out += "}";
  }
  if (a.all_keys || !filters.empty()) out += ",\"keys\":[" + keys + "]";
  if (unreadable > 0) out += ",\"unreadable_states\":" + std::to_string(unreadable);
  out += "}\n";
  std::fputs(out.c_str(), stdout);
  return kExitOk;
}

}  // namespace

void AddStateCommand(CLI::App& app, int* exit_code) {
  auto* state = app.add_subcommand("state", "Operate on a state dir (engine.state_dir)");
  state->require_subcommand(1);
  auto* inspect = state->add_subcommand("inspect", "Print what a state dir holds, as JSON (read-only)");
  auto a = std::make_shared<InspectArgs>();
  inspect->add_option("state_dir", a->dir, "The state dir (engine.state_dir of the rules file)")->required();
  inspect->add_option("--key", a->key_filters, "Show the keys with TAG=VALUE (repeat to narrow: all must match)");
  inspect->add_option("--rule", a->rule, "Only this rule's keys and open alerts");
  inspect->add_flag("--all-keys", a->all_keys, "List every stored key state (large with many keys)");
  inspect->callback([a, exit_code] { *exit_code = Inspect(*a); });
}

}  // namespace vigil::cli
