"""Python's cyclic garbage collector kept out of the send path of a run.

A full (generation 2) collection walks every tracked object of the process; with Locust,
gevent, pyarrow and pandas loaded that is ~100,000 objects and 60-150 ms of CPU on the
benchmark machine, during which no greenlet runs: every arrival due meanwhile is sent
that much late. Measured in benchmark 1 (`python -m benchmarks --only generator`,
gc.callbacks timing), such pauses fell every 2-6 s and decided which staircase steps
failed on send lag, at 50-70 % CPU.

`settle` runs before the first arrival: one collection of what start-up left, then
``gc.freeze()`` moves every surviving object (modules, classes, Locust's environment) to
the permanent generation, which later collections never walk. Objects made during the
run are still collected as usual, so a scenario that leaks cycles is not left to grow;
`release` hands the frozen objects back to the collector when the run's dispatcher ends
(tests run many dispatchers in one process).
"""

from __future__ import annotations

import gc
import logging
import time

logger = logging.getLogger(__name__)

_frozen = 0  # dispatchers running on a frozen heap (this process)


def settle() -> None:
    """Collect start-up's garbage once and freeze what survives (before the first arrival)."""
    global _frozen
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    _frozen += 1
    logger.debug(
        "heap settled: %d objects frozen in %.0f ms",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )


def release() -> None:
    """The run is over: frozen objects are the collector's again (last dispatcher out)."""
    global _frozen
    if _frozen <= 0:
        return
    _frozen -= 1
    if _frozen == 0:
        gc.unfreeze()
