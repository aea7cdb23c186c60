"""The demo: the reference shop as a child process, the staircase run, the comparison."""

from __future__ import annotations

import importlib.resources
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from surge.cli.session import run_and_report
from surge.errors import InfrastructureError
from surge.manifest import DEFAULT_RESULTS_DIR

# package data of surge.cli, so `surge demo` works from any directory and any install
DEMO_SCHEDULE = (
    Path(str(importlib.resources.files("surge.cli") / "schedules")) / "demo-staircase.yaml"
)
#: `surge demo --search`: the same experiment with no staircase given (load.search)
DEMO_SEARCH = DEMO_SCHEDULE.with_name("demo-search.yaml")
DEMO_MARK = "demo.json"  # in a demo run's directory: which shop it ran against
WRITE_CAPACITY = 100  # writes/s of the one hot partition: the knee lands mid-staircase
SHARDS = 4  # --sharded: four keys per product, four times the write capacity
#: the demo's time scale: its stages last seconds where the original's lasted minutes, so
#: the buy function's limit (API Gateway's 29 s) shrinks alike, to 2.9 s
TIME_SCALE = 0.1
WRITE_RETRIES = 10  # the Node.js AWS SDK v2 default for DynamoDB
SHOP_START_TIMEOUT_S = 30.0
SHOP_STOP_TIMEOUT_S = 10.0


def shop_argv(sharded: bool, credentials: Path) -> list[str]:
    argv = [sys.executable, "-m", "surge", "shop", "--host", "127.0.0.1", "--port", "0"]
    from surge.shop.config import API_GATEWAY_TIMEOUT_S

    argv += ["--products", "1", "--write-capacity", str(WRITE_CAPACITY)]
    # throttled writes retried with backoff inside the function, as the SDK does, until
    # the (scaled) time limit: past the knee latency climbs first, then buys fail
    argv += ["--write-retries", str(WRITE_RETRIES)]
    argv += ["--function-timeout", f"{API_GATEWAY_TIMEOUT_S * TIME_SCALE:g}s"]
    argv += ["--credentials", str(credentials)]
    return argv + (["--shards", str(SHARDS)] if sharded else [])


@contextmanager
def demo_shop(sharded: bool) -> Iterator[tuple[str, Path]]:
    """Run `surge shop` until the block ends; yields its URL and credentials file."""
    from surge.shop.server import READY_PREFIX

    workdir = Path(tempfile.mkdtemp(prefix="surge-demo-shop-"))
    credentials = workdir / "credentials.json"
    log = open(workdir / "shop.log", "wb")  # noqa: SIM115 (kept for the child's lifetime)
    proc = subprocess.Popen(
        shop_argv(sharded, credentials), stdout=subprocess.PIPE, stderr=log,
        stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    url: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith(READY_PREFIX) and not url:
                url.append(line[len(READY_PREFIX) :])
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(SHOP_START_TIMEOUT_S)
        if not url:
            raise InfrastructureError("the reference shop did not start", str(workdir / "shop.log"))
        yield url[0], credentials
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(SHOP_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def previous_demo(out_dir: Path, sharded: bool) -> Path | None:
    """The newest demo run directory made with (or without) sharding."""
    runs = sorted(out_dir.glob("demo-staircase-*"), reverse=True)
    for run_dir in runs:
        try:
            mark = json.loads((run_dir / DEMO_MARK).read_text())
        except (OSError, ValueError):
            continue
        if mark.get("sharded") is sharded and (run_dir / "manifest.json").exists():
            return run_dir
    return None


def run_demo(
    *, sharded: bool = False, search: bool = False, out_dir: str | Path = DEFAULT_RESULTS_DIR
) -> int:
    out = Path(out_dir)
    # --sharded and --search both compare with the last plain staircase demo
    baseline = previous_demo(out, sharded=False) if sharded or search else None
    schedule = DEMO_SEARCH if search else DEMO_SCHEDULE
    with demo_shop(sharded) as (url, credentials):
        what = f"sharded x{SHARDS}" if sharded else "one hot partition"
        print(f"reference shop on {url} ({what}, {WRITE_CAPACITY} writes/s per key)")
        os.environ["SURGE_SHOP_CREDENTIALS"] = str(credentials)  # for the shop scenario
        outcome = run_and_report(str(schedule), target=url, out_dir=out, baseline=baseline)
    mark = {"sharded": sharded, "search": search, "shop": url}
    (outcome.run_dir / DEMO_MARK).write_text(json.dumps(mark))
    if (sharded or search) and baseline is None:
        print("no earlier unsharded demo run to compare with: run `surge demo` first")
    return outcome.exit_code
