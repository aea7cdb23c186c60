"""Real local runs (Locust master + workers on loopback) in results layout 2 (issue 17).

A run that ends normally leaves one compacted file per worker, no small parts, and the
manifest, the accounts and the report agree on its rows; with a tiny target
(SURGE_COMPACT_TARGET_BYTES) workers compact while the run goes on and end with several
compacted files; a run whose worker is killed
(SIGKILL) mid-run keeps that worker's small parts and still reports every request
recorded in them. No timing is asserted: counts only.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from surge.accounts import read_accounts
from surge.analysis import build_report
from surge.locustfiles.compaction import COMPACT_TARGET_ENV
from surge.provisioning.local import run_local
from surge.results import is_compacted, list_parts, part_key, part_worker, read_manifest
from tests.helpers.locust import FIXTURES, http_target, live_workers, wait_for_start, write_schedule

pytestmark = pytest.mark.integration


def _rows(run: Path) -> dict[str, int]:
    return {part_key(p): pq.read_metadata(p).num_rows for p in list_parts(run)}


def _assert_every_list_agrees(run: Path, rows: dict[str, int]) -> None:
    """The manifest's parts, the accounts, the master's totals and the report all count
    the rows of the files on disk (`rows`), each request once."""
    manifest = read_manifest(run)
    assert manifest.parts == rows  # the master's list names the final files
    accounts = read_accounts(run)
    assert {f"{w}/{n}": r for w, a in accounts.items() for n, r in a["parts"].items()} == rows
    total = sum(rows.values())
    assert manifest.totals is not None and manifest.totals.requests == total
    report = build_report(run, charts=False)
    assert report.whole_run["requests"] == total
    assert not report.run.incomplete


def _schedule(tmp_path: Path, url: str, rate: int, duration_s: float) -> Path:
    return write_schedule(
        tmp_path / "s.yaml", target=url, locustfile=str(FIXTURES / "single.py"),
        stages=f"{{rps: {rate}, duration: {duration_s:g}s}}", extra="arrivals: uniform\n",
    )  # fmt: skip


def test_a_run_that_ends_normally_leaves_compacted_parts_only(tmp_path: Path) -> None:
    run = tmp_path / "run"
    with http_target() as url:  # 7 s: a part at 5 s and the last one at the end
        result = run_local(_schedule(tmp_path, url, 60, 7.0), run, workers=2, run_id="compact")
    assert result.exit_code in (0, 3), result
    rows = _rows(run)
    assert len(rows) == 2 and all(is_compacted(k.split("/")[1]) for k in rows), rows
    assert not list(run.glob("requests/*/part-?????.parquet"))  # no superseded small part
    assert sorted(p.name for p in (run / "requests").iterdir()) == sorted(
        f"worker={w.id}" for w in read_manifest(run).workers
    )
    _assert_every_list_agrees(run, rows)
    assert list((run / "health").glob("part-*.parquet"))  # the master's health parts
    assert json.loads((run / "manifest.json").read_text())["results_layout"] == 2


def test_a_worker_killed_mid_run_keeps_its_small_parts_and_the_run_reports(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    killed: dict = {}

    def killer() -> None:
        start = wait_for_start(run, timeout_s=60)
        while time.time() < start + 12:
            workers = live_workers(run)
            if len(workers) == 2 and time.time() >= start + 6.5:  # after its first part
                killed["id"] = workers[0]["id"]
                os.kill(int(killed["id"].rsplit("-", 1)[1]), signal.SIGKILL)
                return
            time.sleep(0.05)

    with http_target() as url:
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        run_local(_schedule(tmp_path, url, 60, 10.0), run, workers=2, run_id="killed")
        thread.join(5)
    assert killed, "the worker was never killed"
    rows = _rows(run)
    victim = {k: r for k, r in rows.items() if k.startswith(killed["id"] + "/")}
    survivor = {k: r for k, r in rows.items() if k not in victim}
    assert victim and not any(is_compacted(k.split("/")[1]) for k in victim), rows
    assert len(survivor) == 1 and is_compacted(next(iter(survivor)).split("/")[1]), rows
    report = build_report(run, charts=False)
    assert report.whole_run["requests"] == sum(rows.values())
    assert {part_worker(p) for p in list_parts(run)} == {w.id for w in read_manifest(run).workers}


def test_a_worker_compacts_while_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rolling compaction with a 1-byte target (SURGE_COMPACT_TARGET_BYTES, read by the
    worker processes): each part becomes a compacted file once the next one is written,
    so compacted files appear before the schedule ends, and the run ends with compacted
    files only, every request counted once."""
    monkeypatch.setenv(COMPACT_TARGET_ENV, "1")
    run = tmp_path / "run"
    duration_s = 18.0
    seen: dict[str, float] = {}

    def watch() -> None:  # when the first compacted file shows up, relative to the start
        start = wait_for_start(run, timeout_s=60)
        while time.time() < start + duration_s + 30 and not seen:
            if any(is_compacted(p.name) for p in run.glob("requests/*/part-*.parquet")):
                seen["after_s"] = time.time() - start
            time.sleep(0.1)

    with http_target() as url:
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        result = run_local(_schedule(tmp_path, url, 40, duration_s), run, workers=2,
                           run_id="rolling")  # fmt: skip
        thread.join(5)
    assert result.exit_code in (0, 3), result
    assert seen and seen["after_s"] < duration_s, seen  # during the run, not at its end
    rows = _rows(run)
    assert all(is_compacted(k.split("/")[1]) for k in rows), rows  # no small part left
    assert not list(run.glob("requests/*/part-?????.parquet"))
    by_worker: dict[str, list[str]] = {}
    for key in rows:
        worker, name = key.split("/")
        by_worker.setdefault(worker, []).append(name)
    assert len(by_worker) == 2 and all(len(n) >= 3 for n in by_worker.values()), rows
    _assert_every_list_agrees(run, rows)
