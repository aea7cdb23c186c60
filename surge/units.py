"""Parsing of durations, rates and percentages: the one place that does it."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6}


def parse_duration(text: object) -> float:
    """Parse ``500ms``, ``30s``, ``5m``, ``1h30m`` (or ``1.5s``) into seconds.

    A bare number is refused: ``30`` could mean seconds or minutes, and a
    schedule that guesses wrong offers the wrong load for an hour.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        raise ValueError(f"{text:g} has no unit; write e.g. {text:g}s or {text:g}ms")
    if not isinstance(text, str):
        raise ValueError("expected a duration with a unit, like 500ms, 30s, 5m or 1h30m")
    s = text.strip().replace(" ", "")
    if not s:
        raise ValueError("expected a duration, got an empty string")
    pos, total, seen = 0, 0.0, []
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        unit = m.group(2)
        if unit in seen:
            raise ValueError(f"unit {unit!r} given twice")
        seen.append(unit)
        total += float(m.group(1)) * _UNIT_SECONDS[unit]
        pos = m.end()
    if pos != len(s) or not seen:
        if re.fullmatch(r"\d+(\.\d+)?", s):
            raise ValueError(f"{s} has no unit; write e.g. {s}s or {s}ms")
        raise ValueError("expected a duration like 500ms, 30s, 5m or 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """Render seconds the way a schedule would write them (``1h30m``, ``45s``, ``250ms``)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole = round(seconds)
    if abs(seconds - whole) > 1e-9:
        return f"{seconds:g}s"
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v]
    return "".join(parts) or "0s"


def parse_fraction(text: object) -> float:
    """Parse ``99%`` or ``0.99`` into a fraction in [0, 1]."""
    if isinstance(text, bool):
        raise ValueError("expected a percentage like 99% or a fraction like 0.99")
    if isinstance(text, int | float):
        value = float(text)
    elif isinstance(text, str) and text.strip().endswith("%"):
        try:
            value = float(text.strip()[:-1]) / 100.0
        except ValueError:
            raise ValueError("expected a percentage like 99%") from None
    elif isinstance(text, str):
        try:
            value = float(text)
        except ValueError:
            raise ValueError("expected a percentage like 99% or a fraction like 0.99") from None
    else:
        raise ValueError("expected a percentage like 99% or a fraction like 0.99")
    if not 0.0 <= value <= 1.0:
        raise ValueError("a rate must lie between 0% and 100%")
    return value


def parse_rps(text: object) -> float:
    """Parse a request rate: a number, optionally suffixed ``/s`` or ``rps``."""
    if isinstance(text, bool):
        raise ValueError("expected a rate in requests per second")
    if isinstance(text, int | float):
        return float(text)
    if isinstance(text, str):
        s = text.strip().removesuffix("rps").removesuffix("/s").strip()
        try:
            return float(s)
        except ValueError:
            pass
    raise ValueError("expected a rate in requests per second, like 500 or 500/s")
