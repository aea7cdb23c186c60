"""Who may reach the master's web UI: loopback by default, a login for anything else.

The web UI can start and stop load against a real system, so it must not be open to
a network by accident. Locust binds to every interface when ``--web-host`` is not
given; surge narrows that default to loopback. An explicit non-loopback bind (``*``,
``0.0.0.0``, a LAN address) is refused unless credentials are set in the
environment (`USER_ENV`, `PASSWORD_ENV`) — never in the schedule, which is shared and
stored with the results. Every route, Locust's own included, then asks for HTTP basic
auth (put TLS in front with Locust's ``--tls-cert``/``--tls-key`` on untrusted networks).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surge.errors import UsageError

USER_ENV = "SURGE_UI_USER"
PASSWORD_ENV = "SURGE_UI_PASSWORD"
LOOPBACK_BIND = "127.0.0.1"
ALL_INTERFACES = ("", "*")
REALM = "surge"


class UIAccessError(UsageError):
    """The web UI would be reachable from a network without a login."""


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str

    def accepts(self, header: str | None) -> bool:
        """True for an ``Authorization: Basic ...`` header carrying these credentials."""
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user_ok = hmac.compare_digest(user.encode(), self.user.encode())
        return hmac.compare_digest(password.encode(), self.password.encode()) and user_ok


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8 or ::1 addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def credentials_from(environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """Credentials from `USER_ENV`/`PASSWORD_ENV`; None when either is unset or empty."""
    user, password = environ.get(USER_ENV, ""), environ.get(PASSWORD_ENV, "")
    return Credentials(user, password) if user and password else None


def decide_bind(
    requested: str | None, environ: Mapping[str, str] = os.environ
) -> tuple[str, Credentials | None]:
    """The address to bind the web UI to, and the credentials it must ask for (if any).

    `requested` is ``--web-host`` as typed: empty (not given) means loopback. A
    non-loopback address without credentials raises `UIAccessError`.
    """
    if not requested:
        return LOOPBACK_BIND, credentials_from(environ)
    bind = "" if requested in ALL_INTERFACES else requested
    credentials = credentials_from(environ)
    if is_loopback(bind) or credentials is not None:
        return bind, credentials
    shown = "all interfaces" if bind == "" else bind
    raise UIAccessError(
        f"refusing to serve the web UI on {shown} without a login: set {USER_ENV} and "
        f"{PASSWORD_ENV} in the environment, or bind to {LOOPBACK_BIND}",
        f"--web-host {requested}",
    )


def require_login(app: Any, credentials: Credentials) -> None:
    """Ask for HTTP basic auth on every route of the Flask `app` (Locust's and surge's)."""
    from flask import Response, request

    @app.before_request
    def _check_login() -> Response | None:
        if credentials.accepts(request.headers.get("Authorization")):
            return None
        return Response(
            "login required\n", 401, {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'}
        )
