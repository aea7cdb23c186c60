"""The documented DuckDB query (docs/sql/stages.duckdb.sql, shown in the README) on a run
directory gives exactly the report's per-stage request counts and percentiles: on small
parts, on compacted parts (with a crash's left-over small parts) and on a layout-1 run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from surge.analysis.loading import load_run
from surge.analysis.stages import stage_table
from tests.helpers.big_runs import awkward_run
from tests.helpers.layouts import as_layout_1, compact_run
from tests.helpers.runs import hold, make_run, with_fields

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[2]
QUERY = ROOT / "docs" / "sql" / "stages.duckdb.sql"
COUNTS = ["requests", "ok", "rejected", "error", "timeout", "dropped"]


def run_query(run_dir: Path) -> dict[int, dict]:
    con = duckdb.connect()
    con.execute("SET VARIABLE run = ?", [str(run_dir)])
    cursor = con.execute(QUERY.read_text())
    names = [d[0] for d in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def check_against_report(run_dir: Path) -> None:
    table = stage_table(load_run(run_dir))  # the report's stage table, default warm-up
    rows = run_query(run_dir)
    assert sorted(rows) == [int(s) + 1 for s in table["stage"]]
    for stage in table.to_dict("records"):
        sql = rows[int(stage["stage"]) + 1]
        assert {c: sql[c] for c in COUNTS} == {c: int(stage[c]) for c in COUNTS}
        for column in ("p50", "p95", "p99", "max"):
            if np.isnan(stage[column]):
                assert sql[column] is None
            else:
                assert sql[column] == stage[column], (stage["stage"], column)


def test_the_documented_query_matches_the_report_on_an_awkward_run(tmp_path: Path) -> None:
    """Ties, drops, an empty stage, a ramp (no warm-up), holds (5 s warm-up skipped)."""
    run_dir, _ = awkward_run(tmp_path, 300_000)
    check_against_report(run_dir)


def test_the_documented_query_matches_the_report_on_a_short_hold(tmp_path: Path) -> None:
    """A 6 s hold: the warm-up is half the stage (3 s), not 5 s."""
    rows = hold(rate=50, start_s=0, duration_s=6, latency_s=lambda i: 0.001 * (i % 13))
    rows += with_fields(hold(rate=5, start_s=4, duration_s=2), outcome="dropped", status=0)
    run_dir = make_run(tmp_path, stages=[{"rps": 50, "duration": "6s"}], requests=rows)
    check_against_report(run_dir)
    assert run_query(run_dir)[1]["requests"] == 150 + 10


@pytest.mark.parametrize("left_over", [False, True], ids=["compacted", "crash-left-overs"])
def test_the_documented_query_matches_the_report_on_compacted_parts(
    tmp_path: Path, left_over: bool
) -> None:
    """After end-of-run compaction; `left_over`: the small parts are still there too (a
    crash before their deletion), and both the query and the report count them once."""
    run_dir, cols = awkward_run(tmp_path, 200_000, parts_per_worker=8)
    compact_run(run_dir, keep_small=left_over)
    assert len(list(run_dir.glob("requests/*/part-*-*.parquet"))) == 4
    assert len(list(run_dir.glob("requests/*/part-?????.parquet"))) == (32 if left_over else 0)
    check_against_report(run_dir)
    assert sum(r["requests"] for r in run_query(run_dir).values()) <= len(cols["intended_us"])


def test_the_documented_query_matches_the_report_on_a_layout_1_run(tmp_path: Path) -> None:
    run_dir, _ = awkward_run(tmp_path, 100_000)
    check_against_report(as_layout_1(run_dir))
