"""A real Locust process with the engine and a web UI: refused unprotected, else a login."""

from __future__ import annotations

import base64
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from surge.errors import ExitCode
from surge.provisioning.local import Role, free_port, locust_command

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "tests" / "helpers" / "browse_locustfile.py"
START_TIMEOUT_S = 45.0
EXIT_TIMEOUT_S = 60.0


def schedule(tmp_path: Path) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(  # never started: nothing is sent to the target
        "name: ui-guard\ntarget: http://127.0.0.1:9\n"
        "load:\n  stages:\n    - {rps: 1, duration: 1s}\n"
    )
    return path


def command(tmp_path: Path, web_host: str, port: int) -> list[str]:
    return locust_command(
        Role.STANDALONE, scenario_locustfile=SCENARIO, run_dir=tmp_path / "run", run_id="guard",
        schedule_path=schedule(tmp_path), ui=True, web_host=web_host, web_port=port,
    )  # fmt: skip


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURGE_UI_")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def status_code(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode()
        )
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


@contextmanager
def serving(cmd: list[str], env: dict[str, str], url: str) -> Iterator[None]:
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while status_code_or_none(url) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"web UI did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        yield
    finally:
        proc.terminate()
        proc.wait(EXIT_TIMEOUT_S)


def status_code_or_none(url: str) -> int | None:
    try:
        return status_code(url)
    except OSError:
        return None


@pytest.mark.integration
def test_a_network_bind_without_credentials_refuses_to_start(tmp_path: Path) -> None:
    done = subprocess.run(
        command(tmp_path, "0.0.0.0", free_port()), cwd=REPO, env=environ(),
        capture_output=True, text=True, timeout=EXIT_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode == ExitCode.BAD_INPUT
    assert "error: refusing to serve the web UI on 0.0.0.0 without a login" in done.stderr
    assert "SURGE_UI_PASSWORD" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.integration
def test_with_credentials_every_page_asks_for_the_login(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environ(SURGE_UI_USER="ops", SURGE_UI_PASSWORD="s3cret")
    with serving(command(tmp_path, "127.0.0.1", port), env, base + "/surge/api/status"):
        for path in ("/", "/surge/", "/surge/api/status", "/stats/requests"):
            assert status_code(base + path) == 401, path
            assert status_code(base + path, ("ops", "wrong")) == 401, path
            assert status_code(base + path, ("ops", "s3cret")) == 200, path
