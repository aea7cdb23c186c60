"""Exact value histograms for many groups: what makes report memory independent of run size.

Latencies are integer microseconds, so a group's distribution is exactly its
(value -> count) table. Its size is bounded by the distinct values (a few hundred
thousand per group for latencies up to seconds), not by the number of requests: a stage
of 432 million requests takes the same memory as one of 40 million. Nearest-rank
percentiles read from the counts are the values a sort of every request would give
(`analysis.percentiles.nearest_rank`).

One table entry is ONE int64, ``group << GROUP_SHIFT | value << VALUE_SHIFT | count``,
so that building the table is plain NumPy sorts (vectorised: ~10 ns a key) and linear
passes, never an argsort, an insert into the middle of a big array or a Python dict:

- a batch of rows becomes entries of count 1, kept raw until there are as many as the
  table has (or `MERGE_AT`), then sorted TOGETHER with the table and equal (group,
  value) entries summed (`_combine`): amortised O(log n) per row, memory at most about
  twice the table;
- a count above `MAX_COUNT` is split over several entries of the same (group, value),
  which percentile lookups treat as one (they work on cumulative counts);
- reading percentiles never copies the table: a group's count of values <= v is a
  binary search per group, so the percentiles of any union of groups (the whole run,
  a stage made of endpoint x stage cells) are a bisection over v, all at once.

Values above `MAX_VALUE` (4.7 hours in microseconds) count as `MAX_VALUE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from surge.analysis.percentiles import PERCENTILES, GroupStats, nearest_rank

VALUE_BITS = 34  # values up to 2**34 us (4.7 hours): any latency a request can have
GROUP_BITS = 16
COUNT_BITS = 63 - VALUE_BITS - GROUP_BITS  # 13: up to 8,191 per entry, more: more entries
VALUE_SHIFT = COUNT_BITS
GROUP_SHIFT = COUNT_BITS + VALUE_BITS
MAX_VALUE = (1 << VALUE_BITS) - 1
MAX_COUNT = (1 << COUNT_BITS) - 1
MAX_GROUPS = 1 << GROUP_BITS  # group ids stay below this (65,536 endpoint x stage cells)
MERGE_AT = 1 << 24  # raw entries (128 MB) held at least before a merge


class TooManyGroups(ValueError):
    """More groups than a packed entry holds (tens of thousands of endpoints x stages)."""


class ValueCounts:
    """(group, value) -> count over many batches; `stats` gives counts, sums and exact
    nearest-rank percentiles per group, or per union of groups."""

    def __init__(self) -> None:
        self._keys = np.zeros(0, np.int64)  # the packed entries, sorted
        self._pending: list[np.ndarray] = []  # raw entries (count 1), merged in bulk
        self._pending_n = 0
        self._cumulative: _Cells | None = None  # per-group sums of the table (stats)

    @property
    def keys(self) -> np.ndarray:
        """The packed entries, sorted (everything added so far merged in)."""
        self.settle()
        return self._keys

    def settle(self) -> None:
        """Merge everything added so far (before reading: a sort, once)."""
        self._merge(combine=False)

    def prepare(self) -> None:
        """`settle`, and the per-group sums every read uses (ahead, in another thread)."""
        self._cells()

    def _cells(self) -> _Cells:
        keys = self.keys
        if self._cumulative is None:  # once per table, whatever the groupings read
            self._cumulative = _Cells.of(keys)
        return self._cumulative

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
        self.add_packed(group_prefix(groups), values)

    def add_packed(self, prefix: np.ndarray, values: np.ndarray) -> None:
        """`add` with the groups already packed (`group_prefix`, shared by histograms
        over the same rows); rows whose value is negative are left out."""
        if len(values) and int(values.min()) < 0:
            keep = values >= 0
            prefix, values = prefix[keep], values[keep]
        if not len(values):
            return
        entries = values.astype(np.int64)  # a copy, shifted in place
        if int(entries.max()) > MAX_VALUE:
            np.minimum(entries, MAX_VALUE, out=entries)
        entries <<= VALUE_SHIFT
        entries |= prefix
        self._pending.append(entries)
        self._pending_n += len(entries)
        if self._pending_n > max(MERGE_AT, len(self._keys)):
            self._merge(combine=True)

    def _merge(self, combine: bool) -> None:
        """Sort the pending entries into the table; `combine` sums equal entries (what
        bounds memory; a table read once at the end need not be)."""
        if not self._pending:
            return
        pieces = [self._keys, *self._pending]
        self._pending, self._pending_n = [], 0
        self._cumulative = None
        self._keys = _merged(pieces, combine)

    def binned(self, edges: np.ndarray) -> np.ndarray:
        """Counts of every group's values per bin [edges[i], edges[i+1]) (values below
        the first edge in the first bin): `np.histogram` of the values, from the
        cumulative counts (a binary search per group and edge, no pass over the table)."""
        keys = self.keys
        cells = self._cells()
        edges = np.asarray(edges, dtype=np.float64)
        # v >= e <=> v >= ceil(e) for an integer v; the last bin includes its right edge
        limits = np.concatenate((np.ceil(edges[1:-1]), [np.floor(edges[-1]) + 1]))
        limits = np.minimum(limits, MAX_VALUE + 1).astype(np.int64)
        below = np.zeros(len(limits), np.int64)
        for cell in np.flatnonzero(cells.counts):
            needles = (np.int64(cell) << GROUP_SHIFT) + (limits << VALUE_SHIFT)
            start = cells.cumulative[cells.bounds[cell]]
            below += cells.cumulative[np.searchsorted(keys, needles)] - start
        return np.diff(np.concatenate(([0], below)))

    def max_value(self) -> int | None:
        """The largest value of any group (None: no value)."""
        keys = self.keys
        cells = self._cells()
        filled = np.flatnonzero(cells.counts)
        if not len(filled):
            return None
        return int(((keys[cells.bounds[filled + 1] - 1] >> VALUE_SHIFT) & MAX_VALUE).max())

    @property
    def nbytes(self) -> int:
        return int(self._keys.nbytes) + sum(k.nbytes for k in self._pending)

    def values_of(
        self, group: int | None, mapping: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values, their counts) of one group (of `mapping`'s groups; None: every
        group), ascending within each original group; a value may come in several
        entries."""
        keys = self.keys
        if group is None:
            return (keys >> VALUE_SHIFT) & MAX_VALUE, keys & MAX_COUNT
        cells = keys >> GROUP_SHIFT
        if mapping is not None:
            cells = _lookup(mapping, int(cells.max()) + 1 if len(cells) else 0)[cells]
        chosen = keys[cells == group]
        return (chosen >> VALUE_SHIFT) & MAX_VALUE, chosen & MAX_COUNT

    def stats(
        self,
        n_groups: int,
        percentiles: Sequence[float] = PERCENTILES,
        mapping: np.ndarray | None = None,
    ) -> GroupStats:
        """Per group 0..n_groups-1 (of `mapping`'s groups when given: group g's values
        count in `mapping[g]`, -1 nowhere): counts, sums (float) and percentiles.

        No pass over the entries per grouping: a group's count of values <= v is, per
        original group in it, a binary search of the sorted entries, so each percentile
        is a bisection over v (`VALUE_BITS` steps) for all groups at once."""
        keys = self.keys
        cells = self._cells()
        cumulative, bounds = cells.cumulative, cells.bounds
        cell_counts, cell_sums, n_cells = cells.counts, cells.sums, len(cells.counts)
        target = np.arange(n_cells) if mapping is None else _lookup(mapping, n_cells)
        inside = np.flatnonzero((target >= 0) & (target < n_groups) & (cell_counts > 0))
        counts = np.bincount(target[inside], cell_counts[inside], minlength=n_groups)
        counts = counts[:n_groups].astype(np.int64)
        sums = np.bincount(target[inside], cell_sums[inside], minlength=n_groups)[:n_groups]
        out = np.full((n_groups, len(percentiles)), np.nan)
        present = np.flatnonzero(counts > 0)
        if len(present):
            ranks = np.stack([nearest_rank(counts[present], p) + 1 for p in percentiles], 1)
            found = _bisect(keys, cumulative, bounds, target[inside], inside, present, ranks)
            out[present] = found
        return GroupStats(counts=counts, sums=sums, percentiles=out)


