"""junit.xml: one test case per threshold (plus trust and baseline), in the common JUnit
format CI systems read (Jenkins, GitLab, GitHub test reporters).

The suite carries the run's duration (`time`), the machine that wrote the report
(`hostname`) and the run's start (`timestamp`, UTC, written without a zone as Ant does,
because some readers refuse one). Every case carries what it measured as properties, so
a CI page shows the value of a passing rule as well as of a failing one. A rule scoped
to an endpoint that had no requests is `skipped`, not passed. Validated in the tests
against ``tests/data/junit.xsd``.
"""

from __future__ import annotations

import datetime as dt
import socket
import xml.etree.ElementTree as ET
from typing import Any

THRESHOLDS_CLASS = "surge.thresholds"


def junit_timestamp(value: str | None) -> str:
    """An ISO time (any zone) as UTC ``YYYY-MM-DDTHH:MM:SS``; now when missing or bad."""
    when = dt.datetime.now(dt.UTC)
    if value:
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            when = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _Suite:
    def __init__(self, s: dict[str, Any]) -> None:
        self.element = ET.Element(
            "testsuite",
            name=f"surge {s['run_id']}",
            timestamp=junit_timestamp(s.get("started_at")),
            hostname=socket.gethostname() or "localhost",
            time=f"{float(s.get('duration_s') or 0.0):.3f}",
        )
        props = ET.SubElement(self.element, "properties")
        for name, value in (
            ("run_id", s["run_id"]),
            ("started_at", s.get("started_at") or ""),
            ("target", s["schedule"].get("target") or ""),
            ("verdict", s["verdict"]["status"]),
            ("exit_code", s["verdict"]["exit_code"]),
        ):
            ET.SubElement(props, "property", name=name, value=str(value))
        self.cases = self.failures = self.skipped = 0

    def case(
        self,
        name: str,
        classname: str,
        properties: dict[str, Any],
        *,
        failure: str | None = None,
        skipped: str | None = None,
    ) -> None:
        self.cases += 1
        el = ET.SubElement(self.element, "testcase", classname=classname, name=name, time="0")
        props = ET.SubElement(el, "properties")
        for key, value in properties.items():
            if value is not None:
                ET.SubElement(props, "property", name=key, value=str(value))
        if failure is not None:
            self.failures += 1
            ET.SubElement(el, "failure", message=failure, type="threshold").text = failure
        elif skipped is not None:
            self.skipped += 1
            ET.SubElement(el, "skipped", message=skipped)


def threshold_case(suite: _Suite, c: dict[str, Any]) -> None:
    where = f"{c['name']}: " if c.get("name") else ""
    properties = {
        "rule": c["rule"],
        "metric": c["metric"],
        "endpoint": c.get("name"),
        "measured": "" if c["measured"] is None else repr(float(c["measured"])),
        "measured_text": c["measured_text"],
    }
    classname = THRESHOLDS_CLASS + (f".{c['name']}" if c.get("name") else "")
    if c.get("no_data"):
        suite.case(
            c["rule"], classname, properties,
            skipped=f"no requests named {c['name']!r} in this run",
        )  # fmt: skip
        return
    failure = None if c["passed"] else f"{where}measured {c['measured_text']}; rule {c['rule']}"
    suite.case(c["rule"], classname, properties, failure=failure)


def junit_xml(s: dict[str, Any]) -> str:
    """The document for one summary (`analysis.report.summary`)."""
    v = s["verdict"]
    suite = _Suite(s)
    for c in v["thresholds"]:
        threshold_case(suite, c)
    trust = v["trust"]
    suite.case(
        "generators kept up",
        "surge.trust",
        {
            "send_lag_p99_s": trust["send_lag_p99_s"],
            "dropped_rate": trust["dropped_rate"],
            "max_cpu_percent": trust["max_cpu_percent"],
        },
        failure=None if trust["trustworthy"] else "; ".join(trust["reasons"]),
    )
    if s["comparison"] is not None:
        regressions = s["comparison"]["regressions"]
        gating = bool(v["regressions"])
        suite.case(
            f"no regression against {s['comparison']['baseline_run_id']}",
            "surge.baseline",
            {
                "knee_rps": s["comparison"]["knee_rps"],
                "baseline_knee_rps": s["comparison"]["baseline_knee_rps"],
                "regressions": len(regressions),
            },
            failure="; ".join(regressions) if regressions and gating else None,
        )
    el = suite.element
    el.set("tests", str(suite.cases))
    el.set("failures", str(suite.failures))
    el.set("errors", "0")
    el.set("skipped", str(suite.skipped))
    root = ET.Element(
        "testsuites",
        name="surge",
        tests=str(suite.cases),
        failures=str(suite.failures),
        errors="0",
        skipped=str(suite.skipped),
        time=el.get("time", "0"),
    )
    root.append(el)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
