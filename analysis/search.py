"""The report of a capacity search (`load.search`): path, bracket, cost, verdict.

Every step of a search is an ordinary hold stage (recoveries are stages too, never
judged), so the stage table, the knee and "what broke first" come from the exact
records like any staircase's. This module adds what only a search has, from the
manifest's ``search`` record (the master's live decisions): the path of rates with
pass/fail marks, the bracket the knee lies in, why the search stopped, the requests it
spent against a staircase of the same resolution, and the verdict, which for a search
is not the thresholds over the whole run (failing steps are its purpose) but:

- untrustworthy when the generators fell short on the steps that prove the knee, or
  when they could not offer the next rate and `require` is not proven by then;
- failed when `search.require` is set and the knee is below it, or when no rate met the
  service level (the knee is below the test);
- passed otherwise, including "no knee below max" (the knee is above the test).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd

from surge.analysis.checks import CheckResult
from surge.analysis.knee import Knee
from surge.analysis.loading import RunData
from surge.analysis.plain import plain
from surge.analysis.verdict import Verdict, VerdictStatus, decide
from surge.thresholds import MetricKind

GENERATORS = "generators"  # SearchEnd.GENERATORS's value in the manifest


def search_record(run: RunData) -> dict[str, Any] | None:
    """The master's search record (manifest ``search``), None for a staircase run."""
    record = run.manifest.search
    return record if record and record.get("spec") else None


def judged_steps(stages: pd.DataFrame, record: dict[str, Any]) -> pd.DataFrame:
    """The stage table the knee is found in: without the steps the generators could not
    offer (they prove nothing about the target either way), and without a pass at a rate
    that also failed (a lucky pass is not a capacity: the confirmation decides)."""
    short = [s["stage"] for s in record.get("steps") or [] if s.get("verdict") == GENERATORS]
    table = stages[~stages["stage"].isin(short)]
    held = table["steady"] & (table["requests"] > 0)
    failed_rates = set(table.loc[held & ~table["slo_pass"].astype(bool), "offered_rps"])
    lucky = held & table["slo_pass"].astype(bool) & table["offered_rps"].isin(failed_rates)
    return table[~lucky]


def step_table(record: dict[str, Any], stages: pd.DataFrame) -> pd.DataFrame:
    """One row per step: live verdict beside the exact stage numbers."""
    steps = pd.DataFrame(record.get("steps") or [])
    if steps.empty:
        return pd.DataFrame(columns=["step", "rate", "stage", "verdict", "slo_pass"])
    exact = stages.set_index("stage")
    rows = []
    for i, s in enumerate(steps.to_dict("records"), start=1):
        row = exact.loc[s["stage"]] if s["stage"] in exact.index else None
        rows.append(
            {
                "step": i,
                "rate": float(s["rate"]),
                "start_s": float(s["start_s"]),
                "stage": int(s["stage"]),
                "phase": s.get("phase"),
                "verdict": s.get("verdict"),
                "reason": s.get("reason") or "",
                "slo_pass": None if row is None or not row["requests"] else bool(row["slo_pass"]),
                "p95": None if row is None else plain(row["p95"]),
                "success_rate": None if row is None else plain(row["success_rate"]),
                "achieved_rps": None if row is None else plain(row["achieved_rps"]),
                "errors": "" if row is None else (row["errors"] or ""),
            }
        )
    return pd.DataFrame(rows)


def staircase_cost(spec: dict[str, Any], knee: float | None, hi: float | None) -> dict[str, Any]:
    """What a staircase of the same resolution would have offered: holds of the same
    length from `from`, in steps of resolution x knee, up to the first failing rate."""
    top = hi if hi is not None else (knee if knee is not None else spec["max"])
    step = spec["resolution"] * (knee if knee else spec["from"])
    count = max(1, math.ceil((top - spec["from"]) / step - 1e-9) + 1)
    rates = [spec["from"] + step * k for k in range(count)]
    return {
        "step_rps": step,
        "holds": count,
        "requests": round(sum(r * spec["hold_s"] for r in rates)),
        "duration_s": count * spec["hold_s"],
    }


