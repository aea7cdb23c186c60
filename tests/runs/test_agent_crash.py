"""An agent that crashes (a bug, not a user or cloud failure) exits 5, like the CLI, and its
uploaded log holds the traceback, so a fleet that broke can be read from the bucket."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from surge.errors import ExitCode
from surge.provisioning import agent as agent_mod
from surge.provisioning.agent_settings import parse_settings
from surge.s3 import S3Store, S3Url
from tests.helpers.agents import live_schedule_yaml


def test_an_unexpected_exception_exits_5_and_uploads_the_traceback(
    tmp_path: Path, bucket: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Store()
    text = live_schedule_yaml(
        name="crash", target="http://127.0.0.1:9", stages="[{rps: 1, duration: 1s}]"
    )
    store.put_bytes(S3Url(bucket, "schedules/crash.yaml"), text.encode())
    settings = parse_settings(
        {
            "SURGE_ROLE": "master",
            "SURGE_BUCKET": bucket,
            "SURGE_SCHEDULE_KEY": "schedules/crash.yaml",
            "SURGE_RUN_ID": "crash-20261127T100000Z",
            "SURGE_WORK_DIR": str(tmp_path),
            "SURGE_AGENT_ID": "a1",
        }
    )

    def broken(self: agent_mod.Agent) -> None:  # the injected bug
        raise ZeroDivisionError("injected")

    monkeypatch.setattr(agent_mod.Agent, "log_clock", broken)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        agent_mod.setup_logging(settings)
        code = agent_mod.Agent(settings=settings, store=store).run_once()
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()
    assert code == ExitCode.INTERNAL_ERROR == 5
    log = store.get_bytes(S3Url(bucket, f"runs/{settings.run_id}/logs/agent-a1.log")).decode()
    assert "error: internal error" in log and "ZeroDivisionError: injected" in log
    assert "Traceback (most recent call last)" in log
