"""Fixtures for the CLI tests: the real staircase demo, run once per session.

The demo takes about two minutes; the staircase tests and the search demo's
comparison (which needs a staircase run beside it as its baseline) share one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from surge.cli.demo import run_demo


@dataclass(frozen=True)
class DemoRun:
    code: int  # the demo's exit code
    out_dir: Path  # where its run directory is (demo-staircase-*)
    run_dir: Path


@pytest.fixture(scope="session")
def staircase_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    out = tmp_path_factory.mktemp("demo")
    code = run_demo(out_dir=out)
    (run_dir,) = out.glob("demo-staircase-*")
    return DemoRun(code=code, out_dir=out, run_dir=run_dir)
