// smokerd status page (decisions.md D14). Every datum comes from the API; every
// value a check printed is set as text (textContent), never as HTML.
"use strict";
const $ = (s) => document.querySelector(s);
const TOKEN_KEY = "smoker-token";
const STATES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"];
const SVG = "http://www.w3.org/2000/svg";
const checks = new Map(); // name -> {name, cat, state, lastRun, dur, out, row}
let sort = { key: "name", dir: 1 };
let current = null; // name of the check shown in detail
let denied = false;

function token() { return sessionStorage.getItem(TOKEN_KEY); }

class Denied extends Error {}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const r = await fetch(path, Object.assign({}, options, { headers }));
  if (r.status === 401) { askToken(t ? "The token was refused." : ""); throw new Denied("401"); }
  return r;
}

async function getJson(path) {
  const r = await api(path);
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.status);
  return body;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ""));
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function stateBadge(span, state) {
  span.className = "state s-" + (state || "none");
  span.textContent = state || "NOT RUN";
}

function show(section) {
  for (const id of ["token", "overview", "detail", "run"]) $("#" + id).hidden = id !== section;
}

function fail(e) {
  if (e instanceof Denied) return;
  const p = $("#error");
  p.hidden = false;
  p.textContent = "Error: " + e.message;
}

function askToken(message) {
  denied = true;
  show("token");
  $("#token-error").textContent = message;
  $("#token-input").focus();
}

function age(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return Math.round(s) + " s ago";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " d ago";
}

function fmtDur(d) { return d == null ? "" : d < 1 ? (d * 1000).toFixed(1) + " ms" : d.toFixed(2) + " s"; }

// ---------- overview ----------

function fromPlugin(p) {
  const r = p.lastResult;
  const params = p.parameters || {};
  return {
    name: p.name,
    cat: [params.Category, params.Component].filter((v) => v != null && v !== "").join("/"),
    state: r ? r.state : null,
    lastRun: r ? r.lastRun : null,
    dur: r ? r.duration : null,
    out: r ? (r.output || "").split("\n")[0] : "",
  };
}

function makeRow(c) {
  const badge = el("span");
  const link = el("a", { href: "#/check/" + encodeURIComponent(c.name) }, c.name);
  c.row = el("tr", {}, el("td", { class: "st" }, badge), el("td", { class: "name" }, link),
    el("td", { class: "cat" }), el("td", { class: "age" }), el("td", { class: "dur" }), el("td", { class: "out" }));
  c.row.dataset.name = c.name;
  fillRow(c);
}

function fillRow(c) {
  const cells = c.row.cells;
  stateBadge(cells[0].firstChild, c.state);
  cells[2].textContent = c.cat;
  cells[3].textContent = age(c.lastRun);
  cells[4].textContent = fmtDur(c.dur);
  cells[5].textContent = c.out;
  c.row.dataset.state = c.state || "none";
  c.key = (c.name + "\n" + c.out + "\n" + c.cat).toLowerCase();
}

async function loadOverview() {
  const body = await getJson("/plugins");
  const items = body.plugins.items.map((i) => fromPlugin(i.plugin));
  checks.clear();
  const cats = new Set();
  for (const c of items) { makeRow(c); checks.set(c.name, c); if (c.cat) cats.add(c.cat); }
  const select = $("#filter-cat");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "any"), ...[...cats].sort().map((c) => el("option", { value: c }, c)));
  select.value = chosen;
  applySort();
  applyFilter();
  counts();
}

function counts() {
  const n = { OK: 0, WARNING: 0, CRITICAL: 0, UNKNOWN: 0, none: 0 };
  for (const c of checks.values()) n[c.state || "none"]++;
  $("#counts").replaceChildren(...[...STATES, "none"].map((s) => {
    const li = el("li", { class: "s-" + s, "data-state": s }, el("b", {}, n[s]), s === "none" ? "NOT RUN" : s);
    return li;
  }));
}

