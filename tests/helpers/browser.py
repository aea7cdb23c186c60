"""Headless Chromium (Debian's package) through Playwright, never a downloaded browser."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PAGE_LOAD_TIMEOUT_MS = 15_000


@contextmanager
def chromium_page(width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A page in a fresh headless Chromium; skips when chromium is not installed."""
    if not shutil.which(CHROMIUM):
        pytest.skip("chromium is not installed (scripts/system-deps.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


@contextmanager
def open_page(url: str, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, list[str]]]:
    """`url` loaded in headless Chromium, with the console errors, page errors and failed
    responses (HTTP >= 400, with their URL) it produces.

    The list keeps filling while the page lives, so a test can assert it is empty at the end
    (a JS exception in a live view is a bug even if the first paint looked fine).
    """
    with chromium_page(width, height) as page:
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on(
            "response",
            lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None,
        )
        page.set_default_timeout(PAGE_LOAD_TIMEOUT_MS)
        page.goto(url, wait_until="load")
        yield page, errors
