"""What the benchmarks ran on: CPU model, cores, kernel, Python, Locust, tool versions."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _tool(argv: list[str], pattern: str) -> str:
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        return "not installed"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(pattern, done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def describe() -> dict[str, str]:
    """The facts RESULTS.md opens with, so a reader can tell machines apart."""
    load1, load5, _ = os.getloadavg()
    return {
        "cpu": cpu_model(),
        "cores": f"{len(os.sched_getaffinity(0))} usable, {psutil.cpu_count(False)} physical",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "locust": _package("locust"),
        "surge": _package("surge"),
        "wrk": _tool(["wrk", "--version"], r"wrk (\S+)"),
        "nginx": _tool(["/usr/sbin/nginx", "-v"], r"nginx/([\w.]+)"),
        "openssl": _tool(["openssl", "version"], r"OpenSSL ([\w.]+)"),
        "load average at start": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
    }
