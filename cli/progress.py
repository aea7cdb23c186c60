"""Live progress of a run in the terminal, from the master's ``status.json``.

On a terminal: one line redrawn in place with a progress bar. Not on a
terminal, or under CI (``CI=true``): a plain line every `PLAIN_EVERY_S` and at
every stage change, so CI logs stay readable.

The status dictionary is the one the master rewrites every second; unknown or
missing keys are shown as ``-`` rather than failing, because progress is a
view and must never break a run.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from surge.units import format_duration

PLAIN_EVERY_S = 10.0  # plain-mode line period (a stage change prints at once)
BAR_WIDTH = 24


def is_plain(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Plain lines when the stream is not a terminal or when running under CI."""
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        return True
    return not (hasattr(stream, "isatty") and stream.isatty())


def _num(status: Mapping[str, Any], key: str) -> float | None:
    value = status.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _fmt(value: float | None, spec: str = ".0f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def health_summary(status: Mapping[str, Any]) -> str:
    """``3/3 ok``, ``2/3 ok, 1 saturated`` or ``2/2 ok, 1 lost`` from the workers' entries."""
    workers = status.get("workers")
    workers = [w for w in workers if isinstance(w, dict)] if isinstance(workers, list) else []
    lost = status.get("lost_workers")
    n_lost = len(lost) if isinstance(lost, list) else 0
    if not workers and not n_lost:
        return "-"
    saturated = sum(1 for w in workers if w.get("saturated"))
    text = f"{len(workers) - saturated}/{len(workers)} ok"
    if saturated:
        text += f", {saturated} saturated"
    if n_lost:
        text += f", {n_lost} lost"
    return text


def render(status: Mapping[str, Any], *, width: int = BAR_WIDTH, bar: bool = True) -> str:
    """One line: stage i/n, offered vs achieved, p95, errors, late/dropped, health, time left."""
    index, count = status.get("stage_index"), status.get("stage_count")
    stage_text = f"stage {index + 1}/{count}" if isinstance(index, int) and count else "stage -"
    if isinstance(index, int) and status.get("stage_name"):
        stage_text += f" {status['stage_name']}"
    left = _num(status, "remaining_s")
    parts = [
        str(status.get("state", "running")),
        stage_text,
        *search_text(status.get("search")),
        rates_text(status),
        f"p95 {_fmt(_num(status, 'p95_ms'), '.0f', 'ms')}",
        f"errors {_fmt(_num(status, 'errors'))}",
        f"late {_fmt(_num(status, 'late'))} dropped {_fmt(_num(status, 'dropped'))}",
        f"generators {health_summary(status)}",
        f"left {format_duration(round(left)) if left is not None else '-'}",
    ]
    line = " | ".join(parts)
    if bar:
        line = f"{_bar(status, left, width)} {line}"
    return line


def rates_text(status: Mapping[str, Any]) -> str:
    """Offered vs achieved over the same seconds: during the run both over the master's
    rate window (``offered_window_rps``; the instant ``offered_rps`` for an older master),
    after the end the whole run's averages, labelled so (the instant rate is then 0)."""
    whole = status.get("whole_run")
    if status.get("final") and isinstance(whole, dict):
        rates, label = whole, "whole run: "
    else:
        window = _num(status, "offered_window_rps")
        offered = window if window is not None else _num(status, "offered_rps")
        rates, label = {**status, "offered_rps": offered}, ""
    return (
        f"{label}{_fmt(_num(rates, 'offered_rps'))}/{_fmt(_num(rates, 'achieved_rps'))} req/s "
        f"offered/achieved (answered; sent {_fmt(_num(rates, 'sent_rps'))})"
    )


def search_text(search: Any) -> list[str]:
    """A capacity search's step, its rate and the bracket: ``search step 5 120/s, knee in
    [100, 160)``; nothing for a staircase run."""
    if not isinstance(search, dict):
        return []
    lo, hi = (search.get("bracket") or [None, None])[:2]
    rate = search.get("rate")
    if search.get("end"):
        where = f"done: {search.get('end_reason') or search['end']}"
    else:
        where = f"step {search.get('step', '-')} {_fmt(rate, 'g')}/s ({search.get('phase', '-')})"
    if lo is None and hi is None:
        bracket = "knee not bracketed yet"
    elif hi is None:
        bracket = f"knee >= {lo:g}/s"
    elif lo is None:
        bracket = f"knee < {hi:g}/s"
    else:
        bracket = f"knee in [{lo:g}, {hi:g})/s"
    return [f"search {where}, {bracket}"]


def _bar(status: Mapping[str, Any], left: float | None, width: int) -> str:
    total = _num(status, "duration_s")
    done = min(max(1.0 - left / total, 0.0), 1.0) if total and left is not None else 0.0
    filled = int(done * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done * 100:3.0f}%"


class Progress:
    """Callable fed with status dicts (``on_status``); draws them on `stream`."""

    def __init__(self, stream: TextIO | None = None, *, plain: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.plain = is_plain(self.stream) if plain is None else plain
        self._last_line_at = 0.0
        self._last_stage: Any = object()
        self._drawn = False

    def __call__(self, status: Mapping[str, Any]) -> None:
        try:
            line = render(status, bar=not self.plain)
        except Exception as exc:  # a view must never break the run it shows
            line = f"(progress unavailable: {exc})"
        if self.plain:
            now = time.monotonic()
            stage = status.get("stage_index")
            if stage != self._last_stage or now - self._last_line_at >= PLAIN_EVERY_S:
                self._last_stage, self._last_line_at = stage, now
                print(line, file=self.stream, flush=True)
            return
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """End the redrawn line so later output starts on a fresh one."""
        if self._drawn and not self.plain:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