def search_summary(
    run: RunData, record: dict[str, Any], stages: pd.DataFrame, knee: Knee, whole: pd.Series
) -> dict[str, Any]:
    """summary.json's ``search``: the knee and its bracket, the path, the cost."""
    spec = record["spec"]
    lo = knee.rate_rps
    hi = knee.broke.offered_rps if knee.broke is not None else None
    steps = step_table(record, stages)
    spent = int(whole["requests"])
    stair = staircase_cost(spec, lo, hi)
    end = record.get("end")
    above = "above what these generators can offer" if end == GENERATORS else None
    return {
        "knee_rps": lo,
        "bracket": [lo, hi],
        "bracket_text": bracket_text(lo, hi, end, spec),
        "live_bracket": record.get("bracket"),
        "end": end,
        "end_reason": record.get("end_reason"),
        "above": above,
        "resolution": spec["resolution"],
        "require": spec.get("require"),
        "require_met": None
        if spec.get("require") is None
        else lo is not None and lo >= spec["require"],
        "broke_first": knee.broke.detail if knee.broke is not None else None,
        "requests": spent,
        "duration_s": run.duration_s,
        "staircase": stair,
        "steps": [{k: plain(v) for k, v in r.items()} for r in steps.to_dict("records")],
        "disagreements": [
            int(r["step"])
            for r in steps.to_dict("records")
            if r["slo_pass"] is not None
            and r["verdict"] in ("pass", "fail")
            and r["slo_pass"] != (r["verdict"] == "pass")
        ],
        "spec": spec,
    }


def versus_baseline(
    search: dict[str, Any], run_id: str, knee_rps: float | None, duration_s: float
) -> dict[str, Any]:
    """How this search compares with a staircase run of the same target (`surge demo
    --search` against the last `surge demo`): the knees and the run times."""
    mine = search["knee_rps"]
    diff = None if mine is None or not knee_rps else (mine - knee_rps) / knee_rps
    shorter = 1 - search["duration_s"] / duration_s if duration_s else None
    if diff is None:
        text = f"the staircase run {run_id} found no knee to compare with"
    else:
        text = (
            f"the staircase run {run_id} found its knee at {knee_rps:,.0f} req/s, this search "
            f"at {mine:,.0f} req/s ({diff:+.0%})"
        )
    if shorter is not None:
        text += (
            f"; the search took {search['duration_s']:.0f} s against {duration_s:.0f} s "
            f"({shorter:.0%} shorter)" if shorter >= 0 else
            f"; the search took {search['duration_s']:.0f} s against {duration_s:.0f} s "
            f"({-shorter:.0%} longer)"
        )  # fmt: skip
    return {
        "run_id": run_id,
        "knee_rps": knee_rps,
        "knee_difference": diff,
        "duration_s": duration_s,
        "shorter_by": shorter,
        "text": text + ".",
    }


def bracket_text(lo: float | None, hi: float | None, end: str | None, spec: dict) -> str:
    """The knee in one phrase a manager can repeat."""
    if end == GENERATORS:
        base = f"at least {lo:,.0f} req/s" if lo is not None else "not measured"
        return base + ": above what these generators can offer"
    if lo is None:
        return f"below {spec['from']:,.0f} req/s (the lowest rate tried missed the service level)"
    if hi is None:
        return f"above {lo:,.0f} req/s: every rate up to max passed (the knee is above the test)"
    return f"between {lo:,.0f} and {hi:,.0f} req/s"


