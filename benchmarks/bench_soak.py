"""7. Memory soak: do the master's and a worker's RSS stay flat over an hour?

Issue 17's goal "generators last a day": at a steady rate, the resident memory of the
master and of each worker grows by at most 50 MB between minute 5 and minute 60 of a
one-hour run. The run is a distributed local surge run as `surge run` starts it
(`provisioning.local.run_local`: one master, one worker, recording on) with the web UI
and Prometheus metrics on, against loopback nginx at a steady modest rate. Something
polls the UI's status every second (what an open browser tab does) and scrapes
/metrics every 15 s (what Prometheus does), so the live views' code paths run too.

RSS (the process plus its children, psutil) of every surge process is sampled every
`SAMPLE_S` seconds into ``out/soak/rss.csv``. The hour is opt-in (it is not part of
`make bench`): ``python -m benchmarks --only soak``; ``SURGE_SOAK_MINUTES`` and
``SURGE_SOAK_RPS`` change the length and the rate. A full-length soak (not ``--quick``,
``SURGE_SOAK_MINUTES`` unset or 60) writes its section into benchmarks/RESULTS.md
(the other sections are kept), since a `--only` run otherwise only writes
out/RESULTS-partial.md.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from benchmarks import sections
from benchmarks.harness import (
    DEFAULT_RESULTS_FILE,
    BenchResult,
    Context,
    NotRun,
    Status,
    Table,
    fmt,
)
from benchmarks.loadgen import schedule_yaml
from benchmarks.nginx import running_nginx
from surge.provisioning.local import free_port, run_local

NAME = "soak"
TITLE = "7. Memory soak (master + one worker, steady rate)"
GOAL_MB = 50.0
FULL_MINUTES = 60.0
QUICK_MINUTES = 2.0
FULL_BASELINE_MIN = 5.0
QUICK_BASELINE_MIN = 0.5
DEFAULT_RPS = 1000.0
SAMPLE_S = 10.0
UI_POLL_S = 1.0  # surge.js POLL_MS
SCRAPE_S = 15.0  # a Prometheus scrape interval
TABLE_STEP_MIN = 5.0
AUTOQUIT_S = 5  # the UI master quits this long after the run ends
BUDGET_SLACK_S = 180.0  # start, the last parts, shutdown
STOP_WAIT_S = 20.0
MB = 1024.0 * 1024.0


@dataclass(frozen=True)
class Plan:
    """How long, how fast, and from which minute growth is judged."""

    minutes: float
    rps: float
    baseline_min: float

    @property
    def seconds(self) -> float:
        return self.minutes * 60.0


def plan(quick: bool, env: dict[str, str] | os._Environ[str] = os.environ) -> Plan:
    """The soak's length and rate: `SURGE_SOAK_MINUTES`/`SURGE_SOAK_RPS`, else 60 (2 quick).

    Growth is judged from minute 5 on (the issue's goal); a run shorter than 20 minutes
    (a trial) judges from its first quarter, `--quick` from minute 0.5."""
    minutes = float(env.get("SURGE_SOAK_MINUTES") or (QUICK_MINUTES if quick else FULL_MINUTES))
    rps = float(env.get("SURGE_SOAK_RPS") or DEFAULT_RPS)
    if minutes <= 0 or rps <= 0:
        raise NotRun(f"SURGE_SOAK_MINUTES ({minutes:g}) and SURGE_SOAK_RPS ({rps:g}) must be > 0")
    if quick:
        baseline = QUICK_BASELINE_MIN
    elif minutes >= 4 * FULL_BASELINE_MIN:
        baseline = FULL_BASELINE_MIN
    else:
        baseline = minutes / 4
    return Plan(minutes=minutes, rps=rps, baseline_min=baseline)


# ---------------------------------------------------------------- the figures


@dataclass(frozen=True)
class RssSample:
    """One process's resident memory at one moment of the run."""

    elapsed_s: float
    process: str  # "master", "worker-1", ...
    pid: int
    rss_bytes: int
    cpu_s: float


def at(series: Sequence[RssSample], elapsed_s: float) -> RssSample | None:
    """The sample nearest `elapsed_s` (None for an empty series)."""
    return min(series, key=lambda s: abs(s.elapsed_s - elapsed_s), default=None)


def growth(series: Sequence[RssSample], from_s: float, to_s: float) -> dict[str, Any]:
    """RSS at `from_s` (the nearest sample) and at `to_s` (the last sample not after it),
    the growth between, and the maximum over [from_s, to_s]; MB. Samples past `to_s`
    (the end of the run: last parts, compaction, shutdown) are not judged."""
    start = at(series, from_s)
    end = at([s for s in series if s.elapsed_s <= to_s], to_s)
    window = [s.rss_bytes for s in series if from_s <= s.elapsed_s <= to_s]
    if start is None or end is None:
        return {"start_mb": None, "end_mb": None, "growth_mb": None, "max_mb": None}
    return {
        "start_mb": start.rss_bytes / MB,
        "start_at_s": start.elapsed_s,
        "end_mb": end.rss_bytes / MB,
        "end_at_s": end.elapsed_s,
        "growth_mb": (end.rss_bytes - start.rss_bytes) / MB,
        "max_mb": max(window, default=max(start.rss_bytes, end.rss_bytes)) / MB,
    }


def by_process(samples: Sequence[RssSample]) -> dict[str, list[RssSample]]:
    """Samples per process name, in time order, the master first."""
    out: dict[str, list[RssSample]] = {}
    for sample in sorted(samples, key=lambda s: s.elapsed_s):
        out.setdefault(sample.process, []).append(sample)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "master", kv[0])))


