"""Rendering: index.html, summary.md, summary.json, junit.xml and the CSVs of a `Report`.

Nothing here computes a number; it formats what `analysis.report.compute` produced.
Every file is written to a temp name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surge.analysis import render_endpoints, scenario_errors
from surge.analysis.cost import CostInputs, formulas
from surge.analysis.template import HTML
from surge.atomic import atomic_write_text

if TYPE_CHECKING:
    from surge.analysis.report import Report

TIMELINE_FILE = "timeline.csv"
TIMELINE_BY_NAME_FILE = "timeline_by_name.csv"
STAGES_FILE = "stages.csv"


def _write(path: Path, text: str) -> Path:
    return atomic_write_text(path, text)


# ---------------------------------------------------------------- formatting


def lat(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value < 1:
        return f"{value * 1000:.0f} ms" if value >= 0.01 else f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:.2f}%"


def num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"


def delta(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:+.1f}%"


def pp(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value * 100:+.2f}"


def duration_text(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# ---------------------------------------------------------------- the manager's numbers


def headline_cards(s: dict[str, Any]) -> dict[str, str]:
    """The first screen's big numbers, worded for someone who reads nothing else."""
    knee, peak = s["knee"], s["peak"]
    broke = knee["broke_first"]
    cards = {}
    if knee["rate_rps"] is None:
        cards["knee_big"] = "not reached"
        cards["knee_small"] = "even the lowest tested rate missed the service level"
    else:
        cards["knee_big"] = f"{knee['rate_rps']:,.0f} req/s"
        per = knee["rate_per_worker"]
        cards["knee_small"] = f"{per:,.1f} req/s per worker; " + (
            "every tested rate passed, so the real knee is higher"
            if knee["above_test"]
            else f"service level: {', '.join(knee['service_level'])}"
        )
    if peak["sustained_rps"] is not None:
        cards["sustained_big"] = f"{peak['sustained_rps']:,.0f} req/s"
        cards["sustained_small"] = "successful answers per second at the knee"
    else:
        cards["sustained_big"] = "none"
        cards["sustained_small"] = "no stage met the service level"
    if peak["achieved_rps"] is not None:
        cards["sustained_small"] += (
            f"; highest achieved in any stage {peak['achieved_rps']:,.0f} req/s"
        )
    if broke:
        cards["broke_big"] = f"{broke['cause']} at {broke['offered_rps']:,.0f} req/s"
        cards["broke_small"] = knee.get("broke_first_sentence") or broke["detail"]
    elif knee["tested_stages"]:
        cards["broke_big"] = "nothing"
        cards["broke_small"] = "every tested rate met the service level"
    else:
        cards["broke_big"] = "n/a"
        cards["broke_small"] = "no steady stage recorded requests"
    rejected = s["whole_run"]["rejected"]
    cards["success_small"] = "whole run" + (
        f"; {rejected:,} answers the scenario classified as rejected (a valid refusal) count"
        " as success"
        if rejected
        else ""
    )
    fleet = s["cost"]["fleet"]
    if fleet["instances"]:
        kinds = ", ".join(f"{n} x {t}" for t, n in fleet["instances"].items())
        cards["fleet_big"] = "n/a" if fleet["usd"] is None else f"${fleet['usd']:,.2f}"
        cards["fleet_small"] = f"{kinds} for {fleet['hours']:.2f} h"
    else:
        cards["fleet_big"] = "$0"
        cards["fleet_small"] = fleet["notes"][0] if fleet["notes"] else ""
    return cards