function readFilter() {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  $("#filter-text").value = q.get("q") || "";
  $("#filter-state").value = q.get("state") || "";
  $("#filter-cat").value = q.get("cat") || "";
  if (q.get("sort")) sort = { key: q.get("sort"), dir: q.get("dir") === "desc" ? -1 : 1 };
}

function writeFilter() {
  const q = new URLSearchParams();
  const put = (k, v) => { if (v) q.set(k, v); };
  put("q", $("#filter-text").value);
  put("state", $("#filter-state").value);
  put("cat", $("#filter-cat").value);
  if (sort.key !== "name" || sort.dir !== 1) { q.set("sort", sort.key); q.set("dir", sort.dir < 0 ? "desc" : "asc"); }
  const hash = "#/" + (q.toString() ? "?" + q : "");
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

function applyFilter() {
  const text = $("#filter-text").value.toLowerCase();
  const state = $("#filter-state").value;
  const cat = $("#filter-cat").value;
  let shown = 0;
  for (const c of checks.values()) {
    const hit = (!state || (c.state || "none") === state) && (!cat || c.cat === cat) && (!text || c.key.includes(text));
    if (c.row.hidden === hit) c.row.hidden = !hit;
    if (hit) shown++;
  }
  $("#shown").textContent = shown + " of " + checks.size + " shown";
  writeFilter();
}

const RANK = { CRITICAL: 0, UNKNOWN: 1, WARNING: 2, OK: 3 };
function applySort() {
  const k = sort.key;
  const val = (c) => k === "state" ? RANK[c.state] ?? 4 : k === "age" ? -(Date.parse(c.lastRun) || 0) : k === "dur" ? c.dur ?? -1 : (c[k] || "").toLowerCase();
  const rows = [...checks.values()].sort((a, b) => { const x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : 0) * sort.dir; });
  $("#checks tbody").replaceChildren(...rows.map((c) => c.row));
  for (const th of document.querySelectorAll("#checks th")) {
    const key = th.firstChild.dataset.sort;
    if (key === k) th.setAttribute("aria-sort", sort.dir > 0 ? "ascending" : "descending"); else th.removeAttribute("aria-sort");
  }
}

// ---------- detail ----------

function timeline(results) {
  const w = 900, h = 40, n = Math.max(results.length, 1), bw = w / n;
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "state timeline, oldest first" });
  results.forEach((r, i) => {
    const rect = svg("rect", { x: i * bw, y: 0, width: Math.max(bw - 1, 1), height: h, class: "s-" + r.state });
    const t = svg("title"); t.textContent = r.lastRun + " " + r.state; rect.append(t);
    s.append(rect);
  });
  return s;
}

// Numbers of a Nagios range ("10", "5:10", "@~:3", "10:") to draw as lines.
function bounds(range) {
  if (range == null) return [];
  return String(range).replace(/^@/, "").split(":").filter((v) => v !== "" && v !== "~").map(Number).filter(Number.isFinite);
}

function lineChart(label, values, warn, crit) {
  const w = 900, h = 180, pad = 34;
  const all = values.filter(Number.isFinite).concat(warn, crit);
  let lo = Math.min(0, ...all), hi = Math.max(...all, lo + 1e-9);
  if (hi === lo) hi = lo + 1;
  const x = (i) => pad + (values.length < 2 ? (w - 2 * pad) / 2 : (i * (w - 2 * pad)) / (values.length - 1));
  const y = (v) => h - pad / 2 - ((v - lo) * (h - pad)) / (hi - lo);
  const s = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label });
  s.append(svg("line", { class: "axis", x1: pad, x2: w - pad, y1: y(lo), y2: y(lo) }));
  for (const [v, cls] of [[hi, ""], [lo, ""]]) {
    const t = svg("text", { x: 2, y: y(v) + 4, class: cls }); t.textContent = +v.toPrecision(4); s.append(t);
  }
  for (const [list, cls] of [[warn, "warn"], [crit, "crit"]]) {
    for (const v of list) {
      s.append(svg("line", { class: cls, x1: pad, x2: w - pad, y1: y(v), y2: y(v), "data-value": v }));
      const t = svg("text", { x: w - pad + 2, y: y(v) + 4 }); t.textContent = cls + " " + v; s.append(t);
    }
  }
  const pts = values.map((v, i) => [x(i), y(v)]).filter(([, py]) => Number.isFinite(py));
  if (pts.length > 1) s.append(svg("polyline", { class: "series", points: pts.map((p) => p.join(",")).join(" ") }));
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) return;
    const c = svg("circle", { class: "pt", cx: x(i), cy: y(v), r: 3, "data-value": v });
    const t = svg("title"); t.textContent = String(v); c.append(t);
    s.append(c);
  });
  return s;
}

