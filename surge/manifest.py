"""The run manifest as a type: the one shape every writer fills and every reader trusts.

``manifest.json`` used to be a free-form dict, and readers drifted from writers (the
report looked for keys no writer set). Now the master (`locustfiles.fleet`), the
agent (kill switch, hard end) and tests build a `Manifest`, `Manifest.dump` writes
it, and `Manifest.load` / `read_manifest` is the only way to read one.

Versions: ``format_version`` is the MAJOR version (an int, as format 1 always was),
``format_minor`` the additive revision. A reader refuses a major it does not know
(`FormatVersionError`, exit 2) and reads any minor: keys it does not know are kept in
`Manifest.extra` and written back unchanged. Minor 0 is the untyped format-1 manifest
(no ``abort``, no ``format_minor``); it still reads.

To add a field: give `Manifest` an attribute with a default, write it in `to_dict`,
read it (tolerating its absence) in `from_dict`, bump `FORMAT_MINOR`, and add it to
the round-trip test in ``tests/surge/test_manifest.py``. A change an older reader
would misread (a renamed or retyped key) needs a new major instead.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import platform
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from surge import __version__
from surge.atomic import atomic_write_bytes
from surge.errors import FormatVersionError, RunDirError

MANIFEST = "manifest.json"
#: where run directories go unless told otherwise (`surge run --out`, `surge fetch`, the
#: engine): the one default. Here, not in `results`, so the CLI reads it without pyarrow.
DEFAULT_RESULTS_DIR = Path("results")
FORMAT_VERSION = 1  # the major version: readers refuse another one
#: 4: results_layout (issue 17); 3: scenario_errors; 2: parts, worker_failures,
#: left_workers, incomplete, search,
#: scenario_client typed; 1: typed (abort, format_minor, scenario_bundle); 0: the untyped
#: format 1
FORMAT_MINOR = 4
#: the run directory's file layout (surge.results docstring); 1: before issue 17
RESULTS_LAYOUT = 2
KNOWN_FORMAT_VERSIONS = frozenset({FORMAT_VERSION})


class RunState(enum.Enum):
    """Where a run is; the master's `status.json` and the manifest carry the value."""

    WAITING = "waiting"  # before start
    STARTING = "starting"  # plans out, first arrival not yet due
    RUNNING = "running"
    DRAINING = "draining"  # schedule over, waiting for the last responses
    ABORTING = "aborting"
    FINISHED = "finished"
    ABORTED = "aborted"
    STOPPED = "stopped"  # stopped by a person (web UI, Ctrl-C)

    @property
    def final(self) -> bool:
        return self in FINAL_STATES


FINAL_STATES = frozenset({RunState.FINISHED, RunState.ABORTED, RunState.STOPPED})


class AbortedBy(enum.Enum):
    """Who ended a run before its schedule did."""

    THRESHOLD = "threshold"  # an abort_on_fail threshold breached for its `for`
    PERSON = "person"  # the web UI's stop button, Ctrl-C
    KILL_SWITCH = "kill switch"  # `surge abort` (the S3 stop object a fleet polls)
    HARD_END = "hard end"  # the agent's dead-man's switch


@dataclass
class Abort:
    reason: str
    by: AbortedBy
    at: dt.datetime | None = None


@dataclass
class WorkerEntry:
    """One generator process (a Locust worker)."""

    id: str
    host: str = ""
    pid: int = 0
    instance_type: str | None = None  # EC2 type, when the agent knows it (for the cost)


@dataclass
class MasterEntry:
    host: str = ""
    instance_type: str | None = None


@dataclass
class Totals:
    requests: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    late: int = 0


def tool_versions() -> dict[str, str]:
    try:
        from importlib.metadata import version

        locust_version = version("locust")
    except Exception:  # pragma: no cover - locust is a hard dependency
        locust_version = "unknown"
    return {"surge": __version__, "locust": locust_version, "python": platform.python_version()}


