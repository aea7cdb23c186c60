"""Stock stored in DynamoDB-like partitions: write capacity, throttling and sharding.

Each product's stock lives under one key, i.e. one partition, whose writes are
limited by a token bucket (like DynamoDB's per-partition limit). Write sharding
(the fix the original team proposed) spreads the stock over K keys, each with
its own bucket: K times the capacity, with the total still exact.

Everything here is synchronous and runs on the event loop's one thread, so a
check-and-decrement is atomic by construction: there is no await between them.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable

#: burst a bucket allows when none is configured, in seconds of capacity
DEFAULT_BURST_SECONDS = 0.1
#: refills are sums of float fractions; 0.1 s at 10/s must count as one whole token
_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens per second, holding at most ``burst`` (starts full)."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def available(self) -> bool:
        self._refill()
        return self._tokens >= 1.0 - _EPSILON

    def take(self) -> bool:
        """Consume one write if the bucket allows it."""
        self._refill()
        if self._tokens < 1.0 - _EPSILON:
            return False
        self._tokens -= 1.0
        return True


class WriteOutcome(enum.Enum):
    DONE = "done"
    OUT_OF_STOCK = "out_of_stock"
    THROTTLED = "throttled"


class ShardedStock:
    """One product's stock over ``shards`` keys, each with its own write capacity.

    ``write_capacity`` is per key in writes/s; ``None`` means unlimited.
    """

    def __init__(
        self,
        stock: int,
        *,
        shards: int = 1,
        write_capacity: float | None = None,
        burst: float | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        base, extra = divmod(stock, shards)
        self.shards = [base + (1 if i < extra else 0) for i in range(shards)]
        if write_capacity is None:
            self.buckets: list[TokenBucket] | None = None
        else:
            size = burst if burst is not None else max(1.0, write_capacity * DEFAULT_BURST_SECONDS)
            self.buckets = [TokenBucket(write_capacity, size, clock) for _ in range(shards)]
        self._rng = rng or random.Random()

    @property
    def total(self) -> int:
        return sum(self.shards)

    def buy(self, quantity: int) -> WriteOutcome:
        """Take ``quantity`` units, or nothing.

        Like a sharded writer that moves on to another key when one is
        throttled, pick a random key that holds enough and has write capacity
        left; the buy is throttled only when every such key is. If no single
        key holds enough but the keys together do, take from several keys in
        one transaction (each key written costs that key one write).
        """
        if quantity > self.total:
            return WriteOutcome.OUT_OF_STOCK
        candidates = [i for i, units in enumerate(self.shards) if units >= quantity]
        if candidates:
            writable = [i for i in candidates if self._writable(i)]
            if not writable:
                return WriteOutcome.THROTTLED
            plan = {self._rng.choice(writable): quantity}
        else:
            plan = self._spread(quantity)
            if not all(self._writable(i) for i in plan):
                return WriteOutcome.THROTTLED
        if self.buckets is not None:
            for i in plan:
                self.buckets[i].take()
        for i, units in plan.items():
            self.shards[i] -= units
        return WriteOutcome.DONE

    def _writable(self, shard: int) -> bool:
        return self.buckets is None or self.buckets[shard].available()

    def _spread(self, quantity: int) -> dict[int, int]:
        plan: dict[int, int] = {}
        order = list(range(len(self.shards)))
        self._rng.shuffle(order)
        for i in order:
            if quantity == 0:
                break
            units = min(quantity, self.shards[i])
            if units:
                plan[i] = units
                quantity -= units
        return plan
