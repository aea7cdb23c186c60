"""Thresholds scoped to one endpoint: both written forms, every metric, clear errors."""

from __future__ import annotations

import pytest

from surge.errors import ScheduleError
from surge.schedule import parse_schedule
from surge.thresholds import METRICS, parse_scoped_rule, split_scope

BUY = "POST /products/{id}/buy"
HEAD = "name: x\ntarget: http://127.0.0.1:1\nload: {stages: [{rps: 1, duration: 1s}]}\n"


def test_compact_and_mapping_forms_give_the_same_rule() -> None:
    schedule = parse_schedule(
        HEAD + "thresholds:\n"
        f"  - p95{{name={BUY}}} < 500ms\n"
        f'  - {{rule: p95 < 500ms, name: "{BUY}", abort_on_fail: true, for: 5s}}\n'
        "  - p95 < 3s\n",
        source="s.yaml",
    )
    compact, mapping, plain = schedule.thresholds
    assert (compact.metric, compact.op, compact.value, compact.name) == ("p95", "<", 0.5, BUY)
    assert (mapping.metric, mapping.value, mapping.name) == ("p95", 0.5, BUY)
    assert mapping.abort_on_fail and mapping.for_s == 5.0
    assert compact.rule == mapping.rule == f"p95{{name={BUY}}} < 500ms"
    assert plain.name is None and plain.rule == "p95 < 3s"
    assert schedule.to_dict()["thresholds"][0]["name"] == BUY


@pytest.mark.parametrize(
    ("metric", "value"),
    [(m, "1s") for m in ("p50", "p90", "p95", "p99", "p999", "max", "avg")]
    + [(m, "1%") for m in ("success_rate", "error_rate", "dropped_rate")]
    + [("rps", "5/s")],
)
def test_every_metric_can_be_scoped(metric: str, value: str) -> None:
    assert set(METRICS) >= {metric}
    parsed = parse_scoped_rule(f"{metric}{{name=GET /products}} >= {value}")
    assert parsed[0] == metric and parsed[3] == "GET /products"


def test_the_endpoint_may_contain_braces_and_quotes() -> None:
    assert split_scope('p99{name="GET /a/{b}/{c}"}<=1s') == ("p99 <=1s", "GET /a/{b}/{c}")


def test_bad_scoped_rules_name_the_key_path() -> None:
    with pytest.raises(ScheduleError) as err:
        parse_schedule(
            HEAD + "thresholds:\n  - p95{name=} < 1s\n  - {rule: p95 < 1s, name: 3}\n",
            source="s.yaml",
        )
    text = "\n".join(err.value.problems)
    assert "thresholds[0]" in text and "expected an endpoint after 'name='" in text
    assert "thresholds[1].name" in text
