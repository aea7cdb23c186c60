"""The products and their stock, with the product listing cached as JSON bytes.

The listing is the hot path (`GET /products`), so it is encoded once and again
only after a stock change.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from surge.shop.partitions import ShardedStock, WriteOutcome

_NAMES = (
    "Espresso machine",
    "Winter jacket",
    "Noise-cancelling headphones",
    "Running shoes",
    "Cast-iron pan",
    "Mechanical keyboard",
    "Board game",
    "Smart watch",
    "Backpack",
    "Desk lamp",
)


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    price: float


def make_products(count: int) -> list[Product]:
    """Products ``1``..``count``: fixed names and prices so runs are comparable."""
    products = []
    for i in range(1, count + 1):
        base = _NAMES[(i - 1) % len(_NAMES)]
        name = base if i <= len(_NAMES) else f"{base} #{(i - 1) // len(_NAMES) + 1}"
        products.append(Product(str(i), name, round(9.99 + 10 * ((i * 7) % 23), 2)))
    return products


class Catalog:
    """Products, each with its sharded stock."""

    def __init__(
        self,
        products: list[Product],
        *,
        stock: int,
        shards: int,
        write_capacity: float | None,
        write_burst: float | None,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.products = {p.id: p for p in products}
        self.stock = {
            p.id: ShardedStock(
                stock,
                shards=shards,
                write_capacity=write_capacity,
                burst=write_burst,
                rng=rng,
                clock=clock,
            )
            for p in products
        }
        self._listing: bytes | None = None

    def as_dict(self, product_id: str) -> dict[str, Any]:
        p = self.products[product_id]
        return {"id": p.id, "name": p.name, "price": p.price, "stock": self.stock[p.id].total}

    def listing(self) -> bytes:
        if self._listing is None:
            items = [self.as_dict(pid) for pid in self.products]
            self._listing = json.dumps({"products": items}, separators=(",", ":")).encode()
        return self._listing

    def buy(self, product_id: str, quantity: int) -> WriteOutcome:
        outcome = self.stock[product_id].buy(quantity)
        if outcome is WriteOutcome.DONE:
            self._listing = None
        return outcome

    def stock_levels(self) -> dict[str, int]:
        return {pid: s.total for pid, s in self.stock.items()}
