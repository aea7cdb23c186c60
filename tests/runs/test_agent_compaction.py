"""A worker agent's upload with compaction (issue 17): the compacted parts go up (during
the run too: rolling compaction), and the small S3 objects they replace are deleted only
once the compacted one is in S3, so the bucket ends with each request once (what Athena
reads) and a report fetched from S3 has every request."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import surge.s3 as s3mod
from surge.accounts import ACCOUNT_FILE
from surge.analysis import build_report
from surge.cli import main
from surge.locustfiles import compaction
from surge.locustfiles.recorder import Recorder
from surge.provisioning import agent_sync
from surge.results import is_compacted, list_parts, read_requests, superseded, worker_dir
from surge.s3 import S3Store, fetch_run
from tests.helpers.big_runs import awkward_run
from tests.helpers.layouts import as_layout_1, compact_run

pytestmark = pytest.mark.integration


def _requests_keys(store: S3Store, prefix: s3mod.S3Url) -> list[str]:
    return sorted(k.split("/requests/", 1)[1] for k in store.list_keys(prefix) if "/requests/" in k)


def test_superseded_small_objects_are_deleted_after_the_compacted_one_is_up(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = awkward_run(tmp_path / "worker", 40_000, parts_per_worker=5)
    rows = read_requests(run_dir).num_rows
    store = S3Store()
    prefix = s3mod.run_url(bucket, run_dir.name)
    uploader = agent_sync.RunUploader(store, run_dir, prefix)
    assert uploader.sync() == 0  # the run goes on: small parts uploaded
    assert len(_requests_keys(store, prefix)) == 4 * 5

    compact_run(run_dir, keep_small=True)  # the worker's end: compacted files written...
    deleted: list[str] = []
    real_delete = store.delete

    def delete(url: s3mod.S3Url) -> None:  # ...each delete only after its compacted upload
        folder, name = url.key.rsplit("/", 1)
        there = [k.rsplit("/", 1)[1] for k in store.list_keys(s3mod.S3Url(bucket, folder))]
        assert name in superseded(there), f"{name}: no compacted object covers it yet"
        deleted.append(url.key)
        real_delete(url)

    monkeypatch.setattr(store, "delete", delete)
    uploader.final_sync(retry_s=5)
    assert len(deleted) == 4 * 5
    assert _requests_keys(store, prefix) == [
        f"worker=w{i}/{name}" for i in range(4) for name in ("part-00000-00004.parquet",)
    ]
    # the small parts are still on local disk (crash window): readers skip them there
    assert len(list(run_dir.glob("requests/*/part-?????.parquet"))) == 4 * 5
    assert len(list_parts(run_dir)) == 4

    fetched = tmp_path / "fetched"
    fetch_run(store, prefix, fetched)
    assert read_requests(fetched).num_rows == rows
    assert build_report(fetched, charts=False).whole_run["requests"] == rows


def test_the_account_goes_up_under_a_name_engines_skip(tmp_path: Path, bucket: str) -> None:
    run_dir, _ = awkward_run(tmp_path, 1_000, parts_per_worker=2)
    account = run_dir / "requests" / "worker=w1" / ACCOUNT_FILE
    account.write_text('{"parts": {}}')
    store = S3Store()
    prefix = s3mod.run_url(bucket, run_dir.name)
    agent_sync.RunUploader(store, run_dir, prefix).final_sync(retry_s=5)
    assert "worker=w1/_account.json" in _requests_keys(store, prefix)


def test_a_layout_1_run_fetched_from_s3_reports_the_same(tmp_path: Path, bucket: str) -> None:
    """`surge fetch` + `surge report` of a run surge wrote before issue 17."""
    run_dir, _ = awkward_run(tmp_path / "src", 20_000, parts_per_worker=3)
    expected = build_report(run_dir, charts=False).whole_run
    as_layout_1(run_dir)
    store = S3Store()
    prefix = s3mod.run_url(bucket, run_dir.name)
    store.upload_tree(run_dir, prefix)
    assert "w0/part-00002.parquet" in _requests_keys(store, prefix)
    assert main(["fetch", f"s3://{bucket}/runs/{run_dir.name}", str(tmp_path / "dest")]) == 0
    assert build_report(tmp_path / "dest", charts=False).whole_run.equals(expected)


def test_a_failed_delete_is_retried_in_the_next_round(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = awkward_run(tmp_path, 4_000, parts_per_worker=2)
    store = S3Store()
    prefix = s3mod.run_url(bucket, run_dir.name)
    uploader = agent_sync.RunUploader(store, run_dir, prefix)
    uploader.sync()
    compact_run(run_dir)
    real_delete, failing = store.delete, {"left": 1}

    def delete(url: s3mod.S3Url) -> None:
        if failing["left"]:
            failing["left"] -= 1
            raise s3mod.S3Error("delete refused", str(url))
        real_delete(url)

    monkeypatch.setattr(store, "delete", delete)
    assert uploader.sync() == 1  # one small object still there: the round is not clean
    assert len(_requests_keys(store, prefix)) == 4 + 1
    assert uploader.sync() == 0
    assert _requests_keys(store, prefix) == [
        f"worker=w{i}/part-00000-00001.parquet" for i in range(4)
    ]


def test_compacted_files_written_mid_run_go_up_and_replace_the_small_objects(
    tmp_path: Path, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rolling compaction under the agent's upload rounds: a worker's compacted file goes
    up during the run, the small objects it covers are deleted only after it is in S3,
    a deleted small part still on local disk (the worker had not removed it yet) is not
    uploaded again, and the bucket ends with compacted objects only."""
    run_dir = tmp_path / "run"
    recorder = Recorder(run_dir=run_dir, worker_id="w1")
    store = S3Store()
    prefix = s3mod.run_url(bucket, "rolling")
    uploader = agent_sync.RunUploader(store, run_dir, prefix)
    deleted: list[str] = []
    real_delete = store.delete

    def delete(url: s3mod.S3Url) -> None:
        folder, name = url.key.rsplit("/", 1)
        there = [k.rsplit("/", 1)[1] for k in store.list_keys(s3mod.S3Url(bucket, folder))]
        assert name in superseded(there), f"{name}: no compacted object covers it yet"
        deleted.append(name)
        real_delete(url)

    monkeypatch.setattr(store, "delete", delete)
    put: list[str] = []
    real_put = store.put_file

    def put_file(url: s3mod.S3Url, path: Path) -> None:
        put.append(url.key.rsplit("/", 1)[1])
        real_put(url, path)

    monkeypatch.setattr(store, "put_file", put_file)

    def part(rows: int = 100) -> None:  # one flush of the run, then one upload round
        for _ in range(rows):
            recorder.record_dropped("browse", time.time(), 0, time.time())
        recorder.flush()
        recorder.ledger.collect(wait=True)
        recorder.ledger.wait_compaction_thread()
        assert uploader.sync(include_status=False) == 0

    part()
    one_part = (worker_dir(run_dir, "w1") / "part-00000.parquet").stat().st_size
    monkeypatch.setattr(compaction, "COMPACT_TARGET_BYTES", 2 * one_part + one_part // 2)
    mid_run: list[list[str]] = []
    for _ in range(9):
        part()
        mid_run.append(_requests_keys(store, prefix))
    compacted_up = {k for keys in mid_run for k in keys if is_compacted(k.split("/")[1])}
    assert compacted_up, mid_run  # compacted objects in S3 during the run
    assert deleted and all(not is_compacted(n) for n in deleted)
    assert len(deleted) == len(set(deleted))
    # a small part S3 no longer holds, back on local disk as after a crash before the
    # worker's removal: readers drop it, the uploader must not put it up again
    gone = worker_dir(run_dir, "w1") / deleted[0]
    gone.write_bytes(b"left behind")
    put.clear()
    assert uploader.sync(include_status=False) == 0
    assert deleted[0] not in put, put
    assert f"worker=w1/{deleted[0]}" not in _requests_keys(store, prefix)

    recorder.flush(wait=True)  # the worker's stop: the tail compacted
    uploader.final_sync(retry_s=5)
    keys = _requests_keys(store, prefix)
    local_keys = [f"worker=w1/{p.name}" for p in list_parts(run_dir)]
    assert keys == sorted([*local_keys, "worker=w1/_account.json"])
    assert all(is_compacted(k.split("/")[1]) for k in keys if k.endswith(".parquet"))
    objects = store.objects(prefix)
    local = {p.name: p.stat().st_size for p in list_parts(run_dir)}
    assert {k.rsplit("/", 1)[1]: size for k, (size, _) in objects.items() if "/part-" in k} == local
    assert sum(pq.read_metadata(p).num_rows for p in list_parts(run_dir)) == 10 * 100
