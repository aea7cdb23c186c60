"""`surge report s3://bucket/runs/<run_id>` against a real S3-protocol server on loopback."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge import s3
from surge.cli import main
from tests.helpers.runs import fake_run_dir
from tests.helpers.s3 import moto_s3


@contextlib.contextmanager
def _in_s3(run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """`run_dir` uploaded to a loopback S3 server; yields its s3://.../runs/<id> URL."""
    with moto_s3() as server:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv(s3.SURGE_ENDPOINT_ENV, raising=False)
        bucket = server.new_bucket()
        s3.S3Store().upload_tree(run_dir, s3.run_url(bucket, run_dir.name))
        yield f"s3://{bucket}/runs/{run_dir.name}"


@pytest.mark.integration
def test_report_downloads_an_s3_run_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    run_dir = fake_run_dir(tmp_path / "local")
    with _in_s3(run_dir, monkeypatch) as url:
        monkeypatch.chdir(tmp_path)
        assert main(["report", url]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert (tmp_path / "results" / run_dir.name / "report" / "index.html").exists()


@pytest.mark.integration
def test_a_large_s3_run_is_reported_from_s3_without_downloading_its_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Above `STREAM_FROM_S3_BYTES` of request parts, `surge report s3://` downloads only
    the run's small files and reads the parts' row groups from S3 (range requests): no
    part on disk, and the same summary and CSVs as the report of the local directory."""
    import json

    from surge.analysis.report import build_report
    from surge.cli.commands import report as report_command
    from tests.helpers.big_runs import awkward_run

    run_dir, _ = awkward_run(tmp_path / "local", 30_000)
    local = build_report(run_dir, out_dir=tmp_path / "local-report", charts=False)
    with _in_s3(run_dir, monkeypatch) as url:
        monkeypatch.setattr(report_command, "STREAM_FROM_S3_BYTES", 0)
        monkeypatch.chdir(tmp_path)
        exit_code = main(["report", url])
    assert exit_code == int(local.exit_code)
    out = capsys.readouterr().out
    assert "request parts" in out and "from S3" in out
    fetched = tmp_path / "results" / run_dir.name
    assert not list((fetched / "requests").rglob("*.parquet"))  # never downloaded
    assert (fetched / "manifest.json").exists()
    remote, here = fetched / "report", tmp_path / "local-report"
    summaries = [json.loads((d / "summary.json").read_text()) for d in (remote, here)]
    for summary in summaries:
        summary.pop("generated_at")
    assert summaries[0] == summaries[1]
    assert summaries[0]["whole_run"]["requests"] == 30_000
    for csv in here.glob("*.csv"):
        assert (remote / csv.name).read_text() == csv.read_text(), csv.name


def _streamed_and_local(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, dict, tuple[int, int]]:
    """summary.json of `run_dir`'s report read from S3 (streamed: every part above the
    threshold) and of its local copy; and both exit codes."""
    import json

    from surge.analysis.report import build_report
    from surge.cli.commands import report as report_command

    here = build_report(run_dir, out_dir=tmp_path / "local-report", charts=False)
    with _in_s3(run_dir, monkeypatch) as url:
        monkeypatch.setattr(report_command, "STREAM_FROM_S3_BYTES", 0)
        monkeypatch.chdir(tmp_path)
        exit_code = main(["report", url])
    dirs = (tmp_path / "results" / run_dir.name / "report", tmp_path / "local-report")
    remote, local = (json.loads((d / "summary.json").read_text()) for d in dirs)
    for summary in (remote, local):
        summary.pop("generated_at")
    return remote, local, (exit_code, int(here.exit_code))


@pytest.mark.integration
def test_a_lost_worker_and_compacted_parts_have_the_same_endings_streamed_from_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The missing parts and a lost worker's missing records are counted from the parts
    the report reads (in S3, not downloaded), not from the local directory: the same
    "incomplete" figures as the report of a local copy. The workers' accounts name the
    small parts that compaction replaced (covered: not missing) and one that never
    arrived; the manifest says w2 was lost after reporting 123 more requests than its
    parts hold."""
    import json

    import pyarrow.parquet as pq

    from surge.accounts import account_path
    from surge.manifest import Manifest
    from surge.results import list_parts, part_worker
    from tests.helpers.big_runs import awkward_run
    from tests.helpers.layouts import compact_run

    run_dir, _ = awkward_run(tmp_path / "local", 20_000, parts_per_worker=4)
    rows: dict[str, dict[str, int]] = {}
    for part in list_parts(run_dir):
        rows.setdefault(part_worker(part), {})[part.name] = pq.read_metadata(part).num_rows
    rows["w1"]["part-00009.parquet"] = 50  # written, never arrived
    for worker, parts in rows.items():
        account_path(run_dir, worker).write_text(json.dumps({"worker": worker, "parts": parts}))
    compact_run(run_dir)
    assert all("-" in p.stem.removeprefix("part-") for p in list_parts(run_dir))  # compacted
    w2 = sum(rows["w2"].values())
    manifest = Manifest.load(run_dir)
    manifest.lost_workers = [
        {"id": "w2", "lost_at": "2026-11-27T10:01:00+00:00", "records_counted": w2 + 123}
    ]
    manifest.dump(run_dir)

    remote, local, exit_codes = _streamed_and_local(run_dir, tmp_path, monkeypatch)

    assert "from S3" in capsys.readouterr().out
    assert exit_codes == (4, 4)  # incomplete
    incomplete = local["verdict"]["incomplete"]
    assert any("w1/part-00009.parquet (missing; 50 requests)" in r for r in incomplete)
    assert any(r.startswith("1 request part(s)") for r in incomplete)  # not the small ones
    assert any(f"123 of the {w2 + 123:,} requests" in r for r in incomplete)
    assert remote["verdict"] == local["verdict"]
    assert remote == local


