"""Rendering: index.html, summary.md, summary.json, junit.xml and the CSVs of a `Report`.

Nothing here computes a number; it formats what `analysis.report.compute` produced.
Every file is written to a temp name and renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

from surge.analysis.cost import CostInputs, formulas
from surge.analysis.template import HTML

if TYPE_CHECKING:
    from surge.analysis.report import Report

TIMELINE_FILE = "timeline.csv"
TIMELINE_BY_NAME_FILE = "timeline_by_name.csv"
STAGES_FILE = "stages.csv"


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


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
        cards["broke_small"] = broke["detail"]
    elif knee["tested_stages"]:
        cards["broke_big"] = "nothing"
        cards["broke_small"] = "every tested rate met the service level"
    else:
        cards["broke_big"] = "n/a"
        cards["broke_small"] = "no steady stage recorded requests"
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
        **headline_cards(s),
    )
    return _write(out / "index.html", html)


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
            "Requests per intended second by outcome; 409 sold out is a valid answer.",
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
        else ("Generator health per worker", "No health.parquet in this run directory.", "")
    )
    if report.comparison is not None:
        comp = ch.comparison_chart(report.comparison.stages)
        if comp:
            items.append(("Comparison with the baseline", "Per matched steady stage.", comp))
    return [{"title": t, "caption": c, "uri": u} for t, c, u in items if u]


def _slo(report: Report) -> tuple:
    from surge.analysis.checks import service_level

    return service_level(report.run.thresholds)


def write_markdown(s: dict[str, Any], out: Path) -> Path:
    """summary.md: short enough for a pull-request comment."""
    v, cards = s["verdict"], headline_cards(s)
    icon = {"passed": "✅", "failed": "❌", "untrustworthy": "⚠️"}[v["status"]]
    lines = [
        f"## {icon} surge: {v['status'].upper()} (exit {v['exit_code']}) · `{s['run_id']}`",
        "",
        v["headline"],
        "",
    ]
    lines += [
        f"- **Knee:** {cards['knee_big']} ({cards['knee_small']})",
        f"- **Peak load sustained:** {cards['sustained_big']}",
        f"- **What broke first:** {cards['broke_big']}"
        + (f" ({cards['broke_small']})" if cards["broke_small"] else ""),
        f"- **Success rate:** {pct(s['whole_run']['success_rate'])} of "
        f"{s['whole_run']['requests']:,} requests",
        "",
    ]
    if v["thresholds"]:
        lines += ["| threshold | measured | result |", "|---|---:|---|"]
        lines += [
            f"| `{c['rule']}` | {c['measured_text']} | {'pass' if c['passed'] else '**FAIL**'} |"
            for c in v["thresholds"]
        ]
        lines.append("")
    lines += [
        "| stage | offered/s | achieved/s | p95 | p99 | success | errors |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in s["stages"]:
        name = f"{r['stage']}" + (" (ramp)" if not r["steady"] else "")
        lines.append(
            f"| {name} | {num(r['offered_rps'])} | {num(r['achieved_rps'])} | {lat(r['p95'])} "
            f"| {lat(r['p99'])} | {pct(r['success_rate'])} | {r['errors'] or ''} |"
        )
    if s["comparison"]:
        c = s["comparison"]
        lines += [
            "",
            f"**Against {c['baseline_run_id']}:** knee {num(c['knee_rps'])} vs "
            f"{num(c['baseline_knee_rps'])} req/s; "
            + (
                "regressions: " + "; ".join(c["regressions"])
                if c["regressions"]
                else "no regressions"
            ),
        ]
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


def write_junit(s: dict[str, Any], out: Path) -> Path:
    """junit.xml: one test case per threshold (plus trust and baseline), values in failures."""
    v = s["verdict"]
    suite = ET.Element(
        "testsuite", name=f"surge {s['run_id']}", timestamp=str(s["started_at"] or "")
    )
    cases = 0
    failures = 0

    def case(name: str, failure: str | None, classname: str) -> None:
        nonlocal cases, failures
        cases += 1
        el = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
        if failure is not None:
            failures += 1
            ET.SubElement(el, "failure", message=failure, type="threshold").text = failure

    for c in v["thresholds"]:
        case(
            c["rule"],
            None if c["passed"] else f"measured {c['measured_text']}; rule {c['rule']}",
            "surge.thresholds",
        )
    trust = v["trust"]
    case(
        "generators kept up",
        None if trust["trustworthy"] else "; ".join(trust["reasons"]),
        "surge.trust",
    )
    if s["comparison"] is not None:
        regressions = s["comparison"]["regressions"]
        gating = bool(v["regressions"])
        case(
            f"no regression against {s['comparison']['baseline_run_id']}",
            "; ".join(regressions) if regressions and gating else None,
            "surge.baseline",
        )
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    root = ET.Element("testsuites", name="surge", tests=str(cases), failures=str(failures))
    root.append(suite)
    ET.indent(root)
    return _write(
        out / "junit.xml",
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n",
    )


def write_all(report: Report, *, charts: bool = True) -> dict[str, Path]:
    from surge.analysis.report import STAGE_COLUMNS, summary

    out = report.out_dir
    out.mkdir(parents=True, exist_ok=True)
    s = summary(report)
    files = {
        "summary.json": _write(out / "summary.json", json.dumps(s, indent=2, default=str) + "\n"),
        STAGES_FILE: _write(
            out / STAGES_FILE, report.stages[list(STAGE_COLUMNS)].to_csv(index=False)
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
    files["index.html"] = write_html(report, s, out, charts)
    return files
