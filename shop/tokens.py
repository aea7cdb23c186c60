"""A minimal HS256 JWT signer and verifier (stdlib only).

Real Cognito signs RS256 with rotating keys; the shop needs only what the
scenario and the API Gateway authorizer see: a three-part JWT with claims and
an expiry that the server enforces. The standard library does that in a few
lines, so no JWT dependency.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
import time
from typing import Any

_HEADER = {"alg": "HS256", "typ": "JWT"}


class TokenProblem(enum.Enum):
    """Why a token was refused (the client only ever sees 401; /stats and tests see this)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


class TokenRejected(Exception):
    def __init__(self, problem: TokenProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_HEADER_SEGMENT = _b64encode(json.dumps(_HEADER, separators=(",", ":")).encode())


def sign(claims: dict[str, Any], key: bytes) -> str:
    payload = _b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{_HEADER_SEGMENT}.{payload}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


def verify(token: str, key: bytes, now: float | None = None) -> dict[str, Any]:
    """Return the claims of a valid, unexpired token; raise `TokenRejected` otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenRejected(TokenProblem.MALFORMED)
    header_segment, payload_segment, signature_segment = parts
    expected = hmac.new(
        key, f"{header_segment}.{payload_segment}".encode(), hashlib.sha256
    ).digest()
    try:
        signature = _b64decode(signature_segment)
        header = json.loads(_b64decode(header_segment))
        claims = json.loads(_b64decode(payload_segment))
    except (ValueError, binascii.Error):
        raise TokenRejected(TokenProblem.MALFORMED) from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise TokenRejected(TokenProblem.MALFORMED)
    if not hmac.compare_digest(signature, expected):
        raise TokenRejected(TokenProblem.BAD_SIGNATURE)
    if not isinstance(claims, dict) or not isinstance(claims.get("exp"), int | float):
        raise TokenRejected(TokenProblem.MALFORMED)
    if claims["exp"] <= (time.time() if now is None else now):
        raise TokenRejected(TokenProblem.EXPIRED)
    return claims


def bearer_token(authorization: str | None) -> str:
    """The token in an ``Authorization: Bearer <token>`` header.

    A bare token is accepted too, as API Gateway's Cognito authorizer does.
    """
    if not authorization:
        raise TokenRejected(TokenProblem.MISSING)
    scheme, _, rest = authorization.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" else authorization.strip()
    if not token:
        raise TokenRejected(TokenProblem.MISSING)
    return token
