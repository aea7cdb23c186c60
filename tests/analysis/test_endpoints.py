"""Per-endpoint tables, failures and the root cause on a synthetic run with known numbers.

Every cell of the endpoint table, of its per-stage rows and of the failure table is
recomputed here by brute force from the generated requests (sorted lists, nearest rank
ceil(p/100 * n)), and compared exactly.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from collections import defaultdict
from pathlib import Path

import pytest

from surge.analysis.endpoints import endpoint_label
from surge.analysis.loading import load_run
from surge.analysis.report import Report, build_report, compute
from surge.locustfiles.error_types import shown_type
from tests.helpers.runs import Req, make_run

STAGES = [{"rps": 10, "duration": "10s"}, {"rps": 20, "duration": "10s"}]
DURATION_S = 20.0
BUY = "POST /products/{id}/buy"
THROTTLED = "ProvisionedThroughputExceededException"
SIGN_IN_FAILED = "CatchResponseError: sign-in failed: 500"  # a scenario's own failure()
PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}


def nearest_rank(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)), 1) - 1] / 1e6


def synthetic_requests(seed: int = 7) -> list[Req]:
    """Three endpoints over two stages; the buy endpoint is throttled in stage 2 only."""
    rng = random.Random(seed)
    rows: list[Req] = []
    for stage, (start, n) in enumerate(((0.0, 90), (10.0, 170))):
        for i in range(n):
            offset = start + 0.01 + i * (9.98 / n)
            latency_us = rng.randint(1_000, 40_000)
            lag_us = rng.randint(0, latency_us // 2)
            kind = rng.random()
            worker = ("w1", "w2")[i % 2]
            common = {"offset_s": offset, "latency_s": latency_us / 1e6, "worker": worker}
            common["lag_s"] = lag_us / 1e6
            if kind < 0.45:
                rows.append(Req(name="/products", method="GET", **common))
            elif kind < 0.9:
                if stage == 1 and i % 4 == 0:
                    slow = {**common, "latency_s": (latency_us + 2_000_000) / 1e6}
                    throttled = {"outcome": "error", "status": 500, "error": THROTTLED}
                    rows.append(Req(name=BUY, method="POST", **throttled, **slow))
                elif i % 7 == 0:
                    rows.append(Req(name=BUY, method="POST", outcome="rejected", status=409,
                                    **common))  # fmt: skip
                else:
                    rows.append(Req(name=BUY, method="POST", **common))
            elif kind < 0.95:
                failed = {"outcome": "error", "status": 500, "error": SIGN_IN_FAILED}
                rows.append(Req(name="POST sign-in", method="POST", **failed, **common))
            elif kind < 0.98:
                rows.append(Req(name="/products", method="GET", outcome="timeout", status=0,
                                error="TimeoutError: no complete response within 5s",
                                **common))  # fmt: skip
            else:
                rows.append(Req(name="buy", outcome="dropped", status=0,
                                error="dropped: could not be sent within max_lateness",
                                **common))  # fmt: skip
    return rows


def label(r: Req) -> str:
    method = "" if r.outcome == "dropped" else r.method
    return endpoint_label(method, r.name)


def expected_row(rows: list[Req], seconds: float) -> dict:
    counts = {o: sum(r.outcome == o for r in rows) for o in
              ("ok", "rejected", "error", "timeout", "dropped")}  # fmt: skip
    sent = [r for r in rows if r.outcome != "dropped"]
    latency = [round(r.latency_s * 1e6) for r in sent]
    service = [round(r.latency_s * 1e6) - round(r.lag_s * 1e6) for r in sent]
    row = {
        "requests": len(rows),
        "sent_rps": len(sent) / seconds,
        "achieved_rps": (counts["ok"] + counts["rejected"]) / seconds,
        **counts,
        "throttled": sum(r.error == THROTTLED for r in rows),
        "success_rate": (counts["ok"] + counts["rejected"]) / len(rows),
        "error_rate": (counts["error"] + counts["timeout"]) / len(rows),
    }
    for name, p in PERCENTILES.items():
        row[name] = nearest_rank(latency, p) if latency else None
    for p in (95, 99):
        row[f"p{p}_uncorrected"] = nearest_rank(service, p) if service else None
    return row


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Req], Path]:
    rows = synthetic_requests()
    run_dir = make_run(
        tmp_path_factory.mktemp("endpoints"),
        stages=STAGES,
        requests=rows,
        parts_per_worker=3,
        thresholds=["p95 < 3s", "success_rate >= 90%", f"p95{{name={BUY}}} < 1s"],
    )
    return rows, run_dir


@pytest.fixture(scope="module")
def report(synthetic: tuple[list[Req], Path]) -> Report:
    return compute(load_run(synthetic[1]), warmup_s=0.0)


def _same(actual: dict, expected: dict) -> None:
    for key, want in expected.items():
        got = actual[key]
        if want is None:
            assert got is None or (isinstance(got, float) and math.isnan(got)), key
        else:
            assert got == want, (key, got, want)


def test_every_cell_of_the_endpoint_table(synthetic, report: Report) -> None:
    rows, _ = synthetic
    by_endpoint: dict[str, list[Req]] = defaultdict(list)
    for r in rows:
        by_endpoint[label(r)].append(r)
    table = report.views.table
    assert list(table["endpoint"]) == sorted(by_endpoint)
    assert set(by_endpoint) == {"GET /products", BUY, "POST sign-in", "buy"}
    for got in table.to_dict("records"):
        _same(got, expected_row(by_endpoint[got["endpoint"]], DURATION_S))


def test_every_cell_of_the_per_stage_rows(synthetic, report: Report) -> None:
    rows, _ = synthetic
    groups: dict[tuple[int, str], list[Req]] = defaultdict(list)
    for r in rows:
        groups[(1 if r.offset_s < 10 else 2, label(r))].append(r)
    table = report.views.by_stage
    assert len(table) == len(groups)
    for got in table.to_dict("records"):
        _same(got, expected_row(groups[(got["stage"], got["endpoint"])], 10.0))


def test_every_cell_of_the_failure_table(synthetic, report: Report) -> None:
    rows, _ = synthetic
    totals: dict[str, int] = defaultdict(int)
    failed: dict[tuple, list[Req]] = defaultdict(list)
    for r in rows:
        totals[label(r)] += 1
        if r.outcome in ("error", "timeout", "dropped"):
            failed[(label(r), r.outcome, r.status, shown_type(r.error, r.status))].append(r)
    table = report.views.failures
    assert len(table) == len(failed)
    for got in table.to_dict("records"):
        mine = failed[(got["endpoint"], got["outcome"], got["status"], got["error_type"])]
        assert got["count"] == len(mine)
        assert got["share"] == len(mine) / totals[got["endpoint"]]
        assert got["first_s"] == min(round(r.offset_s * 1e6) for r in mine) / 1e6
        assert got["last_s"] == max(round(r.offset_s * 1e6) for r in mine) / 1e6
        assert got["stages"] == sorted({1 if r.offset_s < 10 else 2 for r in mine})
        assert got["throttled"] == (got["error_type"] == THROTTLED)
    types = set(table["error_type"])
    assert {THROTTLED, "sign-in failed: 500"} <= types  # the scenario's wrapper is gone
    assert table.iloc[0]["count"] >= table.iloc[-1]["count"]  # biggest first


def test_what_broke_first_names_the_endpoint_and_the_type(report: Report) -> None:
    sentence = report.broke_first
    assert sentence is not None
    assert sentence.startswith("At 20 req/s, ")
    assert f"of {BUY} requests failed: the target throttled them ({THROTTLED}, HTTP 500)" in (
        sentence
    )
    assert report.culprits[0].endpoint == BUY and report.culprits[0].throttled


def test_scoped_threshold_is_judged_on_its_endpoint(report: Report) -> None:
    checks = {c.rule: c for c in report.verdict.checks}
    scoped = checks[f"p95{{name={BUY}}} < 1s"]
    buy = report.views.table.set_index("endpoint").loc[BUY]
    assert scoped.name == BUY and scoped.measured == buy["p95"] and buy["p95"] > 1
    assert not scoped.passed
    # the knee holds each stage to it too: stage 1 (no throttling) met it, stage 2 not
    assert list(report.stages["slo_pass"]) == [True, False]


def test_outputs_carry_the_same_tables(synthetic, tmp_path: Path, monkeypatch) -> None:
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    built = build_report(synthetic[1], out_dir=tmp_path / "report", warmup_s=0.0, charts=False)
    out = built.out_dir
    summary = json.loads((out / "summary.json").read_text())
    assert [e["endpoint"] for e in summary["endpoints"]] == list(built.views.table["endpoint"])
    assert summary["knee"]["broke_first_sentence"] == built.broke_first
    with open(out / "endpoints.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["requests"]) for r in rows] == list(built.views.table["requests"])
    failures = list(csv.DictReader(io.StringIO((out / "failures.csv").read_text())))
    assert len(failures) == len(built.views.failures)
    md = (out / "summary.md").read_text()
    assert f"| `{BUY}` |" in md and THROTTLED in md and built.broke_first in md
    html = (out / "index.html").read_text()
    assert html.count('<details class="endpoint-stages">') == len(built.views.table)
    assert 'id="failures"' in html and "409 sold out" not in html
    assert step_summary.read_text() == "earlier step\n" + md + "\n"


def test_error_type_words() -> None:
    assert shown_type(THROTTLED, 500) == THROTTLED
    assert shown_type("CatchResponseError: sold out", 409) == "sold out"
    assert shown_type(None, 502) == "HTTP 502"
    assert shown_type(None, 0) == "no response"
    assert endpoint_label("GET", "GET /x") == "GET /x"
    assert endpoint_label("GET", "/x") == "GET /x"
    assert endpoint_label("", "buy") == "buy"


def test_stage_names_from_the_schedule_appear_with_numbers_from_1(tmp_path: Path) -> None:
    stages = [{"rps": 10, "duration": "10s", "name": "warm-up"}, {"rps": 20, "duration": "10s"}]
    run_dir = make_run(tmp_path, stages=stages, requests=synthetic_requests())
    built = build_report(run_dir, warmup_s=0.0, charts=False)
    rows = built.views.by_stage
    assert set(rows[rows["stage"] == 1]["stage_name"]) == {"warm-up"}
    assert set(rows[rows["stage"] == 2]["stage_name"]) == {""}
    md = (built.out_dir / "summary.md").read_text()
    assert "| 1 warm-up | 10.0 | " in md and "| 2 | 20.0 | " in md
    assert "hold · warm-up" in (built.out_dir / "index.html").read_text()
    summary = json.loads((built.out_dir / "summary.json").read_text())
    assert [s["name"] for s in summary["stages"]] == ["warm-up", ""]


def test_the_per_stage_view_keeps_the_busiest_endpoints_when_there_are_too_many(
    synthetic, monkeypatch
) -> None:
    from surge.analysis import endpoints as module

    monkeypatch.setattr(module, "MAX_STAGE_GROUPS", 2 * 2)  # two stages x two endpoints
    report = compute(load_run(synthetic[1]), warmup_s=0.0)
    shown = set(report.views.by_stage["endpoint"])
    busiest = report.views.table.sort_values("requests", ascending=False)["endpoint"][:2]
    assert shown == set(busiest) and len(report.views.table) == 4


def test_long_lists_are_capped_in_the_pages_never_in_the_csvs(
    synthetic, tmp_path: Path, monkeypatch
) -> None:
    from surge.analysis import endpoints as module
    from surge.analysis import render_endpoints

    monkeypatch.setattr(module, "MAX_LISTED", 2)
    monkeypatch.setattr(render_endpoints, "MAX_MARKDOWN_ENDPOINTS", 1)
    built = build_report(synthetic[1], out_dir=tmp_path / "r", warmup_s=0.0, charts=False)
    summary = json.loads((built.out_dir / "summary.json").read_text())
    busiest = built.views.table.nlargest(2, "requests")["endpoint"]
    assert [e["endpoint"] for e in summary["endpoints"]] == sorted(busiest)
    assert summary["listed"] == {"endpoints": 4, "failures": len(built.views.failures)}
    assert len(summary["failures"]) == 2
    md = (built.out_dir / "summary.md").read_text()
    assert "The 1 busiest of 4 endpoints; all in endpoints.csv" in md
    assert "Showing the 2 busiest of 4 endpoints" in (built.out_dir / "index.html").read_text()
    with open(built.out_dir / "endpoints.csv") as f:
        assert len(list(csv.DictReader(f))) == 4


@pytest.mark.parametrize(
    ("status", "error", "throttled"),
    [
        (429, None, True),  # the status alone (API Gateway, Lambda)
        (503, "HTTP 503 Service Unavailable", True),
        (400, "ThrottlingException", True),  # the error type (x-amzn-errortype, __type)
        (500, THROTTLED, True),
        (429, "Rate Exceeded.", True),  # a JSON body's message
        (500, "CatchResponseError: upstream throttled us", True),  # the scenario's words
        (500, "HTTP 500 Internal Server Error", False),
        (502, "Internal server error", False),
    ],
)
def test_throttling_is_recognised_whatever_the_scenario(
    tmp_path: Path, status: int, error: str | None, throttled: bool
) -> None:
    rows = [Req(offset_s=i * 0.1, latency_s=0.01, name="/x", method="PUT") for i in range(90)]
    rows += [
        Req(offset_s=9 + i * 0.1, latency_s=0.01, name="/x", method="PUT", outcome="error",
            status=status, error=error)
        for i in range(10)
    ]  # fmt: skip
    run_dir = make_run(tmp_path, stages=[{"rps": 10, "duration": "10s"}], requests=rows)
    report = compute(load_run(run_dir), warmup_s=0.0)
    (failure,) = report.views.failures.to_dict("records")
    assert failure["throttled"] is throttled and failure["endpoint"] == "PUT /x"
    assert ("the target throttled them" in (report.broke_first or "")) is throttled
