"""The memory soak's arithmetic and its place in the record (the soak itself is a benchmark)."""

from __future__ import annotations

import json

import pytest

from benchmarks import __main__ as bench_main
from benchmarks import bench_soak, sections
from benchmarks.bench_soak import MB, RssSample, by_process, growth, plan
from benchmarks.harness import BenchResult, NotRun, Table


def _series(process: str, points: list[tuple[float, float]]) -> list[RssSample]:
    return [RssSample(t, process, 1, int(mb * MB), 0.0) for t, mb in points]


def test_growth_is_judged_between_the_samples_nearest_the_two_minutes():
    series = _series(
        "worker-1", [(0, 100), (290, 140), (310, 150), (1800, 190), (3600, 170), (3620, 40)]
    )
    v = growth(series, 300.0, 3600.0)
    # 290 and 310 are equally near 300: the first wins; the shutdown sample at 3620 is not judged
    assert (v["start_mb"], v["end_mb"], v["growth_mb"], v["max_mb"]) == (140, 170, 30, 190)
    # the end is the last sample not after it, even when one just after the end is nearer
    late = growth(series[:-2] + _series("worker-1", [(3601, 900)]), 300.0, 3600.0)
    assert (late["end_mb"], late["end_at_s"], late["max_mb"]) == (190, 1800, 190)


def test_a_process_that_shrinks_has_negative_growth_and_an_empty_one_has_none():
    assert growth(_series("master", [(300, 200), (3600, 150)]), 300, 3600)["growth_mb"] == -50
    assert growth([], 300, 3600)["growth_mb"] is None


def test_processes_are_listed_master_first_in_time_order():
    samples = _series("worker-1", [(20, 1), (10, 2)]) + _series("master", [(10, 3)])
    grouped = by_process(samples)
    assert list(grouped) == ["master", "worker-1"]
    assert [s.elapsed_s for s in grouped["worker-1"]] == [10, 20]


def test_the_hour_from_minute_5_is_the_default_and_trials_judge_from_a_quarter():
    assert plan(False, {}) == bench_soak.Plan(minutes=60, rps=1000, baseline_min=5)
    assert plan(True, {}).baseline_min == 0.5 and plan(True, {}).minutes == 2
    assert plan(False, {"SURGE_SOAK_MINUTES": "3", "SURGE_SOAK_RPS": "1500"}) == bench_soak.Plan(
        minutes=3, rps=1500, baseline_min=0.75
    )
    with pytest.raises(NotRun):
        plan(False, {"SURGE_SOAK_MINUTES": "0"})


def test_the_soak_is_opt_in():
    assert "soak" not in bench_main.selected([])
    assert bench_main.selected(["soak"]) == ["soak"]


def _soak_result(growth_mb: str) -> BenchResult:
    return BenchResult(
        name="soak",
        title=bench_soak.TITLE,
        summary=[f"growth {growth_mb} MB"],
        tables=[Table("RSS", ["process", "growth"], [["worker-1", growth_mb]])],
    )


def test_the_soak_section_replaces_its_own_and_keeps_the_others(tmp_path):
    record_file = tmp_path / "RESULTS.md"
    record_file.write_text(
        "# surge benchmarks\n\n## 1. Generator\n\n- fast\n\n## 2. Rate\n\n- exact\n"
    )
    sections.upsert(record_file, _soak_result("12.0"))
    sections.upsert(record_file, _soak_result("7.5"))
    text = record_file.read_text()
    assert text.count(f"## {bench_soak.TITLE}") == 1
    assert "| worker-1 | 7.5 |" in text and "12.0" not in text
    assert "## 1. Generator\n\n- fast" in text and "## 2. Rate\n\n- exact" in text
    assert (
        "python -m benchmarks --only soak" in text
    )  # its own command: the header is another run's


def test_a_full_run_carries_the_last_soak_section_over(tmp_path):
    record_file = tmp_path / "RESULTS.md"
    record_file.write_text("# old record\n\n## 1. Generator\n\n- old\n")
    sections.upsert(record_file, _soak_result("3.0"))
    kept = sections.carried(record_file, [bench_soak.TITLE])
    record_file.write_text("# new record\n\n## 1. Generator\n\n- new\n")  # record.write
    sections.append(record_file, kept)
    text = record_file.read_text()
    assert text.startswith("# new record") and "- old" not in text
    assert sections.section(text, bench_soak.TITLE) == kept[0]


def test_a_finished_soak_is_judged_again_from_its_csv(tmp_path):
    """Minute 0 from an older soak.json (no load_started_s): the minute-5 sample less 5 min;
    the end-of-run spike is shown apart, never as the minute-60 figure."""
    rows = ["elapsed_s,process,pid,rss_bytes,cpu_s"]
    for t, master, worker in (
        (302, 150, 160),
        (1800, 160, 161),
        (3600, 170, 161),
        (3610, 180, 330),
    ):
        rows += [f"{t},master,1,{int(master * MB)},0", f"{t},worker-1,2,{int(worker * MB)},0"]
    (tmp_path / "rss.csv").write_text("\n".join(rows) + "\n")
    old = {
        "minutes": 60,
        "rps": 1000,
        "baseline_min": 5,
        "processes": {"master": {"start_at_s": 302}},
    }
    (tmp_path / "soak.json").write_text(json.dumps(old))
    again = bench_soak.rejudge(tmp_path)
    master, worker = again.data["processes"]["master"], again.data["processes"]["worker-1"]
    assert (master["growth_mb"], worker["growth_mb"]) == (20, 1)
    assert worker["after_load_max_mb"] == 330 and worker["meets_goal"]
