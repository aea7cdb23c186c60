"""surge.s3 and the S3 commands (push, fetch, abort) against a real S3 server on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

import surge.s3 as s3mod
from surge.cli import main
from surge.errors import ExitCode, UsageError
from surge.s3 import Failure, S3Error, S3Store, S3Url, parse_run_url, parse_s3_url
from tests.helpers.runs import fake_run_dir, schedule_yaml
from tests.helpers.s3 import denying_s3, unreachable_endpoint


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(s3mod, "BACKOFF_BASE_S", 0.01)
    monkeypatch.setattr(s3mod, "BACKOFF_MAX_S", 0.02)
    monkeypatch.setattr(s3mod, "MAX_ATTEMPTS", 3)


# ---------------------------------------------------------------- URLs (no server)


def test_parse_s3_url() -> None:
    assert parse_s3_url("s3://bkt/runs/x/") == S3Url("bkt", "runs/x")
    assert parse_s3_url("s3://bkt") == S3Url("bkt", "")
    assert str(S3Url("bkt", "runs/x").join("control", "stop")) == "s3://bkt/runs/x/control/stop"


@pytest.mark.parametrize("bad", ["http://bkt/x", "s3://", "s3://B_ad/x", "s3://bkt/x?y=1", "bkt/x"])
def test_parse_s3_url_refuses(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_s3_url(bad)


@pytest.mark.parametrize(
    "bad", ["s3://bkt", "s3://bkt/runs", "s3://bkt/other/x", "s3://bkt/runs/x/y"]
)
def test_parse_run_url_refuses(bad: str) -> None:
    with pytest.raises(UsageError, match="runs/<run_id>"):
        parse_run_url(bad)


def test_endpoint_setting_order() -> None:
    env = {"AWS_ENDPOINT_URL": "http://a", "SURGE_S3_ENDPOINT": "http://b"}
    assert s3mod.endpoint_from_env(env) == "http://b"
    assert s3mod.endpoint_from_env({"AWS_ENDPOINT_URL": "http://a"}) == "http://a"
    assert s3mod.endpoint_from_env({}) is None


# ---------------------------------------------------------------- against moto


@pytest.mark.integration
def test_push_uploads_the_file_unchanged(tmp_path: Path, bucket: str) -> None:
    text = schedule_yaml(name="push-me")
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert main(["schedule", "push", str(path), f"s3://{bucket}"]) == 0
    assert main(["schedule", "push", str(path), f"s3://{bucket}/mine/"]) == 0
    assert main(["schedule", "push", str(path), f"s3://{bucket}/exact.yaml"]) == 0
    store = S3Store()
    assert store.list_keys(S3Url(bucket)) == [
        "exact.yaml",
        "mine/push-me.yaml",
        "schedules/push-me.yaml",
    ]
    assert store.get_bytes(S3Url(bucket, "schedules/push-me.yaml")).decode() == text


@pytest.mark.integration
def test_push_refuses_an_invalid_schedule(tmp_path: Path, bucket: str, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: Bad Name\ntarget: ftp://x\n")
    assert main(["schedule", "push", str(path), f"s3://{bucket}"]) == ExitCode.BAD_INPUT
    assert "error:" in capsys.readouterr().err
    assert S3Store().list_keys(S3Url(bucket)) == []


@pytest.mark.integration
def test_fetch_round_trips_a_run_directory(tmp_path: Path, bucket: str) -> None:
    run_dir = fake_run_dir(tmp_path / "local")
    store = S3Store()
    run = s3mod.run_url(bucket, run_dir.name)
    store.upload_tree(run_dir, run)
    s3mod.request_stop(store, run)  # control objects are not results
    dest = tmp_path / "fetched"
    assert main(["fetch", str(run), str(dest)]) == 0
    local = sorted(p.relative_to(run_dir) for p in run_dir.rglob("*") if p.is_file())
    fetched = sorted(p.relative_to(dest) for p in dest.rglob("*") if p.is_file())
    assert fetched == local
    for rel in local:
        assert (dest / rel).read_bytes() == (run_dir / rel).read_bytes()


@pytest.mark.integration
def test_fetch_of_a_missing_run_is_a_clear_error(tmp_path: Path, bucket: str, capsys) -> None:
    """A run id the bucket does not hold is a mistyped id (exit 2, the nearest ids), not
    an S3 outage (exit 4)."""
    store = S3Store()
    store.upload_tree(fake_run_dir(tmp_path / "local"), s3mod.run_url(bucket, "shop-20261127"))
    code = main(["fetch", f"s3://{bucket}/runs/shop-20261128", str(tmp_path / "x")])
    assert code == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip() == (
        f"error: no run shop-20261128 in s3://{bucket}/runs (did you mean shop-20261127?)"
    )
    code = main(["fetch", f"s3://{bucket}/runs/nothing-here", str(tmp_path / "y")])
    assert code == ExitCode.BAD_INPUT
    assert f"no run nothing-here in s3://{bucket}/runs" in capsys.readouterr().err


@pytest.mark.integration
def test_abort_writes_the_stop_object(bucket: str) -> None:
    run = s3mod.run_url(bucket, "r-1")
    store = S3Store()
    assert not store.exists(s3mod.stop_url(run))
    assert main(["abort", str(run), "--reason", "test"]) == 0
    assert store.exists(s3mod.stop_url(run))
    assert b'"reason": "test"' in store.get_bytes(s3mod.stop_url(run))


@pytest.mark.integration
def test_unreachable_s3_retries_then_fails_with_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_backoff: None, capsys
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", unreachable_endpoint())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    retries: list[Failure] = []
    store = S3Store(on_retry=lambda what, failure, exc: retries.append(failure))
    with pytest.raises(S3Error) as info:
        store.put_bytes(S3Url("bkt", "k"), b"x")
    assert info.value.failure is Failure.UNREACHABLE
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE
    assert str(info.value).startswith("S3 upload failed: S3 unreachable")  # not "upload to"
    assert retries == [Failure.UNREACHABLE] * (s3mod.MAX_ATTEMPTS - 1)
    assert main(["abort", "s3://bkt/runs/r-1"]) == ExitCode.INFRASTRUCTURE
    assert "S3 unreachable" in capsys.readouterr().err


@pytest.mark.integration
def test_access_denied_retries_then_fails_with_exit_4(
    monkeypatch: pytest.MonkeyPatch, fast_backoff: None, capsys
) -> None:
    with denying_s3() as (_server, bucket, env):
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
        import boto3

        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # else: credentials found earlier
        retries: list[Failure] = []
        store = S3Store(on_retry=lambda what, failure, exc: retries.append(failure))
        with pytest.raises(S3Error) as info:
            store.put_bytes(S3Url(bucket, "k"), b"x")
        assert info.value.failure is Failure.DENIED
        assert len(retries) == s3mod.MAX_ATTEMPTS - 1
        assert main(["abort", f"s3://{bucket}/runs/r-1"]) == ExitCode.INFRASTRUCTURE
        assert "access denied" in capsys.readouterr().err


def test_backoff_grows_and_is_capped() -> None:
    delays = list(s3mod.backoff_delays(8))
    assert len(delays) == 7
    assert all(d <= s3mod.BACKOFF_MAX_S for d in delays)
    assert delays[0] <= s3mod.BACKOFF_BASE_S
