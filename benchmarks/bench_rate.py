"""2. Rate accuracy: achieved vs scheduled rate per stage, two workers, three stages.

The stages offer 25 %, 50 % and 80 % of the one-core capacity measured by benchmark 1
in the same run, split over two local workers (so each worker carries half). Achieved
means requests actually sent inside the stage's wall-clock window, from surge's own
records; arrivals are uniform so the figure shows the generator, not Poisson noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.fleet import run_fleet
from benchmarks.generator_efficiency import capacity_rps, guard
from benchmarks.harness import BenchResult, Context, Table, fmt, fmt_ratio, median
from benchmarks.loadgen import schedule_yaml, stage_figures
from benchmarks.nginx import running_nginx

NAME = "rate"
TITLE = "2. Rate accuracy (three stages, two workers)"
SHARES = (0.25, 0.50, 0.80)
WORKERS = 2
FALLBACK_CAPACITY_RPS = 1000.0  # when benchmark 1 did not run or found no capacity
BUDGET_SLACK_S = 90.0


def run(ctx: Context) -> BenchResult:
    s = ctx.settings
    measured = capacity_rps(ctx)
    capacity = measured or FALLBACK_CAPACITY_RPS
    stage_s = s.pick(6.0, 2.0)
    stages = [(round(capacity * share), stage_s) for share in SHARES]
    work = ctx.work_dir(NAME)
    runs: list[dict[str, Any]] = []
    with running_nginx(cpu=None) as nginx:
        text = schedule_yaml(
            name="bench-rate",
            target=nginx.url,
            stages=stages,
            arrivals="uniform",
            max_in_flight=2000,
        )
        budget_s = len(stages) * stage_s + BUDGET_SLACK_S
        for i in range(s.repeats):
            runs.append(guard(lambda i=i: _one(ctx, text, work / f"rate-{i}", stages, budget_s)))
    return _result(runs, stages, capacity, measured)


def _one(
    ctx: Context, text: str, run_dir: Path, stages: list[tuple[float, float]], budget_s: float
) -> dict[str, Any]:
    done = run_fleet(ctx, text, run_dir, workers=WORKERS, budget_s=budget_s)
    if done.start_epoch is None:
        return {"error": done.error or "no manifest written"}
    steps = stage_figures(done.run_dir, done.start_epoch, stages)
    return {"steps": steps, "exit_code": done.result.exit_code if done.result else None}


def _result(
    runs: list[dict[str, Any]],
    stages: list[tuple[float, float]],
    capacity: float,
    measured: float | None,
) -> BenchResult:
    rows, data = [], []
    for index, ((rate, _secs), share) in enumerate(zip(stages, SHARES, strict=True)):
        steps = [r["steps"][index] for r in runs if "steps" in r]
        achieved = median([st["achieved_rps"] for st in steps])
        lag99 = median([st["lag_p99_ms"] for st in steps])
        dropped = median([st["dropped_share"] for st in steps])
        error = None if achieved is None else (achieved - rate) / rate
        rows.append(
            [
                index + 1,
                f"{share:.0%}",
                fmt(rate),
                fmt(achieved, 1),
                fmt_ratio(None if achieved is None else achieved / rate),
                fmt(None if error is None else error * 100, 2, " %"),
                fmt(lag99, 1),
                fmt(None if dropped is None else dropped * 100, 3),
            ]
        )
        data.append(
            {
                "stage": index,
                "scheduled_rps": rate,
                "achieved_rps": achieved,
                "error": error,
                "lag_p99_ms": lag99,
                "dropped_share": dropped,
            }
        )
    result = BenchResult(name=NAME, title=TITLE, data={"stages": data, "runs": runs})
    worst = max((abs(d["error"]) for d in data if d["error"] is not None), default=None)
    result.summary = [
        f"Largest per-stage rate error: {fmt(None if worst is None else worst * 100, 2, ' %')} "
        f"(stages at 25/50/80 % of {fmt(capacity)} req/s"
        f"{'' if measured else ', an assumed capacity: benchmark 1 did not run or found none'})."
    ]
    result.tables = [
        Table(
            "Per stage (medians over repeats)",
            [
                "stage",
                "of capacity",
                "scheduled req/s",
                "achieved req/s",
                "achieved ÷ scheduled",
                "error",
                "send lag p99 ms",
                "dropped %",
            ],
            rows,
        )
    ]
    errors = [r["error"] for r in runs if "error" in r]
    result.notes = [
        f"{WORKERS} local workers and a master (provisioning.local.run_local), nginx unpinned "
        "on the same two cores; uniform arrivals; each stage "
        f"{stages[0][1]:g} s; achieved = requests whose actual send time falls in the stage's "
        "wall-clock window (from the run's Parquet records), divided by its duration.",
        *(f"failed repeat: {e}" for e in errors),
    ]
    return result