def cost_text(s: dict[str, Any]) -> str:
    serving = s["cost"]["serving"]
    inputs = CostInputs(**serving["inputs"])
    lines = [
        f"Serving {inputs.rps:,.0f} req/s for {inputs.hours:g} h, at {serving['basis']}.",
        f"Prices: {serving['prices']} (defaults, override with surge cost options).",
        "",
    ]
    lines += formulas(inputs)
    fleet = s["cost"]["fleet"]
    lines += [
        "",
        "This run's generator fleet: "
        + (", ".join(f"{n} x {t}" for t, n in fleet["instances"].items()) or "none (local)")
        + (f" for {fleet['hours']:.3f} h = ${fleet['usd']:,.2f}" if fleet["usd"] else ""),
    ]
    lines += fleet["notes"]
    return "\n".join(lines)


# ---------------------------------------------------------------- files


def write_html(report: Report, s: dict[str, Any], out: Path, charts: bool) -> Path:
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update()
    template = env.from_string(HTML)
    html = template.render(
        s=s,
        v=s["verdict"],
        cost=s["cost"]["serving"],
        charts=chart_list(report) if charts else [],
        duration=duration_text(s["duration_s"]),
        warmup_s=_warmup(report),
        cost_text=cost_text(s),
        lat=lat,
        pct=pct,
        num=num,
        delta=delta,
        pp=pp,
        check_word=check_word,
        knee_change=knee_change,
        endpoint_stages=render_endpoints.stages_by_endpoint(s),
        search_section=_search_section(report, s, charts),
        scenario_errors_headline=scenario_errors.headline(s.get("scenario_errors") or []),
        scenario_errors_consequence=scenario_errors.CONSEQUENCE,
        **headline_cards(s),
    )
    return _write(out / "index.html", html)


def _search_section(report: Report, s: dict[str, Any], charts: bool) -> str:
    """A capacity search's path, bracket and cost (analysis.search); empty otherwise."""
    if not s.get("search"):
        return ""
    from surge.analysis.search import search_chart, search_html

    uri = search_chart(s["search"], report.run.stages) if charts else None
    return search_html(s["search"], uri)


def _warmup(report: Report) -> float:
    held = report.stages[report.stages["steady"]]
    if held.empty:
        return 0.0
    return float((held["window_start_s"] - held["start_s"]).max())


def chart_list(report: Report) -> list[dict[str, str]]:
    from surge.analysis import charts as ch

    slo = next((t.value for t in _slo(report) if t.metric == "p95"), None)
    hist = report.histogram
    marks = {k: float(report.whole_run[k]) for k in ("p50", "p95", "p99")}
    items = [
        (
            "Offered vs achieved",
            "Requests per second: the schedule's rate, what the generators "
            "sent, and successful answers received. Vertical lines mark stage changes.",
            ch.throughput_chart(report.timeline, report.run.stages),
        ),
        (
            "Latency over time",
            "Corrected percentiles per second by intended send time (log "
            "scale); the dotted line is p99 measured from the actual send.",
            ch.latency_chart(report.timeline, report.run.stages, slo),
        ),
        (
            "Latency against offered load",
            "Steady part of each hold stage: where the curve bends up is the knee.",
            ch.load_chart(report.stages, slo, report.knee.rate_rps),
        ),
        (
            "Latency distribution",
            "Whole run, share of requests per latency bin; corrected vs uncorrected.",
            ch.distribution_chart(hist, marks),
        ),
        (
            "Outcome mix over time",
            "Requests per intended second by outcome; rejected (a refusal the scenario "
            "classified as valid) counts as success.",
            ch.outcome_chart(report.timeline, report.run.stages),
        ),
    ]
    health = ch.health_chart(report.run.health)
    items.append(
        (
            "Generator health per worker",
            "CPU and send-lag p99 per worker and second; dashed lines are the trust limits.",
            health,
        )
        if health
        else ("Generator health per worker", "No generator health in this run directory.", "")
    )
    if report.comparison is not None:
        comp = ch.comparison_chart(report.comparison.stages)
        if comp:
            items.append(("Comparison with the baseline", "Per matched steady stage.", comp))
    return [{"title": t, "caption": c, "uri": u} for t, c, u in items if u]


