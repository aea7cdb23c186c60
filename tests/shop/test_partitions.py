"""Partition write capacity (token buckets), throttling and write sharding."""

from __future__ import annotations

import random

import pytest

from surge.shop.partitions import ShardedStock, TokenBucket, WriteOutcome


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def accepted_over(stock: ShardedStock, clock: FakeClock, seconds: float, offered: float) -> int:
    """Offer ``offered`` buys/s of 1 unit for ``seconds``; count the accepted ones."""
    done = 0
    for _ in range(int(seconds * offered)):
        clock.now += 1.0 / offered
        done += stock.buy(1) is WriteOutcome.DONE
    return done


def test_bucket_allows_burst_then_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.1
    assert bucket.take() is True
    assert bucket.take() is False


@pytest.mark.parametrize("capacity", [50.0, 1000.0])
def test_throttled_rate_matches_the_write_capacity(capacity):
    clock = FakeClock()
    stock = ShardedStock(10**9, write_capacity=capacity, burst=1, clock=clock)
    accepted = accepted_over(stock, clock, seconds=10, offered=capacity * 4)
    assert accepted == pytest.approx(capacity * 10, rel=0.10)


@pytest.mark.parametrize("shards", [2, 4])
def test_sharding_multiplies_the_write_capacity(shards):
    clock = FakeClock()
    stock = ShardedStock(
        10**9, shards=shards, write_capacity=100, burst=1, rng=random.Random(3), clock=clock
    )
    accepted = accepted_over(stock, clock, seconds=10, offered=100 * shards * 4)
    assert accepted == pytest.approx(100 * shards * 10, rel=0.10)


def test_sharded_stock_is_split_exactly_and_never_oversold():
    stock = ShardedStock(10, shards=4, rng=random.Random(7))
    assert stock.shards == [3, 3, 2, 2]
    sold = 0
    rng = random.Random(8)
    while True:
        quantity = rng.randint(1, 4)
        outcome = stock.buy(quantity)
        if outcome is WriteOutcome.OUT_OF_STOCK:
            assert quantity > stock.total
            if stock.total == 0:
                break
            continue
        assert outcome is WriteOutcome.DONE
        sold += quantity
        assert min(stock.shards) >= 0
    assert sold == 10


def test_a_buy_spanning_shards_takes_from_several_keys():
    stock = ShardedStock(4, shards=4)  # one unit per key
    assert stock.buy(3) is WriteOutcome.DONE
    assert stock.total == 1 and sorted(stock.shards) == [0, 0, 0, 1]


def test_a_throttled_buy_takes_no_stock():
    clock = FakeClock()
    stock = ShardedStock(5, write_capacity=1, burst=1, clock=clock)
    assert stock.buy(1) is WriteOutcome.DONE
    assert stock.buy(1) is WriteOutcome.THROTTLED
    assert stock.total == 4
