"""A Lambda-like concurrency model: warm instances, cold starts, idle expiry, a limit.

Each function (list, buy) keeps its own pool of execution environments; the
concurrency limit is shared, like an account's. A request takes a warm idle
instance if there is one; otherwise it starts a new instance and pays the init
delay. Instances idle for longer than the idle timeout are reclaimed. Beyond the
limit the request is refused, which API Gateway surfaces as 429.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Instance:
    function: str
    last_used: float


class AccountConcurrency:
    """Instances in use (busy or initialising) over all functions, against an optional limit."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.in_use = 0
        self.peak = 0

    def try_reserve(self) -> bool:
        if self.limit is not None and self.in_use >= self.limit:
            return False
        self.in_use += 1
        self.peak = max(self.peak, self.in_use)
        return True

    def release(self) -> None:
        self.in_use -= 1


class FunctionPool:
    """The execution environments of one function."""

    def __init__(
        self,
        function: str,
        *,
        cold_start_s: float,
        idle_timeout_s: float,
        account: AccountConcurrency,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.function = function
        self.cold_start_s = cold_start_s
        self.idle_timeout_s = idle_timeout_s
        self.account = account
        self._clock = clock
        self._idle: list[Instance] = []  # most recently used last
        self.cold_starts = 0
        self.throttled = 0

    @property
    def warm(self) -> int:
        self._reclaim_idle()
        return len(self._idle)

    def _reclaim_idle(self) -> None:
        horizon = self._clock() - self.idle_timeout_s
        self._idle = [inst for inst in self._idle if inst.last_used > horizon]

    async def acquire(self) -> Instance | None:
        """An instance to run one request on, or None when the concurrency limit refuses."""
        if not self.account.try_reserve():
            self.throttled += 1
            return None
        self._reclaim_idle()
        if self._idle:
            return self._idle.pop()
        self.cold_starts += 1
        try:
            if self.cold_start_s > 0:
                await asyncio.sleep(self.cold_start_s)
        except BaseException:
            self.account.release()
            raise
        return Instance(self.function, self._clock())

    def release(self, instance: Instance) -> None:
        instance.last_used = self._clock()
        self._idle.append(instance)
        self.account.release()