def _slo(report: Report) -> tuple:
    from surge.analysis.checks import service_level

    return service_level(report.run.thresholds)


def knee_change(s: dict[str, Any]) -> str:
    """How far the knee moved against the baseline, in one clause."""
    c = s["comparison"]
    now, before = c["knee_rps"], c["baseline_knee_rps"]
    higher = (
        "; every tested rate passed, so the real knee is higher" if s["knee"]["above_test"] else ""
    )
    if now is None and before is None:
        return "neither run met the service level at any tested rate"
    if before is None:
        return f"the knee is {now:,.0f} req/s; the baseline met it at no tested rate{higher}"
    if now is None:
        return f"the knee was {before:,.0f} req/s; now no tested rate meets the service level"
    diff = now - before
    if diff == 0:
        return f"the knee stayed at {now:,.0f} req/s{higher}"
    way = "up" if diff > 0 else "down"
    share = f", {diff / before:+.0%}" if before else ""
    return (
        f"the knee moved {way} from {before:,.0f} to {now:,.0f} req/s "
        f"({diff:+,.0f} req/s{share}){higher}"
    )


def check_word(c: dict[str, Any], bold: bool = True) -> str:
    """pass / FAIL / not judged (a scoped rule whose endpoint had no requests)."""
    if c.get("no_data"):
        return "not judged: no requests"
    if c["passed"]:
        return "pass"
    return "**FAIL**" if bold else "FAIL"


def scenario_line(schedule: dict[str, Any]) -> list[str]:
    """Which scenario ran: its locustfile and, from a fleet, its bundle's hash."""
    if not schedule.get("locustfile"):
        return []
    bundle = schedule.get("scenario_bundle")
    suffix = f" (bundle `{bundle[:12]}`)" if bundle else ""
    if schedule.get("client"):  # #21: the client that sent the requests, TLS verification
        suffix += f", {schedule['client']} client"
    for moved in schedule.get("client_switched") or []:  # at call time (locustfiles.compat)
        suffix += (f" ({moved['users']:,} {moved['user_class']} users switched to Locust's "
                   f"client: {moved['why']})")  # fmt: skip
    tls = schedule.get("tls") or {}
    if tls.get("verify") is False:
        suffix += ", TLS certificates NOT verified"
    elif tls.get("ca_file"):
        suffix += f", TLS verified against `{tls['ca_file']}`"
    return [f"- **Scenario:** `{schedule['locustfile']}`{suffix}"]


def write_markdown(s: dict[str, Any], out: Path) -> Path:
    """summary.md: short enough for a pull-request comment."""
    v, cards = s["verdict"], headline_cards(s)
    icon = {"passed": "✅", "failed": "❌"}.get(v["status"], "⚠️")  # untrustworthy, incomplete...
    lines = [
        f"## {icon} surge: {v['status'].upper()} (exit {v['exit_code']}) · `{s['run_id']}`",
        "",
        v["headline"],
        "",
    ]
    lines += [f"> {note}" for note in v["notes"]] + ([""] if v["notes"] else [])
    lines += [
        f"- **Knee:** {cards['knee_big']} ({cards['knee_small']})",
        f"- **Peak load sustained:** {cards['sustained_big']}",
        "- **What broke first:** "
        + (s["knee"].get("broke_first_sentence") or cards["broke_big"])
        + (
            ""
            if s["knee"].get("broke_first_sentence") or not cards["broke_small"]
            else f" ({cards['broke_small']})"
        ),
        f"- **Success rate:** {pct(s['whole_run']['success_rate'])} of "
        f"{s['whole_run']['requests']:,} requests",
        *scenario_line(s["schedule"]),
        "",
    ]
    if v["thresholds"]:
        lines += ["| threshold | measured | result |", "|---|---:|---|"]
        lines += [
            f"| `{c['rule']}` | {c['measured_text']} | {check_word(c)} |" for c in v["thresholds"]
        ]
        lines.append("")
    lines += render_endpoints.markdown_lines(s, lat, num, pct)
    lines += markdown_stage_table(s["stages"])
    lines += scenario_errors.markdown_lines(s.get("scenario_errors") or [])
    if s["comparison"]:
        c = s["comparison"]
        lines += [
            "",
            f"**Against {c['baseline_run_id']}:** {knee_change(s)}; "
            + (
                "regressions: " + "; ".join(c["regressions"])
                if c["regressions"]
                else "no regressions"
            ),
        ]
    if s.get("search"):
        from surge.analysis.search import search_markdown

        lines += search_markdown(s["search"])
    if not v["trust"]["trustworthy"]:
        lines += ["", "**Untrustworthy:** " + "; ".join(v["trust"]["reasons"])]
    serving = s["cost"]["serving"]
    lines += [
        "",
        f"Cost of {serving['inputs']['rps']:,.0f} req/s for {serving['inputs']['hours']:g} h: "
        f"serverless ${serving['result']['serverless']['total_usd']:,.0f}, servers "
        f"${serving['result']['servers']['total_usd']:,.0f} ({serving['prices']}, defaults).",
    ]
    return _write(out / "summary.md", "\n".join(lines) + "\n")


