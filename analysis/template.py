# ruff: noqa: E501  (HTML and CSS lines read better unbroken)
"""The index.html template: one self-contained page, no scripts, no external resources.

The first screen is for managers (verdict, knee, peak sustained, what broke first,
cost); the charts and tables below are for engineers. Prints on A4/Letter.
"""

HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>surge report · {{ s.run_id }}</title>
<style>
:root { --ok:#1a7f37; --ok-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9; --warn:#9a6700;
        --warn-bg:#fff8c5; --ink:#1f2328; --muted:#59636e; --line:#d1d9e0; --card:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
       margin: 0; background: #fff; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
header.top { display: flex; justify-content: space-between; align-items: baseline; gap: 16px;
             border-bottom: 1px solid var(--line); padding-bottom: 10px; }
header.top h1 { font-size: 20px; margin: 0; }
header.top .meta { color: var(--muted); font-size: 12px; text-align: right; }
.verdict { margin: 18px 0 14px; padding: 14px 18px; border-radius: 8px; border: 1px solid; }
.verdict h2 { margin: 0 0 4px; font-size: 22px; letter-spacing: .02em; }
.verdict p { margin: 2px 0; }
.verdict.passed { background: var(--ok-bg); border-color: #aceebb; color: #0f5323; }
.verdict.failed { background: var(--bad-bg); border-color: #ffcecb; color: #82071e; }
.verdict.untrustworthy { background: var(--warn-bg); border-color: #f5e0a0; color: #6c4400; }
.verdict ul { margin: 6px 0 0 18px; padding: 0; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-bottom: 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card h3 { margin: 0 0 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .06em;
           color: var(--muted); font-weight: 600; }
.card .big { font-size: 22px; font-weight: 650; line-height: 1.2; }
.card .small { color: var(--muted); font-size: 12px; margin-top: 4px; }
.card.wide { grid-column: span 2; }
h2.section { font-size: 16px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 8px; border-bottom: 1px solid #eaeef2; text-align: right; white-space: nowrap; }
th { background: var(--card); font-weight: 600; color: #31373d; }
td.l, th.l { text-align: left; } td.wrap { white-space: normal; text-align: left; }
/* 16 columns fit the page: tighter cells, headers and long endpoint names may wrap */
table.endpoints th, table.endpoints td, .endpoint-stages th, .endpoint-stages td { padding: 5px 4px; }
table.endpoints th, .endpoint-stages th { white-space: normal; }
table.endpoints td.l { white-space: normal; overflow-wrap: anywhere; min-width: 9em; }
tr.ramp td { color: var(--muted); }
.pass { color: var(--ok); font-weight: 600; } .fail { color: var(--bad); font-weight: 600; }
figure { margin: 14px 0 22px; break-inside: avoid; page-break-inside: avoid; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #eaeef2; border-radius: 6px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
pre { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px;
      font-size: 12px; overflow-x: auto; white-space: pre-wrap; }
.note { color: var(--muted); font-size: 12px; }
dl.defs dt { font-weight: 600; margin-top: 6px; } dl.defs dd { margin: 0 0 0 14px; color: #31373d; }
footer { margin-top: 36px; color: var(--muted); font-size: 11px; border-top: 1px solid var(--line); padding-top: 8px; }
@media (max-width: 820px) { .cards { grid-template-columns: 1fr 1fr; } }
@media print {
  main { max-width: none; padding: 0; }
  @page { size: A4; margin: 14mm; }
  h2.section { break-after: avoid; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  table { font-size: 10.5px; }
}
</style>
</head>
<body>
<main>
<header class="top">
  <div>
    <h1>Load test report · {{ s.schedule.name or s.run_id }}</h1>
    <div class="note">target {{ s.schedule.target }} · run {{ s.run_id }}{% if (s.schedule.tls | default({})).get("verify") == false %} · TLS certificates NOT verified{% endif %}</div>
  </div>
  <div class="meta">started {{ s.started_at or "n/a" }}<br>{{ s.workers }} generator process{{ "es" if s.workers != 1 }} ·
    {{ duration }} · {{ "{:,}".format(s.whole_run.requests) }} requests</div>
</header>

<section class="verdict {{ v.status }}" id="verdict">
  <h2>{{ v.status|upper }} <span style="font-weight:400;font-size:14px">· exit code {{ v.exit_code }}</span></h2>
  <p>{{ v.detail[0]|upper }}{{ v.detail[1:] }}.</p>
  {% if v.status == "untrustworthy" %}
  <p>These numbers describe the load generators, not the system under test. Run again with more or bigger generators.</p>
  <ul>{% for r in v.trust.reasons %}<li>{{ r }}</li>{% endfor %}</ul>
  {% endif %}
  {% if v.status == "incomplete" %}
  <p>Part of this run's records is missing; the figures below cover only what could be read.</p>
  <ul>{% for r in v.incomplete %}<li>{{ r }}</li>{% endfor %}</ul>
  {% endif %}
  {% for n in v.notes %}<p class="note">{{ n }}</p>{% endfor %}
</section>
{{ search_section|safe }}

<section class="cards" id="summary">
  <div class="card">
    <h3>The knee</h3>
    <div class="big">{{ knee_big }}</div>
    <div class="small">{{ knee_small }}</div>
  </div>
  <div class="card">
    <h3>Peak load sustained</h3>
    <div class="big">{{ sustained_big }}</div>
    <div class="small">{{ sustained_small }}</div>
  </div>
  <div class="card wide">
    <h3>What broke first</h3>
    <div class="big">{{ broke_big }}</div>
    <div class="small">{{ broke_small }}</div>
  </div>
  <div class="card wide">
    <h3>Cost of serving {{ "{:,.0f}".format(cost.inputs.rps) }} req/s for {{ "{:g}".format(cost.inputs.hours) }} h</h3>
    <div class="big">serverless ${{ "{:,.0f}".format(cost.result.serverless.total_usd) }} · servers ${{ "{:,.0f}".format(cost.result.servers.total_usd) }}</div>
    <div class="small">at {{ cost.basis }}; {{ cost.result.servers.instances }} server{{ "s" if cost.result.servers.instances != 1 }} at {{ "{:g}".format(cost.inputs.server_rps) }} req/s.
      Prices: {{ cost.prices }} (defaults, not measurements).</div>
  </div>
  <div class="card">
    <h3>Success rate</h3>
    <div class="big">{{ pct(s.whole_run.success_rate) }}</div>
    <div class="small">{{ success_small }}</div>
  </div>
  <div class="card">
    <h3>This run's fleet</h3>
    <div class="big">{{ fleet_big }}</div>
    <div class="small">{{ fleet_small }}</div>
  </div>
</section>

<h2 class="section">Thresholds</h2>
{% if v.thresholds %}
<table><tr><th class="l">rule</th><th>measured (whole run)</th><th>result</th></tr>
{% for c in v.thresholds %}<tr><td class="l">{{ c.rule }}</td><td>{{ c.measured_text }}</td>
<td class="{{ 'note' if c.no_data else 'pass' if c.passed else 'fail' }}">{{ check_word(c, False) }}</td></tr>{% endfor %}
</table>
{% else %}<p class="note">The schedule defines no thresholds; the knee uses the default service level ({{ s.knee.service_level|join(", ") }}).</p>{% endif %}

{% if scenario_errors_headline %}
<h2 class="section" id="scenario-errors">Scenario errors</h2>
<p class="fail">{{ scenario_errors_headline }}: {{ scenario_errors_consequence }}.</p>
<table><tr><th class="l">task</th><th class="l">exception</th><th>count</th><th class="l">first message</th></tr>
{% for e in s.scenario_errors %}<tr><td class="l">{{ e.task }}</td><td class="l">{{ e.error }}</td><td>{{ "{:,}".format(e.count) }}</td><td class="l">{{ e.example }}</td></tr>{% endfor %}
</table>
{% endif %}

<h2 class="section">Stages</h2>
<p class="note">Steady-state windows: hold stages skip their first {{ "{:g}".format(warmup_s) }} s; ramps (grey) are shown whole and not judged.
Service level per stage: {{ s.knee.service_level|join(", ") }}. Latency is corrected (from the intended send time).</p>
<table>
<tr><th>stage</th><th class="l">kind</th><th>offered/s</th><th>per worker</th><th>sent/s</th><th>achieved/s<br><span class="note">answered</span></th><th>p50</th><th>p95</th><th>p99</th><th>max</th><th>success</th><th class="l">errors</th><th>service level</th></tr>
{% for r in s.stages %}<tr class="{{ r.kind }}"><td>{{ r.stage + 1 }}</td><td class="l">{{ r.kind }}{{ " · " + r.name if r.name }}</td>
<td>{{ num(r.offered_rps) }}</td><td>{{ num(r.offered_per_worker) }}</td><td>{{ num(r.sent_rps) }}</td><td>{{ num(r.achieved_rps) }}</td>
<td>{{ lat(r.p50) }}</td><td>{{ lat(r.p95) }}</td><td>{{ lat(r.p99) }}</td><td>{{ lat(r.max) }}</td>
<td>{{ pct(r.success_rate) }}</td><td class="wrap">{{ r.errors or "" }}</td>
<td>{% if not r.steady %}<span class="note">{{ r.kind }}</span>{% elif r.requests == 0 %}<span class="note">no data</span>{% elif r.slo_pass %}<span class="pass">met</span>{% else %}<span class="fail">missed</span>{% endif %}</td></tr>{% endfor %}
</table>

<h2 class="section" id="endpoints">Endpoints</h2>
<p class="note">Endpoint = method + request name, whole run. Sent/s: requests sent per second of the schedule; answered/s: successful answers (ok + rejected) per second.
Latency is corrected (from the intended send time); p95/p99 measured from the actual send are beside it. Open an endpoint for its stages.
{% if s.listed.endpoints > s.endpoints|length %}Showing the {{ s.endpoints|length }} busiest of {{ "{:,}".format(s.listed.endpoints) }} endpoints; endpoints.csv has all.{% endif %}</p>
<table class="endpoints">
<tr><th class="l">endpoint</th><th>requests</th><th>sent/s</th><th>answered/s</th><th>ok</th><th>rejected</th><th>error</th><th>timeout</th><th>dropped</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th><th>p95 uncorr.</th><th>p99 uncorr.</th></tr>
{% for e in s.endpoints %}<tr><td class="l">{{ e.endpoint }}</td><td>{{ "{:,}".format(e.requests) }}</td><td>{{ num(e.sent_rps) }}</td><td>{{ num(e.achieved_rps) }}</td>
<td>{{ "{:,}".format(e.ok) }}</td><td>{{ "{:,}".format(e.rejected) }}</td><td class="{{ 'fail' if e.error }}">{{ "{:,}".format(e.error) }}</td><td class="{{ 'fail' if e.timeout }}">{{ "{:,}".format(e.timeout) }}</td><td>{{ "{:,}".format(e.dropped) }}</td>
<td>{{ lat(e.p50) }}</td><td>{{ lat(e.p90) }}</td><td>{{ lat(e.p95) }}</td><td>{{ lat(e.p99) }}</td><td>{{ lat(e.max) }}</td><td>{{ lat(e.p95_uncorrected) }}</td><td>{{ lat(e.p99_uncorrected) }}</td></tr>{% endfor %}
</table>
{% for e in s.endpoints %}{% set rows = endpoint_stages.get(e.endpoint, []) %}{% if rows %}
<details class="endpoint-stages"><summary>{{ e.endpoint }}: per stage</summary>
<table><tr><th>stage</th><th class="l">name</th><th>requests</th><th>sent/s</th><th>answered/s</th><th>ok</th><th>rejected</th><th>error</th><th>timeout</th><th>dropped</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>max</th><th>p95 uncorr.</th><th>p99 uncorr.</th></tr>
{% for r in rows %}<tr><td>{{ r.stage }}</td><td class="l">{{ r.stage_name }}</td><td>{{ "{:,}".format(r.requests) }}</td><td>{{ num(r.sent_rps) }}</td><td>{{ num(r.achieved_rps) }}</td>
<td>{{ "{:,}".format(r.ok) }}</td><td>{{ "{:,}".format(r.rejected) }}</td><td>{{ "{:,}".format(r.error) }}</td><td>{{ "{:,}".format(r.timeout) }}</td><td>{{ "{:,}".format(r.dropped) }}</td>
<td>{{ lat(r.p50) }}</td><td>{{ lat(r.p90) }}</td><td>{{ lat(r.p95) }}</td><td>{{ lat(r.p99) }}</td><td>{{ lat(r.max) }}</td><td>{{ lat(r.p95_uncorrected) }}</td><td>{{ lat(r.p99_uncorrected) }}</td></tr>{% endfor %}
</table></details>{% endif %}{% endfor %}

<h2 class="section" id="failures">Failures</h2>
{% if s.failures %}
<p class="note">Failed requests (errors, timeouts, dropped) by endpoint, status and error type; share of that endpoint's requests; first and last seen in seconds from the start (intended send time).</p>
<table class="failures"><tr><th class="l">endpoint</th><th class="l">outcome</th><th>status</th><th class="l">error type</th><th>count</th><th>share</th><th>first seen</th><th>last seen</th><th class="l">stages</th></tr>
{% for f in s.failures %}<tr><td class="l">{{ f.endpoint }}</td><td class="l">{{ f.outcome }}{{ " (throttled)" if f.throttled }}</td><td>{{ f.status or "" }}</td><td class="wrap">{{ f.error_type }}</td>
<td>{{ "{:,}".format(f.count) }}</td><td>{{ pct(f.share) }}</td><td>{{ "{:.1f} s".format(f.first_s) }}</td><td>{{ "{:.1f} s".format(f.last_s) }}</td><td class="l">{{ f.stages|join(", ") }}</td></tr>{% endfor %}
</table>
{% if s.listed.failures > s.failures|length %}<p class="note">The {{ s.failures|length }} biggest of {{ "{:,}".format(s.listed.failures) }} rows; failures.csv has all.</p>{% endif %}
{% else %}<p class="note">No request failed.</p>{% endif %}

<h2 class="section">Charts</h2>
{% for c in charts %}
<figure><img alt="{{ c.title }}" src="{{ c.uri }}"><figcaption><b>{{ c.title }}.</b> {{ c.caption }}</figcaption></figure>
{% endfor %}

{% if s.comparison %}
<h2 class="section">Comparison with {{ s.comparison.baseline_run_id }}</h2>
<p><b>{{ knee_change(s)[0]|upper }}{{ knee_change(s)[1:] }}.</b></p>
<p class="note">Knee: {{ num(s.comparison.knee_rps) }} req/s now vs {{ num(s.comparison.baseline_knee_rps) }} req/s before.
Tolerance {{ "{:g}".format(s.comparison.tolerance * 100) }} % for throughput and latency, {{ "{:g}".format(s.comparison.success_tolerance * 100) }} pp for success.</p>
<table><tr><th>stage</th><th>offered/s</th><th>achieved/s</th><th>Δ</th><th>p95</th><th>Δ</th><th>p99</th><th>Δ</th><th>success</th><th>Δ pp</th><th class="l">regression</th></tr>
{% for r in s.comparison.stages %}<tr><td>{{ r.stage + 1 }}</td><td>{{ num(r.offered_rps) }}</td><td>{{ num(r.achieved_rps) }}</td><td>{{ delta(r.achieved_delta) }}</td>
<td>{{ lat(r.p95) }}</td><td>{{ delta(r.p95_delta) }}</td><td>{{ lat(r.p99) }}</td><td>{{ delta(r.p99_delta) }}</td>
<td>{{ pct(r.success_rate) }}</td><td>{{ pp(r.success_delta) }}</td><td class="l {{ 'fail' if r.regression }}">{{ r.regression or "none" }}</td></tr>{% endfor %}
</table>
{% endif %}

<h2 class="section">Did the generators keep up?</h2>
<p>{% if v.trust.trustworthy %}<span class="pass">Yes.</span>{% else %}<span class="fail">No.</span>{% endif %}
Send lag p99 {{ lat(v.trust.send_lag_p99_s) }} (limit {{ lat(v.trust.limits.send_lag_p99_s) }}),
dropped {{ pct(v.trust.dropped_rate) }} (limit {{ pct(v.trust.limits.dropped_rate) }}),
peak worker CPU {{ "n/a" if v.trust.max_cpu_percent is none else "{:.0f}%".format(v.trust.max_cpu_percent) }}
(limit {{ "{:g}".format(v.trust.limits.cpu_percent) }}% for {{ v.trust.limits.cpu_for_s }} s).</p>

<h2 class="section">Cost details</h2>
<pre>{{ cost_text }}</pre>

<h2 class="section">Definitions</h2>
<dl class="defs">
<dt>Latency (corrected)</dt><dd>From the time a request was meant to be sent (open workload model) to its answer, so a slow system cannot hide behind a slowed-down generator. "Uncorrected" is measured from the actual send.</dd>
<dt>Percentiles</dt><dd>Exact nearest-rank percentiles over the merged raw records of every worker; never averaged across workers, seconds or stages.</dd>
<dt>Success rate</dt><dd>(ok + rejected) / all requests, dropped ones included; "rejected" is an answer the scenario classified as a valid business refusal. Error rate = (errors + timeouts) / all; dropped rate = never sent / all.</dd>
<dt>Achieved (answered/s)</dt><dd>Successful answers (ok + rejected) per second; "sent/s" beside it counts every request sent. Throttled = 429/503 or a throttling error type (e.g. ProvisionedThroughputExceeded).</dd>
<dt>The knee</dt><dd>The highest offered rate up to which every steady stage met the service level.</dd>
</dl>

<footer>Generated by {{ s.generated_by }} at {{ s.generated_at }} · summary.json (version {{ s.summary_version }}), summary.md, junit.xml, stages.csv, timeline.csv, timeline_by_name.csv in this folder.</footer>
</main>
</body>
</html>
"""
