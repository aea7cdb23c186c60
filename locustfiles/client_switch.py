"""Users switched to Locust's own client at call time, counted for the manifest and the run.

A class on surge's client (`locustfiles.compat`) that calls what surge's client does not
support (``files=`` multipart, ``stream=True``, proxies, a mounted adapter...) is moved,
user by user, to Locust's own client: correct, but slower, so the run's figures come from
another client than the one `surge schedule validate` announced. A worker log line was
the only trace; now each worker counts the switches per (class, reason) and sends the
counts since its last report in its health message (``client_switches``), and the master
adds them up, logs the first of each kind as it arrives, and writes them into the
manifest's ``scenario_client`` as ``switched`` (``[{user_class, why, users}]``), where
`surge run` / `surge report` (`cli.task_errors.client_switch_lines`) and the report read
them. Light: no Locust import (the CLI reads the manifest side).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

#: distinct (class, reason) pairs kept: the reasons come from a fixed list, this is a guard
MAX_KINDS = 20
#: the manifest's ``scenario_client`` key holding the switches
SWITCHED = "switched"


class SwitchCounter:
    """The worker's side: `record` per switched user; `take` the counts since last time."""

    def __init__(self) -> None:
        self._new: collections.Counter[tuple[str, str]] = collections.Counter()

    def record(self, user_class: str, why: str) -> None:
        key = (user_class, why)
        if key in self._new or len(self._new) < MAX_KINDS:
            self._new[key] += 1

    def take(self) -> list[dict[str, Any]]:
        """Switches since the last call, as the health message carries them."""
        if not self._new:
            return []
        new, self._new = self._new, collections.Counter()
        return [{"user_class": c, "why": w, "users": n} for (c, w), n in new.items()]


#: this process's switches (`compat.CompatSession._switch` records, the worker takes)
SWITCHES = SwitchCounter()


class SwitchTotals:
    """The master's side: the fleet's switches summed from the workers' health messages."""

    def __init__(self) -> None:
        self._users: collections.Counter[tuple[str, str]] = collections.Counter()

    def add(self, rows: Iterable[Mapping[str, Any]] | None) -> None:
        for row in rows or ():
            key = (str(row.get("user_class", "")), str(row.get("why", "")))
            if key not in self._users:
                if len(self._users) >= MAX_KINDS:
                    continue
                logger.warning("scenario: %s", switch_line(*key, None))  # as it happens
            self._users[key] += int(row.get("users") or 0)

    def annotate(self, scenario_client: dict[str, Any] | None) -> dict[str, Any] | None:
        """The manifest's ``scenario_client`` with the switches under ``switched``."""
        if not self._users:
            return scenario_client
        rows = [{"user_class": c, "why": w, "users": n} for (c, w), n in self._users.most_common()]
        return {**(scenario_client or {}), SWITCHED: rows}


def switch_line(user_class: str, why: str, users: int | None) -> str:
    """One line saying who moved to Locust's client and why (run log, terminal)."""
    count = "" if users is None else f" ({users:,} user{'s' if users != 1 else ''})"
    return (
        f"{user_class} switched to Locust's own client{count}: it uses {why}, which "
        "surge's client does not support (requests stay correct; that client is slower)"
    )


def switch_lines(scenario_client: Mapping[str, Any] | None) -> list[str]:
    """The manifest's recorded switches as lines (none for runs without any)."""
    rows = (scenario_client or {}).get(SWITCHED) or []
    return [
        switch_line(str(r.get("user_class")), str(r.get("why")), int(r.get("users") or 0))
        for r in rows
        if isinstance(r, Mapping)
    ]
