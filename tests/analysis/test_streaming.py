"""The bounded-memory path (`analysis.streaming`): exact, and the same tables as the
in-memory report, on awkward data; memory held does not grow with the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from surge.analysis import streaming
from surge.analysis.distribution import latency_histogram
from surge.analysis.endpoints import endpoint_views
from surge.analysis.histograms import ValueCounts
from surge.analysis.loading import load_run
from surge.analysis.metrics import group_summary
from surge.analysis.percentiles import PERCENTILES
from surge.analysis.stages import add_windows, error_breakdown, window_codes
from surge.analysis.streaming import coarsen, stream_run
from surge.analysis.timeline import per_second, per_second_by_name
from surge.errors import RunDirError
from surge.manifest import RunState
from surge.results import Manifest, is_compacted, list_parts, part_key, worker_dirs
from tests.helpers.big_runs import EMPTY_STAGE, NAMES, ONLY_IN_LAST, awkward_run, nearest_rank
from tests.helpers.runs import Req, hold, make_run, with_fields

COLUMNS = ["p50", "p90", "p95", "p99", "p999", "max"]


def _same_as_in_memory(run_dir: Path) -> streaming.StreamedRun:
    """Every streamed table equals the in-memory report's (values and columns)."""
    streamed = stream_run(run_dir)
    run = load_run(run_dir)
    windows = add_windows(run.stages)
    codes = window_codes(run.requests, windows)
    pd.testing.assert_frame_equal(
        group_summary(run, codes, len(windows), uncorrected=True),
        streamed.by_window,
        check_dtype=False,
    )
    whole = group_summary(run, np.zeros(len(run.requests), np.int8), 1).iloc[0]
    pd.testing.assert_series_equal(whole, streamed.whole, check_dtype=False, check_names=False)
    keys = ["window", "error_class", "status"]
    pd.testing.assert_frame_equal(
        error_breakdown(run.requests, codes).sort_values(keys).reset_index(drop=True),
        streamed.breakdown.sort_values(keys).reset_index(drop=True),
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(per_second(run), streamed.timeline, check_dtype=False)
    pd.testing.assert_frame_equal(
        per_second_by_name(run), streamed.timeline_by_name, check_dtype=False
    )
    views = endpoint_views(run, windows)
    assert streamed.endpoints == views.endpoints.labels
    pd.testing.assert_frame_equal(
        group_summary(run, views.endpoints.codes, len(views.endpoints.labels), uncorrected=True),
        streamed.by_endpoint,
        check_dtype=False,
    )
    by_stage = views.by_stage  # (stage, endpoint) rows with requests, stage order
    pairs = streamed.by_endpoint_window
    assert list(pairs["endpoint"]) == list(by_stage["endpoint"])
    assert list(pairs["requests"]) == list(by_stage["requests"])
    np.testing.assert_array_equal(pairs["p95"].to_numpy(), by_stage["p95"].to_numpy())
    failures = streamed.failures.groupby(["endpoint", "status"])["count"].sum()
    expected = views.failures.groupby(["endpoint", "status"])["count"].sum()
    pd.testing.assert_series_equal(failures.sort_index(), expected.sort_index(), check_dtype=False)
    pd.testing.assert_frame_equal(
        latency_histogram(run.requests), streamed.histogram, check_dtype=False
    )
    assert streamed.requests == len(run.requests)
    return streamed


@pytest.mark.parametrize("parts_per_worker, batch_rows", [(3, 1 << 20), (1, 50), (4, 7)])
def test_streamed_tables_equal_the_in_memory_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts_per_worker: int, batch_rows: int
) -> None:
    """Two workers, several parts each, ties, drops, errors and timeouts, an empty stage,
    an endpoint only in the last stage, late answers after the schedule's end; read in
    one batch or summarised second by second as the watermark moves."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", batch_rows)
    monkeypatch.setattr(streaming, "FINALISE_EVERY", 0 if batch_rows < 100 else 1 << 21)
    rows = hold(rate=20, start_s=0, duration_s=10, latency_s=0.05, workers=("w1", "w2"))
    rows += with_fields(
        hold(rate=5, start_s=2, duration_s=4, latency_s=0.3, workers=("w2",)), outcome="dropped",
        status=0,
    )  # fmt: skip
    rows += with_fields(
        hold(rate=10, start_s=20, duration_s=10, latency_s=lambda i: 0.01 * (i % 7),
             workers=("w1", "w2")),
        name="only-last", status=503, outcome="error", error="SlowDown: please",
    )  # fmt: skip
    rows += [Req(offset_s=29.5, latency_s=3.0, outcome="timeout", status=0, worker="w1")]
    run_dir = make_run(
        tmp_path,
        stages=[
            {"rps": 20, "duration": "10s"},
            {"rps": 20, "duration": "10s"},  # no requests at all
            {"rps": 30, "duration": "10s"},
        ],
        requests=rows,
        parts_per_worker=parts_per_worker,
    )
    streamed = _same_as_in_memory(run_dir)
    assert streamed.by_window["requests"].tolist()[1] == 0
    assert streamed.resolution_s == 1


def test_every_percentile_equals_a_brute_force_sort(tmp_path: Path) -> None:
    """A million requests of awkward data (4 workers x 6 parts): every stage's, endpoint's,
    endpoint-in-stage's and the whole run's percentiles are the nearest-rank values of a
    full sort (the whole run and an endpoint are unions of endpoint x stage cells)."""
    run_dir, cols = awkward_run(tmp_path, 1_000_000)
    streamed = stream_run(run_dir)
    windows = streamed.windows
    offset, stage = cols["offset_us"], cols["stage"]
    sent = ~cols["dropped"]
    for position, w in enumerate(windows.to_dict("records")):
        lo, hi = np.ceil(w["window_start_s"] * 1e6), np.ceil(w["window_end_s"] * 1e6)
        inside = (stage == w["stage"]) & (offset >= lo) & (offset < hi)
        row = streamed.by_window.iloc[position]
        assert row["requests"] == inside.sum()
        values = np.sort(cols["latency_us"][inside & sent])
        if w["stage"] == EMPTY_STAGE:
            assert row["requests"] == 0 and np.isnan(row["p95"])
            continue
        for column, p in zip(COLUMNS, PERCENTILES, strict=True):
            assert row[column] == nearest_rank(values, p) / 1e6, (w["stage"], column)
        assert row["avg"] == pytest.approx(values.mean() / 1e6, rel=1e-12)
    pairs = streamed.by_endpoint_window
    only = pairs[pairs["endpoint"] == ONLY_IN_LAST]
    assert only["window"].tolist() == [3]  # one endpoint, in one stage only
    last = windows.iloc[3]
    inside = (stage == 3) & (offset >= np.ceil(last["window_start_s"] * 1e6)) & sent
    values = np.sort(cols["latency_us"][inside & (cols["name"] == 2)])
    for column, p in zip(COLUMNS, PERCENTILES, strict=True):
        assert only.iloc[0][column] == nearest_rank(values, p) / 1e6
    everything = np.sort(cols["latency_us"][sent])
    for column, p in zip(COLUMNS, PERCENTILES, strict=True):  # the union of every cell
        assert streamed.whole[column] == nearest_rank(everything, p) / 1e6, column
    assert streamed.whole["requests"] == len(offset)
    for k, label in enumerate(NAMES):  # each endpoint: the union of its stage cells
        values = np.sort(cols["latency_us"][sent & (cols["name"] == k)])
        row = streamed.by_endpoint.iloc[streamed.endpoints.index(label)]
        for column, p in zip(COLUMNS, PERCENTILES, strict=True):
            assert row[column] == nearest_rank(values, p) / 1e6, (label, column)
    for pair in pairs.to_dict("records"):  # every endpoint in every stage window
        if pair["endpoint"] not in NAMES:
            continue  # dropped requests only (no method): no latency
        w = windows.iloc[pair["window"]]
        lo, hi = np.ceil(w["window_start_s"] * 1e6), np.ceil(w["window_end_s"] * 1e6)
        inside = (stage == w["stage"]) & (offset >= lo) & (offset < hi) & sent
        values = np.sort(
            cols["latency_us"][inside & (cols["name"] == NAMES.index(pair["endpoint"]))]
        )
        for column, p in zip(COLUMNS, PERCENTILES, strict=True):
            assert pair[column] == nearest_rank(values, p) / 1e6, (pair["endpoint"], column)


def test_same_tables_on_a_large_awkward_run(tmp_path: Path) -> None:
    run_dir, _ = awkward_run(tmp_path, 200_000)
    _same_as_in_memory(run_dir)


def test_memory_held_does_not_grow_with_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per-second rows are freed once no unread part can touch their second: at most
    about two parts' worth are held, whatever the length. A value histogram holds one
    entry per distinct value, not per request."""
    monkeypatch.setattr(streaming, "FINALISE_EVERY", 0)
    monkeypatch.setattr(streaming, "BATCH_ROWS", 1_000)  # aggregate part by part
    run_dir, cols = awkward_run(tmp_path, 100_000, parts_per_worker=30)
    streamed = stream_run(run_dir)
    assert streamed.peak_pending_rows < len(cols["offset_us"]) / 5
    run = load_run(run_dir)  # summarised in many small steps, still the same seconds
    pd.testing.assert_frame_equal(per_second(run), streamed.timeline, check_dtype=False)
    pd.testing.assert_frame_equal(
        per_second_by_name(run), streamed.timeline_by_name, check_dtype=False
    )
    from surge.analysis import histograms

    monkeypatch.setattr(histograms, "MERGE_AT", 1000)  # merge (and combine) as it goes
    counts = ValueCounts()
    for _ in range(20):
        counts.add(np.zeros(100_000, np.int64), np.arange(100_000) % 1000)
    assert counts.stats(1).counts[0] == 2_000_000 and len(counts.keys) == 1000


