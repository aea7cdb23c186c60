"""The agent's env file is checked like a schedule: every problem at once, each naming
its key, so one boot log (or one `surge agent` run) shows everything to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.cli import main
from surge.errors import ExitCode
from surge.provisioning.agent_settings import SettingsError, parse_settings

GOOD = {
    "SURGE_ROLE": "worker",
    "SURGE_BUCKET": "bkt",
    "SURGE_SCHEDULE_KEY": "schedules/x.yaml",
    "SURGE_RUN_ID": "x-20260101T000000Z",
    "SURGE_MASTER_HOST": "10.0.0.1",
}
BROKEN = {
    **GOOD,
    "SURGE_BUCKET": "",
    "SURGE_WORKER_PROCESSES": "-2",
    "SURGE_POWEROFF": "maybe",
    "SURGE_MASTER_PORT": "99999",
    "SURGE_RUN_ID": "../etc",
}
EXPECTED = ("missing SURGE_BUCKET", "SURGE_WORKER_PROCESSES", "SURGE_POWEROFF",
            "SURGE_MASTER_PORT", "SURGE_RUN_ID")  # fmt: skip


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        parse_settings(BROKEN, where="agent.env")
    problems = info.value.problems
    assert len(problems) == len(EXPECTED), problems
    for key in EXPECTED:
        assert sum(key in problem for problem in problems) == 1, (key, problems)
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_a_single_problem_reads_as_before() -> None:
    with pytest.raises(SettingsError, match=r"^SURGE_ROLE: got 'boss'; expected master or worker"):
        parse_settings({**GOOD, "SURGE_ROLE": "boss"}, where="agent.env")


def test_surge_agent_prints_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "agent.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in BROKEN.items() if v))
    assert main(["agent", "--env-file", str(env_file)]) == ExitCode.BAD_INPUT
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"error: {len(EXPECTED)} problems in the agent settings ({env_file})"
    assert [line.split(": ", 1)[0] for line in lines[1:]] == [f"  {env_file}"] * len(EXPECTED)
