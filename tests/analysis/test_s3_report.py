"""`surge report s3://bucket/runs/<run_id>` against a real S3-protocol server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from surge import s3
from surge.cli import main
from tests.helpers.runs import fake_run_dir
from tests.helpers.s3 import moto_s3


@pytest.mark.integration
def test_report_downloads_an_s3_run_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    run_dir = fake_run_dir(tmp_path / "local")
    with moto_s3() as server:
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv(s3.SURGE_ENDPOINT_ENV, raising=False)
        bucket = server.new_bucket()
        s3.S3Store().upload_tree(run_dir, s3.run_url(bucket, run_dir.name))
        monkeypatch.chdir(tmp_path)
        assert main(["report", f"s3://{bucket}/runs/{run_dir.name}"]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert (tmp_path / "results" / run_dir.name / "report" / "index.html").exists()