function perfCharts(results) {
  const labels = new Map();
  results.forEach((r, i) => (r.perfdata || []).forEach((p) => {
    if (!labels.has(p.label)) labels.set(p.label, { values: new Array(results.length).fill(NaN), last: p });
    const l = labels.get(p.label); l.values[i] = p.value == null ? NaN : p.value; l.last = p;
  }));
  return [...labels].map(([label, l]) => {
    const div = el("div", { class: "chart perf-chart", "data-label": label });
    div.append(el("h3", {}, label + (l.last.uom ? " (" + l.last.uom + ")" : "")), lineChart(label, l.values, bounds(l.last.warn), bounds(l.last.crit)));
    return div;
  });
}

function runRow(name, run) {
  const link = el("a", { href: `#/run/${encodeURIComponent(name)}/${run.id}` }, run.startedAt);
  const badge = el("span");
  stateBadge(badge, run.state);
  const start = el("td", {}, link);
  if (run.catchUp) start.append(el("span", { class: "tag" }, "catch-up"));
  return el("tr", { "data-run": run.id }, start, el("td", {}, badge), el("td", {}, fmtDur(run.duration)), el("td", { class: "out" }, (run.output || "").split("\n")[0]));
}

async function loadDetail(name) {
  const [body, runs, schedule, spool] = await Promise.all([
    getJson("/plugins/" + encodeURIComponent(name)),
    getJson(`/v2/plugins/${encodeURIComponent(name)}/runs?limit=100`).catch(() => []),
    getJson(`/v2/plugins/${encodeURIComponent(name)}/schedule`).catch(() => ({ kind: "?", next: [] })),
    getJson("/v2/spool").catch(() => ({ actions: {} })),
  ]);
  if (current !== name) return;
  const p = body.plugin;
  const results = body.results.map((r) => r.result); // oldest first
  $("#detail-title").textContent = p.name;
  stateBadge($("#detail-state"), p.lastResult && p.lastResult.state);
  $("#detail-output").textContent = p.lastResult ? p.lastResult.output : "";
  $("#timeline").replaceChildren(timeline(results));
  $("#duration-chart").replaceChildren(lineChart("duration", results.map((r) => r.duration), [], []));
  $("#perf-charts").replaceChildren(...perfCharts(results));
  $("#runs tbody").replaceChildren(...runs.map((r) => runRow(name, r)));
  const params = Object.entries(p.parameters || {}).filter(([, v]) => v != null);
  const every = schedule.kind === "interval" ? "every " + schedule.every + " s" : schedule.kind === "cron" ? schedule.expr + (schedule.timeZone ? " (" + schedule.timeZone + ")" : "") : "on demand";
  params.push(["schedule", every]);
  params.push(["next slots", schedule.next.length ? schedule.next.join("\n") : "—"]);
  // The plugin shows its Action resolved, not by name: with an NSCA action, show every NSCA spool.
  if (JSON.stringify((p.parameters || {}).Action || null).includes('"Nsca":{')) {
    for (const [a, q] of Object.entries(spool.actions)) params.push(["spool " + a, q.results + " results waiting (" + q.bytes + " bytes), " + q.dropped + " dropped"]);
  }
  if (p.lastResult && p.lastResult.action) params.push(["last action", p.lastResult.action.state + " " + (p.lastResult.action.output || "")]);
  $("#params").replaceChildren(...params.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]));
}

