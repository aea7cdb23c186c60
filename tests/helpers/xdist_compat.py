"""What pytest-xdist needs to run this suite on workers (`make test`: -n 3 --dist loadgroup).

Two things break it here, both fixed in the worker process only (nothing changes in a
plain `pytest` run):

1. gevent. An xdist worker receives its tests on execnet's own reading thread, started
   before the worker imports tests/conftest.py, and hands them to the main thread through
   a queue guarded by ``execmodel.Event()``/``RLock()``. Those come from ``threading`` at
   call time, so after Locust's ``monkey.patch_all()`` they are gevent's: set from the
   reading (OS) thread, the main thread's wait never wakes and the worker dies with
   ``LoopExit: This operation would block forever``. The execmodel here hands out
   primitives on the OS's own locks instead. The main thread only waits on them between
   tests, when no greenlet of a test is meant to be running.
2. ``--dist loadgroup`` on pytest >= 9.2. xdist (3.8) sends a group's tests to one worker
   by renaming each marked test ``<nodeid>@<group>`` through ``item._nodeid``, which
   pytest 9.2 no longer reads (the id is ``item._id``, a NodeId): the groups are silently
   ignored. `add_group_suffixes` does the renaming where pytest now keeps the id.

And one scheduling choice, `integration_first`: xdist hands out the groups first (most
tests first), then single tests in collection order, up to three queued per worker.
Putting the integration tests (seconds to a minute each) before the unit tests (a few
hundred, milliseconds each) lets the quick ones fill the end evenly, instead of one
worker finishing three fleet runs alone while the others idle.
"""

from __future__ import annotations

import os
from typing import Any

import pytest


class NativeEvent:
    """``threading.Event`` on OS locks: the gate is held while the event is clear."""

    def __init__(self, allocate_lock: Any) -> None:
        self._guard = allocate_lock()
        self._gate = allocate_lock()
        self._gate.acquire()
        self._flag = False

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._guard:
            if not self._flag:
                self._flag = True
                self._gate.release()

    def clear(self) -> None:
        with self._guard:
            if self._flag:
                self._flag = False
                self._gate.acquire()

    def wait(self, timeout: float | None = None) -> bool:
        if self._gate.acquire(timeout=-1 if timeout is None else timeout):
            self._gate.release()
        return self._flag


def in_xdist_worker() -> bool:
    return bool(os.environ.get("PYTEST_XDIST_WORKER"))


def use_native_locks_in_xdist_worker() -> None:
    """In an xdist worker (nothing elsewhere): execnet's execmodel on OS locks."""
    if not in_xdist_worker():
        return
    import execnet.gateway_base
    from gevent import monkey

    allocate_lock = monkey.get_original("_thread", "allocate_lock")
    native_rlock = monkey.get_original("_thread", "RLock")
    model = execnet.gateway_base.MainThreadOnlyExecModel
    model.Event = lambda self: NativeEvent(allocate_lock)  # type: ignore[method-assign]
    model.RLock = lambda self: native_rlock()  # type: ignore[method-assign]


def add_group_suffixes(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``<nodeid>@<group>`` for tests marked xdist_group, as xdist's loadgroup expects."""
    if not (in_xdist_worker() and config.getvalue("loadgroup")):
        return
    try:
        from _pytest.nodeid import NodeId  # pytest >= 9.2
    except ImportError:  # an older pytest: xdist's own renaming works
        return

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})  # fmt: skip
        if names and "@" not in item.nodeid:  # (an xdist that did it already: leave it)
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")  # type: ignore[attr-defined]


def integration_first(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist only: integration tests before unit tests (each in collection order)."""
    if in_xdist_worker() and config.getvalue("loadgroup"):
        items.sort(key=lambda item: item.get_closest_marker("integration") is None)
