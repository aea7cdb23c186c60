// The surge view: polls api/status once a second and draws it. Plain JS, no build step,
// no network beyond the master. Data is written with textContent, never as HTML.
"use strict";

const POLL_MS = 1000;
const SVG_NS = "http://www.w3.org/2000/svg";
const CHART = { w: 1000, h: 230, left: 48, right: 12, top: 22, bottom: 28 };
// Run states, trust limits and threshold states come from the master (status.final,
// status.limits, status.threshold_states: owned by surge.manifest and surge.trust),
// never from copies here.
const isFinal = (status) => Boolean(status && status.final);
const cpuLimit = (status) => (status && status.limits ? status.limits.saturated_cpu_percent : Infinity);
const STATE_TONE = { running: "ok", starting: "ok", draining: "ok", finished: "ok",
                     aborting: "bad", aborted: "bad", stopped: "warn" };
const SEARCH_TONE = { pass: "ok", fail: "bad", generators: "warn" };

const achieved = [];  // [elapsed s, achieved req/s], collected while the page is open
let last = null;

const $ = (id) => document.getElementById(id);

function fmt(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? fmt(value / 1000, 2) + " s" : fmt(value, value < 10 ? 1 : 0) + " ms";
}

function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

function el(name, attrs = {}, text = null, ns = null) {
  const node = ns ? document.createElementNS(ns, name) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

function setPill(node, text, tone) {
  node.textContent = text;
  node.className = "pill" + (tone ? " " + tone : "");
}

// 1, 2 or 5 times a power of ten: axis labels people read at a glance.
function niceStep(raw) {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

function drawTimeline(data, status) {
  const svg = $("timeline");
  svg.replaceChildren();
  const sched = data.schedule;
  const span = Math.max(sched.duration_s, 1);
  const highest = Math.max(...data.timeline.map((p) => p[1]), ...achieved.map((p) => p[1]), 1) * 1.1;
  const step = niceStep(highest / 4);
  const top = Math.ceil(highest / step) * step;
  const x = (t) => CHART.left + (t / span) * (CHART.w - CHART.left - CHART.right);
  const y = (r) => CHART.h - CHART.bottom - (r / top) * (CHART.h - CHART.top - CHART.bottom);
  const current = status && status.stage_index !== null && !isFinal(status) ? status.stage_index : -1;

  for (const stage of sched.stages) {
    const band = el("rect", { x: x(stage.start_s), y: CHART.top, width: Math.max(x(stage.start_s + stage.duration_s) - x(stage.start_s) - 1, 1),
                              height: CHART.h - CHART.top - CHART.bottom,
                              class: "stage-band" + (stage.index === current ? " current" : "") }, null, SVG_NS);
    band.appendChild(el("title", {}, `${stageTitle(stage)}: ${stage.label}`, SVG_NS));
    svg.appendChild(band);
    svg.appendChild(el("text", { x: x(stage.start_s) + 4, y: CHART.top - 6, class: "stage-label" }, String(stage.index + 1), SVG_NS));
  }
  for (let r = 0; r <= top + step / 2; r += step) {
    svg.appendChild(el("line", { x1: CHART.left, x2: CHART.w - CHART.right, y1: y(r), y2: y(r), class: "grid" }, null, SVG_NS));
    svg.appendChild(el("text", { x: CHART.left - 6, y: y(r) + 4, "text-anchor": "end" }, fmt(r), SVG_NS));
  }
  // whole, even steps (span / 6 gave 0s 2s 3s 5s ... on a 10 s schedule)
  const tick = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400]
    .find((candidate) => span / candidate <= 6) || Math.ceil(span / 6);
  for (let t = 0; t <= span + 1e-9; t += tick) {
    svg.appendChild(el("text", { x: x(t), y: CHART.h - 8, "text-anchor": "middle" }, duration(t), SVG_NS));
  }
  const corners = data.timeline.map(([t, r]) => `${x(t).toFixed(1)},${y(r).toFixed(1)}`);
  if (corners.length) {
    const base = `${x(data.timeline[0][0])},${y(0)}`;
    const end = `${x(data.timeline[data.timeline.length - 1][0])},${y(0)}`;
    svg.appendChild(el("polygon", { points: [base, ...corners, end].join(" "), class: "offered-area" }, null, SVG_NS));
    svg.appendChild(el("polyline", { points: corners.join(" "), class: "offered" }, null, SVG_NS));
  }
  if (achieved.length > 1) {
    const pts = achieved.map(([t, r]) => `${x(Math.min(t, span)).toFixed(1)},${y(r).toFixed(1)}`);
    svg.appendChild(el("polyline", { points: pts.join(" "), class: "achieved" }, null, SVG_NS));
  }
  if (status && status.started_at && !isFinal(status)) {
    const t = Math.min(status.elapsed_s, span);
    svg.appendChild(el("line", { x1: x(t), x2: x(t), y1: CHART.top, y2: CHART.h - CHART.bottom, class: "here" }, null, SVG_NS));
    svg.appendChild(el("circle", { cx: x(t), cy: y(status.offered_rps || 0), r: 5, class: "here-dot" }, null, SVG_NS));
  }
}

function describeWhere(data, status) {
  const sched = data.schedule;
  if (!status || status.state === "waiting") return `${sched.stages.length} stages, ${duration(sched.duration_s)} – press Start`;
  if (isFinal(status)) return `${status.state} after ${duration(status.elapsed_s)}`;
  if (status.search) return describeSearch(status.search);  // #20: the steps are decided live
  if (status.stage_index === null) return status.state === "starting" ? "starting…" : `${status.state}, ${duration(status.remaining_s)} left`;
  const stage = sched.stages[status.stage_index];
  const stageLeft = stage.start_s + stage.duration_s - status.elapsed_s;
  return `${stageTitle(stage)} of ${status.stage_count}: ${stage.label} · ` +
         `${duration(stageLeft)} left in stage · ${duration(status.remaining_s)} left in run`;
}

// While the run lasts the tiles are status.json's short windows (each says which);
// once it is over they show the whole run, from the master's totals.
function renderTiles(data, status) {
  const s = status || {};
  const whole = data.final && data.whole_run;
  const f = whole ? data.whole_run : s;
  const win = data.windows || {};
  const scope = $("tiles-scope");
  scope.textContent = whole
    ? `Whole run (${duration(data.whole_run.duration_s)}): average rates, percentiles over every request`
    : `Live: rates over the last ${win.rate_s} s, latency over the last ${win.latency_s} s`;
  scope.className = "scope " + (whole ? "final" : "muted");
  $("m-offered").textContent = fmt(f.offered_rps, 1);
  $("m-achieved").textContent = fmt(f.achieved_rps, 1);
  $("m-offered-unit").textContent = whole ? "req/s · whole run" : "req/s · now (schedule)";
  // achieved = answered successfully per second (surge's vocabulary); sent beside it
  const sent = `sent ${fmt(f.sent_rps, 1)}`;
  $("m-achieved-unit").textContent = whole ? `answered/s · whole run · ${sent}` : `answered/s · last ${win.rate_s} s · ${sent}`;
  $("m-p95").textContent = ms(f.p95_ms);
  $("m-p99").textContent = ms(f.p99_ms);
  const span = whole ? "whole run" : `last ${win.latency_s} s`;
  $("m-p95u").textContent = `${span} · uncorrected ${ms(f.p95_uncorrected_ms)}`;
  $("m-p99u").textContent = `${span} · uncorrected ${ms(f.p99_uncorrected_ms)}`;
  $("m-late").textContent = fmt(s.late);
  $("m-dropped").textContent = fmt(s.dropped);
  $("m-errors").textContent = fmt(s.errors);
  $("m-requests").textContent = `of ${fmt(s.requests)} requests`;
  $("m-inflight").textContent = fmt(s.in_flight);
  for (const [id, key] of [["m-dropped", "dropped"], ["m-errors", "errors"]]) {
    $(id).parentElement.classList.toggle("alert", (s[key] || 0) > 0);
  }
}

function renderWorkers(data, status) {
  const rows = [];
  for (const w of (status && status.workers) || []) {
    const cpu = w.cpu_percent === null || w.cpu_percent === undefined ? null : w.cpu_percent;
    const meter = el("div", { class: "meter" });
    meter.appendChild(el("i", { class: cpu !== null && cpu >= cpuLimit(status) ? "hot" : "", style: `width:${Math.min(cpu || 0, 100)}%` }));
    const cpuCell = el("td");
    const wrap = el("div", { class: "cpu" });
    wrap.append(meter, el("span", {}, cpu === null ? "–" : fmt(cpu) + " %"));
    cpuCell.appendChild(wrap);
    const health = el("td");
    health.appendChild(el("span", { class: "pill " + (w.saturated ? "bad" : "ok") }, w.saturated ? "saturated" : "keeping up"));
    const tr = el("tr", { class: w.saturated ? "saturated" : "" });
    const host = (data.worker_hosts || {})[w.id] || "–";
    tr.append(el("td", {}, w.id), el("td", {}, host), cpuCell, el("td", {}, ms(w.send_lag_p99_ms)), el("td", {}, fmt(w.in_flight)), health);
    rows.push(tr);
  }
  const body = $("workers");
  if (!rows.length) {
    const tr = el("tr");
    tr.appendChild(el("td", { colspan: 6, class: "muted" },
      `${data.workers_connected} worker(s) connected; their health appears once the run starts`));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  const workers = (status && status.workers) || [];
  const hosts = new Set(workers.map((w) => (data.worker_hosts || {})[w.id]).filter(Boolean));
  $("fleet").textContent = workers.length
    ? `${workers.length} generator${workers.length === 1 ? "" : "s"} on ${hosts.size || 1} host${hosts.size > 1 ? "s" : ""} · ` +
      (data.final && data.whole_run ? `fleet sent ${fmt(data.whole_run.sent_rps, 1)} req/s over the whole run`
                                    : `fleet sending ${fmt(status.sent_rps, 1)} req/s`)
    : "";
  $("workers-note").textContent = status && status.lost_workers && status.lost_workers.length
    ? `${status.lost_workers.length} lost` : "";
  const reasons = (status && status.untrustworthy) || [];
  $("untrustworthy").hidden = reasons.length === 0;
  $("untrustworthy").textContent = reasons.length ? "Results untrustworthy: " + reasons.join("; ") : "";
}

function renderThresholds(data, status) {
  const evaluated = status && !["waiting", "starting"].includes(status.state);
  const list = (evaluated && status.thresholds) || data.schedule.thresholds;
  if (!list.length) return;
  $("thresholds").replaceChildren(...list.map((t) => {
    const state = el("td");
    const shown = (evaluated && (status.threshold_states || {})[t.state]) || { label: t.state, tone: "" };
    state.appendChild(el("span", { class: "pill " + shown.tone }, evaluated ? shown.label : "not evaluated yet"));
    const tr = el("tr", { class: "threshold" });
    tr.append(el("td", {}, t.rule), el("td", { class: "muted" }, t.abort_on_fail ? "abort run" : "fail verdict"), state);
    return tr;
  }));
}

function renderVerdict(data, status) {
  const box = $("verdict");
  const over = isFinal(status);
  box.hidden = !over;
  if (!over) return;
  const report = data.report;
  const v = report.verdict;
  box.className = "card verdict " + (v ? v.status : "");
  const link = $("report-link");
  link.hidden = report.state !== "ready";
  if (v) {
    $("verdict-title").textContent = v.status.toUpperCase();
    $("verdict-detail").textContent = [v.detail || v.headline, status.abort_reason].filter(Boolean).join(" · ");
  } else if (report.state === "failed") {
    $("verdict-title").textContent = "No report";
    $("verdict-detail").textContent = report.error || "the report could not be built";
  } else {
    $("verdict-title").textContent = "Run " + status.state;
    $("verdict-detail").textContent = (status.abort_reason ? status.abort_reason + " · " : "") + "building the report…";
  }
}

function renderEndpoints(data) {
  const rows = data.endpoints || [];
  const win = data.windows || {};
  $("endpoints-scope").textContent = data.final ? "whole run" : `rates and percentiles over the last ${win.endpoints_s} s`;
  if (!rows.length) return;
  $("endpoints").replaceChildren(...rows.map((r) => {
    const kinds = Object.entries(r.errors_by_type || {}).map(([k, n]) => `${k}: ${fmt(n)}`).join(", ");
    const tr = el("tr", { class: "endpoint" });
    tr.append(el("td", {}, r.endpoint), el("td", {}, fmt(r.rate_rps, 1)), el("td", {}, ms(r.p95_ms)),
              el("td", {}, ms(r.p99_ms)), el("td", {}, fmt(r.requests)),
              el("td", { class: kinds ? "kinds" : "muted" }, kinds || "none"));
    return tr;
  }));
}

// A capacity search (load.search): the step being held and the bracket the knee lies in.
function describeSearch(search) {
  const [lo, hi] = search.bracket || [null, null];
  const bracket = lo === null && hi === null ? "not bracketed yet"
    : hi === null ? `at least ${fmt(lo)} req/s` : lo === null ? `below ${fmt(hi)} req/s`
    : `between ${fmt(lo)} and ${fmt(hi)} req/s`;
  const where = search.end ? `search done: ${search.end_reason || search.end}`
    : `search step ${search.step} at ${fmt(search.rate)} req/s (${search.phase})`;
  return `${where} · knee ${bracket}`;
}

// A knee search (`load.search`) steers the stages itself: show where the knee is
// bracketed so far and each step's verdict, as status.json's "search" says.
function renderSearch(status) {
  const s = status && status.search;
  $("search").hidden = !s;
  if (!s) return;
  const [lo, hi] = s.bracket || [null, null];
  const rps = (v) => (v === null || v === undefined ? "?" : `${fmt(v)} req/s`);
  $("search-phase").textContent = s.end ? `done: ${s.end_reason || s.end}` :
    `${s.phase} · step ${s.step}` + (s.rate ? ` at ${rps(s.rate)}` : "");
  $("search-bracket").textContent = hi === null || hi === undefined
    ? `knee above ${rps(lo)} so far`
    : `knee between ${rps(lo)} and ${rps(hi)} (resolution ${fmt((s.resolution || 0) * 100)} %)`;
  $("search-steps").replaceChildren(...(s.steps || []).map((step) =>
    el("span", { class: "pill " + (SEARCH_TONE[step.verdict] || "") },
       `${rps(step.rate)}: ${step.verdict || "running"}`)));
}

function stageTitle(stage) {
  return `stage ${stage.number}` + (stage.name ? ` (${stage.name})` : "");
}

function render(data) {
  const status = data.status;
  if (status && status.started_at && !isFinal(status) && status.elapsed_s > 0) {
    const prev = achieved[achieved.length - 1];
    if (!prev || status.elapsed_s > prev[0]) achieved.push([status.elapsed_s, status.achieved_rps || 0]);
  }
  const sched = data.schedule;
  $("run-name").textContent = status && status.run_id ? status.run_id : sched.name;
  const state = status ? status.state : "waiting";
  setPill($("run-state"), state, STATE_TONE[state]);
  const per = sched.per_worker ? " per worker" : "";
  $("note").textContent = `The schedule controls the load: ${sched.stages.length} stages over ${duration(sched.duration_s)}, ` +
    `up to ${fmt(sched.peak_rps)} req/s${per} against ${sched.target}. Locust's user count and spawn rate ` +
    `do not apply to this open-model run; Start runs the whole schedule, once.`;
  $("start").disabled = !data.can_start;
  $("stop").disabled = !data.can_stop;
  $("where").textContent = describeWhere(data, status);
  drawTimeline(data, status);
  renderSearch(status);
  renderTiles(data, status);
  renderEndpoints(data);
  renderWorkers(data, status);
  renderThresholds(data, status);
  renderVerdict(data, status);
}

function showMessage(text) {
  $("message").hidden = !text;
  $("message").textContent = text || "";
}

async function poll() {
  try {
    const response = await fetch("api/status", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    last = await response.json();
    render(last);
    showMessage(null);
  } catch (err) {
    showMessage(`Lost contact with the master (${err.message}); retrying…`);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function start() {
  $("start").disabled = true;
  const response = await fetch("../swarm", { method: "POST", body: new FormData() });
  const reply = await response.json().catch(() => ({ success: false, message: `HTTP ${response.status}` }));
  if (!reply.success) showMessage("Could not start: " + reply.message);
}

// On a fleet the master writes the kill switch every agent polls (as `surge abort`);
// locally it stops its own runner. Either way through surge's route.
async function stop() {
  $("stop").disabled = true;
  const response = await fetch("api/stop", { method: "POST" });
  const reply = await response.json().catch(() => ({ success: false, message: `HTTP ${response.status}` }));
  showMessage(reply.success ? null : "Could not stop: " + reply.message);
}

document.addEventListener("DOMContentLoaded", () => {
  $("start").addEventListener("click", () => start().catch((e) => showMessage("Could not start: " + e.message)));
  $("stop").addEventListener("click", () => stop().catch((e) => showMessage("Could not stop: " + e.message)));
  poll();
});
