"""One benchmark's section of RESULTS.md, written or kept without rewriting the rest.

`record.write` renders the whole record from the benchmarks of one run. An opt-in
benchmark that takes an hour (the memory soak) runs alone, so its section is spliced
into the existing record instead (`upsert`), and a full `make bench`, which does not run
it, carries the last one over (`carried` before, `append` after writing).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from benchmarks import record
from benchmarks.harness import BenchResult


def _bounds(lines: list[str], title: str) -> tuple[int, int] | None:
    """[start, end) of the `## title` section: up to the next `## ` heading or the end."""
    heading = f"## {title}"
    try:
        start = lines.index(heading)
    except ValueError:
        return None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, end


def section(text: str, title: str) -> str | None:
    """The `## title` section of a record (heading included), None when absent."""
    lines = text.splitlines()
    found = _bounds(lines, title)
    if found is None:
        return None
    return "\n".join(lines[found[0] : found[1]]).rstrip() + "\n"


def render(result: BenchResult, invocation: str) -> str:
    """`result` as a record section, with its own date and command (the record's header
    describes another run)."""
    whole = record.render(
        machine={}, started="", invocation="", quick=False, repeats=1, results=[result]
    )
    body = section(whole, result.title) or f"## {result.title}\n"
    heading, _, rest = body.partition("\n")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M")
    stamp = f"_Run on its own (not part of `make bench`), finished {when} UTC: `{invocation}`._"
    return f"{heading}\n\n{stamp}\n{rest}"


def upsert(
    path: Path, result: BenchResult, invocation: str = "python -m benchmarks --only soak"
) -> None:
    """Replace (or append) `result`'s section in the record at `path`; the rest is kept."""
    new = render(result, invocation).rstrip().splitlines()
    lines = path.read_text().splitlines() if path.exists() else []
    found = _bounds(lines, result.title)
    if found is None:
        lines = [*lines, "", *new] if lines else new
    else:
        lines = [*lines[: found[0]], *new, "", *lines[found[1] :]]
    path.write_text("\n".join(lines).rstrip() + "\n")


def carried(path: Path, titles: Sequence[str]) -> list[str]:
    """The sections of `titles` in the record at `path` now (before it is rewritten)."""
    text = path.read_text() if path.exists() else ""
    return [s for s in (section(text, t) for t in titles) if s]


def append(path: Path, kept: Sequence[str]) -> None:
    """Append sections carried over from the previous record, if any."""
    if kept:
        path.write_text(path.read_text().rstrip() + "\n\n" + "\n".join(kept))
