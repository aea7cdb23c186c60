"""`surge run --ui`: a run driven from the web UI that still ends like any other run.

The web UI's master outlives the run (the engineer looks at the final state and the
report), so the run's end cannot be "the master exited". `run_local` calls `UIHold`
once ``status.json`` says the run is over, while the UI still serves: it builds the
report (the CLI's own, with ``--junit``/``--compare``; the master's view only waits for
it and links it), prints the verdict, then keeps the UI up until Enter or Ctrl-C.
That Ctrl-C ends the viewing, not the run, so the exit code stays the verdict's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from surge.errors import UsageError

DEFAULT_WEB_PORT = 8089
#: after the final status.json, time for workers to write their last parts (as the
#: master's report builder waits, `locustfiles.webui.report.SETTLE_S`)
SETTLE_S = 3.0


@dataclass(frozen=True)
class UIOptions:
    """The web UI and metrics settings of one local run, checked before anything starts."""

    ui: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = DEFAULT_WEB_PORT
    exit_when_done: bool = False
    metrics_port: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> UIOptions:
        """From `surge run`'s arguments; an unprotected off-loopback bind is exit 2."""
        from surge.locustfiles.webui.access import decide_bind

        ui_only = [
            flag
            for flag, value in (("--web-host", args.web_host), ("--web-port", args.web_port),
                                ("--ui-exit", args.ui_exit))
            if value
        ]  # fmt: skip
        if ui_only and not args.ui:
            raise UsageError(f"{', '.join(ui_only)} only apply with --ui", "surge run")
        if args.ui:
            decide_bind(args.web_host)  # raises UIAccessError (exit 2) without a login
        return cls(
            ui=args.ui,
            web_host=args.web_host or "127.0.0.1",
            web_port=args.web_port or DEFAULT_WEB_PORT,
            exit_when_done=args.ui_exit,
            metrics_port=args.metrics_port,
        )

    @property
    def url(self) -> str:
        host = self.web_host if self.web_host not in ("", "*", "0.0.0.0") else "127.0.0.1"
        return f"http://{host}:{self.web_port}"

    def local_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `provisioning.local.run_local` for these settings."""
        extra: list[str] = []
        if self.ui:
            extra.append("--surge-report-by-parent")  # one report, built by this CLI
        if self.metrics_port:
            extra += ["--surge-metrics-port", str(self.metrics_port)]
        kwargs: dict[str, Any] = {"extra_args": extra}
        if self.ui:
            kwargs.update(web_host=self.web_host, web_port=self.web_port)
        return kwargs


class UIHold:
    """Called by `run_local` once a UI run is over: report, print, wait for the user."""

    def __init__(
        self, *, options: UIOptions, report: Callable[[], Any], before: Callable[[], None],
        stream: TextIO, stdin: TextIO | None = None,
    ) -> None:  # fmt: skip
        self.options = options
        self.report = report
        self.before = before
        self.stream = stream
        self.stdin = stdin or sys.stdin
        self.outcome: Any = None

    def __call__(self) -> None:
        self.before()  # the live progress display ends with the run
        time.sleep(SETTLE_S)
        self.outcome = self.report()
        if self.options.exit_when_done:
            return
        print(
            f"the web UI stays up with the final state and the report: {self.options.url}/surge/"
            "\npress Enter (or Ctrl-C) to quit",
            file=self.stream,
            flush=True,
        )
        # Ctrl-C ends the viewing, so the verdict's exit code stands; EOF (no terminal,
        # CI) returns at once
        with contextlib.suppress(KeyboardInterrupt):
            self.stdin.readline()