def test_compacted_parts_stream_a_row_group_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layout a finished run ends with: each worker's small parts compacted into one
    file of many row groups (`locustfiles.compaction`). The same tables, read a row
    group at a time in order of first intended send, so per-second rows are still freed
    as the watermark moves (rows in a part are in completion order, not intended)."""
    from surge.locustfiles import compaction

    monkeypatch.setattr(compaction, "ROW_GROUP_ROWS", 3_000)
    monkeypatch.setattr(streaming, "FINALISE_EVERY", 0)
    monkeypatch.setattr(streaming, "BATCH_ROWS", 1_000)
    run_dir, cols = awkward_run(tmp_path, 100_000, parts_per_worker=30)
    for worker, folder in worker_dirs(run_dir).items():
        names = {p.name: pq.read_metadata(p).num_rows for p in folder.glob("part-*.parquet")}
        compaction.compact_parts(run_dir, worker, names)
        compaction.remove_superseded(run_dir, worker)
    parts = list_parts(run_dir)
    assert len(parts) == 4 and all(is_compacted(p.name) for p in parts)
    assert pq.read_metadata(parts[0]).num_row_groups >= 8
    streamed = _same_as_in_memory(run_dir)
    assert streamed.peak_pending_rows < len(cols["offset_us"]) / 2


def test_a_day_is_charted_per_minute_keeping_the_worst_second(tmp_path: Path) -> None:
    run_dir, _ = awkward_run(tmp_path, 50_000)
    fine = stream_run(run_dir)
    coarse = stream_run(run_dir, resolution_s=60)
    assert coarse.resolution_s == 60
    minutes = sorted(set(fine.timeline["second"] // 60 * 60))  # late answers: 180 too
    assert coarse.timeline["second"].tolist() == minutes
    assert list(coarse.timeline.columns) == list(fine.timeline.columns)
    minute = fine.timeline[fine.timeline["second"] // 60 == 2]
    row = coarse.timeline.iloc[2]
    assert row["requests"] == minute["requests"].sum()
    assert row["p99"] == minute["p99"].max()  # the worst second, not an average
    assert row["sent"] == pytest.approx(minute["sent"].sum() / 60)
    assert row["success_rate"] == pytest.approx(
        (minute["ok"].sum() + minute["rejected"].sum()) / minute["requests"].sum()
    )
    per_name = coarse.timeline_by_name
    assert set(per_name["second"]) <= set(minutes)
    assert per_name["requests"].sum() == fine.timeline_by_name["requests"].sum()
    assert coarsen(fine.timeline.iloc[:0], 60).empty


def test_a_run_killed_mid_run_and_a_damaged_part_still_report(tmp_path: Path) -> None:
    """The master never finished the manifest (state running, no end), a worker's last
    part is truncated: the rest streams, the damage is named."""
    run_dir, _ = awkward_run(tmp_path, 20_000)
    manifest = Manifest.load(run_dir)
    manifest.state = RunState.RUNNING
    manifest.ended_at = None
    manifest.dump(run_dir)
    last = list_parts(run_dir)[-1]
    last.write_bytes(last.read_bytes()[:100])
    streamed = stream_run(run_dir)
    assert [d.part for d in streamed.damaged] == [part_key(last)]
    assert 0 < streamed.requests < 20_000
    shutil.rmtree(run_dir / "requests")
    with pytest.raises(RunDirError, match="no request parts"):
        stream_run(run_dir)


@pytest.mark.parametrize("knee_run", ["awkward", "throttled", "busiest"])
def test_surge_report_writes_the_same_files_with_either_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, knee_run: str
) -> None:
    """`surge report` streams by default; SURGE_REPORT_ENGINE=frame reads one frame.
    summary.json (verdict, knee, what broke first, stages, endpoints, failures) and every
    CSV are the same."""
    from surge.analysis.report import build_report

    if knee_run in ("awkward", "busiest"):
        run_dir, _ = awkward_run(tmp_path, 30_000)
        if knee_run == "busiest":  # per-stage rows only for the 2 busiest endpoints
            from surge.analysis import endpoints, streamed_report

            monkeypatch.setattr(endpoints, "MAX_STAGE_GROUPS", 8)
            monkeypatch.setattr(streamed_report, "MAX_STAGE_GROUPS", 8)
    else:  # a staircase whose second stage is throttled: a knee and culprits
        rows = hold(rate=20, start_s=0, duration_s=10, latency_s=0.02, workers=("w1", "w2"))
        rows += hold(rate=20, start_s=10, duration_s=10, latency_s=0.02, name="browse")
        rows += with_fields(
            hold(rate=20, start_s=10, duration_s=10, latency_s=0.5), outcome="error",
            status=500, error="ProvisionedThroughputExceededException",
        )  # fmt: skip
        run_dir = make_run(
            tmp_path,
            stages=[{"rps": 20, "duration": "10s"}, {"rps": 40, "duration": "10s"}],
            thresholds=["p95 < 300ms", "success_rate >= 99%"],
            requests=rows,
        )
    files = {}
    for engine in ("stream", "frame"):
        monkeypatch.setenv("SURGE_REPORT_ENGINE", engine)
        report = build_report(run_dir, out_dir=tmp_path / engine, charts=False)
        assert (report.run.streamed is not None) == (engine == "stream")
        files[engine] = {
            p.name: p.read_text() for p in sorted((tmp_path / engine).iterdir()) if p.is_file()
        }
    import json

    summaries = [json.loads(files[e].pop("summary.json")) for e in ("stream", "frame")]
    for s in summaries:
        s.pop("generated_at")
    assert summaries[0] == summaries[1]
    assert summaries[0]["whole_run"]["requests"] > 0
    if knee_run == "throttled":
        assert summaries[0]["knee"]["broke_first_endpoints"]
    csvs = {name for name in files["stream"] if name.endswith(".csv")}
    assert csvs and csvs == {name for name in files["frame"] if name.endswith(".csv")}
    for name in csvs:
        assert files["stream"][name] == files["frame"][name], name


def test_a_run_longer_than_two_hours_reports_per_minute_with_charts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole report (HTML, charts, CSVs) of a 3-hour run: a per-minute timeline whose
    latency keeps the worst second; the stage numbers stay exact."""
    from surge.analysis.report import build_report

    monkeypatch.setenv("SURGE_REPORT_ENGINE", "stream")  # the default, whatever the env says

    rows = hold(rate=0.05, start_s=0, duration_s=3 * 3600, latency_s=0.01)
    rows += [Req(offset_s=7205.5, latency_s=2.5)]  # one slow second in minute 120
    run_dir = make_run(tmp_path, stages=[{"rps": 0.05, "duration": "3h"}], requests=rows)
    report = build_report(run_dir, charts=True)
    timeline = report.timeline
    assert len(timeline) == 180 and timeline["second"].iloc[1] == 60
    assert timeline.loc[timeline["second"] == 7200, "max"].item() == 2.5
    assert timeline["requests"].sum() == len(rows)
    assert report.stages["requests"].item() == sum(r.offset_s >= 5 for r in rows)
    assert (run_dir / "report" / "index.html").stat().st_size > 0