# ---------------------------------------------------------------- sampling


def _rss_and_cpu(proc: psutil.Process) -> tuple[int, float]:
    """RSS and CPU seconds of a process and its children (a child's memory is the run's)."""
    rss = proc.memory_info().rss
    cpu = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            rss += child.memory_info().rss
            cpu += sum(child.cpu_times()[:2])
    return rss, cpu


def surge_processes(run_dir: Path) -> dict[str, psutil.Process]:
    """This process's Locust children of the run: "master" and "worker-N" (by pid order)."""
    master, workers = None, []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            cmdline = child.cmdline()
            if str(run_dir) not in " ".join(cmdline):
                continue
            if "--worker" in cmdline:
                workers.append(child)
            elif "--master" in cmdline:
                master = child
    named = {f"worker-{i + 1}": p for i, p in enumerate(sorted(workers, key=lambda p: p.pid))}
    return {"master": master, **named} if master else named


class RssRecorder:
    """Samples the run's processes every `SAMPLE_S` into memory and a CSV, in a thread."""

    def __init__(self, run_dir: Path, csv_path: Path, interval_s: float = SAMPLE_S) -> None:
        self.run_dir = run_dir
        self.csv_path = csv_path
        self.interval_s = interval_s
        self.t0 = time.time()
        self.samples: list[RssSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def take(self) -> None:
        elapsed = time.time() - self.t0
        rows = []
        for name, proc in surge_processes(self.run_dir).items():
            with contextlib.suppress(psutil.Error):
                rss, cpu = _rss_and_cpu(proc)
                rows.append(RssSample(round(elapsed, 1), name, proc.pid, rss, round(cpu, 2)))
        self.samples += rows
        with self.csv_path.open("a", newline="") as out:
            writer = csv.writer(out)
            for r in rows:
                writer.writerow([r.elapsed_s, r.process, r.pid, r.rss_bytes, r.cpu_s])

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.take()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssRecorder:
        self.csv_path.write_text("elapsed_s,process,pid,rss_bytes,cpu_s\n")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@contextlib.contextmanager
def watching(ui_url: str, metrics_url: str) -> Iterator[dict[str, int]]:
    """Poll the UI's status every second and scrape /metrics every 15 s, like a browser
    tab and Prometheus would, for as long as the block lasts; counts the answers."""
    counts = {"ui": 0, "metrics": 0, "failed": 0}
    stop = threading.Event()

    def loop() -> None:
        next_scrape = 0.0
        while not stop.is_set():
            urls = [ui_url]
            if time.monotonic() >= next_scrape:
                urls.append(metrics_url)
                next_scrape = time.monotonic() + SCRAPE_S
            for url in urls:
                try:
                    with urllib.request.urlopen(url, timeout=5) as reply:
                        reply.read()
                    counts["ui" if url == ui_url else "metrics"] += 1
                except OSError:
                    counts["failed"] += 1  # not up yet, or already gone
            stop.wait(UI_POLL_S)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join(10)


# ---------------------------------------------------------------- the run


def _ui_run(
    ctx: Context, schedule: Path, run_dir: Path, web_port: int, metrics_port: int
) -> dict[str, Any]:
    """`run_local` with the web UI (autostarted, as the fleet's master) and /metrics, in a
    thread; returns when the master quits, or stops everything when the budget is spent."""
    extra = [
        "--autostart", "--autoquit", str(AUTOQUIT_S),
        "--surge-metrics-port", str(metrics_port),
        "--surge-report-by-parent",  # no report: the soak measures the run, not the report
        "--loglevel", "WARNING",
    ]  # fmt: skip
    ctx.log_command(
        f'python -c \'from surge.provisioning.local import run_local; run_local("{schedule}", '
        f'"{run_dir}", workers=1, ui=True, web_port={web_port}, run_id="{run_dir.name}", '
        f"extra_args={extra!r})'"
    )
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            result = run_local(
                schedule,
                run_dir,
                workers=1,
                ui=True,
                web_port=web_port,
                run_id=run_dir.name,
                extra_args=extra,
            )
            outcome["exit_code"] = result.exit_code
            outcome["worker_exit_codes"] = result.worker_exit_codes
        except Exception as exc:  # reported in the result, not raised from a thread
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    outcome["thread"] = thread
    return outcome


def _stop_run(run_dir: Path, thread: threading.Thread) -> None:
    procs = list(surge_processes(run_dir).values())
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    thread.join(STOP_WAIT_S)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    thread.join(STOP_WAIT_S)


def _load_started(recorder: RssRecorder, nginx: Any, timeout_s: float = 60.0) -> float | None:
    """Seconds after the recorder's start at which nginx first counted load, else None."""
    before = nginx.requests()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.5)
        with contextlib.suppress(OSError, RuntimeError):
            if nginx.requests() - before > 20:
                return time.time() - recorder.t0
    return None


