"""The benchmark contract: settings in, structured results out, medians and ratios.

Every benchmark module exposes ``NAME``, ``TITLE`` and ``run(ctx: Context) ->
BenchResult``. A benchmark that cannot run here (a tool missing, a colleague's piece
not built yet) raises `NotRun` with the reason; the harness records "not run: <reason>"
instead of failing the whole `make bench`. Absolute figures drift on shared machines,
so every benchmark also reports ratios against anchors measured in the same run.
"""

from __future__ import annotations

import enum
import shlex
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "benchmarks" / "out"
DEFAULT_RESULTS_FILE = REPO_ROOT / "benchmarks" / "RESULTS.md"
FULL_REPEATS = 3
QUICK_REPEATS = 1


class NotRun(Exception):
    """This benchmark cannot run on this machine now; the message says why."""


class Status(enum.Enum):
    DONE = "done"
    NOT_RUN = "not run"
    FAILED = "failed"


@dataclass(frozen=True)
class Settings:
    """How hard to push: `quick` shrinks every duration and size to a smoke run."""

    quick: bool = False
    repeats: int = FULL_REPEATS
    out_dir: Path = DEFAULT_OUT_DIR

    @classmethod
    def make(cls, *, quick: bool, repeats: int | None, out_dir: Path) -> Settings:
        default = QUICK_REPEATS if quick else FULL_REPEATS
        return cls(quick=quick, repeats=repeats or default, out_dir=out_dir)

    def pick(self, full: Any, quick: Any) -> Any:
        """The full-run value, or the smoke-run value under ``--quick``."""
        return quick if self.quick else full


@dataclass
class Table:
    """A table for RESULTS.md; cells are already formatted strings or numbers."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


@dataclass
class BenchResult:
    """What one benchmark found; `data` is the machine-readable part (results.json)."""

    name: str
    title: str
    status: Status = Status.DONE
    reason: str = ""
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "status": self.status.value,
            "reason": self.reason,
            "summary": self.summary,
            "tables": [vars(t) for t in self.tables],
            "commands": self.commands,
            "notes": self.notes,
            "data": self.data,
            "seconds": round(self.seconds, 1),
        }


@dataclass
class Context:
    """Shared by the benchmarks of one `make bench`: settings, earlier results, commands.

    Attributes:
        settings: quick or full, repeats, output directory.
        results: results of the benchmarks already run, by name (later ones read the
            generator capacity from here).
        commands: the exact command lines run by the current benchmark.
    """

    settings: Settings
    results: dict[str, BenchResult] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)

    def log_command(self, argv: Sequence[str] | str) -> None:
        text = argv if isinstance(argv, str) else shlex.join(str(a) for a in argv)
        text = text.replace(str(self.settings.out_dir), "$OUT").replace(str(REPO_ROOT), ".")
        if text not in self.commands:
            self.commands.append(text)

    def work_dir(self, name: str) -> Path:
        path = self.settings.out_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that exist (a failed repeat is None)."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(value: float | None, anchor: float | None) -> float | None:
    if value is None or not anchor:
        return None
    return value / anchor


def repeat(times: int, measure: Callable[[int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Run `measure(i)` `times` times; each returns a dict of figures."""
    return [measure(i) for i in range(times)]


def medians(runs: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, float | None]:
    return {k: median([r.get(k) for r in runs]) for k in keys}


def fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    """A number for a table: thousands separators, '-' when missing."""
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"