@pytest.mark.integration
@pytest.mark.parametrize("why", ["too many endpoint x stage cells", "frame engine"])
def test_a_report_that_needs_its_parts_on_disk_fetches_them_from_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, why: str
) -> None:
    """The one-frame reader (the streamed report's fallback for more endpoint x stage
    cells than its histograms hold, or SURGE_REPORT_ENGINE=frame) reads files: a large
    S3 run's parts are downloaded then, with a note, and the report is the local one."""
    from surge.analysis import histograms
    from tests.helpers.big_runs import awkward_run

    if why == "frame engine":
        monkeypatch.setenv("SURGE_REPORT_ENGINE", "frame")
    else:
        monkeypatch.setattr(histograms, "MAX_GROUPS", 3)
    run_dir, _ = awkward_run(tmp_path / "local", 20_000)

    remote, local, exit_codes = _streamed_and_local(run_dir, tmp_path, monkeypatch)

    assert exit_codes[0] == exit_codes[1]  # a verdict, not "no request parts"
    out = capsys.readouterr().out
    assert "fetching its 24 request parts" in out and "reads them from disk" in out
    fetched = tmp_path / "results" / run_dir.name / "requests"
    assert len(list(fetched.rglob("*.parquet"))) == 24
    assert remote == local
    assert remote["whole_run"]["requests"] == 20_000


@pytest.mark.integration
def test_a_large_knee_search_run_has_its_parts_fetched_before_its_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A knee search's report reads one frame: `surge report s3://` fetches a large
    search run's parts (the ones `parts_among` chose) before the report, with a note."""
    from surge.analysis.remote_parts import parts_of
    from surge.cli.commands import report as report_command
    from surge.manifest import Manifest
    from surge.results import list_parts
    from tests.helpers.big_runs import awkward_run

    run_dir, _ = awkward_run(tmp_path / "local", 4_000)
    manifest = Manifest.load(run_dir)
    manifest.search = {"spec": {"from": 10.0, "max": 1000.0, "hold_s": 4.0}}
    manifest.dump(run_dir)
    with _in_s3(run_dir, monkeypatch) as url:
        monkeypatch.setattr(report_command, "STREAM_FROM_S3_BYTES", 0)
        monkeypatch.chdir(tmp_path)
        with report_command.local_run(url) as dest:
            assert parts_of(dest) == list_parts(dest)  # read from disk from now on
    assert "fetching its 24 request parts" in capsys.readouterr().out
    assert [p.name for p in list_parts(dest)] == [p.name for p in list_parts(run_dir)]
