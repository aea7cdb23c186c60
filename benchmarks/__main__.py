"""`python -m benchmarks [--only NAME[,NAME]] [--quick]`: run the benchmarks, write the record.

A full run of every benchmark writes benchmarks/RESULTS.md (committed); a `--quick` or
`--only` run writes benchmarks/out/RESULTS-quick.md / RESULTS-partial.md instead, so a
smoke run never overwrites the record. Raw figures go to benchmarks/out/results.json.
Exit code: 0 when every benchmark ran or was skipped with a reason, 1 when one failed,
2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from benchmarks import machine, record, sections
from benchmarks.harness import (
    DEFAULT_OUT_DIR,
    DEFAULT_RESULTS_FILE,
    BenchResult,
    Context,
    NotRun,
    Settings,
    Status,
)

#: benchmark name -> module, in the order they run (later ones read earlier results)
BENCHMARKS: dict[str, str] = {
    "generator": "benchmarks.generator_efficiency",
    "rate": "benchmarks.bench_rate",
    "truth": "benchmarks.bench_truth",
    "analysis": "benchmarks.analysis_scale",
    "fanin": "benchmarks.bench_fanin",
    "capacity": "benchmarks.bench_capacity",
    "soak": "benchmarks.bench_soak",
}
#: run only when named with --only (an hour long); a full run keeps their last section
OPT_IN: frozenset[str] = frozenset({"soak"})
#: `make bench` must end within 15 minutes: a benchmark is not started once this is spent
TOTAL_BUDGET_S = 14 * 60.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help=f"run only these benchmarks ({', '.join(BENCHMARKS)}); their prerequisites run too",
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny settings, 1 repeat")
    parser.add_argument("--repeats", type=int, metavar="N", help="repeats per measurement (3)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT_DIR, help="raw outputs (benchmarks/out)"
    )
    parser.add_argument(
        "--results", type=Path, metavar="FILE", help="where to write the Markdown record"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser.parse_args(argv)


def selected(only: Sequence[str]) -> list[str]:
    """The benchmarks to run, in order, with the prerequisites of the ones asked for."""
    wanted = {n.strip() for item in only for n in item.split(",") if n.strip()}
    unknown = sorted(wanted - set(BENCHMARKS))
    if unknown:
        raise SystemExit(
            f"error: unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})"
        )
    if not wanted:
        return [n for n in BENCHMARKS if n not in OPT_IN]
    for name in list(wanted):
        wanted.update(getattr(_load(name), "REQUIRES", ()) if _load(name) else ())
    return [n for n in BENCHMARKS if n in wanted]


def _load(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(BENCHMARKS[name])
    except ModuleNotFoundError as exc:
        if exc.name == BENCHMARKS[name]:
            return None
        raise


def run_one(name: str, ctx: Context) -> BenchResult:
    """Run one benchmark; a missing piece or a crash is recorded, never fatal to the rest."""
    module = _load(name)
    title = getattr(module, "TITLE", name)
    ctx.commands = []
    started = time.monotonic()
    try:
        if module is None or not hasattr(module, "run"):
            raise NotRun(f"{BENCHMARKS[name]} is not written yet")
        result = module.run(ctx)
    except NotRun as exc:
        result = BenchResult(name=name, title=title, status=Status.NOT_RUN, reason=str(exc))
    except Exception as exc:
        log = ctx.work_dir(name) / "traceback.txt"
        log.write_text(traceback.format_exc())
        result = BenchResult(
            name=name,
            title=title,
            status=Status.FAILED,
            reason=f"{type(exc).__name__}: {exc} (traceback in {log})",
        )
    result.seconds = time.monotonic() - started
    if not result.commands:
        result.commands = list(ctx.commands)
    return result


def skipped(name: str, reason: str) -> BenchResult:
    module = _load(name)
    title = getattr(module, "TITLE", name)
    return BenchResult(name=name, title=title, status=Status.NOT_RUN, reason=reason)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for name, module in BENCHMARKS.items():
            note = f"  (opt-in: --only {name})" if name in OPT_IN else ""
            print(f"{name:10} {module}{note}")
        return 0
    names = selected(args.only)
    settings = Settings.make(quick=args.quick, repeats=args.repeats, out_dir=args.out.resolve())
    settings.out_dir.mkdir(parents=True, exist_ok=True)
    everything = not args.only and not args.quick
    results_file = args.results or (
        DEFAULT_RESULTS_FILE
        if everything
        else settings.out_dir / ("RESULTS-quick.md" if args.quick else "RESULTS-partial.md")
    )
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    invocation = shlex.join(
        ["python", "-m", "benchmarks", *(argv if argv is not None else sys.argv[1:])]
    )
    facts = machine.describe()
    ctx = Context(settings=settings)
    deadline = time.monotonic() + TOTAL_BUDGET_S
    kept = sections.carried(
        results_file, [getattr(_load(n), "TITLE", n) for n in OPT_IN if n not in names]
    )
    for name in names:
        print(f"== {name}", flush=True)
        if time.monotonic() > deadline:
            result = skipped(name, f"the {TOTAL_BUDGET_S / 60:.0f}-minute budget was spent")
        else:
            result = run_one(name, ctx)
        ctx.results[name] = result
        print(
            f"   {result.status.value} in {result.seconds:.0f}s: "
            f"{result.reason or (result.summary[0] if result.summary else '')}",
            flush=True,
        )
        record.write(
            results_file,
            settings.out_dir / "results.json",
            machine=facts,
            started=started,
            invocation=invocation,
            quick=settings.quick,
            repeats=settings.repeats,
            results=list(ctx.results.values()),
        )
        sections.append(results_file, kept)
    print(f"written: {results_file}")
    failed = [r.name for r in ctx.results.values() if r.status is Status.FAILED]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
