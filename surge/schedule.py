"""The schedule contract: YAML parsed once into typed, immutable objects.

Everything after `load_schedule` trusts these objects. Parsing collects every
problem it finds (file, key path, bad value, what was expected) and raises them
together as one `ScheduleError`, so a user fixes a file in one pass.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import enum
import math
import re
import reprlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import yaml

from surge.errors import ScheduleError
from surge.search import SearchSpec, check_service_level, parse_search
from surge.stages import Stage, StageKind  # re-exported: part of the schedule contract
from surge.thresholds import Threshold, parse_scoped_rule
from surge.units import format_duration, parse_duration

MAX_FILE_BYTES = 1 << 20  # a schedule is a page of YAML; a megabyte is a mistake or an attack
MAX_ALIASES = 100  # enough for DRY anchors, far too few for an alias bomb
MAX_RATE = 10_000_000.0  # req/s; beyond any fleet surge can run
MAX_TOTAL_DURATION_S = 7 * 24 * 3600.0
MAX_STAGES = 10_000
MAX_STAGE_NAME = 60  # characters of a stage name kept (it labels table rows)
DEFAULT_GRACE_S = 300.0  # end_by default: start + duration + 5 minutes
NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
SSM_REF_RE = re.compile(r"^ssm:/[A-Za-z0-9_.\-/]{1,1010}$")  # SSM parameter names, absolute


class Arrivals(enum.Enum):
    POISSON = "poisson"
    UNIFORM = "uniform"


TOP_KEYS = (
    "name", "target", "allow_hosts", "start_at", "end_by", "arrivals", "scenario", "load",
    "limits", "thresholds", "bundle",
)  # fmt: skip
REQUIRED_TOP_KEYS = ("name", "target", "load")
SCENARIO_KEYS = (
    "locustfile", "user", "mix", "files", "env", "secrets",  # #14: files, env, secrets
    "tags", "exclude_tags", "options", "client", "tls",  # #21
)  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    locustfile: str = "locustfiles/shop_user.py"
    user: str | None = None
    mix: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    # #14: data files for the bundle (globs relative to the schedule), environment of
    # every generator process, and secrets (NAME -> ssm:/path) resolved where it runs
    files: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    secrets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # #21: which tasks run (Locust's --tags/--exclude-tags), the file's own command-line
    # options, which HTTP client drives HttpUser/FastHttpUser classes, TLS verification
    tags: tuple[str, ...] | None = None
    exclude_tags: tuple[str, ...] | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    client: str = "auto"  # auto | surge | locust
    tls_verify: bool = True
    tls_ca_file: str | None = None


@dataclass(frozen=True)
class BundleRef:
    """The scenario bundle `surge schedule push` uploaded: its S3 key and SHA-256."""

    key: str
    sha256: str


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 30.0
    max_in_flight: int = 2000
    max_lateness_s: float = 1.0


@dataclass(frozen=True)
class Schedule:
    """A parsed, validated schedule. Times are UTC; rates are fleet-wide unless per_worker."""

    name: str
    target: str
    allow_hosts: tuple[str, ...]
    start_at: dt.datetime | None
    end_by: dt.datetime | None
    arrivals: Arrivals
    scenario: Scenario
    per_worker: bool
    stages: tuple[Stage, ...]
    limits: Limits
    thresholds: tuple[Threshold, ...]
    source: str = "<schedule>"
    text: str = ""  # the YAML as given, kept for the run manifest
    bundle: BundleRef | None = None  # written by `surge schedule push` (surge.bundle)
    #: #20 `load.search`: the master finds the knee; `stages` are the steps run so far
    search: SearchSpec | None = None

    @property
    def duration_s(self) -> float:
        return self.stages[-1].end_s if self.stages else 0.0

    @property
    def peak_rate(self) -> float:
        return max((max(s.rate_from, s.rate_to) for s in self.stages), default=0.0)

    def rate_at(self, offset_s: float, workers: int = 1) -> float:
        """Offered fleet rate at `offset_s` from the start (0 outside the schedule)."""
        stage = self.stage_at(offset_s)
        if stage is None:
            return 0.0
        rate = stage.rate_at(offset_s - stage.start_s)
        return rate * workers if self.per_worker else rate

    def stage_at(self, offset_s: float) -> Stage | None:
        if offset_s < 0 or offset_s >= self.duration_s:
            return None
        starts = [s.start_s for s in self.stages]
        return self.stages[bisect.bisect_right(starts, offset_s) - 1]

    def expected_requests(self, workers: int = 1) -> float:
        """The integral of the offered rate over the whole schedule."""
        total = sum(s.expected_requests() for s in self.stages)
        return total * workers if self.per_worker else total

    def hard_end(self, started: dt.datetime) -> dt.datetime:
        """When load must stop no matter what: `end_by`, or start + duration + 5 minutes."""
        if self.end_by is not None:
            return self.end_by
        return started + dt.timedelta(seconds=self.duration_s + DEFAULT_GRACE_S)

    def with_target(self, target: str) -> Schedule:
        """A copy aimed at another target, checked against `allow_hosts` like the original."""
        problems: list[str] = []
        checked = _check_target(target, self.allow_hosts, problems, "--target")
        if problems:
            raise ScheduleError(problems, self.source)
        return _replace(self, target=checked)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view for manifests and reports (the YAML text is the source of truth)."""
        return {
            "name": self.name,
            "target": self.target,
            "allow_hosts": list(self.allow_hosts),
            "start_at": _iso(self.start_at),
            "end_by": _iso(self.end_by),
            "arrivals": self.arrivals.value,
            "scenario": {
                "locustfile": self.scenario.locustfile,
                "user": self.scenario.user,
                "mix": dict(self.scenario.mix),
                "files": list(self.scenario.files),
                "env": dict(self.scenario.env),
                "secrets": dict(self.scenario.secrets),  # names and SSM paths, never values
                "tags": list(self.scenario.tags) if self.scenario.tags is not None else None,
                "exclude_tags": list(self.scenario.exclude_tags)
                if self.scenario.exclude_tags is not None
                else None,
                "options": dict(self.scenario.options),
                "client": self.scenario.client,
                "tls": {"verify": self.scenario.tls_verify, "ca_file": self.scenario.tls_ca_file},
            },
            "bundle": (
                {"key": self.bundle.key, "sha256": self.bundle.sha256} if self.bundle else None
            ),
            "per_worker": self.per_worker,
            "search": self.search.to_dict() if self.search else None,
            "stages": [stage.to_dict() for stage in self.stages],
            "limits": {
                "timeout_s": self.limits.timeout_s,
                "max_in_flight": self.limits.max_in_flight,
                "max_lateness_s": self.limits.max_lateness_s,
            },
            "thresholds": [t.to_dict() for t in self.thresholds],
            "duration_s": self.duration_s,
            "peak_rate": self.peak_rate,
            "expected_requests": self.expected_requests(),
        }


