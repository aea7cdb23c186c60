"""`surge init`: starter files in an empty folder, never an overwrite, then a real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge.cli import main
from surge.schedule import load_schedule
from tests.cli.test_own_project import surge
from tests.helpers.shop import running_shop


def test_init_writes_a_schedule_a_locustfile_and_ignores_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path), "--target", "https://api.example.com"]) == 0
    out = capsys.readouterr().out
    schedule = load_schedule(tmp_path / "smoke.yaml")
    assert schedule.target == "https://api.example.com"
    assert schedule.allow_hosts == ("api.example.com",)
    assert schedule.scenario.locustfile == "locustfile.py"
    text = (tmp_path / "locustfile.py").read_text()
    assert "from locust import FastHttpUser, task" in text and "@task" in text
    compile(text, "locustfile.py", "exec")
    assert (tmp_path / ".gitignore").read_text().splitlines()[-1] == "results/"
    # the next two commands
    assert f"surge schedule validate {tmp_path / 'smoke.yaml'}" in out
    assert f"surge run {tmp_path / 'smoke.yaml'}" in out


def test_init_refuses_to_overwrite_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "locustfile.py").write_text("# mine\n")
    assert main(["init", str(tmp_path)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (tmp_path / "locustfile.py").read_text() == "# mine\n"
    assert not (tmp_path / "smoke.yaml").exists() and not (tmp_path / ".gitignore").exists()


def test_init_appends_to_an_existing_gitignore_once(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")
    assert main(["init", str(tmp_path / "."), "--target", "http://127.0.0.1:8080"]) == 0
    assert (tmp_path / ".gitignore").read_text().split().count("results/") == 1
    assert (tmp_path / ".gitignore").read_text().startswith("*.pyc\n")


def test_init_with_a_bad_target_is_bad_input(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--target", "ftp://shop"]) == 2
    assert not list(tmp_path.iterdir())


@pytest.mark.integration
def test_init_then_run_against_the_reference_shop(tmp_path: Path) -> None:
    with running_shop() as shop:
        assert surge(["init", "--target", shop.url], tmp_path).returncode == 0
        done = surge(["run", "smoke.yaml", "--workers", "1"], tmp_path)
    assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: this busy VM lagged
    (run_dir,) = (tmp_path / "results").iterdir()
    assert (run_dir / "report" / "index.html").exists()
    assert "verdict" in done.stderr
