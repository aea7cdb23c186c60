"""A worker whose disk fills up: it stops sending, keeps what it wrote, tells the master,
and the verdict names it; the other worker is not affected.

One worker agent's run directory is a small tmpfs (mounted by the test, as root)
that the test fills while the run is live.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.fleet import Fleet, fetch, manifest_json, push, wait_for_state
from tests.helpers.locust import http_target

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(disk: Path) -> None:
    """Write a filler file until the file system says it is full."""
    chunk = b"\0" * 4096
    with open(disk / "filler", "wb", buffering=0) as out:
        while True:
            try:
                out.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return


def test_a_full_disk_stops_that_worker_and_the_verdict_names_it(fleet: Fleet) -> None:
    # the worker's whole run directory (parts, account, its Locust log) on a small disk
    with small_disk(fleet.run_dir("w2")) as disk, http_target() as target:
        push(fleet, target, "[{rps: 20, duration: 20s}]")
        fleet.start("master", "master", expect_workers=2)
        fleet.start("w1", "worker")
        fleet.start("w2", "worker")
        wait_for_state(fleet, "running")
        run_dir = fleet.run_dir("w2")
        deadline = time.monotonic() + 15
        while not list(run_dir.glob("requests/*/part-*.parquet")):  # one part on disk first
            assert time.monotonic() < deadline, "w2 wrote no part"
            time.sleep(0.2)
        fill(disk)
        codes = fleet.wait(timeout=120)
        kept = sorted(p.name for p in run_dir.glob("requests/*/part-*.parquet"))
        os.remove(disk / "filler")
    assert codes["w2"] == 4, fleet.output("w2")  # its records are incomplete
    assert codes["w1"] == 0, fleet.output("w1")
    assert codes["master"] == 4, fleet.output("master")  # the run is incomplete
    assert kept, "the worker kept what it wrote before the disk filled"

    dest = fetch(fleet)
    manifest = manifest_json(dest)
    (failure,) = manifest["worker_failures"]
    assert "disk full" in failure["what"]
    worker = failure["id"]
    assert worker in manifest["incomplete"][0]
    assert worker in [w["id"] for w in manifest["left_workers"]]
    assert kept[0] in [Path(k).name for k in manifest["parts"] if k.startswith(worker)]
    summary = json.loads((dest / "report" / "summary.json").read_text())
    assert summary["verdict"]["status"] == "incomplete"
    assert (
        "disk full" in summary["verdict"]["headline"] and worker in summary["verdict"]["headline"]
    )
    # the other worker kept sending to the end of the schedule
    others = [k for k in manifest["parts"] if not k.startswith(worker)]
    assert sum(manifest["parts"][k] for k in others) >= 0.5 * 20 * 20
