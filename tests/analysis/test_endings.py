"""Reports of runs that ended badly: damaged parts, a lost master, aborts. Never a pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from surge.accounts import account_path
from surge.analysis import build_report
from surge.analysis.verdict import VerdictStatus
from surge.cli import main
from surge.manifest import Abort, AbortedBy, Manifest, RunState
from surge.results import list_parts, part_key
from tests.helpers.runs import hold, make_run

WORKERS = ("w1", "w2")


def _run(tmp_path: Path, **fields) -> Path:
    return make_run(
        tmp_path,
        stages=[{"rps": 20, "duration": "10s"}],
        thresholds=["p95 < 3s"],
        requests=hold(rate=20, start_s=0, duration_s=10, latency_s=0.05, workers=WORKERS),
        parts_per_worker=3,
        **fields,
    )


def _part_counts(run_dir: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {part_key(p): pq.read_metadata(p).num_rows for p in list_parts(run_dir)}


def test_a_damaged_and_a_truncated_part_are_named_and_the_rest_is_reported(tmp_path):
    run_dir = _run(tmp_path / "a", state=RunState.FINISHED)
    counts = _part_counts(run_dir)
    # the recorder's per-part counts, as the master writes them into the manifest
    manifest = Manifest.load(run_dir)
    manifest.parts = counts
    manifest.dump(run_dir)
    total = sum(counts.values())
    garbled, truncated = list_parts(run_dir)[0], list_parts(run_dir)[4]
    garbled.write_bytes(os.urandom(garbled.stat().st_size))
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    lost = counts["w1/part-00000.parquet"] + counts["w2/part-00001.parquet"]

    code = main(["report", str(run_dir)])

    assert code == 4  # incomplete: never a pass
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    verdict = summary["verdict"]
    assert verdict["status"] == "incomplete"
    text = " ".join(verdict["incomplete"])
    assert "w1/part-00000.parquet" in text and "w2/part-00001.parquet" in text
    assert f"{lost:,} requests missing" in text
    report = build_report(run_dir, out_dir=tmp_path / "again", charts=False)
    assert report.whole_run["requests"] == total - lost  # every readable part was used
    assert {d.part for d in report.run.damaged} == {
        "w1/part-00000.parquet",
        "w2/part-00001.parquet",
    }


def test_a_part_a_worker_wrote_but_that_never_arrived_is_named(tmp_path):
    run_dir = _run(tmp_path / "b", state=RunState.FINISHED)
    account = {"parts": {"part-00000.parquet": 70, "part-00007.parquet": 33}, "worker": "w2"}
    account_path(run_dir, "w2").write_text(json.dumps(account))
    report = build_report(run_dir, charts=False)
    assert report.verdict.status is VerdictStatus.INCOMPLETE
    assert "w2/part-00007.parquet (missing; 33 requests)" in report.verdict.detail()


def test_a_run_whose_master_never_finished_is_incomplete(tmp_path):
    run_dir = _run(tmp_path / "c", state=RunState.STARTING)
    account = {"parts": {}, "worker": "w1", "ending": {"kind": "master lost", "at": 0}}
    account_path(run_dir, "w1").write_text(json.dumps(account))
    report = build_report(run_dir, charts=False)
    assert report.exit_code == 4
    assert "master lost" in report.verdict.headline()
    assert "w1: master lost" in report.verdict.headline()


@pytest.mark.parametrize(
    ("by", "status", "code"),
    [
        (AbortedBy.KILL_SWITCH, VerdictStatus.INTERRUPTED, 130),
        (AbortedBy.PERSON, VerdictStatus.INTERRUPTED, 130),
        (AbortedBy.THRESHOLD, VerdictStatus.FAILED, 1),
        (AbortedBy.HARD_END, VerdictStatus.INCOMPLETE, 4),
    ],
)
def test_an_aborted_run_never_passes(tmp_path, by, status, code):
    abort = Abort(reason="because", by=by)
    state = RunState.STOPPED if by is AbortedBy.PERSON else RunState.ABORTED
    run_dir = _run(tmp_path / by.name, state=state, abort=abort)
    report = build_report(run_dir, charts=False)
    assert report.verdict.status is status
    assert int(report.exit_code) == code
    assert "because" in report.verdict.headline() or by is AbortedBy.HARD_END


def test_a_finished_run_still_passes(tmp_path):
    report = build_report(_run(tmp_path / "d", state=RunState.FINISHED), charts=False)
    assert report.verdict.status is VerdictStatus.PASSED


@pytest.mark.parametrize(
    "argv",
    [
        ["--rps", "1e308", "--hours", "1e308"],
        ["--rps", "5000", "--hours", "24", "--server-rps", "1e-300"],
        ["--rps", "inf", "--hours", "1"],
    ],
)
def test_cost_inputs_beyond_any_sense_are_a_clear_error(argv, capsys):
    assert main(["cost", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "internal" not in err
