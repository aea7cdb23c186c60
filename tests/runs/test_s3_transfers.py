"""Tree transfers at size (issue 17): parallel and bounded, and resumable after a failure,
against a real S3 server (moto) on loopback."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import surge.s3 as s3mod
from surge.s3 import S3Error, S3Store, S3Url, fetch_run, run_url
from tests.helpers.runs import fake_run_dir


def many_files(root: Path, n: int = 24) -> Path:
    """A run directory with `n` extra request parts of distinct content."""
    run_dir = fake_run_dir(root)
    for i in range(n):
        (run_dir / "requests" / "w3").mkdir(parents=True, exist_ok=True)
        (run_dir / "requests" / "w3" / f"part-{i:05d}.parquet").write_bytes(bytes([i]) * 5000)
    return run_dir


class Counting:
    """Wraps a store method: counts calls and the most running at once."""

    def __init__(self, store: S3Store, name: str, delay_s: float = 0.02) -> None:
        self.inner = getattr(store, name)
        self.calls: list[str] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()
        self.delay_s = delay_s
        self.fail: set[str] = set()
        setattr(store, name, self)

    def __call__(self, *args):
        url = next(str(a) for a in args if isinstance(a, S3Url))
        with self.lock:
            self.calls.append(url)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.delay_s)  # long enough for the others to start
            if any(url.endswith(f) for f in self.fail):
                raise S3Error("injected failure", url)
            return self.inner(*args)
        finally:
            with self.lock:
                self.running -= 1


@pytest.mark.integration
def test_uploads_run_in_parallel_bounded_and_resume(tmp_path: Path, bucket: str) -> None:
    run_dir = many_files(tmp_path / "local")
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    store = S3Store()
    puts = Counting(store, "put_file")
    run = run_url(bucket, run_dir.name)
    assert store.upload_tree(run_dir, run) == files
    assert len(puts.calls) == len(files)
    assert 1 < puts.most <= s3mod.TRANSFER_THREADS
    puts.calls.clear()
    assert store.upload_tree(run_dir, run) == files  # everything is there already
    assert puts.calls == []
    changed = run_dir / "requests" / "w3" / "part-00003.parquet"
    changed.write_bytes(b"x" * 5000)  # same size, other content: sent again
    store.upload_tree(run_dir, run)
    assert puts.calls == [str(run.join("requests/w3/part-00003.parquet"))]


@pytest.mark.integration
def test_a_fetch_that_failed_half_way_resumes_where_it_stopped(tmp_path: Path, bucket: str) -> None:
    run_dir = many_files(tmp_path / "local")
    run = run_url(bucket, run_dir.name)
    S3Store().upload_tree(run_dir, run)
    store = S3Store()
    gets = Counting(store, "get_file")
    gets.fail = {"part-00020.parquet"}
    dest = tmp_path / "fetched"
    with pytest.raises(S3Error, match="injected failure"):
        fetch_run(store, run, dest)
    assert 1 < gets.most <= s3mod.TRANSFER_THREADS
    fetched_before = {p for p in dest.rglob("*") if p.is_file()}
    assert fetched_before  # some arrived before the failure
    gets.fail, gets.calls = set(), []
    files = fetch_run(store, run, dest)
    local = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())
    assert sorted(p.relative_to(dest.resolve()) for p in files) == local
    for rel in local:
        assert (dest / rel).read_bytes() == (run_dir / rel).read_bytes()
    assert len(gets.calls) == len(local) - len(fetched_before)  # only what was missing
    assert any(c.endswith("part-00020.parquet") for c in gets.calls)  # the failed one too
    gets.calls = []
    fetch_run(store, run, dest)
    assert gets.calls == []  # complete: nothing to do
