"""The manifest as a type: what the writer writes the reader reads back, old runs still
read, and documents of an unknown major version are refused (exit 2), never misread."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from surge.errors import ExitCode, FormatVersionError, RunDirError
from surge.locustfiles.worker import Plan
from surge.manifest import ScenarioError
from surge.results import (
    FORMAT_VERSION,
    Abort,
    AbortedBy,
    Manifest,
    MasterEntry,
    RunState,
    Totals,
    WorkerEntry,
    read_manifest,
    read_status,
    read_summary,
    write_status,
)
from tests.helpers.runs import make_schedule

T0 = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def full_manifest() -> Manifest:
    """Every field set, so a field the round trip drops fails the test."""
    return Manifest.new(
        run_id="bf-20261127T100000Z",
        schedule=make_schedule([{"rps": 5, "duration": "10s"}], ["p95 < 1s"]),
        started_at=T0,
        ended_at=T0 + dt.timedelta(seconds=12),
        hard_end=T0 + dt.timedelta(seconds=70),
        state=RunState.ABORTED,
        workers=[WorkerEntry("ip-1-101", "ip-1", 101, "c6i.xlarge"), WorkerEntry("ip-1-102")],
        master=MasterEntry("ip-0", "c6i.large"),
        clock_offsets_ms={"ip-1-101": 1.5},
        lost_workers=[{"id": "ip-1-102", "host": "ip-1", "pid": 102, "share": 2}],
        stalled_workers=[{"id": "w9", "doubled_estimate": 3.0}],
        abort=Abort("threshold p95 < 1s failed for 5s (live)", AbortedBy.THRESHOLD, T0),
        untrustworthy=["1 worker(s) lost during the run"],
        totals=Totals(60, {"ok": 58, "error": 2}, 1),
        scenario_bundle="ab" * 32,
        scenario_client={"client": "surge", "why": "a SurgeHttpUser"},
        parts={"ip-1-101/part-00000.parquet": 58},
        worker_failures=[{"id": "ip-1-102", "what": "disk full", "at": "2026-11-27T10:00:05Z"}],
        left_workers=[{"id": "ip-1-103", "why": "spot"}],
        incomplete=["1 part damaged"],
        search={"spec": {"from": 100}, "steps": []},
        scenario_errors=[ScenarioError("checkout", "KeyError", 12, "KeyError: 'id'")],
        engine={"note": "x"},
    )


def test_a_manifest_round_trips_through_the_file(tmp_path: Path) -> None:
    manifest = full_manifest()
    manifest.dump(tmp_path)
    again = read_manifest(tmp_path)
    assert again == manifest
    assert not again.trustworthy
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["format_version"] == FORMAT_VERSION == 1  # still an int: old readers read it
    assert on_disk["abort"]["by"] == "threshold" and on_disk["state"] == "aborted"
    # format 1.0's keys are still written, for readers from before the type
    assert on_disk["abort_reason"] == manifest.abort.reason  # type: ignore[union-attr]
    assert on_disk["trust"] == {"trustworthy": False, "reasons": manifest.untrustworthy}
    assert on_disk["scenario_errors"] == [
        {"task": "checkout", "error": "KeyError", "count": 12, "example": "KeyError: 'id'"}
    ]


def test_a_format_1_0_manifest_still_reads(tmp_path: Path) -> None:
    """What the untyped writer (before format_minor) wrote for an aborted fleet run."""
    old = {
        "format_version": 1,
        "run_id": "old-20261101T000000Z",
        "schedule": {"name": "old", "stages": []},
        "schedule_yaml": "name: old\n",
        "versions": {"surge": "0.1.0"},
        "host": "ip-0",
        "workers": [{"id": "w1", "host": "ip-1", "pid": 7, "instance_type": "c6i.xlarge"}],
        "master": {"host": "ip-0", "instance_type": None},
        "started_at": "2026-11-01T00:00:00Z",
        "ended_at": "2026-11-01T00:01:00Z",
        "clock_offsets_ms": {"w1": 0.2},
        "state": "aborted",
        "hard_end": None,
        "lost_workers": [],
        "stalled_workers": [],
        "abort_reason": "threshold p95 < 1s failed for 5s (live)",
        "trust": {"trustworthy": True, "reasons": []},
        "totals": {"requests": 10, "outcomes": {"ok": 10}, "late": 0},
        "engine": {},
    }
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = read_manifest(tmp_path)
    assert manifest.format_minor == 0
    assert manifest.abort == Abort("threshold p95 < 1s failed for 5s (live)", AbortedBy.THRESHOLD)
    assert manifest.workers[0].instance_type == "c6i.xlarge" and manifest.trustworthy
    assert manifest.started_at == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_keys_of_a_newer_minor_survive_a_rewrite(tmp_path: Path) -> None:
    full_manifest().dump(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["format_minor"] = 99
    data["spot_notices"] = [{"id": "w1"}]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    read_manifest(tmp_path).dump(tmp_path / "copy")
    assert json.loads((tmp_path / "copy" / "manifest.json").read_text())["spot_notices"] == [
        {"id": "w1"}
    ]


@pytest.mark.parametrize("version", [2, 0, "1", None, True])
def test_an_unknown_major_version_is_refused_with_exit_2(tmp_path: Path, version: object) -> None:
    full_manifest().dump(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["format_version"] = version
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(FormatVersionError, match="unknown manifest format_version") as caught:
        read_manifest(tmp_path)
    assert caught.value.exit_code == ExitCode.BAD_INPUT == 2
    assert str(tmp_path / "manifest.json") in str(caught.value)


def test_a_mistyped_key_is_named(tmp_path: Path) -> None:
    full_manifest().dump(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["state"] = "exploded"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(RunDirError, match="manifest key 'state' should be one of"):
        read_manifest(tmp_path)


def test_status_json_is_versioned(tmp_path: Path) -> None:
    write_status(tmp_path, {"state": "running"})
    assert read_status(tmp_path) == {"state": "running", "format_version": 1}
    (tmp_path / "status.json").write_text(json.dumps({"state": "running", "format_version": 2}))
    with pytest.raises(FormatVersionError, match="unknown status format_version 2"):
        read_status(tmp_path)


def test_summary_json_is_version_checked(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"summary_version": 1, "verdict": {}}))
    assert read_summary(tmp_path)["verdict"] == {}
    (tmp_path / "summary.json").write_text(json.dumps({"summary_version": 7}))
    with pytest.raises(FormatVersionError, match="unknown summary format_version 7"):
        read_summary(tmp_path)


def test_the_plan_message_is_versioned() -> None:
    plan = Plan("r", "name: x\n", "http://127.0.0.1:1", 1.0, 2.0, 1.5, 0, 2)
    message = plan.to_message()
    assert message["format_version"] == 1
    assert Plan.from_message(message) == plan
    with pytest.raises(FormatVersionError, match="unknown plan format_version 2"):
        Plan.from_message({**message, "format_version": 2})


def test_a_value_of_the_wrong_shape_is_a_clear_error(tmp_path: Path) -> None:
    full_manifest().dump(tmp_path)
    data = json.loads((tmp_path / "manifest.json").read_text())
    data["workers"] = [{"id": "w1", "pid": "not a number"}]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(RunDirError, match=r"manifest\.json is malformed"):
        read_manifest(tmp_path)
