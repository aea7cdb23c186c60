"""`surge init [DIR] [--target URL]`: start a load test in a user's own project.

Writes a starter schedule and a starter locustfile in Locust's ordinary style (a
`FastHttpUser` with ``@task`` methods: any Locust user knows it, and surge runs it
as it is), and keeps ``results/`` out of version control. It never overwrites a
file: an existing schedule or locustfile stops it with exit 2 before anything is
written.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from urllib.parse import urlsplit

from surge.errors import ExitCode, SurgeError

HELP = "Write a starter schedule and locustfile in this folder (or DIR)."

SCHEDULE_FILE = "smoke.yaml"
LOCUSTFILE = "locustfile.py"
GITIGNORE = ".gitignore"
IGNORE_RULE = "results/"
DEFAULT_TARGET = "http://127.0.0.1:8080"  # where `surge shop` listens by default

SCHEDULE_TEMPLATE = """\
# A first surge schedule: a short ramp, a hold, and the service level to meet.
# `surge schedule validate {schedule}` shows what it offers; README "The schedule"
# lists every key.
name: {name}
target: {target}                  # surge run --target URL overrides it
allow_hosts: [{host}]             # load goes to these hosts only
arrivals: poisson
scenario:
  locustfile: {locustfile}            # relative to this file
  # files: [data/*.csv]             # data files the scenario reads (bundled for a fleet)
  # env: {{API_VERSION: v2}}         # environment of every generator process
  # secrets: {{API_TOKEN: ssm:/my-api/token}}   # from SSM on a fleet, the environment here
load:
  stages:
    - {{ramp_to: 10, duration: 5s}}    # requests per second, fleet-wide
    - {{rps: 10, duration: 15s}}
limits:
  timeout: 5s
thresholds:
  - p95 < 1s
  - success_rate >= 99%
"""

LOCUSTFILE_TEMPLATE = '''\
"""The scenario: an ordinary Locust file. surge runs one task per scheduled arrival."""

from locust import FastHttpUser, task


class ApiUser(FastHttpUser):
    # surge decides when requests start (the schedule's rate), so there is no wait_time

    @task(3)
    def list_products(self) -> None:
        self.client.get("/products", name="GET /products")

    @task(1)
    def one_product(self) -> None:
        with self.client.get("/products/1", name="GET /products/<id>", catch_response=True) as r:
            if r.status_code == 404:
                r.success()  # an unknown product is an answer, not an error
'''


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", nargs="?", default=".", metavar="DIR", help="folder to write into (default: .)"
    )
    parser.add_argument(
        "--target",
        default=DEFAULT_TARGET,
        metavar="URL",
        help=f"base URL of the API under test (default {DEFAULT_TARGET}, `surge shop`)",
    )


def run(args: argparse.Namespace) -> int:
    written = init_project(Path(args.dir), target=args.target)
    for path in written:
        print(f"wrote {path}")
    schedule = Path(args.dir) / SCHEDULE_FILE
    print("next:")
    print(f"  surge schedule validate {schedule}")
    print(f"  surge run {schedule}")
    return ExitCode.PASSED


def init_project(folder: Path, *, target: str) -> list[Path]:
    """Write the starter files into `folder`; returns what was written (or appended to)."""
    from surge.schedule import parse_schedule

    schedule_path, locustfile_path = folder / SCHEDULE_FILE, folder / LOCUSTFILE
    existing = [str(p) for p in (schedule_path, locustfile_path) if p.exists()]
    if existing:
        raise SurgeError(
            f"refusing to overwrite {', '.join(existing)}; move "
            f"{'them' if len(existing) > 1 else 'it'} away or use another DIR",
            str(folder),
        )
    text = SCHEDULE_TEMPLATE.format(
        schedule=SCHEDULE_FILE,
        name=_name(folder),
        target=target,
        host=urlsplit(target).hostname or "",
        locustfile=LOCUSTFILE,
    )
    parse_schedule(text, source="--target")  # a bad URL fails here, before any file exists
    folder.mkdir(parents=True, exist_ok=True)
    schedule_path.write_text(text)
    locustfile_path.write_text(LOCUSTFILE_TEMPLATE)
    return [schedule_path, locustfile_path, *_ignore_results(folder / GITIGNORE)]


def _name(folder: Path) -> str:
    """The schedule's name: the folder's, made into [a-z0-9-] (run ids start with it)."""
    name = re.sub(r"[^a-z0-9-]+", "-", folder.resolve().name.lower()).strip("-")[:57]
    return f"{name}-smoke" if name else "smoke"


def _ignore_results(path: Path) -> list[Path]:
    """Add ``results/`` to a .gitignore (created if absent; an existing one is appended to)."""
    current = path.read_text() if path.exists() else ""
    if IGNORE_RULE in current.split() or "/" + IGNORE_RULE in current.split():
        return []
    prefix = "" if not current or current.endswith("\n") else "\n"
    with path.open("a") as out:
        out.write(f"{prefix}# surge run directories (surge init)\n{IGNORE_RULE}\n")
    return [path]