@dataclass(frozen=True)
class _Cells:
    """What every grouping's stats read: counts summed along the table, and per
    original group its bounds in the table, count and sum of values."""

    cumulative: np.ndarray
    bounds: np.ndarray
    counts: np.ndarray
    sums: np.ndarray

    @classmethod
    def of(cls, keys: np.ndarray) -> _Cells:
        n_cells = int(keys[-1] >> GROUP_SHIFT) + 1 if len(keys) else 0
        weights = keys & MAX_COUNT
        cumulative = np.concatenate(([0], np.cumsum(weights)))
        bounds = np.searchsorted(keys, np.arange(n_cells + 1, dtype=np.int64) << GROUP_SHIFT)
        values = (keys >> VALUE_SHIFT) & MAX_VALUE
        values *= weights
        counts = cumulative[bounds[1:]] - cumulative[bounds[:-1]]
        sums = np.zeros(n_cells)
        filled = np.flatnonzero(counts > 0)  # empty groups take no room in the table
        if len(filled):
            sums[filled] = np.add.reduceat(values, bounds[filled])  # exact integer sums
        return cls(cumulative, bounds, counts, sums)


def _merged(pieces: list[np.ndarray], combine: bool) -> np.ndarray:
    merged = np.concatenate(pieces)
    del pieces[:]  # the pieces are freed as soon as they are copied
    merged.sort()  # sorted runs or raw keys: the vectorised quicksort either way
    return _combine(merged) if combine else merged


def group_prefix(groups: np.ndarray) -> np.ndarray:
    """Each row's group packed as an entry of count 1 (OR the value in: `add_packed`)."""
    prefix = groups.astype(np.int64)
    prefix <<= GROUP_SHIFT
    prefix |= 1
    return prefix


