"""1. Generator efficiency: req/s on one core and CPU µs per request, surge vs the others.

nginx serves a static /products JSON from core 0; each generator runs alone on core 1
with 50 connections (wrk), 50 users without wait (Locust) or at most 50 requests in
flight (surge). wrk and Locust run flat out; their rate and CPU are read over a window
after a warm-up. surge is an open-model generator, so "flat out" is not its mode: it
is offered a staircase of fixed rates and its capacity is the highest step it *kept up*
with (no drops, p99 send lag within `KEPT_UP_MAX_LAG_P99_MS`), with recording on.

surge runs three times: with its own client (`SurgeProducts`, surge as shipped, the
headline) and driving the unmodified `FastProducts` and `HttpProducts` classes (what a
user's existing FastHttpUser and HttpUser locustfiles get: surge's transport through
`locustfiles.compat`, `scenario.client: auto`), side by side with the same classes in
Locust's own closed loop. Locust also runs surge's client in its closed loop (`Locust
SurgeHttpUser`), which separates the client's share of the gain from the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import BenchResult, Context, Table, fmt, fmt_ratio, median, medians, ratio
from benchmarks.loadgen import (
    USER_CLASS,
    GeneratorKind,
    closed_loop,
    schedule_yaml,
    stage_figures,
    standalone,
)
from benchmarks.nginx import running_nginx

NAME = "generator"
TITLE = "1. Generator efficiency (one core, loopback nginx)"

KEPT_UP_MAX_DROPPED_SHARE = 0.001
KEPT_UP_MAX_LAG_P99_MS = 100.0
KEPT_UP_MIN_ACHIEVED = 0.95  # achieved / scheduled in the stage's window
WARMUP_HOLD_S = 1.0  # before the staircase, at its first rate (connections open here)
STAGE_SKIP_S = 0.3  # CPU is read from this long after a step starts (the step change settles)
#: surge's staircases, as multiples of Locust FastHttpUser's flat-out rate in the same run:
#: unmodified FastHttpUser/HttpUser classes run on surge's transport too (issue 21), so
#: every staircase goes well past FastHttpUser's rate
_STEPS = (0.4, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0, 2.2, 2.4, 2.6, 2.8, 3.0)
STEP_FACTORS = {
    GeneratorKind.SURGE: _STEPS,
    GeneratorKind.SURGE_FAST: _STEPS,
    GeneratorKind.SURGE_HTTP: _STEPS,
}
STEP_FACTORS_QUICK = (0.5, 1.0)
FALLBACK_ANCHOR_RPS = 2000.0  # when the FastHttpUser anchor failed or is implausibly low
MIN_ANCHOR_RPS = 100.0
MIN_STEP_RPS = 10.0
CLOSED_LOOP = (
    GeneratorKind.WRK,
    GeneratorKind.LOCUST_FAST,
    GeneratorKind.LOCUST_HTTP,
    GeneratorKind.LOCUST_SURGE,
)
OPEN_MODEL = (GeneratorKind.SURGE, GeneratorKind.SURGE_FAST, GeneratorKind.SURGE_HTTP)
SLUG = {
    GeneratorKind.SURGE: "surge",
    GeneratorKind.SURGE_FAST: "surge-fast",
    GeneratorKind.SURGE_HTTP: "surge-http",
}


def run(ctx: Context) -> BenchResult:
    s = ctx.settings
    warmup_s, window_s = s.pick(2.0, 1.0), s.pick(6.0, 2.0)
    stage_s = s.pick(2.5, 1.5)
    work = ctx.work_dir(NAME)
    with running_nginx() as nginx:
        closed: dict[str, list[dict[str, Any]]] = {kind: [] for kind in CLOSED_LOOP}
        for i in range(s.repeats):  # interleaved, so drift hits every generator alike
            for kind in CLOSED_LOOP:
                log = work / f"{kind.split()[-1].lower()}-{i}.log"
                closed[kind].append(
                    guard(
                        lambda kind=kind, log=log: closed_loop(
                            ctx,
                            kind,
                            nginx.url,
                            nginx.requests,
                            warmup_s=warmup_s,
                            window_s=window_s,
                            log=log,
                        ).as_dict()
                    )
                )
        anchor = median([r.get("rps") for r in closed[GeneratorKind.LOCUST_FAST]])
        base = anchor if anchor and anchor >= MIN_ANCHOR_RPS else FALLBACK_ANCHOR_RPS
        rates = {
            kind: [
                max(round(f * base, -1), MIN_STEP_RPS)
                for f in s.pick(STEP_FACTORS[kind], STEP_FACTORS_QUICK)
            ]
            for kind in OPEN_MODEL
        }
        opened: dict[str, list[dict[str, Any]]] = {kind: [] for kind in OPEN_MODEL}
        for i in range(s.repeats):
            for kind in OPEN_MODEL:
                slug = SLUG[kind]
                opened[kind].append(
                    guard(
                        lambda kind=kind, slug=slug, i=i: open_model_capacity(
                            ctx,
                            nginx.url,
                            nginx.requests,
                            rates[kind],
                            stage_s,
                            work / f"{slug}-{i}",
                            user=USER_CLASS[kind],
                        )
                    )
                )
    return _result(closed, opened, rates, stage_s, warmup_s, window_s)


def guard(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A failed repeat becomes an error entry; the medians use the others."""
    try:
        return measure()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def open_model_capacity(
    ctx: Context,
    url: str,
    counter: Callable[[], int],
    rates: Sequence[float],
    stage_s: float,
    run_dir: Path,
    *,
    name: str = "bench-generator",
    user: str = USER_CLASS[GeneratorKind.SURGE],
) -> dict[str, Any]:
    """surge on one core, offered `rates` in steps of `stage_s`: the highest step kept up.

    A warm-up hold at the first rate comes first and is not judged: the slots open
    their connections there (over HTTPS a TLS handshake each, which costs the first
    fraction of a second a send lag the steady state does not have), as the closed-loop
    generators get a warm-up before their window.

    Returns capacity_rps (None when no step was kept up), CPU µs per request and CPU %
    at that step, the highest rate it sent at any step (saturated), and every step.
    """
    stages = [(rates[0], WARMUP_HOLD_S)] + [(r, stage_s) for r in rates]
    text = schedule_yaml(name=name, target=url, stages=stages, user=user)
    duration_s = sum(secs for _, secs in stages)
    done = standalone(ctx, text, run_dir, counter, duration_s=duration_s)
    if done.start_epoch is None or done.sampler is None:
        return {"error": f"surge wrote no manifest (exit {done.exit_code}); see {run_dir}.log"}
    steps = stage_figures(run_dir, done.start_epoch, stages)[1:]  # the warm-up is not judged
    best: dict[str, Any] | None = None
    searching = True
    for step in steps:
        lo, hi = step.pop("window")
        seconds, cpu_s, count = done.sampler.window(lo + STAGE_SKIP_S, hi)
        step["cpu_us"] = cpu_s / count * 1e6 if count > 0 else None
        step["cpu_pct"] = cpu_s / seconds * 100 if seconds > 0 else None
        step["kept_up"] = kept_up(step)
        searching = searching and step["kept_up"]  # the first step it cannot hold ends it
        if searching:
            best = step
    return {
        "capacity_rps": best["achieved_rps"] if best else None,
        "cpu_us": best["cpu_us"] if best else None,
        "cpu_pct": best["cpu_pct"] if best else None,
        "saturated_rps": max(s["achieved_rps"] for s in steps) if steps else None,
        "exit_code": done.exit_code,
        "steps": steps,
    }


