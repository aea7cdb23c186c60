"""`surge calibrate`: how many requests per second one core sends with *this* scenario.

Terraform sizes a fleet as ``target_rps x (1 + headroom) / (rps_per_vcpu x vCPUs)``;
the default ``rps_per_vcpu`` was measured with the shop scenario. A heavier scenario
(more parsing, bigger bodies, more Python per task) sends fewer, so the user measures
their own: the schedule's scenario runs in one Locust process pinned to one core,
offered a steep ramp far beyond what a core can send, for a short bounded time,
against the schedule's own target (`allow_hosts` enforced as in any run). The
capacity is the median of the generator's per-second sends while its CPU was
saturated; when it never saturated, the target was the limit and the figure is a
lower bound, which the result says.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from surge.errors import SurgeError
from surge.provisioning.local import run_local
from surge.provisioning.scenario import local_scenario
from surge.results import make_run_id, read_health
from surge.schedule import load_schedule
from surge.target_check import check_target

DEFAULT_DURATION_S = 15.0
MAX_DURATION_S = 60.0  # bounded: calibrating is a measurement, not a load test
DEFAULT_CEILING_RPS = 50_000.0  # far beyond one core: the generator, not the schedule, limits
SATURATED_CPU_PERCENT = 80.0
WARM_UP_S = 1  # the first samples include Locust's start-up


@dataclass(frozen=True)
class Calibration:
    """What one core sent flat out.

    Attributes:
        rps_per_vcpu: requests per second one core sent (median of saturated seconds).
        saturated: the generator's CPU was the limit (False: the target limited it,
            and `rps_per_vcpu` is a lower bound).
        samples: per-second sends measured (after warm-up).
        cpu_peak_percent: the generator's highest one-second CPU use.
    """

    rps_per_vcpu: float
    saturated: bool
    samples: int
    cpu_peak_percent: float

    def terraform_value(self) -> int:
        """Rounded down to two significant figures: a capacity, never an overestimate."""
        value = int(self.rps_per_vcpu)
        if value < 100:
            return max(value, 1)
        scale = 10 ** (len(str(value)) - 2)
        return value // scale * scale


def calibration_schedule(text: str, *, duration_s: float, ceiling_rps: float) -> str:
    """The schedule's YAML with its load replaced by one steep ramp (scenario, target,
    allow_hosts and limits kept as written), no start time and no thresholds."""
    doc = yaml.safe_load(text)
    for key in ("start_at", "end_by", "thresholds", "bundle"):
        doc.pop(key, None)
    doc["name"] = f"{str(doc.get('name', 'calibrate'))[:50]}-calibrate"
    doc["arrivals"] = "uniform"
    doc["load"] = {"stages": [{"ramp_to": ceiling_rps, "duration": f"{duration_s:g}s"}]}
    return yaml.safe_dump(doc, sort_keys=False)


@contextlib.contextmanager
def one_core() -> Iterator[int | None]:
    """Pin this process (and so the Locust process it starts) to one core, then restore."""
    if not hasattr(os, "sched_getaffinity"):
        yield None  # macOS: no affinity; one Locust process still uses one core at most
        return
    before = os.sched_getaffinity(0)
    core = max(before)
    os.sched_setaffinity(0, {core})
    try:
        yield core
    finally:
        os.sched_setaffinity(0, before)


def calibrate(
    schedule_path: str | Path,
    *,
    target: str | None = None,
    duration_s: float = DEFAULT_DURATION_S,
    ceiling_rps: float = DEFAULT_CEILING_RPS,
) -> Calibration:
    """Run the scenario flat out on one core for `duration_s`; measure what it sent."""
    if not 1 <= duration_s <= MAX_DURATION_S:
        raise SurgeError(f"duration must be 1s to {MAX_DURATION_S:g}s", "--duration")
    path = Path(schedule_path).resolve()
    schedule = load_schedule(path)
    if target:
        schedule = schedule.with_target(target)  # still only allow_hosts
    check_target(schedule)  # refused connections are cheap "sends": no figure from nothing
    setup = local_scenario(path, schedule)
    text = calibration_schedule(schedule.text, duration_s=duration_s, ceiling_rps=ceiling_rps)
    with tempfile.TemporaryDirectory(prefix="surge-calibrate-") as tmp:
        flat_out = Path(tmp) / "calibrate.yaml"
        flat_out.write_text(text)
        run_dir = Path(tmp) / "run"
        with one_core():
            result = run_local(
                flat_out, run_dir, workers=0, target=target, scenario=setup,
                run_id=make_run_id(load_schedule(flat_out).name),
            )  # fmt: skip
        health = read_health(run_dir)
        if health is None or health.num_rows <= WARM_UP_S:
            raise SurgeError(
                f"the calibration run recorded no generator health (Locust exit code "
                f"{result.exit_code}); see {run_dir / 'logs'}",
                str(schedule_path),
            )
        rows = health.select(["sent", "cpu_percent"]).to_pylist()[WARM_UP_S:]
    return summarise(rows)


def summarise(rows: list[dict]) -> Calibration:
    """Capacity from per-second health samples ({sent, cpu_percent})."""
    sent = [float(r["sent"] or 0) for r in rows]
    cpu = [float(r["cpu_percent"] or 0) for r in rows]
    busy = [s for s, c in zip(sent, cpu, strict=True) if c >= SATURATED_CPU_PERCENT]
    saturated = len(busy) >= 2
    value = statistics.median(busy) if saturated else max(sent, default=0.0)
    return Calibration(
        rps_per_vcpu=value,
        saturated=saturated,
        samples=len(sent),
        cpu_peak_percent=max(cpu, default=0.0),
    )
