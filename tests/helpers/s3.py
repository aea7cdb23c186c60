"""A real S3-protocol server on loopback for tests: moto in server mode, as a subprocess.

No in-process mocking of boto3: code under test reaches the server through the
standard ``AWS_ENDPOINT_URL`` setting, exactly as it would reach a real bucket.
Use `moto_s3()` as a context manager or the fixtures in tests that import them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from surge.provisioning.local import free_port
from tests.helpers.children import stop_child, wait_until_answers

STARTUP_TIMEOUT_S = 20.0
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass(frozen=True)
class MotoServer:
    """A running moto server: its endpoint and the env that points boto3 at it."""

    endpoint_url: str
    process: subprocess.Popen

    @property
    def env(self) -> dict[str, str]:
        """Environment for a subprocess (or monkeypatch) reaching this server."""
        return {**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint_url}

    def client(self):  # -> S3 client, built the one way surge builds them
        from surge.s3 import make_client

        return make_client(endpoint_url=self.endpoint_url)

    def new_bucket(self, prefix: str = "surge-test") -> str:
        """Create a fresh, uniquely named bucket, so tests sharing a server never collide."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name


def _moto_command(port: int) -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    if exe.exists():
        return [str(exe), "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


@contextlib.contextmanager
def moto_s3(extra_env: dict[str, str] | None = None) -> Iterator[MotoServer]:
    """Start moto's server on a free loopback port; stop it (and only it) afterwards."""
    port = free_port()
    env = {**os.environ, **FAKE_CREDENTIALS, **(extra_env or {})}
    proc = subprocess.Popen(
        _moto_command(port),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/moto-api/", proc, what="moto server",
                           timeout_s=STARTUP_TIMEOUT_S)  # fmt: skip
        yield MotoServer(url, proc)
    finally:
        stop_child(proc, timeout_s=5)


def unreachable_endpoint() -> str:
    """A loopback URL where nothing listens: connections are refused at once."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def denying_s3() -> Iterator[tuple[MotoServer, str, dict[str, str]]]:
    """A moto server enforcing IAM, a bucket, and the env of a user with no permissions.

    moto checks signatures and policies after its first N unauthenticated calls;
    the three set-up calls below use them up, so every later call by the new user
    is answered with a real ``AccessDenied``.
    """
    import boto3

    with moto_s3({"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as server:
        kw = {
            "endpoint_url": server.endpoint_url,
            "region_name": "us-east-1",  # the set-up calls sign with the fake root credentials
            "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        }
        bucket = f"denied-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", **kw).create_bucket(Bucket=bucket)
        iam = boto3.client("iam", **kw)
        iam.create_user(UserName="no-permissions")
        key = iam.create_access_key(UserName="no-permissions")["AccessKey"]
        env = {
            **server.env,
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
        env.pop("AWS_SESSION_TOKEN")
        yield server, bucket, env