def kept_up(step: dict[str, Any]) -> bool:
    return (
        (step["dropped_share"] or 0.0) <= KEPT_UP_MAX_DROPPED_SHARE
        and step["lag_p99_ms"] is not None
        and step["lag_p99_ms"] <= KEPT_UP_MAX_LAG_P99_MS
        and step["achieved_rps"] >= KEPT_UP_MIN_ACHIEVED * step["scheduled_rps"]
        and step["errors"] == 0
    )


def _result(
    closed: dict[str, list[dict[str, Any]]],
    opened: dict[str, list[dict[str, Any]]],
    rates: dict[str, Sequence[float]],
    stage_s: float,
    warmup_s: float,
    window_s: float,
) -> BenchResult:
    figures = {kind: medians(runs, ("rps", "cpu_us", "cpu_pct")) for kind, runs in closed.items()}
    open_medians = {
        kind: medians(runs, ("capacity_rps", "cpu_us", "cpu_pct", "saturated_rps"))
        for kind, runs in opened.items()
    }
    for kind, m in open_medians.items():
        figures[kind] = {"rps": m["capacity_rps"], "cpu_us": m["cpu_us"], "cpu_pct": m["cpu_pct"]}
    wrk, fast = figures[GeneratorKind.WRK], figures[GeneratorKind.LOCUST_FAST]
    rows = [
        [
            kind,
            fmt(f["rps"]),
            fmt(f["cpu_us"], 1),
            fmt(f["cpu_pct"]),
            fmt_ratio(ratio(f["rps"], wrk["rps"])),
            fmt_ratio(ratio(f["rps"], fast["rps"])),
            fmt_ratio(ratio(f["cpu_us"], fast["cpu_us"])),
        ]
        for kind, f in figures.items()
    ]
    repeats_rows = [
        [kind, i + 1, fmt(r.get("rps")), fmt(r.get("cpu_us"), 1), r.get("error", "")]
        for kind, runs in closed.items()
        for i, r in enumerate(runs)
    ] + [
        [
            kind,
            i + 1,
            fmt(r.get("capacity_rps")),
            fmt(r.get("cpu_us"), 1),
            r.get("error", "") or f"saturated at {fmt(r.get('saturated_rps'))} req/s",
        ]
        for kind, runs in opened.items()
        for i, r in enumerate(runs)
    ]
    step_rows = [
        [
            kind,
            i + 1,
            fmt(st["scheduled_rps"]),
            fmt(st["achieved_rps"]),
            fmt(st["lag_p99_ms"], 1),
            fmt((st["dropped_share"] or 0) * 100, 2),
            fmt(st["cpu_us"], 1),
            fmt(st["cpu_pct"]),
            "yes" if st["kept_up"] else "no",
        ]
        for kind, runs in opened.items()
        for i, r in enumerate(runs)
        for st in r.get("steps", [])
    ]
    surge, driving = figures[GeneratorKind.SURGE], figures[GeneratorKind.SURGE_FAST]
    driving_http = figures[GeneratorKind.SURGE_HTTP]
    http = figures[GeneratorKind.LOCUST_HTTP]
    result = BenchResult(name=NAME, title=TITLE)
    result.summary = [
        f"surge kept up with {fmt(surge['rps'])} req/s on one core "
        f"({fmt(surge['cpu_us'], 1)} µs CPU per request, recording on); "
        f"Locust FastHttpUser ran {fmt(fast['rps'])} req/s flat out "
        f"({fmt(fast['cpu_us'], 1)} µs); wrk {fmt(wrk['rps'])} req/s.",
        f"surge / FastHttpUser: {fmt_ratio(ratio(surge['rps'], fast['rps']))} req/s, "
        f"{fmt_ratio(ratio(surge['cpu_us'], fast['cpu_us']))} CPU per request. "
        f"surge driving an unmodified FastHttpUser class: {fmt(driving['rps'])} req/s "
        f"({fmt_ratio(ratio(driving['rps'], fast['rps']))} Locust's FastHttpUser, "
        f"{fmt_ratio(ratio(driving['cpu_us'], fast['cpu_us']))} CPU per request).",
        f"surge driving an unmodified HttpUser class: {fmt(driving_http['rps'])} req/s "
        f"({fmt_ratio(ratio(driving_http['rps'], http['rps']))} Locust's HttpUser at "
        f"{fmt(http['rps'])} req/s).",
    ]
    cols = [
        "generator",
        "req/s (median)",
        "CPU µs/req",
        "CPU %",
        "÷ wrk",
        "÷ FastHttpUser",
        "CPU/req ÷ FastHttpUser",
    ]
    step_cols = [
        "generator", "repeat", "offered", "sent req/s", "send lag p99 ms", "dropped %",
        "CPU µs/req", "CPU %", "kept up",
    ]  # fmt: skip
    result.tables = [
        Table("Medians", cols, rows),
        Table("Every repeat", ["generator", "repeat", "req/s", "CPU µs/req", "note"], repeats_rows),
        Table("surge's staircases (every repeat)", step_cols, step_rows),
    ]
    result.notes = [
        f"Closed-loop generators: {warmup_s:g} s warm-up after the target first sees load, then "
        f"a {window_s:g} s window; requests counted by nginx (stub_status), CPU time from the "
        "kernel for the generator process (user + system). Locust SurgeHttpUser is surge's "
        "client (`locustfiles/client.py`) in Locust's ordinary closed loop.",
        f"surge: a {WARMUP_HOLD_S:g} s warm-up hold at the first rate (not judged), then "
        f"holds of {stage_s:g} s at multiples of FastHttpUser's median "
        f"({', '.join(fmt(r) for r in rates[GeneratorKind.SURGE])} req/s with its own client; "
        f"{', '.join(fmt(r) for r in rates[GeneratorKind.SURGE_FAST])} req/s driving "
        "FastHttpUser and HttpUser); a step is kept up when drops <= "
        f"{KEPT_UP_MAX_DROPPED_SHARE:.1%}, p99 send lag <= {KEPT_UP_MAX_LAG_P99_MS:g} ms, "
        f"sent >= {KEPT_UP_MIN_ACHIEVED:.0%} of offered and no errors; the capacity is the last "
        "step kept up before the first that is not. One process does everything (schedule, "
        "dispatch, recording to Parquet), so its CPU includes what a master and a worker "
        "would do.",
    ]
    result.data = {
        "closed": closed,
        "surge": opened[GeneratorKind.SURGE],
        "surge_driving_fasthttpuser": opened[GeneratorKind.SURGE_FAST],
        "surge_driving_httpuser": opened[GeneratorKind.SURGE_HTTP],
        "medians": figures,
        "surge_saturated_rps": open_medians[GeneratorKind.SURGE]["saturated_rps"],
        "rates": {kind: list(r) for kind, r in rates.items()},
    }
    return result


def capacity_rps(ctx: Context) -> float | None:
    """surge's one-core capacity measured earlier in this run (None when unknown)."""
    found = ctx.results.get(NAME)
    if found is None:
        return None
    return found.data.get("medians", {}).get(GeneratorKind.SURGE, {}).get("rps")


def cpu_us_per_request(ctx: Context) -> float | None:
    found = ctx.results.get(NAME)
    if found is None:
        return None
    return found.data.get("medians", {}).get(GeneratorKind.SURGE, {}).get("cpu_us")