async function runNow() {
  const msg = $("#run-msg");
  msg.textContent = "starting…";
  const r = await api("/processes", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ process: { plugins: [current] } }) });
  if (r.status === 403) { msg.textContent = "Run now needs a write token; this token may only read."; return; }
  msg.textContent = r.ok ? "started" : "refused (" + r.status + ")";
}

async function loadRun(name, id) {
  $("#run-title").textContent = name + " run " + id;
  $("#run-back").setAttribute("href", "#/check/" + encodeURIComponent(name));
  const out = await getJson(`/v2/plugins/${encodeURIComponent(name)}/runs/${encodeURIComponent(id)}/output`);
  $("#out-stdout").textContent = out.stdout;
  $("#out-stderr").textContent = out.stderr;
  $("#run-info").textContent = (out.stdout.length + out.stderr.length) + " characters" + (out.truncated ? " (truncated at MaxOutput)" : "");
}

// ---------- live ----------

function onResult(e) {
  const c = checks.get(e.plugin);
  if (c) {
    Object.assign(c, { state: e.state, lastRun: e.startedAt, dur: e.duration, out: (e.output || "").split("\n")[0] });
    fillRow(c);
    applyFilter();
    counts();
  }
  if (current === e.plugin && !$("#detail").hidden) loadDetail(current).catch(fail);
}

async function live() {
  for (;;) {
    try {
      if (denied) { await new Promise((r) => setTimeout(r, 1000)); continue; }
      const r = await api("/v2/events", { headers: { Accept: "text/event-stream" } });
      if (!r.ok || !r.body) throw new Error("events: " + r.status);
      $("#live").textContent = "live";
      refresh(); // events missed while not connected
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) { dispatch(buf.slice(0, i)); buf = buf.slice(i + 2); }
      }
    } catch (e) { if (!(e instanceof Denied)) $("#live").textContent = "reconnecting…"; }
    $("#live").textContent = "reconnecting…";
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function refresh() {
  if (current && !$("#detail").hidden) loadDetail(current).catch(fail);
  else if (checks.size) loadOverview().catch(fail);
}

function dispatch(block) {
  let kind = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) kind = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (kind === "result") onResult(JSON.parse(data));
  else if (kind === "reload" || kind === "lagged") refresh();
}

// ---------- routing ----------

async function route() {
  $("#error").hidden = true;
  const hash = location.hash.slice(1) || "/";
  const parts = hash.split("?")[0].split("/").map(decodeURIComponent);
  current = null;
  try {
    if (parts[1] === "check" && parts[2]) { current = parts[2]; show("detail"); $("#run-msg").textContent = ""; await loadDetail(parts[2]); }
    else if (parts[1] === "run" && parts[2]) { show("run"); await loadRun(parts[2], parts[3]); }
    else { show("overview"); readFilter(); if (!checks.size) await loadOverview(); else { applySort(); applyFilter(); } }
  } catch (e) { fail(e); }
}

function start() {
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#token-input").value.trim());
    denied = false;
    $("#token-error").textContent = "";
    checks.clear();
    route();
  });
  $("#filter-text").addEventListener("input", applyFilter);
  $("#filter-state").addEventListener("change", applyFilter);
  $("#filter-cat").addEventListener("change", applyFilter);
  $("#filters").addEventListener("submit", (ev) => ev.preventDefault());
  for (const b of document.querySelectorAll("#checks th button")) {
    b.addEventListener("click", () => {
      sort = { key: b.dataset.sort, dir: sort.key === b.dataset.sort ? -sort.dir : 1 };
      applySort(); writeFilter();
    });
  }
  $("#run-now").addEventListener("click", () => runNow().catch(fail));
  window.addEventListener("hashchange", route);
  getJson("/").then((b) => { $("#host").textContent = b.about.host; }).catch(() => {});
  setInterval(() => { for (const c of checks.values()) c.row.cells[3].textContent = age(c.lastRun); }, 10000);
  route().then(() => { window.smokerReady = performance.now(); });
  live();
}

start();