def _replace(schedule: Schedule, **changes: Any) -> Schedule:
    from dataclasses import replace

    return replace(schedule, **changes)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# ---------------------------------------------------------------- loading


def load_schedule(path: str | Path) -> Schedule:
    """Read and validate a schedule file. Raises ScheduleError with every problem."""
    p = Path(path)
    where = str(path)
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ScheduleError(["schedule file not found"], where) from None
    except OSError as exc:
        raise ScheduleError([f"cannot read schedule: {exc.strerror}"], where) from None
    if p.is_dir():
        raise ScheduleError(["expected a YAML file, got a directory"], where)
    if size > MAX_FILE_BYTES:
        raise ScheduleError(
            [f"file is {size:,} bytes; a schedule must be under {MAX_FILE_BYTES:,}"], where
        )
    return parse_schedule(p.read_bytes(), source=where)


def parse_schedule(data: bytes | str, source: str = "<schedule>") -> Schedule:
    """Validate schedule YAML given as bytes or text."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise ScheduleError([f"schedule is over {MAX_FILE_BYTES:,} bytes"], source)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScheduleError(
                [f"not UTF-8 text (byte {exc.start}): is this a YAML schedule?"], source
            ) from None
    else:
        text = data
    if "\x00" in text:
        raise ScheduleError(["binary data (NUL bytes): is this a YAML schedule?"], source)
    doc = _load_yaml(text, source)
    if doc is None:
        raise ScheduleError(
            ["the file is empty; a schedule needs at least name, target, load"], source
        )
    if not isinstance(doc, dict):
        raise ScheduleError(
            [f"top level: expected a mapping of keys, got {_typename(doc)}"], source
        )
    return _Parser(source, text).schedule(doc)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML with aliases capped and timestamps left as strings (we parse them)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.YAMLError(f"more than {MAX_ALIASES} aliases (an alias bomb?)")
        return super().compose_node(parent, index)


_StrictLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise ScheduleError([f"not valid YAML: {exc.problem or exc}"], where) from None
    except yaml.YAMLError as exc:
        raise ScheduleError([f"not valid YAML: {exc}"], source) from None
    except RecursionError:
        raise ScheduleError(["not valid YAML: nested too deeply"], source) from None


def _typename(value: Any) -> str:
    names = {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
        type(None): "nothing",
    }
    return names.get(type(value), type(value).__name__)


_SHORT_REPR = reprlib.Repr()  # keyword arguments arrive only in Python 3.12
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxother = 50


def _show(value: Any) -> str:
    """A bounded repr: an alias bomb must never be expanded to print an error."""
    return _SHORT_REPR.repr(value)


class _Parser:
    """Walks the YAML document, collecting problems instead of stopping at the first."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text
        self.problems: list[str] = []
        self.search: SearchSpec | None = None  # `load.search`, when given

    # -- helpers
    def problem(self, path: str, value: Any, expected: str) -> None:
        self.problems.append(f"{path}: got {_show(value)}; {expected}")

    def keys(
        self, node: dict, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> None:
        for key in node:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = (
                    f"did you mean {hint[0]!r}?" if hint else f"known keys: {', '.join(allowed)}"
                )
                self.problems.append(f"{path}{'.' if path else ''}{key}: unknown key; {suggestion}")
        for key in required:
            if key not in node:
                self.problems.append(f"{path}{'.' if path else ''}{key}: required key is missing")

    def mapping(self, value: Any, path: str) -> dict | None:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, value, f"expected a mapping, got {_typename(value)}")
            return None
        return value

    def convert(self, value: Any, path: str, fn: Callable[[Any], Any]) -> Any:
        try:
            return fn(value)
        except (ValueError, TypeError) as exc:
            self.problem(path, value, str(exc))
            return None

    def number(self, value: Any, path: str, lo: float, hi: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            self.problem(path, value, "expected a number")
            return None
        if not lo <= value <= hi:
            self.problem(path, value, f"expected a number from {lo:g} to {hi:g}")
            return None
        return float(value)

    def duration(self, value: Any, path: str, lo: float, hi: float) -> float | None:
        seconds = self.convert(value, path, parse_duration)
        if seconds is None:
            return None
        if not lo <= seconds <= hi:
            self.problem(
                path,
                value,
                f"expected a duration from {format_duration(lo)} to {format_duration(hi)}",
            )
            return None
        return seconds

    # -- sections
    def schedule(self, doc: dict) -> Schedule:
        self.keys(doc, "", TOP_KEYS, REQUIRED_TOP_KEYS)
        name = doc.get("name")
        if "name" in doc and not (isinstance(name, str) and NAME_RE.match(name)):
            self.problem("name", name, "expected lowercase letters, digits and '-', at most 63")
        allow_hosts = self.allow_hosts(doc)
        target = None
        if "target" in doc:
            target = _check_target(doc["target"], allow_hosts, self.problems, "target")
            if target and allow_hosts is None:
                allow_hosts = (urlsplit(target).hostname or "",)
        start_at = self.timestamp(doc.get("start_at"), "start_at")
        end_by = self.timestamp(doc.get("end_by"), "end_by")
        arrivals = self.arrivals(doc)
        scenario = self.scenario(doc.get("scenario"))
        per_worker, stages = self.load(doc.get("load")) if "load" in doc else (False, ())
        limits = self.limits(doc.get("limits"))
        thresholds = self.thresholds(doc.get("thresholds"))
        if self.search is not None:
            check_service_level(self, thresholds)
        bundle = self.bundle(doc["bundle"]) if "bundle" in doc else None
        self.check_end_by(doc, start_at, end_by, stages[-1].end_s if stages else 0.0)
        if self.problems:
            raise ScheduleError(self.problems, self.source)
        return Schedule(
            name=name,
            target=target,
            allow_hosts=allow_hosts,
            start_at=start_at,
            end_by=end_by,
            arrivals=arrivals,
            scenario=scenario,
            per_worker=per_worker,
            stages=stages,
            limits=limits,
            thresholds=thresholds,
            source=self.source,
            text=self.text,
            bundle=bundle,
            search=self.search,
        )

    def arrivals(self, doc: dict) -> Arrivals:
        if "arrivals" not in doc:
            return Arrivals.POISSON
        try:
            return Arrivals(doc["arrivals"])
        except (ValueError, TypeError):
            self.problem("arrivals", doc["arrivals"], "expected poisson or uniform")
            return Arrivals.POISSON

    def check_end_by(
        self, doc: dict, start_at: dt.datetime | None, end_by: dt.datetime | None, duration: float
    ) -> None:
        """The hard end must come after the start and leave room for every stage."""
        if not (start_at and end_by):
            return
        if end_by <= start_at:
            self.problem("end_by", doc["end_by"], "expected a time after start_at")
        elif (end_by - start_at).total_seconds() < duration:
            self.problem(
                "end_by",
                doc["end_by"],
                f"ends before the schedule does (start_at + {format_duration(duration)})",
            )

    def allow_hosts(self, doc: dict) -> tuple[str, ...] | None:
        if "allow_hosts" not in doc:
            return None
        value = doc["allow_hosts"]
        if not isinstance(value, list) or not value:
            self.problem("allow_hosts", value, "expected a non-empty list of host names")
            return ()
        hosts = []
        for i, host in enumerate(value):
            if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.\-:\[\]*]+", host):
                self.problem(f"allow_hosts[{i}]", host, "expected a host name like api.example.com")
            else:
                hosts.append(host.lower())
        return tuple(hosts)

    def timestamp(self, value: Any, path: str) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.problem(path, value, "expected an RFC 3339 time like 2026-11-27T10:00:00Z")
            return None
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            self.problem(path, value, "expected an RFC 3339 time like 2026-11-27T10:00:00Z")
            return None
        if parsed.tzinfo is None:
            self.problem(
                path, value, "the time has no zone; add Z for UTC or an offset like +01:00"
            )
            return None
        return parsed.astimezone(dt.UTC)

    def scenario(self, value: Any) -> Scenario:
        node = self.mapping(value, "scenario")
        if not node:
            return Scenario()
        self.keys(node, "scenario", SCENARIO_KEYS)
        locustfile = node.get("locustfile", Scenario.locustfile)
        if not isinstance(locustfile, str) or not locustfile.endswith(".py"):
            self.problem("scenario.locustfile", locustfile, "expected a path to a .py file")
        user = node.get("user")
        if user is not None and not (isinstance(user, str) and user.isidentifier()):
            self.problem("scenario.user", user, "expected a User class name")
        mix: dict[str, float] = {}
        raw_mix = self.mapping(node.get("mix"), "scenario.mix") or {}
        for task, weight in raw_mix.items():
            w = self.number(weight, f"scenario.mix.{task}", 0, 1e6)
            if w is not None:
                mix[str(task)] = w
        if raw_mix and mix and not any(mix.values()):
            self.problem("scenario.mix", raw_mix, "expected at least one weight above 0")
        files, env, secrets = self.scenario_settings(node)
        return Scenario(
            locustfile=locustfile, user=user, mix=MappingProxyType(mix),
            files=files, env=MappingProxyType(env), secrets=MappingProxyType(secrets),
            **self.scenario_run(node),
        )  # fmt: skip

    def scenario_run(self, node: dict) -> dict[str, Any]:
        """#21: `scenario.tags`/`exclude_tags` (lists), `options` (the file's own
        command-line options by dest name), `client` and `tls` ({verify, ca_file})."""
        found: dict[str, Any] = {}
        for key in ("tags", "exclude_tags"):
            if key in node:
                tags = node[key]
                if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
                    self.problem(f"scenario.{key}", tags, "expected a list of tag names")
                else:
                    found[key] = tuple(tags)
        options = self.mapping(node.get("options"), "scenario.options") or {}
        for name, value in options.items():
            if not (isinstance(name, str) and name.replace("-", "_").isidentifier()):
                self.problem(f"scenario.options.{name}", name, "expected an option name")
            elif not (value is None or isinstance(value, str | int | float | bool)):
                self.problem(f"scenario.options.{name}", value, "expected a string, number or bool")
        found["options"] = MappingProxyType(
            {str(k).lstrip("-").replace("-", "_"): v for k, v in options.items()}
        )
        client = node.get("client", "auto")
        if client not in ("auto", "surge", "locust"):
            self.problem("scenario.client", client, "expected auto, surge or locust")
        else:
            found["client"] = client
        tls = self.mapping(node.get("tls"), "scenario.tls") or {}
        self.keys(tls, "scenario.tls", ("verify", "ca_file"))
        if not isinstance(tls.get("verify", True), bool):
            self.problem("scenario.tls.verify", tls["verify"], "expected true or false")
        else:
            found["tls_verify"] = tls.get("verify", True)
        ca_file = tls.get("ca_file")
        if ca_file is not None and not (isinstance(ca_file, str) and ca_file):
            self.problem("scenario.tls.ca_file", ca_file, "expected a path to a PEM file")
        elif ca_file is not None:
            found["tls_ca_file"] = ca_file
        return found

    def scenario_settings(self, node: dict) -> tuple[tuple[str, ...], dict, dict]:
        """`scenario.files` (globs), `scenario.env` (NAME: value), `scenario.secrets`
        (NAME: ssm:/path; the values are resolved where the generators run)."""
        files = node.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            self.problem("scenario.files", files, "expected a list of paths or globs")
            files = []
        env: dict[str, str] = {}
        for name, value in (self.mapping(node.get("env"), "scenario.env") or {}).items():
            if not (isinstance(name, str) and ENV_NAME_RE.match(name)):
                self.problem(f"scenario.env.{name}", name, "expected an environment variable name")
            elif isinstance(value, bool) or not isinstance(value, str | int | float):
                self.problem(f"scenario.env.{name}", value, "expected a string or a number")
            else:
                env[name] = str(value)
        secrets: dict[str, str] = {}
        for name, ref in (self.mapping(node.get("secrets"), "scenario.secrets") or {}).items():
            if not (isinstance(name, str) and ENV_NAME_RE.match(name)):
                self.problem(f"scenario.secrets.{name}", name, "expected a variable name")
            elif not (isinstance(ref, str) and SSM_REF_RE.match(ref)):
                self.problem(f"scenario.secrets.{name}", ref, "expected ssm:/parameter/path")
            elif name in env:
                self.problem(f"scenario.secrets.{name}", name, "already set in scenario.env")
            else:
                secrets[name] = ref
        return tuple(files), env, secrets

    def bundle(self, value: Any) -> BundleRef | None:
        node = self.mapping(value, "bundle")
        if node is None:
            return None
        self.keys(node, "bundle", ("key", "sha256"), ("key", "sha256"))
        key, sha = node.get("key"), node.get("sha256")
        if not (isinstance(sha, str) and re.fullmatch(r"[0-9a-f]{64}", sha)):
            self.problem("bundle.sha256", sha, "expected a hex SHA-256 (surge schedule push)")
            return None
        if not (isinstance(key, str) and key and not key.startswith("/")):
            self.problem("bundle.key", key, "expected an S3 key (written by surge schedule push)")
            return None
        return BundleRef(key=key, sha256=sha)

    def load(self, value: Any) -> tuple[bool, tuple[Stage, ...]]:
        node = self.mapping(value, "load")
        if node is None:
            return False, ()
        searching = "search" in node
        required = () if searching else ("stages",)
        self.keys(node, "load", ("per_worker", "stages", "search"), required)
        per_worker = node.get("per_worker", False)
        if not isinstance(per_worker, bool):
            self.problem("load.per_worker", per_worker, "expected true or false")
            per_worker = False
        if searching:  # the master picks the steps; workers start with the first one
            self.search = parse_search(self, node)
            return per_worker, self.search.initial_stages() if self.search else ()
        raw = node.get("stages")
        if "stages" in node and (not isinstance(raw, list) or not raw):
            self.problem("load.stages", raw, "expected a non-empty list of stages")
            return per_worker, ()
        return per_worker, tuple(self.stages(raw or []))

    def stages(self, raw: list) -> Iterator[Stage]:
        rate, start, index = 0.0, 0.0, 0
        for i, item in enumerate(raw):
            path = f"load.stages[{i}]"
            if not isinstance(item, dict):
                self.problem(path, item, "expected a mapping like {rps: 50, duration: 30s}")
                continue
            kinds = [k for k in ("rps", "ramp_to", "steps") if k in item]
            self.keys(item, path, ("rps", "ramp_to", "steps", "duration", "name"), ("duration",))
            label = item.get("name")  # optional, shown with the stage's number everywhere
            if label is not None and (not isinstance(label, str) or not label.strip()):
                self.problem(f"{path}.name", label, "expected a short text like 'warm-up'")
                label = None
            label = label.strip()[:MAX_STAGE_NAME] if label else None
            if len(kinds) != 1:
                self.problem(path, item, "expected exactly one of rps, ramp_to or steps")
                continue
            duration = None
            if "duration" in item:
                duration = self.duration(
                    item["duration"], f"{path}.duration", 0.001, MAX_TOTAL_DURATION_S
                )
            kind = kinds[0]
            if kind == "steps":
                step_rates = self.steps(item["steps"], f"{path}.steps")
                for step_rate in step_rates if duration is not None else ():
                    yield Stage(index, StageKind.HOLD, start, duration, step_rate, step_rate, label)
                    rate, start, index = step_rate, start + duration, index + 1
                continue
            new_rate = self.number(item[kind], f"{path}.{kind}", 0, MAX_RATE)
            if new_rate is None or duration is None:
                continue
            stage_kind = StageKind.HOLD if kind == "rps" else StageKind.RAMP
            begin = new_rate if stage_kind is StageKind.HOLD else rate
            yield Stage(index, stage_kind, start, duration, begin, new_rate, label)
            rate, start, index = new_rate, start + duration, index + 1
            if index > MAX_STAGES or start > MAX_TOTAL_DURATION_S:
                break
        if index > MAX_STAGES:
            self.problem("load.stages", f"{index} stages", f"expected at most {MAX_STAGES}")
        if start > MAX_TOTAL_DURATION_S:
            self.problem(
                "load.stages", format_duration(start), "expected a schedule of at most 7 days"
            )

    def steps(self, value: Any, path: str) -> list[float]:
        node = self.mapping(value, path)
        if node is None:
            return []
        self.keys(node, path, ("from", "to", "by"), ("from", "to", "by"))
        lo = self.number(node.get("from"), f"{path}.from", 0, MAX_RATE) if "from" in node else None
        hi = self.number(node.get("to"), f"{path}.to", 0, MAX_RATE) if "to" in node else None
        by = self.number(node.get("by"), f"{path}.by", 1e-9, MAX_RATE) if "by" in node else None
        if lo is None or hi is None or by is None:
            return []
        count = abs(hi - lo) / by
        if abs(count - round(count)) > 1e-6:
            self.problem(
                f"{path}.to", node["to"], f"expected from + a whole number of steps of {by:g}"
            )
            return []
        if count + 1 > MAX_STAGES:
            self.problem(path, node, f"expected at most {MAX_STAGES} steps")
            return []
        sign = 1 if hi >= lo else -1
        return [lo + sign * by * k for k in range(round(count) + 1)]

    def limits(self, value: Any) -> Limits:
        node = self.mapping(value, "limits")
        if not node:
            return Limits()
        self.keys(node, "limits", ("timeout", "max_in_flight", "max_lateness"))
        timeout = Limits.timeout_s
        if "timeout" in node:
            timeout = self.duration(node["timeout"], "limits.timeout", 0.001, 600) or timeout
        lateness = Limits.max_lateness_s
        if "max_lateness" in node:
            lateness = (
                self.duration(node["max_lateness"], "limits.max_lateness", 0.001, 3600) or lateness
            )
        in_flight = Limits.max_in_flight
        if "max_in_flight" in node:
            raw = node["max_in_flight"]
            if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= 1_000_000:
                self.problem(
                    "limits.max_in_flight", raw, "expected a whole number from 1 to 1000000"
                )
            else:
                in_flight = raw
        return Limits(timeout_s=timeout, max_in_flight=in_flight, max_lateness_s=lateness)

    def thresholds(self, value: Any) -> tuple[Threshold, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem("thresholds", value, "expected a list of rules like 'p95 < 3s'")
            return ()
        out = []
        for i, item in enumerate(value):
            path = f"thresholds[{i}]"
            abort, for_s, rule, name = False, 0.0, item, None
            if isinstance(item, dict):
                self.keys(item, path, ("rule", "abort_on_fail", "for", "name"), ("rule",))
                name = item.get("name")  # the endpoint it holds for (see surge.thresholds)
                if name is not None and (not isinstance(name, str) or not name.strip()):
                    self.problem(f"{path}.name", name, "expected an endpoint like 'GET /products'")
                    name = None
                rule = item.get("rule")
                abort = item.get("abort_on_fail", False)
                if not isinstance(abort, bool):
                    self.problem(f"{path}.abort_on_fail", abort, "expected true or false")
                    abort = False
                if "for" in item:
                    for_s = self.duration(item["for"], f"{path}.for", 0, 86400) or 0.0
                path = f"{path}.rule"
            if not isinstance(rule, str):
                self.problem(path, rule, "expected a rule like 'p95 < 3s'")
                continue
            parsed = self.convert(rule, path, parse_scoped_rule)
            if parsed:
                metric, op, number, scope = parsed
                scope = name.strip() if isinstance(name, str) else scope
                out.append(Threshold(metric, op, number, abort, for_s, scope))
        return tuple(out)


def _check_target(
    value: Any, allow_hosts: tuple[str, ...] | None, problems: list[str], path: str
) -> str | None:
    """Validate a target URL and that its host is allowed; append problems, return the URL."""
    if not isinstance(value, str):
        problems.append(f"{path}: got {_show(value)}; expected an http(s) URL")
        return None
    parts = urlsplit(value.strip())
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        problems.append(f"{path}: got {_show(value)}; the port is not a number from 0 to 65535")
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(
            f"{path}: got {_show(value)}; expected an http(s) URL like https://api.example.com"
        )
        return None
    if parts.query or parts.fragment:
        problems.append(
            f"{path}: got {_show(value)}; expected a base URL without query or fragment"
        )
        return None
    host = parts.hostname.lower()
    if allow_hosts and not any(host_matches(host, allowed) for allowed in allow_hosts):
        problems.append(
            f"{path}: got {_show(value)}; host {host!r} is not in allow_hosts "
            f"({', '.join(allow_hosts)})"
        )
        return None
    return value.strip().rstrip("/")


def host_matches(host: str, allowed: str) -> bool:
    """The one ``allow_hosts`` matcher (the target here, every request in the engine's
    guard): ``host`` or ``*.suffix``, case-insensitive, ports already stripped."""
    host, allowed = host.lower(), allowed.strip("[]").lower()
    if allowed.startswith("*."):
        return host.endswith(allowed[1:])
    return host == allowed
