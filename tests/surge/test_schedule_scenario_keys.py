"""The schedule keys of issue 21: scenario.tags/exclude_tags/options/client/tls."""

from __future__ import annotations

import pytest

from surge.errors import ScheduleError
from surge.schedule import parse_schedule


def schedule(scenario: str):
    return parse_schedule(
        "name: t\ntarget: https://api.example.com\n"
        f"scenario:\n{scenario}load:\n  stages:\n    - {{rps: 1, duration: 1s}}\n"
    )


def test_defaults_verify_tls_and_let_surge_choose_the_client():
    s = schedule("  user: U\n").scenario
    assert (s.tags, s.exclude_tags, dict(s.options)) == (None, None, {})
    assert s.client == "auto" and s.tls_verify is True and s.tls_ca_file is None


def test_every_key_parses_and_reaches_the_manifest_view():
    s = schedule(
        "  tags: [browse, cheap]\n  exclude_tags: [slow]\n  options: {product-id: 42}\n"
        "  client: locust\n  tls: {verify: false, ca_file: ca.pem}\n"
    )
    assert s.scenario.tags == ("browse", "cheap") and s.scenario.exclude_tags == ("slow",)
    assert dict(s.scenario.options) == {"product_id": 42}  # as argparse names the option
    view = s.to_dict()["scenario"]
    assert view["client"] == "locust" and view["tls"] == {"verify": False, "ca_file": "ca.pem"}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("  tags: browse\n", "scenario.tags: got 'browse'; expected a list of tag names"),
        ("  client: fast\n", "scenario.client: got 'fast'; expected auto, surge or locust"),
        ("  tls: {verify: no-way}\n", "scenario.tls.verify"),
        ("  tls: {verfy: false}\n", "scenario.tls.verfy: unknown key; did you mean 'verify'?"),
        ("  options: {product-id: [1]}\n", "scenario.options.product-id"),
    ],
)
def test_mistakes_name_the_key(scenario: str, message: str):
    with pytest.raises(ScheduleError) as caught:
        schedule(scenario)
    assert any(message in p for p in caught.value.details()), caught.value.details()
