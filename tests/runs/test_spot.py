"""A spot interruption notice: that worker flushes, uploads and leaves; the other takes
over its share within 2 s, and nothing it recorded is lost.

Each worker agent reads its own instance metadata stub on loopback
(``SURGE_IMDS_ENDPOINT``); the test makes one of them serve the two-minute notice.
"""

from __future__ import annotations

import time

import pytest

from surge.provisioning.spot import IMDS_ENDPOINT_ENV, POLL_S
from surge.results import read_requests, worker_dirs
from tests.helpers.fleet import (
    Fleet,
    answered_rows,
    fetch,
    manifest_json,
    push,
    settled_answered,
    wait_for_state,
)
from tests.helpers.imds_stub import imds_stub
from tests.helpers.locust import http_target

pytestmark = pytest.mark.integration

RPS = 40
TAKEOVER_S = 2.0  # the bound: the others take over the share within this


def test_a_spot_notice_hands_the_share_to_the_others(fleet: Fleet) -> None:
    with http_target() as target, imds_stub() as quiet, imds_stub() as reclaimed:
        push(fleet, target, f"[{{rps: {RPS}, duration: 14s}}]")
        fleet.start("master", "master", expect_workers=2)
        fleet.start("w1", "worker", process_env={IMDS_ENDPOINT_ENV: quiet.url})
        fleet.start("w2", "worker", process_env={IMDS_ENDPOINT_ENV: reclaimed.url})
        wait_for_state(fleet, "running")
        time.sleep(3.0)
        reclaimed.interrupt()
        noticed_at = time.time()
        codes = fleet.wait(timeout=90)
        count = settled_answered(target)
    assert codes["w2"] == 130, fleet.output("w2")  # interrupted: its instance is reclaimed
    assert codes["w1"] == 0 and codes["master"] in (0, 3), codes
    assert quiet.polls > 0  # the other worker watched too, and heard nothing
    assert "spot interruption" in fleet.output("w2")

    dest = fetch(fleet)
    assert answered_rows(dest) == count  # the leaving worker's last part made it
    (leaver,) = worker_dirs(fleet.run_dir("w2"))  # the worker's id, from its folder
    assert leaver in [w["id"] for w in manifest_json(dest)["left_workers"]]
    frame = read_requests(dest, ["worker", "intended_us"]).to_pandas()
    at = frame["intended_us"] / 1e6
    mine = frame["worker"].astype(str) == leaver
    last = at[mine].max()
    assert last - noticed_at <= POLL_S + 2.0, "the worker kept sending after the notice"
    other = at[~mine]
    before = ((other >= last - 3.0) & (other < last - 1.0)).sum()
    after = ((other >= last + TAKEOVER_S) & (other < last + TAKEOVER_S + 2.0)).sum()
    print(f"other worker: {before / 2:.0f} req/s before, {after / 2:.0f} req/s after the leave")
    assert before == pytest.approx(RPS, rel=0.15)  # half of the rate each
    assert after == pytest.approx(2 * RPS, rel=0.1)  # the whole rate, 2 s after
