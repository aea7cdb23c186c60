"""Results layout 2 (issue 17): hive-style folders, compacted parts, and layout 1 still read.

The rule every reader depends on: `list_parts` drops a small part a compacted part
covers, so a crash between writing a compacted file and deleting its parts counts
nothing twice, and a layout-1 run directory lists exactly as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from surge import results
from surge.accounts import ACCOUNT_FILE, account_path, read_accounts
from surge.locustfiles import compaction
from surge.locustfiles.compaction import compact_parts, plan, remove_superseded
from tests.helpers.big_runs import awkward_run
from tests.helpers.layouts import as_layout_1, compact_run
from tests.helpers.runs import health_rows, hold, make_run


def _names(run_dir: Path) -> list[str]:
    return [results.part_key(p) for p in results.list_parts(run_dir)]


def _touch_parts(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")


def test_parts_go_to_hive_style_worker_folders(tmp_path: Path) -> None:
    run_dir = make_run(
        tmp_path, stages=[{"rps": 10, "duration": "4s"}], parts_per_worker=2,
        requests=hold(rate=10, start_s=0, duration_s=4, workers=("w1", "ip-10-0-0-1-42")),
        health=health_rows(["w1"], 4),
    )  # fmt: skip
    assert sorted(p.name for p in (run_dir / "requests").iterdir()) == [
        "worker=ip-10-0-0-1-42",
        "worker=w1",
    ]
    assert _names(run_dir) == [
        "ip-10-0-0-1-42/part-00000.parquet",
        "ip-10-0-0-1-42/part-00001.parquet",
        "w1/part-00000.parquet",
        "w1/part-00001.parquet",
    ]
    assert results.part_worker(results.list_parts(run_dir)[0]) == "ip-10-0-0-1-42"
    assert (run_dir / "health" / "part-00000.parquet").exists()
    assert results.read_health(run_dir).num_rows == 4
    assert results.read_manifest(run_dir).results_layout == 2
    schema = pq.read_schema(results.list_parts(run_dir)[0])
    assert schema.metadata[b"surge.results_layout"] == b"2"


def test_small_parts_a_compacted_part_covers_are_not_listed(tmp_path: Path) -> None:
    folder = results.worker_dir(tmp_path, "w1")
    _touch_parts(folder, *(f"part-{i:05d}.parquet" for i in range(6)))
    _touch_parts(folder, "part-00000-00003.parquet", ".part-00004-00005.parquet.tmp-9")
    # the temp file of a compaction in progress hides nothing
    assert [p.name for p in results.list_parts(tmp_path)] == [
        "part-00000-00003.parquet",
        "part-00004.parquet",
        "part-00005.parquet",
    ]
    # a compacted part of one part wins over that part; a larger one over a smaller one
    _touch_parts(folder, "part-00004-00004.parquet", "part-00000-00005.parquet")
    assert [p.name for p in results.list_parts(tmp_path)] == ["part-00000-00005.parquet"]
    # another worker's folder is never covered
    _touch_parts(results.worker_dir(tmp_path, "w2"), "part-00001.parquet")
    assert _names(tmp_path)[-1] == "w2/part-00001.parquet"


def test_drop_superseded_on_part_lists() -> None:
    listed = {
        "w1/part-00000.parquet": 5,
        "w1/part-00001.parquet": 7,
        "w1/part-00000-00001.parquet": 12,
        "w2/part-00001.parquet": 3,
    }
    assert results.drop_superseded(listed) == {
        "w1/part-00000-00001.parquet": 12,
        "w2/part-00001.parquet": 3,
    }


def test_compaction_streams_parts_into_files_of_the_target_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir, _ = awkward_run(tmp_path, 60_000, parts_per_worker=12)
    before = results.read_requests(run_dir)
    sizes = [p.stat().st_size for p in results.list_parts(run_dir)]
    monkeypatch.setattr(compaction, "ROW_GROUP_ROWS", 4_000)  # several row groups per file
    done = compact_run(run_dir, target_bytes=5 * max(sizes))
    names = _names(run_dir)
    assert [d.name for d in done if d.name.startswith("part-00000")] == [
        "part-00000-00004.parquet"
    ] * 4
    assert sorted(n.split("/")[1] for n in names if n.startswith("w0/")) == [
        "part-00000-00004.parquet",
        "part-00005-00009.parquet",
        "part-00010-00011.parquet",
    ]
    after = results.read_requests(run_dir)
    assert after.num_rows == before.num_rows == sum(d.rows for d in done)
    key = ["worker", "intended_us", "latency_us", "name", "outcome"]
    a, b = (t.to_pandas().sort_values(key).reset_index(drop=True) for t in (before, after))
    assert a.astype(str).equals(b.astype(str))  # same rows, same values, nulls included
    first = pq.ParquetFile(results.worker_dir(run_dir, "w0") / "part-00000-00004.parquet")
    assert first.metadata.num_row_groups >= 2  # streamed: never one table of everything
    assert first.schema_arrow.field("intended_us").type == "int64"


def test_a_crash_before_the_small_parts_are_deleted_counts_nothing_twice(tmp_path: Path) -> None:
    run_dir, _ = awkward_run(tmp_path, 20_000, parts_per_worker=5)
    rows = results.read_requests(run_dir).num_rows
    compact_run(run_dir, keep_small=True)  # "crash": compacted files written, parts kept
    assert len(list(run_dir.glob("requests/*/part-*.parquet"))) == 4 * (5 + 1)
    assert _names(run_dir) == [f"w{i}/part-00000-00004.parquet" for i in range(4)]
    assert results.read_requests(run_dir).num_rows == rows
    assert remove_superseded(run_dir, "w0") == 5
    assert results.read_requests(run_dir).num_rows == rows


def test_a_compacted_file_that_does_not_add_up_is_removed(tmp_path: Path) -> None:
    run_dir, _ = awkward_run(tmp_path, 2_000, parts_per_worker=3)
    folder = results.worker_dir(run_dir, "w0")
    ledger = {p.name: pq.read_metadata(p).num_rows for p in folder.glob("part-*")}
    ledger["part-00001.parquet"] += 1  # the ledger and the disk disagree: keep the parts
    with pytest.raises(compaction.CompactionError, match="rows written"):
        compact_parts(run_dir, "w0", ledger)
    assert sorted(p.name for p in folder.iterdir()) == sorted(ledger)


def test_plan_leaves_a_lone_part_and_parts_the_disk_lacks(tmp_path: Path) -> None:
    folder = tmp_path
    for i in range(4):
        (folder / f"part-{i:05d}.parquet").write_bytes(b"x" * 100)
    ledger = {f"part-{i:05d}.parquet": 1 for i in range(5)}  # part 4 is not on disk
    assert plan(folder, ledger, target_bytes=250) == [
        ["part-00000.parquet", "part-00001.parquet"],
        ["part-00002.parquet", "part-00003.parquet"],
    ]
    assert plan(folder, {"part-00000.parquet": 1}, target_bytes=250) == []


def test_compacted_requests_stay_under_12_bytes_each(tmp_path: Path) -> None:
    """The issue's size goal, on random latencies (the hard case for compression)."""
    rng = np.random.default_rng(3)
    n, start = 40_000, 1_700_000_000_000_000
    for seq in range(8):
        intended = start + seq * 5_000_000 + np.sort(rng.integers(0, 5_000_000, n))
        latency = rng.integers(1_000, 400_000, n)
        results.write_part(tmp_path, "w1", seq, {
            "worker": ["w1"] * n, "name": rng.choice(["browse", "buy", "cart"], n).tolist(),
            "method": ["GET"] * n, "stage": np.zeros(n, np.int16), "intended_us": intended,
            "sent_us": intended + rng.integers(0, 300, n), "latency_us": latency,
            "service_us": latency - 300, "status": np.full(n, 200, np.int16),
            "outcome": ["ok"] * n, "bytes": np.full(n, 512, np.int32), "error": [None] * n,
        })  # fmt: skip
    compact_run(tmp_path)
    (only,) = results.list_parts(tmp_path)
    assert only.name == "part-00000-00007.parquet"
    assert only.stat().st_size / (8 * n) <= 12


