"""Exact value histograms for many groups: what makes report memory independent of run size.

Latencies are integer microseconds, so a group's distribution is exactly its
(value -> count) table. Its size is bounded by the distinct values (a few hundred
thousand for latencies up to seconds), not by the number of requests: a stage of 432
million requests takes the same memory as one of 4 million. Nearest-rank percentiles
read from the counts are the same values a sort of every request would give
(`analysis.percentiles.nearest_rank`).

Keys are packed ``group << VALUE_BITS | value`` into one int64; batches are kept raw
until `MERGE_AT` keys are pending, then sorted once (a plain sort, no argsort) and
merged into the sorted table by binary search.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from surge.analysis.percentiles import PERCENTILES, GroupStats, nearest_rank

VALUE_BITS = 40  # values up to 2**40 us (12 days): any latency
VALUE_MASK = (1 << VALUE_BITS) - 1
MAX_GROUPS = 1 << (63 - VALUE_BITS)  # group ids stay below this (8 million)
MERGE_AT = 1 << 21  # pending raw keys (16 MB) sorted into the table beyond this


class TooManyGroups(ValueError):
    """More groups than a packed key holds (millions of endpoints x stages)."""


class ValueCounts:
    """(group, value) -> count over many batches; `stats` gives counts, sums and exact
    nearest-rank percentiles per group."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, np.int64)
        self.counts = np.zeros(0, np.int64)
        self._pending: list[np.ndarray] = []  # raw keys, sorted into the table in bulk
        self._pending_n = 0

    def add(self, groups: np.ndarray, values: np.ndarray) -> None:
        """Count each (group, value) pair; a negative group or value is left out."""
        groups = np.asarray(groups)
        values = np.asarray(values)
        keep = (groups >= 0) & (values >= 0)
        if not keep.all():
            groups, values = groups[keep], values[keep]
        if not len(values):
            return
        if int(groups.max()) >= MAX_GROUPS:
            raise TooManyGroups(f"group id {int(groups.max())} too large for a value histogram")
        keys = groups.astype(np.int64) << VALUE_BITS
        keys |= np.minimum(values.astype(np.int64, copy=False), VALUE_MASK)
        self._pending.append(keys)
        self._pending_n += len(keys)
        if self._pending_n > MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        """Pending raw keys: one sort (no argsort), run lengths, then a sorted insert into
        the table (`searchsorted`: the table is sorted and its keys unique)."""
        if not self._pending:
            return
        raw = np.concatenate(self._pending)
        self._pending, self._pending_n = [], 0
        raw.sort()
        starts = np.flatnonzero(np.concatenate(([True], raw[1:] != raw[:-1])))
        keys = raw[starts]
        counts = np.diff(np.append(starts, len(raw))).astype(np.int64)
        self._insert(keys, counts)

    def _insert(self, keys: np.ndarray, counts: np.ndarray) -> None:
        if not len(self.keys):
            self.keys, self.counts = keys, counts
            return
        pos = np.searchsorted(self.keys, keys)
        found = pos < len(self.keys)
        found[found] = self.keys[pos[found]] == keys[found]
        self.counts[pos[found]] += counts[found]  # unique positions: plain fancy add
        new = ~found
        if new.any():
            self.keys = np.insert(self.keys, pos[new], keys[new])
            self.counts = np.insert(self.counts, pos[new], counts[new])

    def regroup(self, mapping: np.ndarray) -> ValueCounts:
        """The same values under coarser groups: group g counts as `mapping[g]` (-1: out)."""
        self._merge()
        out = ValueCounts()
        groups = self.keys >> VALUE_BITS
        target = np.full(len(groups), -1, np.int64)
        inside = groups < len(mapping)
        target[inside] = mapping[groups[inside]]
        keep = target >= 0
        keys = (target[keep] << VALUE_BITS) | (self.keys[keep] & VALUE_MASK)
        counts = self.counts[keep]
        kept = mapping[mapping >= 0]
        if np.any(np.diff(kept) <= 0):  # groups merge or reorder: sort (else still sorted)
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
        if len(keys):
            starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
            keys, counts = keys[starts], np.add.reduceat(counts, starts)
        out.keys, out.counts = keys, counts
        return out

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.counts.nbytes) + sum(k.nbytes for k in self._pending)

    def values_of(self, group: int) -> tuple[np.ndarray, np.ndarray]:
        """(ascending distinct values, their counts) of one group."""
        self._merge()
        lo, hi = np.searchsorted(self.keys, [group << VALUE_BITS, (group + 1) << VALUE_BITS])
        return self.keys[lo:hi] & VALUE_MASK, self.counts[lo:hi]

    def stats(self, n_groups: int, percentiles: Sequence[float] = PERCENTILES) -> GroupStats:
        """Per group 0..n_groups-1: counts, sums (float) and percentiles (NaN: empty)."""
        self._merge()
        groups = self.keys >> VALUE_BITS
        inside = groups < n_groups
        groups, keys, weights = groups[inside], self.keys[inside], self.counts[inside]
        values = keys & VALUE_MASK
        counts = np.bincount(groups, weights=weights, minlength=n_groups).astype(np.int64)
        # integer products summed in float64: exact below 2**53 us (285 years of latency)
        sums = np.bincount(groups, weights=values * weights, minlength=n_groups)
        out = np.full((n_groups, len(percentiles)), np.nan)
        present = counts > 0
        if present.any():
            cumulative = np.cumsum(weights)
            before = np.concatenate(([0], np.cumsum(counts)[:-1]))[present]
            for j, p in enumerate(percentiles):
                rank = before + nearest_rank(counts[present], p)  # global 0-based rank
                out[present, j] = values[np.searchsorted(cumulative, rank, side="right")]
        return GroupStats(counts=counts, sums=sums, percentiles=out)
