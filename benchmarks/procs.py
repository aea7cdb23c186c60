"""Processes for benchmarks: pinned to a core, CPU-accounted, always bounded and stopped.

CPU time comes from the kernel (psutil reads /proc/<pid>/stat), summed over a process
and its children, so a generator's cost is what it really burned, not what it reports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

STOP_GRACE_S = 10.0
SAMPLE_INTERVAL_S = 0.2
#: the machine has two cores: the target gets one, the generator the other
TARGET_CPU = 0
GENERATOR_CPU = 1


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def pinned(argv: Sequence[str], cpu: int | None) -> list[str]:
    """`argv` under ``taskset -c cpu`` (when there is such a core and taskset exists)."""
    if cpu is None or cpu >= cpu_count() or shutil.which("taskset") is None:
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.Popen:
    """Start a process in its own session, output to `log` (replaced)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> int | None:
    """Signal the process; kill it after `STOP_GRACE_S`. Returns its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_GRACE_S)
    return proc.returncode


def wait(proc: subprocess.Popen, timeout_s: float) -> int | None:
    """Wait up to `timeout_s`, then stop it: no benchmark process outlives its budget."""
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return stop(proc)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (0 when gone)."""
    try:
        proc = psutil.Process(pid)
        total = sum(proc.cpu_times()[:2])
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += sum(child.cpu_times()[:2])
        return total
    except psutil.Error:
        return 0.0


@dataclass(frozen=True)
class Sample:
    """One instant: wall clock, CPU seconds of the watched processes, a counter."""

    wall: float
    cpu_s: float
    count: int


class Sampler:
    """Samples CPU time of some processes and a counter every `SAMPLE_INTERVAL_S`.

    Windows are read afterwards with `window(start, end)`, so a benchmark can cut a run
    into stages after it knows when each began.
    """

    def __init__(self, pids: Callable[[], Sequence[int]], counter: Callable[[], int]) -> None:
        self._pids = pids
        self._counter = counter
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def take(self) -> Sample:
        sample = Sample(
            wall=time.time(),
            cpu_s=sum(cpu_seconds(p) for p in self._pids()),
            count=self._counter(),
        )
        self.samples.append(sample)
        return sample

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                self.take()
            self._stop.wait(SAMPLE_INTERVAL_S)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def nearest(self, wall: float) -> Sample:
        return min(self.samples, key=lambda s: abs(s.wall - wall))

    def window(self, start: float, end: float) -> tuple[float, float, int]:
        """(seconds, CPU seconds, counter increase) between the samples nearest start/end."""
        a, b = self.nearest(start), self.nearest(end)
        return b.wall - a.wall, b.cpu_s - a.cpu_s, b.count - a.count


def wait_for(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return False


@contextlib.contextmanager
def running(proc: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Always stop `proc` when the block ends, however it ends."""
    try:
        yield proc
    finally:
        stop(proc)
