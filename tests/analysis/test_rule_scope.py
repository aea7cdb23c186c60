"""A threshold naming a request without its method (``p95{name=/x}``) judges every method
of it merged at the end of the run, as the master does live; ``GET /x`` only that one.

GET /x is fast and POST /x slow, so the bare rule's p95 lies in POST's range while the
GET rule passes: the figures are recomputed by brute force (nearest rank over both
methods' requests) and compared exactly, with the streaming and the frame engine.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from surge.analysis.checks import CheckResult
from surge.analysis.report import Report, build_report
from tests.helpers.runs import Req, make_run

STAGES = [{"rps": 20, "duration": "10s"}, {"rps": 20, "duration": "10s"}]
THRESHOLDS = [
    "p95{name=/x} < 200ms",  # both methods merged: POST's slow tail shows -> fails
    "p95{name=GET /x} < 200ms",  # GET alone: fast -> passes
    "p95{name=POST /x} < 1s",  # POST alone: slow but under 1 s -> passes
    "success_rate{name=/x} >= 99.9%",  # the dropped /x requests count too -> fails
    "p95{name=DELETE /x} < 1s",  # a method /x never had: not judged, warned
]


def nearest_rank(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1] / 1e6


def requests(seed: int = 3) -> list[Req]:
    rng = random.Random(seed)
    rows = []
    for i in range(400):
        offset = 0.01 + i * 0.0499
        if i % 3 == 0:  # a third are POST: well above 5 %, so the merged p95 is a POST
            rows.append(Req(offset, rng.randint(300_000, 900_000) / 1e6, name="/x", method="POST"))
        else:
            rows.append(Req(offset, rng.randint(2_000, 40_000) / 1e6, name="/x", method="GET"))
    rows += [  # dropped: never sent, so no method; live they count in the bare rule
        Req(5.5, 0.0, name="/x", outcome="dropped", status=0, error="dropped: late"),
        Req(15.5, 0.0, name="/x", outcome="dropped", status=0, error="dropped: late"),
    ]
    return rows


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rule_scope")
    return make_run(root, stages=STAGES, requests=requests(), thresholds=THRESHOLDS)


def _report(run_dir: Path, out: Path, engine: str, monkeypatch: pytest.MonkeyPatch) -> Report:
    monkeypatch.setenv("SURGE_REPORT_ENGINE", engine)
    report = build_report(run_dir, out_dir=out, warmup_s=0.0, charts=False)
    assert (report.run.streamed is not None) == (engine == "stream")
    return report


@pytest.mark.parametrize("engine", ["stream", "frame"])
def test_a_bare_name_judges_every_method_of_it_merged(
    run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
) -> None:
    report = _report(run_dir, tmp_path / engine, engine, monkeypatch)
    checks: dict[str, CheckResult] = {c.rule: c for c in report.verdict.checks}
    rows = requests()
    sent = [r for r in rows if r.outcome != "dropped"]
    by_method = {
        m: [round(r.latency_s * 1e6) for r in sent if r.method == m] for m in ("GET", "POST")
    }
    both = by_method["GET"] + by_method["POST"]

    bare = checks["p95{name=/x} < 200ms"]
    assert bare.measured == nearest_rank(both, 95)
    assert not bare.passed and not bare.no_data
    get = checks["p95{name=GET /x} < 200ms"]
    assert get.measured == nearest_rank(by_method["GET"], 95) and get.passed
    post = checks["p95{name=POST /x} < 1s"]
    assert post.measured == nearest_rank(by_method["POST"], 95) and post.passed
    assert bare.measured not in (get.measured, post.measured)  # truly merged, not one row

    share = checks["success_rate{name=/x} >= 99.9%"]
    assert share.measured == len(sent) / len(rows) and not share.passed

    unknown = checks["p95{name=DELETE /x} < 1s"]
    assert unknown.no_data and unknown.passed and unknown.measured is None
    warned = [n for n in report.verdict.notes if "DELETE /x" in n]
    assert len(warned) == 1 and "no requests named" in warned[0]
    assert not any("'/x'" in n for n in report.verdict.notes)  # the bare name is known

    # the knee holds each stage to the same rule: the merged figure of that stage's requests
    for stage in (0, 1):
        in_stage = [round(r.latency_s * 1e6) for r in sent if (r.offset_s >= 10) == stage]
        figures = report.views.metrics_by_stage[stage]["/x"]
        assert figures["p95"] == nearest_rank(in_stage, 95)
