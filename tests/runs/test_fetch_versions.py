"""`surge fetch` reads the fetched manifest through the type: it names the run's state,
and refuses (exit 2) a run written in a manifest format this surge does not know."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from surge.cli import main
from surge.errors import ExitCode
from surge.s3 import S3Store, run_url
from tests.helpers.runs import fake_run_dir


def _upload(tmp_path: Path, bucket: str, format_version: int) -> str:
    run_dir = fake_run_dir(tmp_path / "src")
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["format_version"] = format_version
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    S3Store().upload_tree(run_dir, run_url(bucket, run_dir.name))
    return f"s3://{bucket}/runs/{run_dir.name}"


def test_fetch_reads_the_manifest(
    tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _upload(tmp_path, bucket, 1)
    assert main(["fetch", url, str(tmp_path / "dest")]) == ExitCode.PASSED
    assert "fetched " in capsys.readouterr().out


def test_fetch_refuses_an_unknown_major_version(
    tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _upload(tmp_path, bucket, 2)
    assert main(["fetch", url, str(tmp_path / "dest")]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: unknown manifest format_version 2") and "Traceback" not in err