def run(ctx: Context) -> BenchResult:
    p = plan(ctx.settings.quick)
    work = ctx.work_dir(NAME)
    run_dir = work / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    schedule = work / "run.yaml"
    web_port, metrics_port = free_port(), free_port()
    served: dict[str, Any] = {}
    with running_nginx(cpu=None) as nginx:
        schedule.write_text(
            schedule_yaml(
                name="bench-soak",
                target=nginx.url,
                stages=[(p.rps, p.seconds)],
                arrivals="uniform",
                max_in_flight=200,
            )
        )
        counter_start = nginx.requests()
        ui_url = f"http://127.0.0.1:{web_port}/surge/api/status"
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with (
            RssRecorder(run_dir, work / "rss.csv") as recorder,
            watching(ui_url, metrics_url) as seen,
        ):
            outcome = _ui_run(ctx, schedule, run_dir, web_port, metrics_port)
            load_at = _load_started(recorder, nginx)
            thread = outcome.pop("thread")
            thread.join(p.seconds + BUDGET_SLACK_S)
            if thread.is_alive():
                outcome.setdefault("error", "still running past its budget: stopped")
                _stop_run(run_dir, thread)
        served = {"nginx_requests": nginx.requests() - counter_start, **seen}
    result = _result(p, recorder.samples, load_at, outcome, served, work, recorder.t0)
    if not ctx.settings.quick and "SURGE_SOAK_MINUTES" not in os.environ:
        rate = f"SURGE_SOAK_RPS={p.rps:g} " if "SURGE_SOAK_RPS" in os.environ else ""
        # a `--only` run writes out/RESULTS-partial.md: put the hour into the record too
        sections.upsert(DEFAULT_RESULTS_FILE, result, f"{rate}python -m benchmarks --only soak")
    return result


