"""The results contract: parts written atomically, manifests versioned, readers strict."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from surge import results
from surge.errors import RunDirError
from surge.schedule import parse_schedule

SCHEDULE = parse_schedule(
    "name: t\ntarget: http://127.0.0.1:1\nload:\n  stages:\n    - {rps: 5, duration: 2s}\n"
)


def rows(worker: str, n: int, start_us: int = 1_700_000_000_000_000) -> dict[str, list]:
    dropped = [i % 4 == 3 for i in range(n)]
    return {
        "worker": [worker] * n,
        "name": ["browse" if i % 2 else "buy" for i in range(n)],
        "method": ["GET"] * n,
        "stage": [0] * n,
        "intended_us": [start_us + i * 1000 for i in range(n)],
        "sent_us": [None if d else start_us + i * 1000 + 5 for i, d in enumerate(dropped)],
        "latency_us": [1000 + i for i in range(n)],
        "service_us": [None if d else 995 + i for i, d in enumerate(dropped)],
        "status": [0 if d else 200 for d in dropped],
        "outcome": ["dropped" if d else "ok" for d in dropped],
        "bytes": [0 if d else 120 for d in dropped],
        "error": [None] * n,
    }


def make_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / results.make_run_id("t")
    results.Manifest.new(run_id=run_dir.name, schedule=SCHEDULE).dump(run_dir)
    return run_dir


def test_round_trip_across_workers(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    results.write_part(run_dir, "w1", 0, rows("w1", 10))
    results.write_part(run_dir, "w1", 1, rows("w1", 6))
    results.write_part(run_dir, "w2", 0, rows("w2", 4))
    table = results.read_requests(run_dir)
    assert table.num_rows == 20
    assert table.schema.equals(results.REQUEST_SCHEMA, check_metadata=False)
    df = results.read_requests(run_dir, columns=["worker", "outcome", "sent_us"]).to_pandas()
    assert list(df.columns) == ["worker", "outcome", "sent_us"]
    assert str(df["worker"].dtype) == "category"
    assert df["worker"].value_counts().to_dict() == {"w1": 16, "w2": 4}
    assert df["sent_us"].isna().sum() == (df["outcome"] == "dropped").sum() == 2 + 1 + 1


def test_parts_are_discovered_by_listing_and_temp_files_ignored(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    results.write_part(run_dir, "w1", 3, rows("w1", 2))
    (results.worker_dir(run_dir, "w1") / ".part-00004.parquet.tmp-1").write_bytes(b"half a file")
    assert [p.name for p in results.list_parts(run_dir)] == ["part-00003.parquet"]


def test_manifest_carries_the_contract_fields(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    manifest = results.read_manifest(run_dir)
    assert manifest.format_version == results.FORMAT_VERSION
    assert set(manifest.versions) == {"surge", "locust", "python"}
    assert manifest.schedule["name"] == "t"
    assert "rps: 5" in manifest.schedule_yaml
    on_disk = json.loads((run_dir / "manifest.json").read_text())
    assert on_disk["format_version"] == results.FORMAT_VERSION


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["format_version"] = 99
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunDirError, match="unknown manifest format_version 99"):
        results.read_manifest(run_dir)


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("no manifest", "no manifest.json"),
        ("bad json", "not valid JSON"),
        ("no parts", "no request parts"),
        ("corrupt part", "corrupt request part"),
        ("wrong columns", "does not match the results contract"),
    ],
)
def test_broken_run_directories(tmp_path: Path, breakage: str, message: str) -> None:
    run_dir = make_run(tmp_path)
    if breakage == "no manifest":
        (run_dir / "manifest.json").unlink()
    elif breakage == "bad json":
        (run_dir / "manifest.json").write_text("{")
    elif breakage == "corrupt part":
        results.write_part(run_dir, "w1", 0, rows("w1", 3))
        results.part_path(run_dir, "w1", 1).write_bytes(b"PAR1 garbage")
    elif breakage == "wrong columns":
        import pyarrow.parquet as pq

        path = results.part_path(run_dir, "w1", 0)
        path.parent.mkdir(parents=True)
        pq.write_table(pa.table({"worker": ["w1"], "name": ["x"]}), path)
    with pytest.raises(RunDirError, match=message):
        results.read_requests(run_dir)


def test_missing_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="not found"):
        results.read_manifest(tmp_path / "nope")


def test_run_id_is_name_and_utc_timestamp() -> None:
    import datetime as dt

    when = dt.datetime(2026, 11, 27, 10, 0, 5, tzinfo=dt.UTC)
    assert results.make_run_id("bf", when) == "bf-20261127T100005Z"
