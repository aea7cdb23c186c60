"""S3 unreachable for a while: nothing is lost, nothing deleted, the run goes on.

S3 is the moto server behind a TCP proxy the test cuts and restores (`TcpProxy`):
connections are reset and refused for the outage, as for an unreachable endpoint,
while the buckets stay. A fleet run keeps sending through a 20 s outage and every
answered request reaches S3 once it is back; an uploader that cannot reach S3 after
the run gives up after its bounded retry time, naming the files still only local.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge.provisioning.agent_sync import RunUploader
from surge.s3 import S3Error, S3Store, S3Url, make_client
from tests.helpers.fleet import Fleet, answered_rows, fetch, run_fleet, settled_answered
from tests.helpers.locust import http_target
from tests.helpers.s3 import MotoServer
from tests.helpers.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.integration

OUTAGE_S = 20.0


def _port(server: MotoServer) -> int:
    return int(server.endpoint_url.rsplit(":", 1)[1])


def test_a_20s_s3_outage_mid_run_loses_nothing(fleet: Fleet, moto_server: MotoServer) -> None:
    with tcp_proxy(_port(moto_server)) as proxy, http_target() as target:
        fleet.env["AWS_ENDPOINT_URL"] = proxy.url  # the agents reach S3 only through it
        run_fleet(fleet, target, "[{rps: 20, duration: 12s}]")
        time.sleep(2.0)
        proxy.cut()
        time.sleep(OUTAGE_S)  # the load ends during the outage: uploads wait for S3
        assert all(p.poll() is None for p in fleet.agents.values()), "an agent gave up"
        proxy.restore()
        codes = fleet.wait(timeout=180)
        count = settled_answered(target)
    assert proxy.resets > 0  # the outage was real
    assert codes["w1"] == 0 and codes["w2"] == 0, codes
    assert codes["master"] in (0, 3), fleet.output("master")  # 3: this busy machine lagged
    dest = fetch(fleet)
    assert answered_rows(dest) == count
    logs = fleet.output("w1") + fleet.output("w2")
    assert "kept locally" in logs or "retrying" in logs


def _run_dir(tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    part = run_dir / "requests" / "w1" / "part-00000.parquet"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"PAR1 a part" * 100)
    (run_dir / "logs").mkdir()
    (run_dir / "logs" / "agent-w1.log").write_text("hello\n")
    return run_dir


@pytest.fixture
def cut_off(tmp_path: Path, moto_server: MotoServer, bucket: str) -> Iterator[tuple]:
    """A run directory, its uploader reaching S3 through a proxy, and the proxy, cut."""
    run_dir = _run_dir(tmp_path)
    with tcp_proxy(_port(moto_server)) as proxy:
        store = S3Store(make_client(endpoint_url=proxy.url), max_attempts=1)
        proxy.cut()
        yield proxy, RunUploader(store, run_dir, S3Url(bucket, "runs/outage")), run_dir


def test_final_uploads_wait_for_s3_to_come_back(cut_off: tuple, bucket: str) -> None:
    proxy, uploader, _run = cut_off
    errors: list[BaseException] = []

    def final() -> None:
        try:
            uploader.final_sync(retry_s=60)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=final)
    thread.start()
    time.sleep(3.0)
    proxy.restore()
    thread.join(60)
    assert not errors
    keys = S3Store().list_keys(S3Url(bucket, "runs/outage"))
    assert sorted(keys) == [
        "runs/outage/logs/agent-w1.log",
        "runs/outage/requests/w1/part-00000.parquet",
    ]


def test_after_its_bounded_retry_the_uploader_names_what_is_still_local(cut_off: tuple) -> None:
    _proxy, uploader, run_dir = cut_off
    with pytest.raises(S3Error) as caught:
        uploader.final_sync(retry_s=2.0)
    message = str(caught.value)
    assert "2 result files could not be uploaded" in message
    assert "requests/w1/part-00000.parquet" in message and "logs/agent-w1.log" in message
    assert (run_dir / "requests" / "w1" / "part-00000.parquet").exists()  # nothing deleted
    assert caught.value.exit_code == 4
