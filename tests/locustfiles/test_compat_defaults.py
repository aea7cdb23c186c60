"""HttpUser/FastHttpUser classes on surge's transport look like Locust's clients to the
server and to the task (#21): the same default User-Agent (unless the scenario sets one)
and ``response.request`` with method, url, headers and body. Each check sends the same
calls through the class on surge's client and forced onto Locust's own, against the
scripted server of test_client.py, which echoes what it received."""

from __future__ import annotations

import json
from typing import Any

import pytest
from locust import FastHttpUser, task

from tests.helpers.users import Fast, Requests
from tests.locustfiles.test_client import _serving, on_surge


class FastOwnAgent(FastHttpUser):
    default_headers = {"user-agent": "shop-probe/2", "X-Team": "perf"}

    @task
    def t(self) -> None:
        pass


@pytest.fixture
def server():
    with _serving() as state:
        yield state


def _agent(user: Any, **kwargs: Any) -> str:
    return user.client.get("/echo", **kwargs).json()["headers"].get("user-agent")


@pytest.mark.parametrize("cls", [Fast, Requests, FastOwnAgent], ids=lambda c: c.__name__)
def test_the_default_user_agent_is_the_one_locusts_client_sends(server, cls) -> None:
    surge_user, _ = on_surge(cls, server.url)
    assert surge_user.client.fallback is None  # on surge's transport
    locust_user, _ = on_surge(cls, server.url, client="locust")
    theirs = _agent(locust_user)
    assert _agent(surge_user) == theirs
    assert "surge" not in theirs
    if cls is FastOwnAgent:  # the class's own header wins, its others still go
        assert theirs == "shop-probe/2"
        seen = surge_user.client.get("/echo").json()["headers"]
        assert seen["x-team"] == "perf"


@pytest.mark.parametrize("cls", [Fast, Requests], ids=lambda c: c.__name__)
def test_a_user_agent_the_scenario_sets_wins(server, cls) -> None:
    user, _ = on_surge(cls, server.url)
    assert _agent(user, headers={"User-Agent": "per-request/1"}) == "per-request/1"
    user.client.headers["User-Agent"] = "session/1"  # as on_start would set it
    assert _agent(user) == "session/1"


@pytest.mark.parametrize("cls", [Fast, Requests], ids=lambda c: c.__name__)
def test_responses_offer_the_request_they_answer(server, cls) -> None:
    def calls(user: Any) -> list[Any]:
        c = user.client
        return [
            c.post("/echo?x=1", json={"sku": 7}, headers={"X-Trace": "t1"}),
            c.get("/echo", headers={"Authorization": "Bearer tok"}),
        ]

    mine = calls(on_surge(cls, server.url)[0])
    theirs = calls(on_surge(cls, server.url, client="locust")[0])
    for a, b in zip(mine, theirs, strict=True):
        ra, rb = a.request, b.request
        assert ra.method == rb.method
        assert ra.url == rb.url
        for name in ("x-trace", "authorization", "content-type", "user-agent"):
            assert ra.headers.get(name) == rb.headers.get(name), name
        assert ra.headers.get("X-TRACE") == ra.headers.get("x-trace")  # case-insensitive
        assert _bytes(ra.body) == _bytes(rb.body)
    assert json.loads(mine[0].request.body) == {"sku": 7}
    assert mine[0].request.url.endswith("/echo?x=1") and mine[1].request.body is None
    assert mine[0].request is mine[0].request  # built once, when first read


def _bytes(body: Any) -> bytes | None:
    if body is None or body == b"" or body == "":
        return None
    return body.encode() if isinstance(body, str) else bytes(body)
