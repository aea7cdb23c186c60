"""A scenario mistake never reaches S3 or a fleet (#21): `surge schedule push` imports the
scenario in a child first, as `surge schedule validate` does, and `surge run s3://...`
checks a pushed bundle's scenario before any Locust process starts. Both exit 2 naming
the file and the problem; the moto S3 server on loopback shows nothing was written.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge.bundle import BundleRef, build_bundle, bundle_key, stamp
from surge.cli import main
from surge.errors import ExitCode
from surge.provisioning.local import free_port
from surge.s3 import S3Store, S3Url
from surge.schedule import load_schedule
from tests.helpers.user_project import write_user_project

BROKEN = {
    "import error": (
        "from locust import FastHttpUser, task\nimport no_such_module_here\n",
        "No module named 'no_such_module_here'",
    ),
    "syntax error": ("def broken(:\n", "SyntaxError"),
    "no User class": ("X = 1\n", "defines no User class"),
}


def _project(tmp_path: Path, target: str = "http://127.0.0.1:9") -> Path:
    return write_user_project(tmp_path / "user", target=target, stages="[{rps: 5, duration: 2s}]")


def _break(schedule: Path, source: str) -> None:
    (schedule.parent / "locustfiles" / "browse.py").write_text(source)


@pytest.fixture
def listening() -> Iterator[str]:
    """A loopback port that accepts connections (the pre-run target check needs one);
    nothing is ever answered: a run that sent load would fail, not pass."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize("mistake", sorted(BROKEN))
def test_push_refuses_a_broken_scenario_and_uploads_nothing(
    tmp_path: Path, bucket: str, mistake: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _project(tmp_path)
    source, message = BROKEN[mistake]
    _break(path, source)
    assert main(["schedule", "push", str(path), f"s3://{bucket}/schedules/own.yaml"]) == 2
    err = capsys.readouterr().err
    assert message in err and "browse.py" in err, err
    assert S3Store().list_keys(S3Url(bucket, "")) == []  # neither schedule nor bundle


def test_push_of_a_sound_scenario_names_its_client(
    tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _project(tmp_path)
    assert main(["schedule", "push", str(path), f"s3://{bucket}/schedules/own.yaml"]) == 0
    out = capsys.readouterr().out
    assert "scenario  BrowseProducts: surge client" in out, out
    assert S3Store().exists(S3Url(bucket, "schedules/own.yaml"))


def test_run_of_a_pushed_schedule_checks_its_bundles_scenario_first(
    tmp_path: Path,
    bucket: str,
    listening: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A bundle pushed before the check existed (or by hand) is still refused with exit 2."""
    path = _project(tmp_path, target=listening)
    _break(path, BROKEN["import error"][0])
    url = _push_by_hand(path, bucket)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_API_TOKEN", "x")
    assert main(["run", url, "--workers", "1", "--out", "results"]) == 2
    err = capsys.readouterr().err
    assert "No module named 'no_such_module_here'" in err, err
    (run_dir,) = (tmp_path / "results").iterdir()
    assert not (run_dir / "logs").exists() and not (run_dir / "requests").exists()


@pytest.mark.parametrize("broken", [True, False], ids=["broken scenario", "sound scenario"])
def test_run_of_a_pushed_schedule_judges_the_scenario_before_the_target(
    tmp_path: Path,
    bucket: str,
    broken: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 21: a scenario mistake is exit 2 even when the target is unreachable too
    (was exit 4: the target was looked at first); a sound scenario still meets the
    target check (exit 4). Nothing listens on the port: it was bound, then released."""
    port = free_port()
    path = _project(tmp_path, target=f"http://127.0.0.1:{port}")
    if broken:
        _break(path, BROKEN["import error"][0])
    url = _push_by_hand(path, bucket)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_API_TOKEN", "x")
    code = main(["run", url, "--workers", "1", "--out", "results"])
    err = capsys.readouterr().err
    unreachable = f"target unreachable at start: 127.0.0.1:{port}"
    if broken:
        assert code == ExitCode.BAD_INPUT, err
        assert "No module named 'no_such_module_here'" in err and unreachable not in err, err
    else:
        assert code == ExitCode.INFRASTRUCTURE, err
        assert unreachable in err, err
    (run_dir,) = (tmp_path / "results").iterdir()
    assert not (run_dir / "logs").exists() and not (run_dir / "requests").exists()


def _push_by_hand(path: Path, bucket: str) -> str:
    """Upload the schedule and its bundle as `surge schedule push` would, but without
    push's own scenario check (a bundle pushed before the check existed, or by hand)."""
    schedule = load_schedule(path)
    built = build_bundle(path, schedule)
    assert built is not None
    store, key = S3Store(), "schedules/own.yaml"
    ref = BundleRef(key=bundle_key(key, built.sha256), sha256=built.sha256)
    store.put_bytes(S3Url(bucket, ref.key), built.data)
    store.put_bytes(S3Url(bucket, key), stamp(schedule, ref).encode())
    return f"s3://{bucket}/{key}"