def _result(
    p: Plan,
    samples: Sequence[RssSample],
    load_at: float | None,
    outcome: dict[str, Any],
    served: dict[str, Any],
    work: Path,
    recorder_epoch: float,
) -> BenchResult:
    result = BenchResult(name=NAME, title=TITLE)
    series = by_process(samples)
    if not series:
        result.status = Status.FAILED
        result.reason = f"no surge process was sampled ({outcome.get('error', 'no error')})"
        return result
    t0 = load_at if load_at is not None else min(s.elapsed_s for s in samples)
    from_s, to_s = t0 + p.baseline_min * 60.0, t0 + p.seconds
    verdicts = {name: growth(s, from_s, to_s) for name, s in series.items()}
    rows = []
    for name, v in verdicts.items():
        ok = v["growth_mb"] is not None and v["growth_mb"] <= GOAL_MB
        v["meets_goal"] = ok
        after = [x.rss_bytes for x in series[name] if x.elapsed_s > to_s]
        v["after_load_max_mb"] = max(after) / MB if after else None  # last parts, shutdown
        rows.append(
            [
                name,
                fmt(v["start_mb"], 1),
                fmt(v["end_mb"], 1),
                fmt(v["growth_mb"], 1),
                fmt(v["max_mb"], 1),
                "met" if ok else "NOT met",
                fmt(v["after_load_max_mb"], 1),
            ]
        )
    worst_name, worst = max(verdicts.items(), key=lambda kv: kv[1]["growth_mb"] or 0.0)
    all_ok = all(v["meets_goal"] for v in verdicts.values())
    served_rps = served.get("nginx_requests", 0) / p.seconds
    result.summary = [
        f"Largest RSS growth minute {p.baseline_min:g} -> {p.minutes:g}: "
        f"{fmt(worst['growth_mb'], 1)} MB ({worst_name}); goal <= {GOAL_MB:g} MB per process: "
        f"{'met' if all_ok else 'NOT met'}.",
        f"{p.rps:,.0f} req/s offered for {p.minutes:g} min; nginx served "
        f"{served.get('nginx_requests', 0):,} requests (~{served_rps:,.0f} req/s); the UI "
        f"status was polled {served.get('ui', 0):,} times, /metrics scraped "
        f"{served.get('metrics', 0):,} times.",
    ]
    if outcome.get("error"):
        result.summary.append(f"The run did not end cleanly: {outcome['error']}.")
    result.tables = [
        Table(
            f"RSS (MB) at minute {p.baseline_min:g} and minute {p.minutes:g} of the load",
            [
                "process",
                f"min {p.baseline_min:g}",
                f"min {p.minutes:g}",
                "growth",
                "max",
                "goal",
                "max after the load (end of run)",
            ],
            rows,
        ),
        _timeline(series, t0, p),
    ]
    result.notes = [
        "One master and one worker started by provisioning.local.run_local (as `surge run`), "
        "recording Parquet parts, with the web UI (--autostart) and --surge-metrics-port on; "
        f"the UI's /surge/api/status polled every {UI_POLL_S:g} s and /metrics scraped every "
        f"{SCRAPE_S:g} s during the run. nginx unpinned on the same two cores; uniform "
        "arrivals, one hold.",
        f"RSS = resident set of the process and its children (psutil), sampled every "
        f"{SAMPLE_S:g} s into benchmarks/out/soak/rss.csv; minute 0 is when nginx first "
        "counted load; a figure at minute m is the sample nearest it (for the last minute: "
        "the last sample before the load's end).",
        f"Master exit code {outcome.get('exit_code')}, worker exit codes "
        f"{outcome.get('worker_exit_codes')}.",
    ]
    result.data = {
        "minutes": p.minutes,
        "rps": p.rps,
        "baseline_min": p.baseline_min,
        "load_started_s": t0,  # minute 0, in the CSV's elapsed_s
        "csv_epoch": recorder_epoch,  # the CSV's elapsed_s 0, as a Unix time
        "goal_mb": GOAL_MB,
        "processes": verdicts,
        "served": served,
        "outcome": {k: v for k, v in outcome.items() if k != "thread"},
        "csv": str(work / "rss.csv"),
    }
    (work / "soak.json").write_text(json.dumps(result.data, indent=1, default=str))
    return result


def _timeline(series: dict[str, list[RssSample]], t0: float, p: Plan) -> Table:
    """RSS per process every 5 minutes (every quarter of a run under 20 minutes)."""
    step = TABLE_STEP_MIN if p.minutes >= 4 * TABLE_STEP_MIN else p.minutes / 4
    marks, m = [], 0.0
    while m <= p.minutes + 1e-9:
        marks.append(m)
        m += step
    rows = []
    for minute in marks:
        row: list[Any] = [f"{minute:g}"]
        for s in series.values():
            sample = at([x for x in s if x.elapsed_s <= t0 + p.seconds], t0 + minute * 60.0)
            row.append(fmt(None if sample is None else sample.rss_bytes / MB, 1))
        rows.append(row)
    return Table("RSS (MB) over the run", ["minute", *series], rows)


def rejudge(work: Path) -> BenchResult:
    """The result again from a finished soak's ``rss.csv`` and ``soak.json`` (after a
    change to how it is judged). Minute 0 is ``load_started_s``; a soak.json written
    before it was stored gives it as the minute-5 sample's time less 5 minutes (within
    half a sampling interval)."""
    data = json.loads((work / "soak.json").read_text())
    with (work / "rss.csv").open() as rows:
        samples = [
            RssSample(
                float(r["elapsed_s"]),
                r["process"],
                int(r["pid"]),
                int(r["rss_bytes"]),
                float(r["cpu_s"]),
            )
            for r in csv.DictReader(rows)
        ]
    p = Plan(minutes=data["minutes"], rps=data["rps"], baseline_min=data["baseline_min"])
    t0 = data.get("load_started_s")
    if t0 is None:
        t0 = data["processes"]["master"]["start_at_s"] - p.baseline_min * 60.0
    outcome, served = data.get("outcome", {}), data.get("served", {})
    return _result(p, samples, t0, outcome, served, work, data.get("csv_epoch") or 0.0)


if __name__ == "__main__":  # python -m benchmarks.bench_soak benchmarks/out/soak [--record]
    import sys

    again = rejudge(Path(sys.argv[1]))
    print("\n".join(again.summary))
    if "--record" in sys.argv[2:]:
        sections.upsert(DEFAULT_RESULTS_FILE, again)
