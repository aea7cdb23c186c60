"""surge's open-model engine, loaded into Locust next to a scenario locustfile.

    locust -f locustfiles/engine.py,locustfiles/shop_user.py --surge-schedule S.yaml --headless ...

Everything is wired through Locust's extension points, never by patching it:

- ``init_command_line_parser`` adds ``--surge-schedule`` (master/standalone),
  ``--surge-run-dir``, ``--surge-run-id`` and ``--surge-target``.
- `SurgeSchedule`, a ``LoadTestShape``, asks Locust for zero users: Locust's own
  spawning never competes with the engine, while "Start" (web UI) and headless mode
  both start the schedule and Locust stops when the schedule says so.
- ``test_start`` on the master starts a `FleetController`, which sends each worker a
  plan (``surge_plan`` message: the schedule's YAML, start, hard end, its share) and
  re-sends it when workers come or go; workers run a `WorkerEngine` and report with
  ``surge_beat`` / ``surge_health`` messages; ``test_stop`` ends both sides.
- Requests are recorded from Locust's ``request`` event. Locust's statistics, web UI,
  CSV and HTML therefore keep showing what the client measured: the uncorrected
  service time. The Parquet records hold that (``service_us``) and the corrected
  latency from the intended send time (``latency_us``); dropped requests exist only
  in surge's records, since they were never sent.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from locust import LoadTestShape, events
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

import surge.locustfiles.webui.plugin  # noqa: F401  (the surge view in the web UI: registers its init listener)
from surge.errors import SurgeError
from surge.locustfiles import metrics
from surge.locustfiles.endings import MSG_STOP
from surge.locustfiles.fleet import FleetController
from surge.locustfiles.recorder import warm_up
from surge.locustfiles.user_class import apply_options
from surge.locustfiles.worker import (
    MSG_BEAT,
    MSG_HEALTH,
    MSG_PLAN,
    STOP_DRAIN_S,
    Plan,
    WorkerEngine,
)
from surge.results import DEFAULT_RESULTS_DIR, make_run_id
from surge.schedule import load_schedule

logger = logging.getLogger(__name__)

# Locust imports locustfiles before a worker connects to its master, and runs the init
# event only after the connection ("client_ready") is made. pyarrow's first use costs
# about 0.4 s of CPU, many seconds when dozens of workers start at once on a small box:
# done in the init event it blocks the worker's heartbeats, the master declares every
# worker missing and stops the run before any plan went out. Done here, it happens
# while the master still waits for the worker (--expect-workers).
warm_up()

# run_local stops a master with SIGINT (Locust's Ctrl-C path: stop, tell the workers,
# write results) and SIGTERM is forwarded as SIGINT (`_stop_on_sigterm`). A process
# started from a non-interactive shell's background job inherits SIGINT *ignored*, and
# Python then keeps ignoring it: such a master would never stop and its workers would
# send until they missed it. surge's Locust processes always take SIGINT as Ctrl-C.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


#: this process's parts of the run (module globals: one run per Locust process)
CONTROLLER: FleetController | None = None
WORKER: WorkerEngine | None = None


@events.init_command_line_parser.add_listener
def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group("surge", "Open-model schedule (surge engine)")
    group.add_argument(
        "--surge-schedule", metavar="PATH", help="schedule YAML (master or standalone)"
    )
    group.add_argument(
        "--surge-run-dir", metavar="DIR", help="run directory (default results/<run id>)"
    )
    group.add_argument("--surge-run-id", metavar="ID", help="run id (default <name>-<UTC time>)")
    group.add_argument(
        "--surge-target",
        metavar="URL",
        help="override the schedule's target (allow_hosts still apply)",
    )


class SurgeSchedule(LoadTestShape):
    """Zero Locust users while the schedule runs; None (stop) when the run is over."""

    def tick(self) -> tuple[int, float] | None:
        if CONTROLLER is not None and CONTROLLER.should_stop():
            return None
        return (0, 1.0)


@events.init.add_listener
def on_init(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    global CONTROLLER, WORKER
    if runner is None:
        return
    options = environment.parsed_options
    try:
        if isinstance(runner, MasterRunner | LocalRunner):
            CONTROLLER = _make_controller(environment, options)
            metrics.install_for(environment, CONTROLLER)  # live totals, /metrics (Prometheus)
    except SurgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    run_dir = Path(options.surge_run_dir) if options.surge_run_dir else None
    if isinstance(runner, WorkerRunner | LocalRunner):
        if run_dir is None:
            run_dir = CONTROLLER.run_dir if CONTROLLER else DEFAULT_RESULTS_DIR / "unnamed"
        WORKER = WorkerEngine(environment=environment, run_dir=run_dir)
        runner.register_message(MSG_PLAN, _on_plan)
        if isinstance(runner, WorkerRunner):  # the master's "stop and report" (endings.py)
            runner.register_message(MSG_STOP, lambda **_: _stop_worker(), concurrent=True)
        environment.events.heartbeat_received.add_listener(lambda **_: WORKER.master_seen())
        environment.events.test_stop.add_listener(_stop_worker)
        environment.events.quitting.add_listener(_stop_worker)
        import gevent

        gevent.spawn(WORKER.beat_loop)
    if CONTROLLER is not None:
        if options.headless:
            _stop_on_sigterm()
        runner.register_message(MSG_BEAT, _on_beat)
        runner.register_message(MSG_HEALTH, _on_health)
        environment.events.test_start.add_listener(lambda **_: CONTROLLER.start())
        environment.events.test_stop.add_listener(lambda **_: CONTROLLER.finish())


def _stop_on_sigterm() -> None:
    """Make SIGTERM stop a headless run as cleanly as Ctrl-C does.

    Headless Locust with a shape class installs its SIGTERM handler only after the shape
    finishes, so until then SIGTERM kills the master outright: no manifest, and workers
    keep sending until they miss it. Turning SIGTERM into SIGINT takes Locust's Ctrl-C
    path instead (stop, tell the workers, write results).
    """
    import gevent

    def forward() -> None:
        logger.warning("SIGTERM: stopping the run")
        os.kill(os.getpid(), signal.SIGINT)

    gevent.signal_handler(signal.SIGTERM, forward)


def _make_controller(environment: Any, options: Any) -> FleetController:
    if not options.surge_schedule:
        raise SurgeError("the master needs --surge-schedule PATH", "locust command line")
    schedule = load_schedule(options.surge_schedule)
    if options.surge_target:
        schedule = schedule.with_target(options.surge_target)
    run_id = options.surge_run_id or make_run_id(schedule.name)
    run_dir = Path(options.surge_run_dir or DEFAULT_RESULTS_DIR / run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    environment.host = schedule.target
    apply_options(environment, schedule)  # scenario.options: the file's own options (#21)
    return FleetController(
        environment=environment, schedule=schedule, run_dir=run_dir, run_id=run_id
    )


def _on_plan(environment: Any, msg: Any, **_kwargs: Any) -> None:
    assert WORKER is not None
    WORKER.master_seen()
    try:
        WORKER.on_plan(Plan.from_message(msg.data))
    except SurgeError as exc:
        logger.error("cannot run the plan: %s", exc)
        environment.process_exit_code = int(exc.exit_code)
        environment.runner.quit()


def _on_beat(environment: Any, msg: Any, **_kwargs: Any) -> None:
    assert CONTROLLER is not None
    CONTROLLER.on_beat(msg.node_id, msg.data)


def _on_health(environment: Any, msg: Any, **_kwargs: Any) -> None:
    assert CONTROLLER is not None
    CONTROLLER.on_health(msg.node_id, msg.data)


def _stop_worker(**_kwargs: Any) -> None:
    if WORKER is not None:
        WORKER.stop(drain_s=STOP_DRAIN_S)