def test_an_unknown_report_engine_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from surge.cli import main
    from surge.errors import ExitCode

    run_dir = make_run(
        tmp_path,
        stages=[{"rps": 10, "duration": "10s"}],
        requests=hold(rate=10, start_s=0, duration_s=10),
    )
    monkeypatch.setenv("SURGE_REPORT_ENGINE", "fast")
    assert main(["report", str(run_dir)]) == ExitCode.BAD_INPUT
    assert "error: unknown report engine 'fast' (SURGE_REPORT_ENGINE)" in capsys.readouterr().err


def test_too_many_endpoint_stage_groups_fall_back_to_the_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scenario naming requests by raw URL over many stages can exceed what a packed
    histogram key holds: the report then reads the run into one frame (busiest endpoints)."""
    from surge.analysis import histograms
    from surge.analysis.report import build_report

    monkeypatch.setattr(histograms, "MAX_GROUPS", 3)
    rows = [Req(offset_s=i / 10, latency_s=0.01, name=f"/item/{i}") for i in range(50)]
    run_dir = make_run(tmp_path, stages=[{"rps": 10, "duration": "5s"}], requests=rows)
    with pytest.raises(histograms.TooManyGroups):
        stream_run(run_dir)
    report = build_report(run_dir, charts=False)
    assert report.run.streamed is None and report.whole_run["requests"] == 50
