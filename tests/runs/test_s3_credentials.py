"""Credentials S3 will never accept fail at once with exit 4 and a clear line, instead of
half a minute of retries: none at all, an unknown access key, a wrong secret. The S3
server is moto enforcing IAM on loopback, so the error codes are the real ones."""

from __future__ import annotations

import pytest

from surge.cli import main
from surge.errors import ExitCode
from surge.s3 import Failure, S3Error, S3Store, S3Url
from tests.helpers.s3 import denying_s3

pytestmark = pytest.mark.integration

NO_CREDENTIALS_FOUND = {  # nowhere for boto3 to find any, and no instance metadata to ask
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _fails_at_once(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: S3Url) -> S3Error:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**NO_CREDENTIALS_FOUND, **env}.items():
        monkeypatch.setenv(key, value)
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches the credentials it found
    retries: list[Failure] = []
    store = S3Store(on_retry=lambda what, failure, exc: retries.append(failure))
    with pytest.raises(S3Error) as info:
        store.get_bytes(url.join("schedules", "x.yaml"))
    assert retries == []  # not one retry: trying again cannot help
    assert info.value.failure is Failure.CREDENTIALS
    assert info.value.exit_code == ExitCode.INFRASTRUCTURE == 4
    return info.value


@pytest.mark.parametrize("case", ["no credentials", "unknown access key", "wrong secret"])
def test_unusable_credentials_fail_at_once_with_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    with denying_s3() as (_server, bucket, user_env):
        env = {"AWS_ENDPOINT_URL": user_env["AWS_ENDPOINT_URL"], "AWS_REGION": "us-east-1"}
        if case == "unknown access key":
            env |= {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000", "AWS_SECRET_ACCESS_KEY": "x"}
        elif case == "wrong secret":
            env |= {"AWS_ACCESS_KEY_ID": user_env["AWS_ACCESS_KEY_ID"]}
            env |= {"AWS_SECRET_ACCESS_KEY": "not-" + user_env["AWS_SECRET_ACCESS_KEY"]}
        error = _fails_at_once(monkeypatch, env, S3Url(bucket))
        expected = {
            "no credentials": "Unable to locate credentials",
            "unknown access key": "InvalidAccessKeyId",
            "wrong secret": "SignatureDoesNotMatch",
        }[case]
        assert expected in str(error)
        assert main(["abort", f"s3://{bucket}/runs/r-1"]) == ExitCode.INFRASTRUCTURE
        err = capsys.readouterr().err
        assert err.startswith("error: S3 ") and "credentials missing or not accepted" in err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
