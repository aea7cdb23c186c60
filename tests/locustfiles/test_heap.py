"""The request path leaves nothing for Python's cyclic GC, and a run's heap is frozen.

Garbage in reference cycles is freed only by the cyclic collector, whose full passes
over Locust's heap stall every greenlet for ~100 ms (`locustfiles.heap`); one cycle per
request made them frequent enough to fail benchmark 1's staircase on send lag. These
tests count what a request leaves in cycles, with the collector off, for surge's own
client and for unmodified FastHttpUser/HttpUser classes on it (the scripted loopback
server of test_client, in this process), and check a dispatcher's start freezes the
heap and its end gives it back.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable

import pytest
from locust import User, task

from tests.helpers.dispatchers import uniform_dispatcher
from tests.helpers.users import Fast, Requests
from tests.locustfiles.test_client import _serving, on_surge, session

REQUESTS = 30
PATHS = ("/ok", "/chunked", "/gzip", "/status/404", "/redirect/302", "/cookie/set")


def cyclic_garbage(make_requests: Callable[[], None]) -> Counter[str]:
    """Type name -> count of objects that `make_requests` left in reference cycles."""
    gc.collect()
    gc.disable()
    try:
        make_requests()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept for a look
        gc.collect()
        return Counter(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("catch", [False, True], ids=["plain", "catch_response"])
@pytest.mark.parametrize("kind", ["surge", "fasthttp", "requests"])
def test_requests_leave_no_reference_cycles(kind, catch):
    with _serving() as server:
        if kind == "surge":
            client, events = session(server.url)
            fired = events.fired
        else:
            user, fired = on_surge(Fast if kind == "fasthttp" else Requests, server.url)
            client = user.client

        def make_requests() -> None:
            for i in range(REQUESTS):
                if catch:  # the with-block reports on exit: its record must let go
                    with client.get(PATHS[i % len(PATHS)], catch_response=True) as response:
                        response.success()
                else:
                    response = client.get(PATHS[i % len(PATHS)])
                assert response.status_code in (200, 404)
                _ = response.text, response.headers  # what scenarios read
            del response
            fired.clear()  # the test's listener lets go too: only cycles keep them now

        garbage = cyclic_garbage(make_requests)
    # nothing per request: a per-request cycle would leave REQUESTS or more of a kind
    assert max(garbage.values(), default=0) < REQUESTS // 3, garbage.most_common(5)


class Idle(User):
    @task
    def t(self) -> None:
        pass


def test_a_running_dispatcher_keeps_start_ups_objects_out_of_collections(tmp_path):
    dispatcher = uniform_dispatcher(
        tmp_path, Idle, rps=50, seconds=0.2, lead_s=0.05,
        max_in_flight=2, timeout_s=1.0, hard_end_s=5,
    )  # fmt: skip
    frozen_before = gc.get_freeze_count()
    dispatcher.start()
    try:
        # every object alive at the start (this test's module, Locust...) is frozen:
        # full collections during the run do not walk them
        assert gc.get_freeze_count() > max(frozen_before, 10_000)
    finally:
        dispatcher.stop(keep_backlog=True)
        dispatcher.drain(1.0)
    assert gc.get_freeze_count() == frozen_before  # the run is over: back to the collector
