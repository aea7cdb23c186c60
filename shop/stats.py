"""The server's own counters, so surge's measurements can be checked against them."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ShopStats:
    started_at: float = field(default_factory=time.time)
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    orders: int = 0
    units_sold: int = 0
    throttled_writes: int = 0  # buys answered 500 after the last attempt
    throttle_events: int = 0  # every throttled write attempt, as DynamoDB counts them
    errors_injected: int = 0
    stalled: int = 0
    sign_ins: int = 0
    sign_in_failures: int = 0
    token_rejections: Counter[str] = field(default_factory=Counter)

    def count(self, route: str, status: int) -> None:
        self.requests[(route, status)] += 1

    def as_dict(self) -> dict[str, Any]:
        by_route: dict[str, dict[str, int]] = {}
        for (route, status), n in sorted(self.requests.items()):
            by_route.setdefault(route, {})[str(status)] = n
        return {
            "started_at": self.started_at,
            "uptime_s": round(time.time() - self.started_at, 3),
            "requests": by_route,
            "requests_total": sum(self.requests.values()),
            "orders": self.orders,
            "units_sold": self.units_sold,
            "throttled": self.throttled_writes,
            "throttle_events": self.throttle_events,
            "errors_injected": self.errors_injected,
            "stalled": self.stalled,
            "sign_ins": self.sign_ins,
            "sign_in_failures": self.sign_in_failures,
            "token_rejections": dict(self.token_rejections),
        }
