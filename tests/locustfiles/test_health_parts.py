"""The master's health rows go to health/part-NNNNN.parquet as the run goes on and are
then dropped from memory (issue 17: a day-long run's master stays flat); the report
reads every part back as one table."""

from __future__ import annotations

from pathlib import Path

from surge.locustfiles.health_parts import HealthParts
from surge.results import read_health


def _sample(worker: str, second: int) -> dict:
    return {"time_us": second * 1_000_000, "worker": worker, "cpu_percent": 10.0 + second,
            "sent": 5, "dropped": 0}  # fmt: skip


def test_health_rows_are_written_as_parts_and_forgotten(tmp_path: Path) -> None:
    health = HealthParts(tmp_path, interval_s=3600)
    for second in range(3):
        health.add(_sample("w1", second))
    health.maybe_write()  # not due yet: held
    assert not (tmp_path / "health").exists() and len(health.rows["time_us"]) == 3
    health.interval_s, health._due = 0.0, 0.0
    health.maybe_write()
    assert health.rows == {} and health.seq == 1
    for second in range(3, 5):
        health.add(_sample("w2", second))
    health.write()
    health.write()  # nothing held: no empty part
    assert sorted(p.name for p in (tmp_path / "health").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
    ]
    table = read_health(tmp_path)
    assert table.column("time_us").to_pylist() == [s * 1_000_000 for s in range(5)]
    assert table.column("worker").to_pylist() == ["w1"] * 3 + ["w2"] * 2
    assert table.to_pandas()["cpu_percent"].tolist() == [10.0, 11.0, 12.0, 13.0, 14.0]
