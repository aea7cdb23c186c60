"""Seeded test users: names, passwords derived from a seed, and the credentials file.

A scenario that knows the seed can compute every password itself
(`password_for`), so a fleet of generators needs no shared file; the file the
shop writes on start is for humans and for tests that prefer to read it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from surge.atomic import atomic_write

#: the seed `surge shop` uses unless told otherwise; scenarios default to it too
DEFAULT_SEED = "surge"
CREDENTIALS_FORMAT_VERSION = 1


def username(index: int) -> str:
    """The name of the ``index``-th seeded user, counting from 1: ``user0001``."""
    return f"user{index:04d}"


def usernames(count: int) -> list[str]:
    return [username(i) for i in range(1, count + 1)]


def password_for(name: str, seed: str = DEFAULT_SEED) -> str:
    """The password of a seeded user.

    Derived with HMAC-SHA256 so it cannot be guessed without the seed, and
    prefixed so it would satisfy Cognito's default password policy (upper,
    lower, digit, symbol) if the same users were created in a real pool.
    """
    digest = hmac.new(seed.encode(), name.encode(), hashlib.sha256).digest()
    return "Aa1!" + base64.urlsafe_b64encode(digest[:12]).decode()


def signing_key_for(seed: str) -> bytes:
    """The HS256 key the shop signs tokens with: derived from the seed so tests can forge."""
    return hmac.new(seed.encode(), b"surge-shop-jwt", hashlib.sha256).digest()


def credentials_document(
    *, users: int, seed: str, auth_url: str, client_id: str, admin_key: str
) -> dict[str, Any]:
    return {
        "format_version": CREDENTIALS_FORMAT_VERSION,
        "auth_url": auth_url,
        "client_id": client_id,
        "seed": seed,
        "admin_key": admin_key,
        "users": [{"username": n, "password": password_for(n, seed)} for n in usernames(users)],
    }


def write_credentials_file(path: Path, document: dict[str, Any]) -> None:
    """Write the document readable by the owner only (it holds the admin key)."""

    def write(tmp: Path) -> None:
        # created owner-only: never readable by others, not even for an instant
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=1)
            handle.write("\n")

    atomic_write(path, write)