def test_accounts_use_an_underscore_name_and_old_ones_still_read(tmp_path: Path) -> None:
    assert account_path(tmp_path, "w1") == tmp_path / "requests/worker=w1" / ACCOUNT_FILE
    account_path(tmp_path, "w1").parent.mkdir(parents=True)
    account_path(tmp_path, "w1").write_text(json.dumps({"parts": {"part-00000.parquet": 3}}))
    (tmp_path / "requests" / "w2").mkdir()
    (tmp_path / "requests" / "w2" / "account.json").write_text(json.dumps({"parts": {}}))
    assert set(read_accounts(tmp_path)) == {"w1", "w2"}


def test_a_layout_1_run_lists_reads_and_keys_its_parts_as_before(tmp_path: Path) -> None:
    run_dir = make_run(
        tmp_path, stages=[{"rps": 10, "duration": "4s"}], parts_per_worker=2,
        requests=hold(rate=10, start_s=0, duration_s=4, workers=("w1", "w2")),
        health=health_rows(["w1", "w2"], 4),
    )  # fmt: skip
    keys, rows = _names(run_dir), results.read_requests(run_dir).num_rows
    as_layout_1(run_dir)
    assert (run_dir / "requests" / "w1" / "part-00001.parquet").exists()
    assert (run_dir / "health.parquet").exists() and not (run_dir / "health").exists()
    assert _names(run_dir) == keys
    assert results.read_requests(run_dir).num_rows == rows
    assert results.read_health(run_dir).num_rows == 8
    assert results.read_manifest(run_dir).results_layout == 1
    assert set(results.worker_dirs(run_dir)) == {"w1", "w2"}