def markdown_stage_table(stages: list[dict[str, Any]]) -> list[str]:
    """summary.md's stage table, one row per stage (numbered from 1)."""
    lines = [
        "",
        "| stage | offered/s | sent/s | achieved/s (answered) | p95 | p99 | success | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in stages:
        name = f"{r['stage'] + 1}" + (f" {r['name']}" if r.get("name") else "")
        name += f" ({r['kind']})" if not r["steady"] else ""
        lines.append(
            f"| {name} | {num(r['offered_rps'])} | {num(r['sent_rps'])} "
            f"| {num(r['achieved_rps'])} | {lat(r['p95'])} "
            f"| {lat(r['p99'])} | {pct(r['success_rate'])} | {r['errors'] or ''} |"
        )
    return lines


def write_junit(s: dict[str, Any], out: Path) -> Path:
    """junit.xml (see `analysis.junit`)."""
    from surge.analysis.junit import junit_xml

    return _write(out / "junit.xml", junit_xml(s))


def write_all(
    report: Report, s: dict[str, Any], stage_columns: Sequence[str], *, charts: bool = True
) -> dict[str, Path]:
    """Every report file, from the report and its summary (`report.summary`): the caller
    computes, this module only renders, so it never imports the report module back."""
    out = report.out_dir
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary.json": _write(out / "summary.json", json.dumps(s, indent=2, default=str) + "\n"),
        STAGES_FILE: _write(
            out / STAGES_FILE, report.stages[list(stage_columns)].to_csv(index=False)
        ),
        TIMELINE_FILE: _write(
            out / TIMELINE_FILE, report.timeline.to_csv(index=False, float_format="%.6g")
        ),
        TIMELINE_BY_NAME_FILE: _write(
            out / TIMELINE_BY_NAME_FILE,
            report.timeline_by_name.to_csv(index=False, float_format="%.6g"),
        ),
        "summary.md": write_markdown(s, out),
        "junit.xml": write_junit(s, out),
    }
    for name, text in render_endpoints.csv_files(report.views).items():
        files[name] = _write(out / name, text)
    files["index.html"] = write_html(report, s, out, charts)
    append_step_summary(files["summary.md"])
    return files


def append_step_summary(summary_md: Path) -> None:
    """On GitHub Actions, summary.md goes onto the job's page (GITHUB_STEP_SUMMARY is the
    file Actions renders; appending keeps what earlier steps wrote)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as f:
            f.write(summary_md.read_text(encoding="utf-8") + "\n")
    except OSError as exc:  # a CI nicety must never fail the report
        import logging

        logging.getLogger(__name__).warning("could not append to GITHUB_STEP_SUMMARY: %s", exc)
