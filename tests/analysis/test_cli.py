"""`surge report` on broken run directories: a clear error naming what is wrong, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surge.cli import main
from surge.errors import ExitCode
from surge.results import part_path
from tests.helpers.runs import fake_run_dir


def report_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    assert main(["report", *argv]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_missing_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    err = report_error(capsys, str(tmp_path / "nope"))
    assert "run directory not found" in err and "nope" in err


def test_missing_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = fake_run_dir(tmp_path)
    (run_dir / "manifest.json").unlink()
    assert "no manifest.json" in report_error(capsys, str(run_dir))


def test_unknown_format_version(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = fake_run_dir(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["format_version"] = 99
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert "unknown manifest format_version 99" in report_error(capsys, str(run_dir))


def test_no_parts(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = fake_run_dir(tmp_path)
    for part in (run_dir / "requests").rglob("*.parquet"):
        part.unlink()
    assert "no request parts" in report_error(capsys, str(run_dir))


def test_corrupt_part(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """One damaged part does not sink the run: reported, named, incomplete (issue 19)."""
    run_dir = fake_run_dir(tmp_path)
    part = part_path(run_dir, "w2", 0)
    part.write_bytes(part.read_bytes()[:200])
    assert main(["report", str(run_dir)]) == ExitCode.INFRASTRUCTURE
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "w2/part-00000.parquet" in out


def test_every_part_corrupt(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = fake_run_dir(tmp_path)
    for part in run_dir.glob("requests/*/part-*.parquet"):
        part.write_bytes(part.read_bytes()[:200])
    err = report_error(capsys, str(run_dir))
    assert "no readable request part" in err and "w1/part-00000.parquet" in err


def test_manifest_without_schedule(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run_dir = fake_run_dir(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    del manifest["schedule"]
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    assert "no schedule with stages" in report_error(capsys, str(run_dir))


def test_bad_s3_url_and_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert "run URL" in report_error(capsys, "s3://bucket/not-a-run")
    run_dir = fake_run_dir(tmp_path)
    assert "--price" in report_error(capsys, str(run_dir), "--price", "c6i.large")
    assert "no unit" in report_error(capsys, str(run_dir), "--warmup", "5")


def test_report_command_prints_verdict_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run_dir = fake_run_dir(tmp_path)
    out = tmp_path / "elsewhere"
    assert main(["report", str(run_dir), "--out", str(out), "--compare", str(run_dir)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("PASSED: the 1 threshold met")
    assert f"report: {out / 'index.html'}" in printed
    assert (out / "junit.xml").exists() and not (run_dir / "report").exists()
