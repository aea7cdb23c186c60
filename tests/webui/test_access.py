"""Who may reach the web UI: loopback by default, credentials required for anything else."""

from __future__ import annotations

import base64

import pytest

from surge.errors import ExitCode
from surge.locustfiles.webui.access import (
    LOOPBACK_BIND,
    Credentials,
    UIAccessError,
    decide_bind,
    is_loopback,
)

CREDS = {"SURGE_UI_USER": "ops", "SURGE_UI_PASSWORD": "s3cret"}


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_no_web_host_binds_loopback_without_login() -> None:
    assert decide_bind("", {}) == (LOOPBACK_BIND, None)
    assert decide_bind(None, {}) == (LOOPBACK_BIND, None)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_explicit_loopback_needs_no_login(host: str) -> None:
    assert decide_bind(host, {}) == (host, None)


@pytest.mark.parametrize("host", ["*", "0.0.0.0", "10.0.0.5", "::", "shop-master.internal"])
def test_network_bind_without_credentials_is_refused_with_a_clear_error(host: str) -> None:
    with pytest.raises(UIAccessError) as caught:
        decide_bind(host, {"SURGE_UI_USER": "ops"})  # a user without a password is not enough
    assert "SURGE_UI_USER" in str(caught.value) and "SURGE_UI_PASSWORD" in str(caught.value)
    assert caught.value.exit_code is ExitCode.BAD_INPUT


def test_network_bind_with_credentials_requires_them() -> None:
    assert decide_bind("*", CREDS) == ("", Credentials("ops", "s3cret"))
    assert decide_bind("10.0.0.5", CREDS)[0] == "10.0.0.5"


def test_credentials_set_on_loopback_are_still_enforced() -> None:
    assert decide_bind("", CREDS) == (LOOPBACK_BIND, Credentials("ops", "s3cret"))


def test_basic_auth_header_check() -> None:
    creds = Credentials("ops", "pa:ss")
    assert creds.accepts(basic("ops", "pa:ss"))
    assert not creds.accepts(basic("ops", "wrong"))
    assert not creds.accepts(basic("other", "pa:ss"))
    assert not creds.accepts(None)
    assert not creds.accepts("Bearer abc")
    assert not creds.accepts("Basic !!!not-base64")


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("") and not is_loopback("192.168.1.1") and not is_loopback("example.com")
