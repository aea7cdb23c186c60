"""The instance agent's settings: the env file Terraform's user data writes.

The file is the contract between the cloud half (Terraform renders it, Packer's
boot unit points the agent at it) and the agent, so its keys are fixed:

    SURGE_ROLE=master|worker
    SURGE_BUCKET=my-surge-bucket
    SURGE_SCHEDULE_KEY=schedules/black-friday.yaml
    SURGE_RUN_ID=black-friday-20261127T100000Z
    SURGE_MASTER_HOST=10.0.1.23          # private address of the master (workers)
    SURGE_REGION=eu-west-1
    SURGE_WORKER_PROCESSES=auto          # auto = one per vCPU
    SURGE_POWEROFF=true|false
    SURGE_S3_ENDPOINT=http://127.0.0.1:5000   # optional (tests)

Optional keys beyond the contract, with defaults for a real instance:
SURGE_MASTER_PORT (5557), SURGE_MASTER_BIND_HOST (0.0.0.0: the master listens on
its private address), SURGE_EXPECT_WORKERS (1: the master starts planning when
one worker process is connected; later ones join with a re-split before
start_at), SURGE_WORK_DIR (/var/lib/surge), SURGE_AGENT_ID (the host name),
SURGE_INSTANCE_TYPE (none: the EC2 instance type, which Terraform writes; it goes into
the run's manifest so the report can price the fleet). A master also takes
SURGE_WEB_HOST/SURGE_WEB_PORT (127.0.0.1:8089), SURGE_METRICS_HOST/SURGE_METRICS_PORT
(127.0.0.1:9646; port 0: off), SURGE_UI_USER (surge) and SURGE_UI_PASSWORD_PARAMETER (the SSM
parameter holding the UI's password, required off loopback): `provisioning.agent_ui`.
"""

from __future__ import annotations

import enum
import os
import shlex
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from surge.errors import SurgeError
from surge.provisioning.agent_ui import MasterUI

MASTER_PORT = 5557  # Locust workers -> master (ZeroMQ)
DEFAULT_WORK_DIR = "/var/lib/surge"
DEFAULT_ENV_FILE = "/etc/surge/agent.env"
T = TypeVar("T")
REQUIRED_KEYS = ("SURGE_ROLE", "SURGE_BUCKET", "SURGE_SCHEDULE_KEY", "SURGE_RUN_ID")


class Role(enum.Enum):
    MASTER = "master"
    WORKER = "worker"


