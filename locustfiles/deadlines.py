"""Request deadlines for a whole process, enforced by one sweeper greenlet.

surge's HTTP client (`locustfiles.client`) gives every request one deadline covering
connect, send and the whole response. A gevent.Timeout per request would mean a libev
timer created, started and closed for each one, which measured ~6 % of a request's CPU
on the hot path; here a request only enters and leaves a dict.
"""

from __future__ import annotations

import time

import gevent


class Deadline(BaseException):
    """Thrown into a request's greenlet when its time is up (BaseException, like
    gevent.Timeout, so a scenario's ``except Exception`` cannot swallow it)."""

    __slots__ = ("due", "greenlet")


class Deadlines:
    """Every in-flight request's deadline in the process, enforced by one sweeper.

    A gevent.Timeout per request means a libev timer created, started and closed for
    each one (~6 % of the CPU of a request on the hot path). Here a request only enters
    and leaves a dict. The sweeper sleeps until the earliest deadline (at least
    `SWEEP_S`, so a timeout fires up to that much late) and is woken early only when a
    request with a nearer deadline arrives; an idle generator is not woken at all. The
    throw goes through the hub and checks again there that the request is still in
    flight, so it can never land in a greenlet that has already moved on.
    """

    SWEEP_S = 0.05

    def __init__(self) -> None:
        self._pending: dict[Deadline, None] = {}  # insertion-ordered set
        self._sweeper: gevent.Greenlet | None = None
        self._wake_at = 0.0  # monotonic time the sweeper sleeps until

    def add(self, deadline: Deadline, seconds: float) -> None:
        deadline.due = due = time.monotonic() + seconds
        deadline.greenlet = gevent.getcurrent()
        self._pending[deadline] = None
        if self._sweeper is None or self._sweeper.dead:
            self._sweeper = gevent.spawn(self._sweep)
        elif due + self.SWEEP_S < self._wake_at:  # sooner than the sweeper will look
            self._sweeper.kill(block=False)
            self._sweeper = gevent.spawn(self._sweep)

    def discard(self, deadline: Deadline) -> None:
        self._pending.pop(deadline, None)

    def _sweep(self) -> None:
        run_callback = gevent.get_hub().loop.run_callback
        while self._pending:
            now = time.monotonic()
            upcoming = None
            for deadline in list(self._pending):
                if deadline.due <= now:
                    run_callback(self._expire, deadline)
                elif upcoming is None or deadline.due < upcoming:
                    upcoming = deadline.due
            wait = self.SWEEP_S if upcoming is None else max(self.SWEEP_S, upcoming - now)
            self._wake_at = now + wait
            gevent.sleep(wait)

    def _expire(self, deadline: Deadline) -> None:
        if deadline in self._pending:  # still waiting inside its request
            del self._pending[deadline]
            deadline.greenlet.throw(deadline)


DEADLINES = Deadlines()