@dataclass(frozen=True)
class ScenarioError:
    """Exceptions one task of the scenario's own code raised (not requests: they reach no
    record), counted by the workers from Locust's ``user_error`` event."""

    task: str  # the task's name, as in scenario.mix ("on_start" for the user's start)
    error: str  # the exception's type, e.g. KeyError
    count: int
    example: str = ""  # the first message seen, for the reader to recognise it

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "error": self.error, "count": self.count,
                "example": self.example}  # fmt: skip

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> ScenarioError:
        return cls(str(row.get("task") or ""), str(row.get("error") or ""),
                   int(row.get("count") or 0), str(row.get("example") or ""))  # fmt: skip


@dataclass
class Manifest:
    """What a run was and how it went. See the module docstring for versions.

    Attributes:
        run_id, schedule (the parsed schedule as JSON), schedule_yaml (its text).
        started_at / ended_at / hard_end: UTC instants (None until known).
        state: the master's `RunState` at the last write (None for a run written
            by a tool that has no master, such as a synthetic test run).
        workers, master: the generator processes and the master, with EC2 types.
        abort: why and by whom the run was ended early (None: it was not).
        untrustworthy: reasons the engine found the numbers untrustworthy (empty: none).
        totals: requests and outcomes the master counted.
        scenario_bundle: hash of the scenario files the workers ran (None: not bundled).
        scenario_client: which client drove the scenario's User class and why (#21):
            user_class, client, reason, notes, and ``switched`` ([{user_class, why,
            users}]) when users moved to Locust's client at call time.
        parts: rows per request part, ``"<worker>/part-NNNNN.parquet"`` -> rows, as the
            recorders reported them (the report finds damaged or missing parts by them).
        worker_failures, left_workers: workers that failed (disk full...) or left early
            (spot notice), as the master heard it.
        incomplete: why the records are known to be incomplete (empty: they are not).
        search: the knee search's record (`load.search` runs; None otherwise).
        scenario_errors: exceptions the scenario's tasks raised, per (task, type), most
            first (empty: none, or a run older than format_minor 3).
        results_layout: the run directory's file layout (`surge.results`): 2 hive-style
            ``requests/worker=<id>/`` with compacted parts, 1 (absent) the older one.
        extra: keys this surge does not know (from a newer minor), kept for the round trip.
    """

    run_id: str
    schedule: dict[str, Any]
    schedule_yaml: str = ""
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    hard_end: dt.datetime | None = None
    state: RunState | None = None
    workers: list[WorkerEntry] = field(default_factory=list)
    master: MasterEntry | None = None
    clock_offsets_ms: dict[str, float] = field(default_factory=dict)
    lost_workers: list[dict[str, Any]] = field(default_factory=list)
    stalled_workers: list[dict[str, Any]] = field(default_factory=list)
    abort: Abort | None = None
    untrustworthy: list[str] = field(default_factory=list)
    totals: Totals | None = None
    scenario_bundle: str | None = None
    scenario_client: dict[str, Any] | None = None
    parts: dict[str, int] = field(default_factory=dict)
    worker_failures: list[dict[str, Any]] = field(default_factory=list)
    left_workers: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    search: dict[str, Any] | None = None
    scenario_errors: list[ScenarioError] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=tool_versions)
    host: str = field(default_factory=socket.gethostname)
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    format_minor: int = FORMAT_MINOR
    results_layout: int = RESULTS_LAYOUT  # 1 when the manifest does not say (older runs)

    @classmethod
    def new(cls, *, run_id: str, schedule: Any, **fields: Any) -> Manifest:
        """A manifest for `schedule` (a `surge.schedule.Schedule`); the scenario bundle's
        hash comes from the schedule unless given."""
        bundle = schedule.bundle
        fields.setdefault("scenario_bundle", bundle.sha256 if bundle is not None else None)
        return cls(
            run_id=run_id, schedule=schedule.to_dict(), schedule_yaml=schedule.text, **fields
        )

    @property
    def trustworthy(self) -> bool:
        return not self.untrustworthy

    # ------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        master = None if self.master is None else _drop_none(vars(self.master))
        data: dict[str, Any] = {
            **self.extra,
            "format_version": self.format_version,
            "format_minor": self.format_minor,
            "results_layout": self.results_layout,
            "run_id": self.run_id,
            "schedule": self.schedule,
            "schedule_yaml": self.schedule_yaml,
            "versions": dict(self.versions),
            "host": self.host,
            "workers": [_drop_none(vars(w)) for w in self.workers],
            "master": master,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "hard_end": iso(self.hard_end),
            "state": None if self.state is None else self.state.value,
            "clock_offsets_ms": dict(self.clock_offsets_ms),
            "lost_workers": list(self.lost_workers),
            "stalled_workers": list(self.stalled_workers),
            # abort_reason and trust are format 1.0's keys, still written for old readers
            "abort_reason": None if self.abort is None else self.abort.reason,
            "abort": None
            if self.abort is None
            else {"reason": self.abort.reason, "by": self.abort.by.value, "at": iso(self.abort.at)},
            "trust": {"trustworthy": self.trustworthy, "reasons": list(self.untrustworthy)},
            "totals": None if self.totals is None else vars(self.totals).copy(),
            "scenario_bundle": self.scenario_bundle,
            "scenario_client": self.scenario_client,
            "parts": dict(self.parts),
            "worker_failures": list(self.worker_failures),
            "left_workers": list(self.left_workers),
            "incomplete": list(self.incomplete),
            "search": self.search,
            "scenario_errors": [e.to_dict() for e in self.scenario_errors],
            "engine": dict(self.engine),
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = MANIFEST) -> Manifest:
        """Check the version, then read every known key (`RunDirError` naming a bad one)."""
        check_format_version(data.get("format_version"), KNOWN_FORMAT_VERSIONS, "manifest", where)
        try:
            return cls._read(_Reader(data, where), data)
        except (TypeError, ValueError, AttributeError) as exc:  # a value of the wrong shape
            raise RunDirError(f"manifest.json is malformed: {exc}", where) from None

    @classmethod
    def _read(cls, r: _Reader, data: Mapping[str, Any]) -> Manifest:
        state = r.enum("state", RunState)
        return cls(
            run_id=r.text("run_id", required=True) or "",
            schedule=r.mapping("schedule") or {},
            schedule_yaml=r.text("schedule_yaml") or "",
            started_at=r.time("started_at"),
            ended_at=r.time("ended_at"),
            hard_end=r.time("hard_end"),
            state=state,
            workers=[
                WorkerEntry(
                    id=str(w.get("id") or ""),
                    host=str(w.get("host") or ""),
                    pid=int(w.get("pid") or 0),
                    instance_type=w.get("instance_type") or None,
                )
                for w in r.list_of_mappings("workers")
            ],
            master=_master(r.mapping("master")),
            clock_offsets_ms={
                k: float(v) for k, v in (r.mapping("clock_offsets_ms") or {}).items()
            },
            lost_workers=r.list_of_mappings("lost_workers"),
            stalled_workers=r.list_of_mappings("stalled_workers"),
            abort=_abort(r, state),
            untrustworthy=_reasons(r.mapping("trust")),
            totals=_totals(r.mapping("totals")),
            scenario_bundle=r.text("scenario_bundle"),
            scenario_client=r.mapping("scenario_client"),
            parts={str(k): int(v) for k, v in (r.mapping("parts") or {}).items()},
            worker_failures=r.list_of_mappings("worker_failures"),
            left_workers=r.list_of_mappings("left_workers"),
            incomplete=[str(x) for x in data.get("incomplete") or [] if x],
            search=r.mapping("search"),
            scenario_errors=[
                ScenarioError.from_dict(e) for e in r.list_of_mappings("scenario_errors")
            ],
            engine=r.mapping("engine") or {},
            versions={k: str(v) for k, v in (r.mapping("versions") or {}).items()},
            host=r.text("host") or "",
            extra={k: v for k, v in data.items() if k not in _KNOWN_KEYS},
            format_version=int(data["format_version"]),
            format_minor=int(data.get("format_minor") or 0),
            results_layout=int(data.get("results_layout") or 1),
        )

    # ------------------------------------------------------------ files

    def dump(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/manifest.json`` atomically."""
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        return atomic_write_bytes(Path(run_dir) / MANIFEST, text.encode())

    @classmethod
    def load(cls, run_dir: str | Path) -> Manifest:
        """Load and check a run's manifest. Raises `RunDirError` naming what is wrong."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise RunDirError("run directory not found", str(run_dir))
        path = run_dir / MANIFEST
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise RunDirError(
                "no manifest.json: not a surge run directory, or an incomplete one", str(path)
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RunDirError(f"manifest.json is not valid JSON: {exc}", str(path)) from None
        if not isinstance(data, dict):
            raise RunDirError("manifest.json is not a JSON object", str(path))
        return cls.from_dict(data, str(path))


_KNOWN_KEYS = frozenset(
    {
        "format_version", "format_minor", "run_id", "schedule", "schedule_yaml", "versions",
        "host", "workers", "master", "started_at", "ended_at", "hard_end", "state",
        "clock_offsets_ms", "lost_workers", "stalled_workers", "abort_reason", "abort",
        "trust", "totals", "scenario_bundle", "scenario_client", "parts", "worker_failures",
        "left_workers", "incomplete", "search", "scenario_errors", "engine", "results_layout",
    }
)  # fmt: skip


def read_manifest(run_dir: str | Path) -> Manifest:
    return Manifest.load(run_dir)


def check_format_version(version: Any, known: Collection[int], what: str, where: str) -> int:
    """The major version of a versioned document, or `FormatVersionError` (exit 2).

    Used for the manifest, ``status.json``, ``summary.json`` and the master's plan
    message, so a newer surge's output is refused with one clear line, not misread.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version not in known:
        versions = ", ".join(map(str, sorted(known)))
        raise FormatVersionError(
            f"unknown {what} format_version {version!r}; "
            f"this surge {__version__} reads version {versions}",
            where,
        )
    return version


def iso(t: dt.datetime | None) -> str | None:
    """A UTC instant as the results contract writes it (``...Z``)."""
    return t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if t else None


def parse_iso(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------- reading helpers


class _Reader:
    """Typed access to a manifest's keys; a wrong type names the key and the file."""

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self.data, self.where = data, where

    def _bad(self, key: str, expected: str) -> RunDirError:
        value = repr(self.data.get(key))[:80]
        return RunDirError(f"manifest key {key!r} should be {expected}, got {value}", self.where)

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def mapping(self, key: str) -> dict[str, Any] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise self._bad(key, "an object")
        return dict(value)

    def list_of_mappings(self, key: str) -> list[dict[str, Any]]:
        value = self.data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self._bad(key, "a list of objects")
        return [dict(v) for v in value]

    def time(self, key: str) -> dt.datetime | None:
        value = self.text(key)
        if not value:
            return None
        try:
            return parse_iso(value)
        except ValueError:
            raise self._bad(key, "an ISO 8601 time") from None

    def enum(self, key: str, kind: type[enum.Enum]) -> Any:
        value = self.data.get(key)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            raise self._bad(key, f"one of {[e.value for e in kind]}") from None


def _drop_none(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _master(data: Mapping[str, Any] | None) -> MasterEntry | None:
    if data is None:
        return None
    return MasterEntry(host=str(data.get("host") or ""), instance_type=data.get("instance_type"))


def _abort(r: _Reader, state: RunState | None) -> Abort | None:
    data = r.mapping("abort")
    if data is not None:
        try:
            by = AbortedBy(data.get("by"))
        except ValueError:
            expected = f"an object with 'by' one of {[b.value for b in AbortedBy]}"
            raise r._bad("abort", expected) from None
        at = data.get("at")
        return Abort(str(data.get("reason") or ""), by, parse_iso(at) if at else None)
    reason = r.text("abort_reason")  # format 1.0: a reason only; who follows from the state
    if not reason:
        return None
    return Abort(reason, AbortedBy.THRESHOLD if state is RunState.ABORTED else AbortedBy.PERSON)


def _reasons(trust: Mapping[str, Any] | None) -> list[str]:
    if not trust:
        return []
    reasons = [str(r) for r in trust.get("reasons") or [] if r]
    if trust.get("trustworthy") is False and not reasons:
        reasons = ["the engine marked the run untrustworthy"]
    return reasons


def _totals(data: Mapping[str, Any] | None) -> Totals | None:
    if data is None:
        return None
    outcomes = {str(k): int(v) for k, v in (data.get("outcomes") or {}).items()}
    return Totals(int(data.get("requests") or 0), outcomes, int(data.get("late") or 0))