class SettingsError(SurgeError):
    """An agent env file that cannot be used (exit code 2); carries every problem found,
    one per key, like `ScheduleError`, so one boot log shows all that needs fixing."""

    def __init__(self, problems: str | list[str], where: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        many = f"{len(self.problems)} problems in the agent settings"
        super().__init__(self.problems[0] if len(self.problems) == 1 else many, where)


@dataclass(frozen=True)
class AgentSettings:
    """Everything one instance needs to take part in a run, parsed and checked once."""

    role: Role
    bucket: str
    schedule_key: str
    run_id: str
    master_host: str | None
    region: str | None
    worker_processes: int
    poweroff: bool
    s3_endpoint: str | None = None
    master_port: int = MASTER_PORT
    master_bind_host: str = "0.0.0.0"
    expect_workers: int = 1
    work_dir: Path = Path(DEFAULT_WORK_DIR)
    agent_id: str = ""
    instance_type: str | None = None
    #: the master's web UI and /metrics (SURGE_WEB_*, SURGE_METRICS_*, SURGE_UI_*)
    ui: MasterUI = field(default_factory=MasterUI)

    @property
    def run_dir(self) -> Path:
        """The local run directory, mirrored to ``s3://bucket/runs/<run_id>/``."""
        return self.work_dir / "runs" / self.run_id


def read_env_file(path: str | Path) -> dict[str, str]:
    """Parse ``KEY=value`` lines (comments, blank lines, ``export`` and shell quotes allowed)."""
    where = str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise SettingsError("agent env file not found", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read agent env file: {exc}", where) from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        if not sep or not key.strip().isidentifier():
            raise SettingsError(f"expected KEY=value, got {raw!r}", f"{where}:{number}")
        try:
            words = shlex.split(value, comments=True)
        except ValueError as exc:
            raise SettingsError(f"bad quoting: {exc}", f"{where}:{number}") from None
        values[key.strip()] = " ".join(words)
    return values


def load_settings(path: str | Path = DEFAULT_ENV_FILE) -> AgentSettings:
    return parse_settings(read_env_file(path), where=str(path))


def parse_settings(env: dict[str, str], where: str = "agent env") -> AgentSettings:
    """Check the env file's values; every problem is reported at once, each naming its key."""
    problems: list[str] = []

    def check(parse: Callable[[], T], default: T) -> T:
        try:
            return parse()
        except SurgeError as exc:  # SettingsError, or the master UI's own
            problems.extend(getattr(exc, "problems", [exc.what]))
            return default

    missing = [k for k in REQUIRED_KEYS if not env.get(k)]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    role = check(lambda: _role(env["SURGE_ROLE"]), None) if env.get("SURGE_ROLE") else None
    master_host = env.get("SURGE_MASTER_HOST") or None
    if role is Role.WORKER and not master_host:
        problems.append("SURGE_MASTER_HOST is required for a worker")
    settings = AgentSettings(
        role=role or Role.WORKER,
        bucket=env.get("SURGE_BUCKET", ""),
        schedule_key=env.get("SURGE_SCHEDULE_KEY", "").lstrip("/"),
        run_id=check(lambda: _run_id(env["SURGE_RUN_ID"], where), "")
        if env.get("SURGE_RUN_ID") else "",
        master_host=master_host,
        region=env.get("SURGE_REGION") or None,
        worker_processes=check(
            lambda: _processes(env.get("SURGE_WORKER_PROCESSES", "auto"), where), 1
        ),
        poweroff=check(
            lambda: _flag(env.get("SURGE_POWEROFF", "false"), "SURGE_POWEROFF", where), False
        ),
        s3_endpoint=env.get("SURGE_S3_ENDPOINT") or None,
        master_port=check(
            lambda: _port(env.get("SURGE_MASTER_PORT", str(MASTER_PORT)), where), MASTER_PORT
        ),
        master_bind_host=env.get("SURGE_MASTER_BIND_HOST") or "0.0.0.0",
        expect_workers=check(
            lambda: _count(env.get("SURGE_EXPECT_WORKERS", "1"), "SURGE_EXPECT_WORKERS", where), 1
        ),
        work_dir=Path(env.get("SURGE_WORK_DIR") or DEFAULT_WORK_DIR),
        agent_id=env.get("SURGE_AGENT_ID") or socket.gethostname(),
        instance_type=env.get("SURGE_INSTANCE_TYPE") or None,
        ui=check(lambda: MasterUI.from_env(env, where), MasterUI())
        if role is Role.MASTER else MasterUI(),
    )  # fmt: skip
    if problems:
        raise SettingsError(problems, where)
    return settings


def _role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise SettingsError(f"SURGE_ROLE: got {value!r}; expected master or worker") from None


def _run_id(value: str, where: str) -> str:
    if "/" in value or value in {".", ".."} or not value.strip():
        raise SettingsError(f"SURGE_RUN_ID: got {value!r}; expected a name without '/'", where)
    return value


def _processes(value: str, where: str) -> int:
    if value.strip().lower() in {"", "auto"}:
        return os.cpu_count() or 1
    return _count(value, "SURGE_WORKER_PROCESSES", where, "auto or ")


def _count(value: str, key: str, where: str, alternative: str = "") -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1024:
        raise SettingsError(f"{key}: got {value!r}; expected {alternative}a number 1-1024", where)
    return int(value)


def _flag(value: str, key: str, where: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no", ""}:
        return False
    raise SettingsError(f"{key}: got {value!r}; expected true or false", where)


def _port(value: str, where: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"SURGE_MASTER_PORT: got {value!r}; expected a port number", where)
    return int(value)
