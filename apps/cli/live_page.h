// The live page served at `/`: one self-contained HTML document (CSS and
// JavaScript inline, no CDN, no build step) showing the active alerts
// (kept current by the /api/v1/alerts/stream server-sent events), per-rule
// counts (polls /api/v1/rules every 2 s), messages per second and queue
// depths (derived from /metrics every 2 s; absent metrics show "–").
//
// Without a token it uses EventSource; when the API answers 401 it asks for
// the token once (kept in sessionStorage for the tab) and then reads the
// stream with fetch(), which can send the Authorization header. Either way
// it resumes with Last-Event-ID after a disconnect.
//
// Stable hooks for tests: each active alert is a <tr> in
// `#alerts tbody` with data-id (the alert id) and data-rule; `#conn` reads
// "live" while the stream is connected; `#rate` holds messages/s.
#pragma once

#include <string_view>

namespace vigil::cli {

inline constexpr std::string_view kLivePageHtml = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vigil — live</title>
<style>
  :root { --bg:#111418; --panel:#1a1f26; --fg:#e6e9ef; --dim:#8a93a3; --line:#2a313b;
          --critical:#ff4d4f; --major:#fa8c16; --warning:#fadb14; --info:#40a9ff; --ok:#52c41a; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:24px; align-items:baseline; padding:12px 20px; border-bottom:1px solid var(--line); flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
  .stat { color:var(--dim); } .stat b { color:var(--fg); font-size:16px; }
  #conn { padding:1px 8px; border-radius:10px; background:#442; color:#fc6; }
  #conn.live { background:#143; color:var(--ok); }
  main { padding:16px 20px; display:grid; gap:20px; }
  section { background:var(--panel); border:1px solid var(--line); border-radius:6px; padding:12px 14px; overflow-x:auto; }
  h2 { font-size:14px; text-transform:uppercase; letter-spacing:1px; color:var(--dim); margin:0 0 8px; }
  table { border-collapse:collapse; width:100%; }
  th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--dim); font-weight:600; font-size:12px; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  .sev { display:inline-block; min-width:64px; text-align:center; padding:1px 6px; border-radius:3px; color:#111; font-weight:600; font-size:12px; }
  .sev.critical { background:var(--critical); } .sev.major { background:var(--major); }
  .sev.warning { background:var(--warning); } .sev.info { background:var(--info); }
  .empty { color:var(--dim); font-style:italic; }
  .acked { color:var(--dim); }
  button { background:#2a313b; color:var(--fg); border:1px solid #3a4350; border-radius:3px; padding:2px 8px; cursor:pointer; }
  button:hover { background:#3a4350; }
  code { color:#b3c7ff; }
  #tokenbox { display:none; gap:8px; align-items:center; }
  #tokenbox.show { display:flex; }
  input { background:#0d1014; color:var(--fg); border:1px solid #3a4350; border-radius:3px; padding:3px 6px; }
</style>
</head>
<body>
<header>
  <h1>vigil</h1>
  <span id="conn">connecting</span>
  <span class="stat">active alerts <b id="active-count">0</b></span>
  <span class="stat">messages/s <b id="rate">–</b></span>
  <span class="stat">queue <b id="queues">–</b></span>
  <form id="tokenbox"><label for="token">API token</label><input id="token" type="password" autocomplete="off"><button>use</button></form>
</header>
<main>
  <section>
    <h2>Active alerts</h2>
    <table id="alerts">
      <thead><tr><th>severity</th><th>rule</th><th>key</th><th>since</th><th>count</th><th>message</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Rules</h2>
    <table id="rules">
      <thead><tr><th>rule</th><th>kind</th><th>severity</th><th class="num">active</th><th>counters</th><th>when</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const state = { alerts: new Map(), lastId: "", token: sessionStorage.getItem("vigil-token") || "",
                prevCount: null, prevTime: 0, source: null, fetching: false };
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function authHeaders(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}
function setConn(live) { const c = $("conn"); c.textContent = live ? "live" : "reconnecting"; c.classList.toggle("live", live); }
function needToken() { $("tokenbox").classList.add("show"); $("conn").textContent = "token needed"; $("conn").classList.remove("live"); }
async function api(path, opts) {
  opts = opts || {};
  const r = await fetch(path, Object.assign({}, opts, { headers: authHeaders(opts.headers), cache: "no-store" }));
  if (r.status === 401) { needToken(); throw new Error("unauthorized"); }
  return r;
}
function fmtTime(ms) { try { return new Date(ms).toISOString().replace("T", " ").replace("Z", ""); } catch (e) { return String(ms); } }
function fmtKey(key) { return Object.entries(key || {}).map(([k, v]) => esc(k) + "=" + esc(v)).join(" "); }

function renderAlerts() {
  const rows = [...state.alerts.values()].sort((a, b) => (b.ts - a.ts) || (a.id < b.id ? -1 : 1));
  const body = $("alerts").tBodies[0];
  $("active-count").textContent = rows.length;
  if (rows.length === 0) { body.innerHTML = '<tr><td colspan="7" class="empty">no active alerts</td></tr>'; return; }
  body.innerHTML = rows.map((a) =>
    '<tr data-id="' + esc(a.id) + '" data-rule="' + esc(a.rule) + '"' + (a.acked ? ' class="acked"' : "") + ">" +
    '<td><span class="sev ' + esc(a.severity) + '">' + esc(a.severity) + "</span></td>" +
    "<td>" + esc(a.rule) + "</td><td>" + fmtKey(a.key) + "</td><td>" + esc(fmtTime(a.ts)) + "</td>" +
    '<td class="num">' + esc(a.count == null ? 1 : a.count) + "</td><td>" + esc(a.message || "") + "</td>" +
    "<td>" + (a.acked ? "acked by " + esc(a.acked_by || "") : '<button data-ack="' + esc(a.id) + '">ack</button>') + "</td></tr>"
  ).join("");
}

function applyEvent(type, data, id) {
  if (id) state.lastId = id;
  let d;
  try { d = JSON.parse(data); } catch (e) { return; }
  if (type === "snapshot") {
    state.alerts.clear();
    for (const a of d.alerts || []) state.alerts.set(a.id, a);
  } else if (type === "alert") {
    if (d.state === "raised") state.alerts.set(d.id, Object.assign({ acked: false }, state.alerts.get(d.id) || {}, d));
    else state.alerts.delete(d.id);
  } else if (type === "ack") {
    const a = state.alerts.get(d.id);
    if (a) { a.acked = true; a.acked_by = d.acked_by; a.acked_at = d.acked_at; }
  }
  renderAlerts();
}

function connectEventSource() {
  const es = new EventSource("/api/v1/alerts/stream");
  state.source = es;
  for (const t of ["snapshot", "alert", "ack"]) es.addEventListener(t, (e) => applyEvent(t, e.data, e.lastEventId));
  es.onopen = () => setConn(true);
  es.onerror = async () => {
    setConn(false);
    if (es.readyState !== EventSource.CLOSED) return;  // the browser retries by itself
    state.source = null;
    try { await api("/api/v1/rules"); } catch (e) { return; }  // 401: needToken() shown
    await sleep(2000);
    connectEventSource();
  };
}

// The same stream through fetch(), which can send Authorization.
async function connectFetch() {
  if (state.fetching) return;
  state.fetching = true;
  while (state.token) {
    try {
      const h = { Accept: "text/event-stream" };
      if (state.lastId) h["Last-Event-ID"] = state.lastId;
      const r = await api("/api/v1/alerts/stream", { headers: h });
      if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
      setConn(true);
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      let buf = "", ev = { type: "", data: [], id: "" };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line === "") {
            if (ev.data.length) applyEvent(ev.type || "message", ev.data.join("\n"), ev.id);
            ev = { type: "", data: [], id: "" };
            continue;
          }
          if (line[0] === ":") continue;
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let v = c < 0 ? "" : line.slice(c + 1);
          if (v[0] === " ") v = v.slice(1);
          if (field === "data") ev.data.push(v);
          else if (field === "event") ev.type = v;
          else if (field === "id") ev.id = v;
        }
      }
    } catch (e) {
      if (String(e.message) === "unauthorized") break;
    }
    setConn(false);
    await sleep(2000);
  }
  state.fetching = false;
}

function connect() { if (state.token) connectFetch(); else connectEventSource(); }

async function pollRules() {
  try {
    const r = await api("/api/v1/rules");
    if (!r.ok) return;
    const d = await r.json();
    const body = $("rules").tBodies[0];
    const rules = d.rules || [];
    if (rules.length === 0) { body.innerHTML = '<tr><td colspan="6" class="empty">no rules</td></tr>'; return; }
    body.innerHTML = rules.map((x) =>
      "<tr><td>" + esc(x.name) + "</td><td>" + esc(x.kind) + '</td><td><span class="sev ' + esc(x.severity) + '">' +
      esc(x.severity) + '</span></td><td class="num">' + esc(x.active_alerts) + "</td><td>" +
      Object.entries(x.counters || {}).map(([k, v]) => esc(k) + " <b>" + esc(typeof v === "object" ? JSON.stringify(v) : v) + "</b>").join(" · ") +
      "</td><td><code>" + esc(x.when || "") + "</code></td></tr>").join("");
  } catch (e) { /* next poll */ }
}

// Sum of a metric's samples in Prometheus text, or null when absent.
function metricSamples(text, name) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith(name) || line[0] === "#") continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    let labels = "", value = rest;
    if (rest[0] === "{") { const e = rest.indexOf("}"); labels = rest.slice(1, e); value = rest.slice(e + 1); }
    const v = parseFloat(value.trim().split(" ")[0]);
    if (!isNaN(v)) out.push({ labels: labels, value: v });
  }
  return out;
}

