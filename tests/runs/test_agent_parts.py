"""The agent's pieces: env-file settings, start timing, the uploader and the stop watcher."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

import surge.s3 as s3mod
from surge.provisioning import agent_clock, agent_sync
from surge.provisioning.agent_settings import Role, SettingsError, load_settings, parse_settings
from surge.s3 import S3Store, S3Url
from tests.helpers.runs import fake_run_dir
from tests.helpers.s3 import unreachable_endpoint

BASE_ENV = {
    "SURGE_ROLE": "worker",
    "SURGE_BUCKET": "bkt",
    "SURGE_SCHEDULE_KEY": "schedules/x.yaml",
    "SURGE_RUN_ID": "x-20260101T000000Z",
    "SURGE_MASTER_HOST": "10.0.0.1",
    "SURGE_REGION": "eu-west-1",
    "SURGE_WORKER_PROCESSES": "auto",
    "SURGE_POWEROFF": "false",
}


def test_env_file_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "agent.env"
    lines = [f"{k}={v}" for k, v in BASE_ENV.items()]
    lines[0] = "export SURGE_ROLE='master'  # quoted, exported, commented"
    path.write_text("# written by user data\n\n" + "\n".join(lines) + "\nSURGE_POWEROFF=true\n")
    settings = load_settings(path)
    assert settings.role is Role.MASTER
    assert settings.poweroff is True
    assert settings.worker_processes >= 1
    assert settings.master_port == 5557
    assert settings.run_dir == Path("/var/lib/surge/runs/x-20260101T000000Z")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SURGE_ROLE": "boss"}, "SURGE_ROLE"),
        ({"SURGE_BUCKET": ""}, "missing SURGE_BUCKET"),
        ({"SURGE_MASTER_HOST": ""}, "SURGE_MASTER_HOST is required"),
        ({"SURGE_WORKER_PROCESSES": "-2"}, "SURGE_WORKER_PROCESSES"),
        ({"SURGE_POWEROFF": "maybe"}, "SURGE_POWEROFF"),
        ({"SURGE_RUN_ID": "../etc"}, "SURGE_RUN_ID"),
    ],
)
def test_bad_settings_name_the_key(change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse_settings({**BASE_ENV, **change})


def test_missing_or_malformed_env_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "nope.env")
    bad = tmp_path / "bad.env"
    bad.write_text("SURGE_ROLE master\n")
    with pytest.raises(SettingsError, match=r"bad.env:1"):
        load_settings(bad)


def test_stale_start_is_refused_beyond_30s() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert agent_clock.check_not_stale(start, start - dt.timedelta(seconds=5)) == 5
    assert agent_clock.check_not_stale(start, start + dt.timedelta(seconds=29)) == -29
    with pytest.raises(agent_clock.StaleStartError, match="refusing"):
        agent_clock.check_not_stale(start, start + dt.timedelta(seconds=31))


def test_wait_until_ends_on_the_wall_clock_or_when_stopped() -> None:
    target = agent_clock.utcnow() + dt.timedelta(seconds=0.3)
    assert agent_clock.wait_until(target)
    assert agent_clock.utcnow() >= target
    later = agent_clock.utcnow() + dt.timedelta(seconds=60)
    assert not agent_clock.wait_until(later, should_stop=lambda: True)


@pytest.mark.integration
def test_uploader_mirrors_new_and_changed_files(tmp_path: Path, bucket: str) -> None:
    run_dir = fake_run_dir(tmp_path)
    (run_dir / "status.json").write_text("{}")
    (run_dir / "requests" / ".part-00001.parquet.tmp-1").write_bytes(b"half")
    store = S3Store()
    prefix = s3mod.run_url(bucket, run_dir.name)
    uploader = agent_sync.RunUploader(store, run_dir, prefix, interval_s=0.05)
    uploader.start()
    deadline = time.monotonic() + 10
    expected = {"manifest.json", "logs/master.log"}
    while time.monotonic() < deadline:
        keys = {k.split(run_dir.name + "/")[1] for k in store.list_keys(prefix)}
        if expected <= keys and len(keys) == 4:
            break
        time.sleep(0.05)
    assert "status.json" not in keys  # rewritten every second: only at the end
    assert not any(".tmp" in k for k in keys)
    (run_dir / "logs" / "master.log").write_text("a log line\nanother\n")
    uploader.final_sync()
    keys = {k.split(run_dir.name + "/")[1] for k in store.list_keys(prefix)}
    assert "status.json" in keys
    assert store.get_bytes(prefix.join("logs/master.log")).endswith(b"another\n")


@pytest.mark.integration
def test_uploader_keeps_files_and_fails_clearly_when_s3_is_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3mod, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(s3mod, "BACKOFF_BASE_S", 0.01)
    run_dir = fake_run_dir(tmp_path)
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    store = S3Store(endpoint_url=unreachable_endpoint())
    uploader = agent_sync.RunUploader(store, run_dir, S3Url("bkt", "runs/x"))
    with pytest.raises(s3mod.S3Error, match="kept in") as info:
        uploader.final_sync(retry_s=1.0)  # the bounded post-run retry, shrunk
    assert info.value.exit_code == 4
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before


@pytest.mark.integration
def test_stop_watcher_fires_once_after_abort(bucket: str) -> None:
    store = S3Store()
    run = s3mod.run_url(bucket, "r-1")
    fired = threading.Event()
    calls: list[float] = []
    watcher = agent_sync.StopWatcher(
        store, run, lambda: (calls.append(time.monotonic()), fired.set()), poll_s=0.1
    )
    watcher.start()
    time.sleep(0.3)
    assert not fired.is_set()
    requested = time.monotonic()
    s3mod.request_stop(store, run)
    assert fired.wait(5)
    watcher.close()
    assert len(calls) == 1
    assert calls[0] - requested < agent_sync.STOP_POLL_S + 1.0
