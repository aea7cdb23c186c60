"""`surge ... | head`: the reader leaving is not an internal error."""

from __future__ import annotations

import os
import subprocess
import sys

from surge.cli.main import EXIT_BROKEN_PIPE


def test_a_closed_stdout_ends_quietly_not_as_a_crash() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -0`: the reader is gone, every write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "surge", "cost", "--rps", "5000", "--hours", "24"],
            stdout=write_end, stderr=subprocess.PIPE, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert done.returncode == EXIT_BROKEN_PIPE, done.stderr
    assert b"internal error" not in done.stderr and b"Traceback" not in done.stderr