def _lookup(mapping: np.ndarray, n: int) -> np.ndarray:
    """`mapping` over groups 0..n-1 (-1 past its end)."""
    out = np.full(n, -1, np.int64)
    k = min(n, len(mapping))
    out[:k] = mapping[:k]
    return out


def _bisect(
    keys: np.ndarray,
    cumulative: np.ndarray,
    bounds: np.ndarray,
    cell_target: np.ndarray,
    cells: np.ndarray,
    groups: np.ndarray,
    ranks: np.ndarray,
) -> np.ndarray:
    """The smallest value v whose count of values <= v in the group reaches the rank, for
    every (group in `groups`, rank column): [len(groups), ranks.shape[1]] values."""
    n_q = ranks.size
    query_group = np.repeat(groups, ranks.shape[1])
    need = ranks.reshape(-1)
    # (query, cell) pairs: each query against every original group (cell) it unites
    by_group = np.argsort(cell_target, kind="stable")
    starts = np.searchsorted(cell_target[by_group], query_group)
    ends = np.searchsorted(cell_target[by_group], query_group, side="right")
    sizes = ends - starts
    pair_query = np.repeat(np.arange(n_q), sizes)
    offsets = np.arange(len(pair_query)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pair_cell = cells[by_group[np.repeat(starts, sizes) + offsets]]
    base = cumulative[bounds[pair_cell]]
    prefix = pair_cell.astype(np.int64) << GROUP_SHIFT
    lo = np.zeros(n_q, np.int64)
    hi = np.full(n_q, MAX_VALUE, np.int64)
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        needle = prefix | (mid[pair_query] << VALUE_SHIFT) | MAX_COUNT
        below = cumulative[np.searchsorted(keys, needle, side="right")] - base
        reached = np.bincount(pair_query, below, minlength=n_q) >= need
        hi = np.where(reached, mid, hi)
        lo = np.where(reached, lo, mid + 1)
    return lo.reshape(ranks.shape).astype(np.float64)


def _combine(entries: np.ndarray) -> np.ndarray:
    """Sorted entries -> one entry per (group, value) with the summed count (split over
    several entries above `MAX_COUNT`, the smaller first so the result stays sorted)."""
    if not len(entries):
        return entries
    ident = entries >> VALUE_SHIFT  # (group, value)
    first = np.empty(len(ident), np.bool_)
    first[0] = True
    np.not_equal(ident[1:], ident[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    if len(starts) == len(entries):
        return entries  # every (group, value) once already
    totals = np.add.reduceat(entries & MAX_COUNT, starts)
    ids = ident[starts]
    if int(totals.max()) <= MAX_COUNT:
        ids <<= VALUE_SHIFT
        ids |= totals
        return ids
    pieces = -(-totals // MAX_COUNT)
    out_ids = np.repeat(ids, pieces)
    counts = np.full(len(out_ids), MAX_COUNT, np.int64)
    counts[np.cumsum(pieces) - pieces] = totals - (pieces - 1) * MAX_COUNT
    return (out_ids << VALUE_SHIFT) | counts


DENSE_VALUES = 1 << 20  # one group's values below this (1 s in us) are counted densely


class OneGroupCounts:
    """One group's exact value counts (the send lag): values below `DENSE_VALUES` in a
    dense array (a bincount per batch, 8 MB at most), the rare larger ones in a
    `ValueCounts`."""

    def __init__(self) -> None:
        self.dense = np.zeros(0, np.int64)
        self.rest = ValueCounts()

    def add(self, values: np.ndarray) -> None:
        """Count each value; negative values are left out."""
        values = np.asarray(values)
        small = (values >= 0) & (values < DENSE_VALUES)
        counts = np.bincount(values[small])
        if len(counts) > len(self.dense):
            counts[: len(self.dense)] += self.dense
            self.dense = counts
        else:
            self.dense[: len(counts)] += counts
        large = values[values >= DENSE_VALUES]
        if len(large):
            self.rest.add(np.zeros(len(large), np.int64), large)

    def stats(self, percentiles: Sequence[float] = PERCENTILES) -> GroupStats:
        """Count, sum and percentiles, as `ValueCounts.stats` gives them for one group."""
        low = np.flatnonzero(self.dense)
        high, high_counts = self.rest.values_of(0)
        values = np.concatenate([low, high])  # ascending: every dense value is smaller
        weights = np.concatenate([self.dense[low], high_counts])
        n = int(weights.sum())
        out = np.full((1, len(percentiles)), np.nan)
        if n:
            cumulative = np.cumsum(weights)
            for j, p in enumerate(percentiles):
                rank = int(nearest_rank(np.array([n]), p)[0])
                out[0, j] = values[np.searchsorted(cumulative, rank, side="right")]
        total = float(np.dot(values.astype(np.float64), weights))
        return GroupStats(counts=np.array([n]), sums=np.array([total]), percentiles=out)