async function pollMetrics() {
  try {
    const r = await api("/metrics");
    if (!r.ok) return;
    const text = await r.text();
    const received = metricSamples(text, "vigil_messages_received_total");
    const now = performance.now();
    if (received.length) {
      const total = received.reduce((s, x) => s + x.value, 0);
      if (state.prevCount !== null && now > state.prevTime) {
        const rate = Math.max(0, (total - state.prevCount) * 1000 / (now - state.prevTime));
        $("rate").textContent = rate >= 100 ? Math.round(rate).toLocaleString() : rate.toFixed(1);
      }
      state.prevCount = total;
      state.prevTime = now;
    }
    const queues = metricSamples(text, "vigil_queue_depth");
    if (queues.length) {
      $("queues").textContent = queues.map((q) => {
        const m = /shard="([^"]*)"/.exec(q.labels);
        return (m ? "#" + m[1] + " " : "") + q.value;
      }).join("  ");
    }
  } catch (e) { /* next poll */ }
}

$("alerts").addEventListener("click", async (e) => {
  const id = e.target && e.target.getAttribute("data-ack");
  if (!id) return;
  try {
    await api("/api/v1/alerts/" + encodeURIComponent(id) + "/ack",
              { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ by: "live page" }) });
  } catch (err) { /* shown by the next event */ }
});
$("tokenbox").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("vigil-token", state.token);
  $("tokenbox").classList.remove("show");
  if (state.source) { state.source.close(); state.source = null; }
  connect();
  pollRules();
  pollMetrics();
});

renderAlerts();
connect();
pollRules();
pollMetrics();
setInterval(pollRules, 2000);
setInterval(pollMetrics, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace vigil::cli
