"""Is the target there before any load? An unreachable target is exit 4, not a report.

Without this look, a run against a port where nothing listens records every request as
`ConnectionRefusedError` within a millisecond, meets a latency-only service level and
passes (exit 0) with 0 % success. The README's exit-code table promises exit 4 for a
target unreachable at start: one TCP connection (name lookup included) decides it. Only
reachability is judged; what the target answers is the run's business.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from surge.errors import InfrastructureError
from surge.schedule import Schedule

CONNECT_TIMEOUT_S = 5.0  # a slow handshake is the run's to measure; this catches "nothing there"


def check_target(schedule: Schedule, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise `InfrastructureError` (exit 4) when no TCP connection to the target opens."""
    parts = urlsplit(schedule.target)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        if isinstance(exc, TimeoutError | socket.timeout):
            why = f"no answer within {timeout_s:g} s"
        raise InfrastructureError(
            f"target unreachable at start: {host}:{port} ({why}); nothing was sent",
            schedule.target,
        ) from None
