"""index.html in a real headless Chromium: opens offline, no console errors, charts drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.analysis import build_report
from tests.helpers.browser import chromium_page
from tests.helpers.runs import health_rows, hold, make_run, with_fields

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STAGES = [{"steps": {"from": 20, "to": 60, "by": 20}, "duration": "15s"}]


def staircase(root: Path, run_id: str, slow_s: float) -> Path:
    rows = []
    for k, rate in enumerate((20, 40, 60)):
        part = hold(
            rate=rate,
            start_s=15 * k,
            duration_s=15,
            workers=("w1", "w2"),
            latency_s=lambda i, r=rate: (0.03 + (i % 17) * 0.004) * (40 if r == 60 else 1) * slow_s,
        )
        if rate == 60:
            part = [
                with_fields(
                    [r], outcome="error", status=500, error="ProvisionedThroughputExceededException"
                )[0]
                if i % 6 == 0
                else with_fields([r], outcome="rejected", status=409)[0]
                if i % 11 == 0
                else r
                for i, r in enumerate(part)
            ]
        rows += part
    health = health_rows(["w1", "w2"], 45, cpu=lambda w, s: 25 + s + (5 if w == "w2" else 0))
    return make_run(
        root,
        run_id=run_id,
        stages=STAGES,
        requests=rows,
        health=health,
        thresholds=["p95 < 2s", "p99 < 5s", "success_rate >= 99%"],
    )


@pytest.mark.integration
def test_report_opens_offline_without_console_errors_and_shows_charts(tmp_path: Path) -> None:
    baseline = staircase(tmp_path, "html-base-20261127T090000Z", slow_s=1.0)
    current = staircase(tmp_path, "html-now-20261127T100000Z", slow_s=1.3)
    report = build_report(current, baseline=baseline, warmup_s=3)
    html = report.files["index.html"]
    assert "<script" not in html.read_text()
    with chromium_page() as page:
        problems: list[str] = []
        outside: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None,
        )
        page.goto(html.as_uri(), wait_until="load")
        assert problems == [] and outside == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report-first-screen.png"))
        assert page.locator("#verdict h2").inner_text().startswith("FAILED")
        assert "40 req/s" in page.locator("#summary").inner_text()  # the knee
        images = page.locator("figure img")
        assert images.count() == 7  # six engineer charts + comparison
        for i in range(images.count()):
            img = images.nth(i)
            img.scroll_into_view_if_needed()
            assert img.evaluate("el => el.complete && el.naturalWidth > 300"), img.get_attribute(
                "alt"
            )
            box = img.bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 150
        page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
        page.emulate_media(media="print")
        pdf = page.pdf(format="A4")
        (ARTIFACTS / "report.pdf").write_bytes(pdf)
        assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") >= 3