def search_verdict(
    run: RunData, stages: pd.DataFrame, knee: Knee, record: dict[str, Any]
) -> Verdict:
    """The verdict of a search run (module docstring)."""
    judged = judged_steps(stages, record)
    passing = judged[judged["steady"] & judged["slo_pass"]]
    trusted = _restricted(run, passing)
    knee_row = (
        stages.loc[stages["stage"] == knee.stage].iloc[0]
        if knee.stage is not None
        else pd.Series({"requests": 0})
    )
    base = decide(trusted, knee_row) if knee.stage is not None else decide(trusted, _empty(stages))
    if base.status in (VerdictStatus.UNTRUSTWORTHY,) or base.status.value in (
        "incomplete",
        "interrupted",
    ):
        return base
    spec = record["spec"]
    require = spec.get("require")
    checks = list(base.checks) if knee.stage is not None else []
    rate = knee.rate_rps
    if require is not None:
        checks.append(
            CheckResult(
                rule=f"knee >= {require:g}/s (search.require)",
                metric="knee",
                kind=MetricKind.RATE,
                measured=rate,
                passed=rate is not None and rate >= require,
            )
        )
    notes = list(base.notes)
    if record.get("end_reason"):
        notes.append("the search ended (live data): " + record["end_reason"])
    if record.get("end") == GENERATORS and not (require is not None and rate and rate >= require):
        reasons = (f"{record.get('end_reason')}: the knee is above what these generators can "
                   f"offer (highest rate met: {_rate(rate)})",)  # fmt: skip
        trust = dataclasses.replace(base.trust, reasons=reasons)
        return Verdict(VerdictStatus.UNTRUSTWORTHY, tuple(checks), trust, (), tuple(notes))
    failed = any(not c.passed and not getattr(c, "no_data", False) for c in checks)
    # no rate met the service level: the knee is below the test, a failure like a
    # staircase whose every stage failed
    status = VerdictStatus.FAILED if failed or rate is None else VerdictStatus.PASSED
    return Verdict(status, tuple(checks), base.trust, (), tuple(notes), base.incomplete)


def _restricted(run: RunData, steps: pd.DataFrame) -> RunData:
    """The run as seen by the steps that prove the knee: their requests and health, and
    none of the master's whole-run trust reasons (failed steps drop arrivals when the
    target holds every slot; that is the target's failure, judged per step)."""
    offset = run.requests["offset_us"].to_numpy()
    keep = np.zeros(len(offset), bool)
    secs: list[np.ndarray] = []
    for row in steps.to_dict("records"):
        lo, hi = row["window_start_s"] * 1e6, row["window_end_s"] * 1e6
        keep |= (offset >= lo) & (offset < hi) & (run.requests["stage"].to_numpy() == row["stage"])
        secs.append(np.arange(math.floor(row["window_start_s"]), math.ceil(row["window_end_s"])))
    health = run.health
    if health is not None and "sec" in health:
        wanted = np.concatenate(secs) if secs else np.array([], int)
        health = health[health["sec"].isin(wanted)]
    manifest = dataclasses.replace(run.manifest, untrustworthy=[])
    return dataclasses.replace(
        run, requests=run.requests[keep].reset_index(drop=True), health=health, manifest=manifest
    )


def _empty(stages: pd.DataFrame) -> pd.Series:
    return pd.Series({c: np.nan for c in stages.columns} | {"requests": 0})


def _rate(value: float | None) -> str:
    return "none" if value is None else f"{value:,.0f}/s"


# ---------------------------------------------------------------- rendering


def search_chart(summary: dict[str, Any], stages: pd.DataFrame) -> str:
    """The search path: offered rate over time, each step marked pass / fail / generators."""
    from surge.analysis import charts as ch

    fig, (ax,) = ch._figure(height=3.0)
    xs, ys = [], []
    for row in stages.to_dict("records"):
        xs += [row["start_s"], row["end_s"]]
        ys += [row["rate_from"], row["rate_to"]]
    ax.plot(xs, ys, color=ch.COLORS["offered"], linewidth=1.2, label="offered rate")
    marks = {"pass": ("o", ch.COLORS["ok"]), "fail": ("x", ch.COLORS["error"]),
             "generators": ("^", ch.COLORS["throttled"])}  # fmt: skip
    hold = summary["spec"]["hold_s"]
    for verdict, (marker, color) in marks.items():
        pts = [(s["start_s"] + hold / 2, s["rate"]) for s in summary["steps"]
               if s["verdict"] == verdict]  # fmt: skip
        if pts:
            ax.scatter(*zip(*pts, strict=True), marker=marker, color=color, s=40, zorder=3,
                       label=verdict)  # fmt: skip
    lo, hi = summary["bracket"]
    if lo is not None and hi is not None:
        ax.axhspan(lo, hi, color=ch.COLORS["p95"], alpha=0.15, label="knee bracket")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("req/s")
    ax.legend(loc="upper left", fontsize=8)
    return ch._to_uri(fig)


