"""5. Fan-in: one master, 32 and 64 local worker processes at a low rate each.

What grows with the worker count is the master's work: heartbeats, beats, health
reports and the plan split. The per-worker rate is low so that the workers (sharing two
cores) are not the limit; what is measured is whether the total rate still comes out
right and what the master's CPU costs. A 2-worker run in the same benchmark is the
anchor for the master's CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.fleet import run_fleet
from benchmarks.generator_efficiency import guard
from benchmarks.harness import BenchResult, Context, Table, fmt, fmt_ratio, ratio
from benchmarks.loadgen import schedule_yaml, stage_figures
from benchmarks.nginx import running_nginx
from surge.results import read_status

NAME = "fanin"
TITLE = "5. Fan-in (one master, many local workers)"
WORKER_COUNTS_FULL = (2, 32, 64)
WORKER_COUNTS_QUICK = (2, 4)
RATE_PER_WORKER = 5.0
START_ALLOWANCE_PER_WORKER_S = 2.0  # importing Locust in N processes on two cores
BUDGET_SLACK_S = 90.0
WINDOW_SKIP_S = 2.0  # the master's CPU is read from this long after the start


def run(ctx: Context) -> BenchResult:
    s = ctx.settings
    hold_s = s.pick(15.0, 4.0)
    work = ctx.work_dir(NAME)
    rows: list[dict[str, Any]] = []
    with running_nginx(cpu=None) as nginx:
        for workers in s.pick(WORKER_COUNTS_FULL, WORKER_COUNTS_QUICK):
            row: dict[str, Any] = {"workers": workers, "scheduled_rps": RATE_PER_WORKER * workers}
            row.update(guard(lambda w=workers: _one(ctx, nginx.url, w, hold_s, work)))
            rows.append(row)
    return _result(rows, hold_s)


def _one(ctx: Context, url: str, workers: int, hold_s: float, work: Path) -> dict[str, Any]:
    """One fleet run; a run that collapses is a finding, reported in its row."""
    scheduled = RATE_PER_WORKER * workers
    text = schedule_yaml(
        name="bench-fanin",
        target=url,
        arrivals="uniform",
        stages=[(RATE_PER_WORKER, hold_s)],
        per_worker=True,
        max_in_flight=100,
    )
    budget = workers * START_ALLOWANCE_PER_WORKER_S + hold_s + BUDGET_SLACK_S
    done = run_fleet(ctx, text, work / f"workers-{workers}", workers=workers, budget_s=budget)
    status = read_status(done.run_dir) or {}
    row: dict[str, Any] = {
        "lost_workers": len(status.get("lost_workers") or []),
        "abort_reason": status.get("abort_reason") or "",
        "exit_code": done.result.exit_code if done.result else None,
    }
    if done.start_epoch is None:
        return {**row, "error": done.error or "no manifest written"}
    step = stage_figures(done.run_dir, done.start_epoch, [(scheduled, hold_s)])[0]
    lo, hi = step.pop("window")
    seconds, cpu_s, _ = done.sampler.window(lo + WINDOW_SKIP_S, hi)
    return {
        **row,
        "achieved_rps": step["achieved_rps"],
        "error_share": (step["achieved_rps"] - scheduled) / scheduled,
        "lag_p99_ms": step["lag_p99_ms"],
        "master_cpu_pct": cpu_s / seconds * 100 if seconds > 0 else None,
        "note": done.error or row["abort_reason"],
    }


def _result(rows: list[dict[str, Any]], hold_s: float) -> BenchResult:
    anchor = rows[0].get("master_cpu_pct") if rows else None
    table = [
        [
            r["workers"],
            fmt(r["scheduled_rps"]),
            fmt(r.get("achieved_rps"), 1),
            fmt(None if r.get("error_share") is None else r["error_share"] * 100, 2, " %"),
            fmt(r.get("lag_p99_ms"), 1),
            fmt(r.get("master_cpu_pct"), 1),
            fmt_ratio(ratio(r.get("master_cpu_pct"), anchor)),
            r.get("lost_workers", "-"),
            r.get("error") or r.get("note", ""),
        ]
        for r in rows
    ]
    result = BenchResult(name=NAME, title=TITLE, data={"runs": rows})
    biggest = rows[-1] if rows else {}
    share = biggest.get("error_share")
    result.summary = [
        f"{biggest.get('workers')} workers: total rate error "
        f"{fmt(None if share is None else share * 100, 2, ' %')}, "
        f"master CPU {fmt(biggest.get('master_cpu_pct'), 1)} % "
        f"({fmt_ratio(ratio(biggest.get('master_cpu_pct'), anchor))} the 2-worker master), "
        f"{biggest.get('lost_workers', '-')} workers declared lost by the master."
    ]
    result.tables = [
        Table(
            "One run per worker count",
            [
                "workers",
                "scheduled req/s",
                "achieved req/s",
                "rate error",
                "send lag p99 ms",
                "master CPU %",
                "÷ 2-worker master",
                "workers lost",
                "note",
            ],
            table,
        )
    ]
    result.notes = [
        f"{RATE_PER_WORKER:g} req/s per worker (`per_worker: true`), uniform arrivals, one "
        f"{hold_s:g} s hold; everything on this machine's two cores (provisioning.local."
        "run_local), nginx unpinned. Achieved = requests actually sent in the hold's wall-clock "
        "window (Parquet records). Workers lost: workers the master dropped from the split "
        "because it did not hear from them in time (status.json `lost_workers`). "
        "Master CPU: kernel CPU time of the master process over the "
        f"hold, from {WINDOW_SKIP_S:g} s after its start.",
        "One run per worker count: starting 64 Locust processes on two cores takes most of "
        "a minute, and repeats would not fit the 15-minute budget of `make bench`.",
    ]
    return result
