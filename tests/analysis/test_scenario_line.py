"""The report says which client sent the requests and when TLS was not verified (#21)."""

from __future__ import annotations

from surge.analysis.render import scenario_line


def test_the_scenario_line_names_the_client_and_unverified_tls():
    base = {"locustfile": "corpus/rest.py", "scenario_bundle": None}
    verified = scenario_line({**base, "client": "surge", "tls": {"verify": True}})
    assert verified == ["- **Scenario:** `corpus/rest.py`, surge client"]
    unverified = scenario_line({**base, "client": "locust", "tls": {"verify": False}})
    assert unverified[0].endswith(", locust client, TLS certificates NOT verified")
    own_ca = scenario_line({**base, "tls": {"verify": True, "ca_file": "ca.pem"}})
    assert own_ca[0].endswith("TLS verified against `ca.pem`")
