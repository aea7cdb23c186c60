"""junit.xml against the common JUnit XSD (tests/data/junit.xsd), and a per-endpoint
threshold failing the run: exit 1, one JUnit failure that names the endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from surge.cli import main
from surge.errors import ExitCode
from tests.helpers.runs import Req, hold, make_run

XSD = Path(__file__).resolve().parents[1] / "data" / "junit.xsd"
BUY = "POST /products/{id}/buy"


def validated(path: Path) -> etree._ElementTree:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(path))
    schema.assertValid(doc)  # raises with the line and the rule broken
    return doc


@pytest.fixture
def slow_buys(tmp_path: Path) -> Path:
    """Browsing answers in 5 ms, buying in 800 ms; the whole-run p95 rule still passes."""
    browse = hold(rate=20, start_s=0, duration_s=10, latency_s=0.005, name="/products")
    buys = hold(rate=1, start_s=0.5, duration_s=10, latency_s=0.8, name=BUY, method="POST")
    return make_run(
        tmp_path,
        stages=[{"rps": 21, "duration": "10s"}],
        requests=[Req(**{**vars(r), "method": "GET"}) for r in browse] + buys,
        thresholds=[
            "p95 < 3s",
            f"p95{{name={BUY}}} < 500ms",
            {"rule": "error_rate < 1%", "name": "GET /products"},
            "p99{name=GET /nowhere} < 1s",
        ],
    )


def test_a_failing_endpoint_threshold_exits_1_with_one_failure_naming_it(
    slow_buys: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["report", str(slow_buys)]) == ExitCode.THRESHOLDS_FAILED
    doc = validated(slow_buys / "report" / "junit.xml")
    failures = doc.findall(".//testcase/failure")
    assert len(failures) == 1
    case = failures[0].getparent()
    assert case.get("name") == f"p95{{name={BUY}}} < 500ms"
    assert failures[0].get("message").startswith(f"{BUY}: measured 800.0 ms")
    props = {p.get("name"): p.get("value") for p in case.findall("properties/property")}
    assert props["endpoint"] == BUY and float(props["measured"]) == 0.8
    # the unknown endpoint is skipped (and warned about), never passed silently
    skipped = doc.findall(".//testcase/skipped")
    assert [s.getparent().get("name") for s in skipped] == ["p99{name=GET /nowhere} < 1s"]
    summary = (slow_buys / "report" / "summary.md").read_text()
    html = (slow_buys / "report" / "index.html").read_text()
    assert "no requests named &#39;GET /nowhere&#39;" in html
    assert "not judged: no requests" in summary
    assert "> threshold p99{name=GET /nowhere} < 1s: no requests named 'GET /nowhere'" in summary


def test_every_case_carries_its_measured_value_and_the_suite_its_context(
    slow_buys: Path,
) -> None:
    main(["report", str(slow_buys)])
    doc = validated(slow_buys / "report" / "junit.xml")
    suite = doc.find("testsuite")
    assert suite.get("timestamp") == "2026-11-27T10:00:00"  # the run's start, UTC
    assert float(suite.get("time")) == 10.0 and suite.get("hostname")
    for case in suite.findall("testcase"):
        names = {p.get("name") for p in case.findall("properties/property")}
        assert names & {"measured", "send_lag_p99_s"}, case.get("name")


def test_the_schema_refuses_what_ci_tools_refuse(tmp_path: Path) -> None:
    """The XSD is a real check: a suite without hostname or with a bad timestamp fails."""
    bad = tmp_path / "bad.xml"
    bad.write_text(
        '<testsuites><testsuite name="x" tests="0" failures="0" errors="0" time="1" '
        'timestamp="27 Nov 2026"/></testsuites>'
    )
    with pytest.raises(etree.DocumentInvalid):
        validated(bad)
