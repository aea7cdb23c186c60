"""The analysis benchmark's generated runs: the layout a finished run ends with, readable
by the report (the benchmark itself times `surge report` on millions of them)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks import bench_analysis
from surge.analysis.streaming import stream_run
from surge.results import is_compacted, list_parts, part_worker


def test_a_generated_run_is_compacted_parts_the_report_streams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker's requests in compacted files of row groups of about ROW_GROUP_ROWS
    (smaller here), named by the small parts they stand for; the report reads them all."""
    monkeypatch.setattr(bench_analysis, "ROW_GROUP_ROWS", 2_000)
    run_dir = tmp_path / "bench"
    rows = bench_analysis.generate(run_dir, 60_000)
    parts = list_parts(run_dir)
    assert {part_worker(p) for p in parts} == {f"w{w}" for w in range(bench_analysis.WORKERS)}
    assert all(is_compacted(p.name) for p in parts)
    assert all(pq.read_metadata(p).num_row_groups > 1 for p in parts)
    assert sum(pq.read_metadata(p).num_rows for p in parts) == rows
    assert stream_run(run_dir).requests == rows


def test_the_small_parts_layout_is_a_part_per_worker_every_ten_seconds(tmp_path: Path) -> None:
    run_dir = tmp_path / "bench"
    rows = bench_analysis.generate(run_dir, 30_000, layout="parts")
    parts = list_parts(run_dir)
    assert not any(is_compacted(p.name) for p in parts)
    assert len(parts) > bench_analysis.WORKERS * 100  # 2,000 s / 10 s per worker
    assert stream_run(run_dir).requests == rows
