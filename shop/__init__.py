"""The reference shop: a fast local stand-in for the serverless shop under test.

`build_app(ShopConfig(...))` gives the raw ASGI app (no server, no uvicorn import);
`shop.server.serve` runs it the way `surge shop` does. See shop/README.md. The names
below load on first use, so `surge --help` (which reads shop.config) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ShopApp": "surge.shop.app",
    "build_app": "surge.shop.app",
    "ShopConfig": "surge.shop.config",
    "ShopConfigError": "surge.shop.config",
    "password_for": "surge.shop.credentials",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'shop' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
