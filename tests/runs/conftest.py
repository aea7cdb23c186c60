"""Fixtures for the runs tests: one moto S3 server per session, a fresh bucket per test."""

from __future__ import annotations

from collections.abc import Iterator

# Locust must be imported before anything imports urllib3/ssl (boto3 does): it
# monkey-patches ssl with gevent, and doing that after ssl is in use recurses
# forever. Importing it here, at collection, keeps boto3 and Locust usable in
# one pytest process whatever order the tests run in.
import locust  # noqa: F401
import pytest

from tests.helpers.fleet import fleet  # noqa: F401  (agents as processes: the fleet fixture)
from tests.helpers.s3 import MotoServer, moto_s3


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with moto_s3() as server:
        yield server


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this process's boto3 clients at the moto server; returns the env for children."""
    for key, value in moto_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SURGE_S3_ENDPOINT", raising=False)
    return moto_server.env


@pytest.fixture
def bucket(moto_server: MotoServer, s3_env: dict[str, str]) -> str:
    return moto_server.new_bucket()