def search_html(summary: dict[str, Any], chart_uri: str | None) -> str:
    """The report's search section (escaped; inserted into index.html as is)."""
    from html import escape

    stair = summary["staircase"]
    rows = "".join(
        f"<tr><td>{s['step']}</td><td>{s['start_s']:.0f}</td><td>{s['rate']:,.1f}</td>"
        f"<td class='l'>{escape(str(s['phase']))}</td>"
        f"<td class='{_cls(s['verdict'])}'>{escape(str(s['verdict']))}</td>"
        f"<td>{_ms(s['p95'])}</td><td>{_pc(s['success_rate'])}</td>"
        f"<td class='wrap'>{escape(s['reason'] or s['errors'] or '')}</td></tr>"
        for s in summary["steps"]
    )
    chart = f"<img alt='search path' src='{chart_uri}'>" if chart_uri else ""
    spent = (
        f"The search spent {summary['requests']:,} requests in {summary['duration_s']:.0f} s; "
        f"a staircase of the same resolution (holds of {summary['spec']['hold_s']:g} s in steps "
        f"of {stair['step_rps']:,.1f} req/s from {summary['spec']['from']:g}) would have "
        f"offered {stair['requests']:,} requests in {stair['duration_s']:.0f} s."
    )
    broke = (
        f"<p>At {summary['bracket'][1]:,.0f} req/s: {escape(summary['broke_first'])}</p>"
        if summary["broke_first"] and summary["bracket"][1] is not None else ""
    )  # fmt: skip
    differ = (
        "<p class='note'>The exact records judged step(s) "
        + ", ".join(str(i) for i in summary["disagreements"])
        + " differently from the live data the search steered by (live data count requests "
        "by completion, the report by intended send time); the knee above uses the exact "
        "records.</p>"
        if summary["disagreements"] else ""
    )  # fmt: skip
    versus = (
        f"<p>Against a staircase: {escape(summary['baseline']['text'])}</p>"
        if summary.get("baseline") else ""
    )  # fmt: skip
    return (
        "<section id='search'><h2>Capacity search</h2>"
        f"<p><b>Knee: {escape(summary['bracket_text'])}</b> "
        f"(resolution {summary['resolution']:.0%}). The search ended (live data): "
        f"{escape(summary['end_reason'] or 'n/a')}.</p>"
        f"{broke}<p class='note'>{escape(spent)}</p>{differ}{versus}{chart}"
        "<table><tr><th>step</th><th>start s</th><th>rate</th><th>phase</th><th>live</th>"
        "<th>p95</th><th>success</th><th>why</th></tr>"
        f"{rows}</table></section>"
    )


def search_markdown(summary: dict[str, Any]) -> list[str]:
    stair = summary["staircase"]
    path = " → ".join(f"{s['rate']:g}{_mark(s['verdict'])}" for s in summary["steps"])
    versus = (
        [f"Against a staircase: {summary['baseline']['text']}"] if summary.get("baseline") else []
    )
    if summary["disagreements"]:
        versus.append(
            "The exact records judged step(s) "
            + ", ".join(str(i) for i in summary["disagreements"])
            + " differently from the live data; the knee uses the exact records."
        )
    return [
        "",
        f"**Capacity search:** knee {summary['bracket_text']} "
        f"(resolution {summary['resolution']:.0%}); the search ended (live data): "
        f"{summary['end_reason']}.",
        f"Path: {path}.",
        f"Spent {summary['requests']:,} requests ({summary['duration_s']:.0f} s); a staircase "
        f"of the same resolution: {stair['requests']:,} ({stair['duration_s']:.0f} s).",
        *versus,
    ]


def _mark(verdict: str | None) -> str:
    return {"pass": " ✓", "fail": " ✗", "generators": " ⚠"}.get(verdict or "", "")


def _cls(verdict: str | None) -> str:
    return {"pass": "pass", "fail": "fail"}.get(verdict or "", "note")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f} ms"


def _pc(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"
