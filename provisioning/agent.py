"""The instance agent: what every EC2 instance of a fleet runs at boot (`surge agent`).

One agent per instance, master or worker as its env file says
(`provisioning.agent_settings`). In data-flow order it:

1. downloads and validates the schedule from S3 and logs its clock offset;
2. waits for ``start_at`` (refusing when more than 30 s late), launching Locust
   `LAUNCH_LEAD_S` early so every worker is connected when the first arrival is due;
3. runs the same Locust processes `surge run` runs locally (`provisioning.local`),
   while a `RunUploader` mirrors results to ``s3://bucket/runs/<run_id>/`` and a
   `StopWatcher` polls the kill switch; the hard end stops everything regardless;
4. uploads what is left; a worker then marks itself done, the master waits for the
   workers' marks, gathers their parts, builds the report and uploads it;
5. exits, or powers the instance off.

Every outcome is logged to ``logs/agent-<agent_id>.log`` in the run directory, which
is uploaded too, so a fleet that misbehaved can be read from the bucket.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from surge.errors import ExitCode, SurgeError
from surge.provisioning.agent_clock import (
    check_not_stale,
    chrony_offset_ms,
    http_date_offset_ms,
    utcnow,
    wait_until,
)
from surge.provisioning.agent_endings import Ending, note_for_master, worker_exit_code
from surge.provisioning.agent_settings import AgentSettings, Role
from surge.provisioning.agent_sync import RunUploader, StopWatcher
from surge.provisioning.scenario import ScenarioSetup, fleet_scenario, local_scenario
from surge.provisioning.spot import IMDS_ENDPOINT_ENV, SpotWatcher
from surge.results import INSTANCE_TYPE_ENV, REQUESTS_DIR, Manifest, worker_dirs
from surge.s3 import S3Error, S3Store, S3Url, run_url
from surge.schedule import Schedule, parse_schedule

LAUNCH_LEAD_S = 10.0  # start Locust this long before start_at: boot + workers connect
STOP_GRACE_S = 15.0  # SIGTERM -> SIGKILL: the master writes its final manifest in this time
SUPERVISE_POLL_S = 0.2
WORKERS_DONE_WAIT_S = 120.0  # master: how long to wait for workers' final uploads
WORKERS_DONE_POLL_S = 1.0
DONE_DIR = "control/done"  # a worker agent's "all my results are uploaded" mark
SCHEDULE_FILE = "schedule.yaml"
POWEROFF_COMMAND = ("systemctl", "poweroff")

log = logging.getLogger("surge.agent")

#: the master's last step: build the report in a run directory, return its exit code
ReportStep = Callable[[Path], int]


class Agent:
    """One instance's part in a run.

    Attributes:
        settings: the checked env file.
        store: S3 transfers with retries (the uploads).
        poll_store: S3 with a single attempt per call (the stop poll must stay quick).
        run: ``s3://bucket/runs/<run_id>``.
        run_dir: the local run directory mirrored to `run`.
    """

    def __init__(
        self,
        *,
        settings: AgentSettings,
        store: S3Store | None = None,
        report: ReportStep | None = None,
    ) -> None:
        self.settings = settings
        self.report = report
        self.store = store or S3Store(
            endpoint_url=settings.s3_endpoint, region=settings.region, on_retry=_log_retry
        )
        self.poll_store = S3Store(self.store.client, max_attempts=1)
        self.run = run_url(settings.bucket, settings.run_id)
        self.run_dir = settings.run_dir.resolve()  # Locust runs in the scenario folder
        self.processes: list[subprocess.Popen] = []
        self.scenario: ScenarioSetup | None = None  # set once the schedule is read
        self.signalled = threading.Event()
        self.stop_watcher = StopWatcher(self.poll_store, self.run, self._request_stop)
        self._stop_requested = threading.Event()
        self.spot = SpotWatcher(self._on_spot_notice) if self._watch_spot() else None

    # ------------------------------------------------------------ the whole life

    def run_once(self) -> int:
        """Take part in the run; returns the exit code (contract codes).

        Whatever happens, the last step uploads what is left (the logs at least),
        unless S3 already failed for good.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        uploader = RunUploader(self.store, self.run_dir, self.run, skip=self._not_ours)
        s3_failed = False
        try:
            schedule = self.fetch_schedule()
            self.scenario = fleet_scenario(  # bundle checked and unpacked, secrets read
                self.store, schedule, bucket=self.settings.bucket, run_dir=self.run_dir,
                region=self.settings.region,
            )  # fmt: skip
            self.log_clock()
            self.stop_watcher.start()
            if self.spot is not None:
                self.spot.start()
            launch_at = self.wait_for_start(schedule)
            if launch_at is None:
                code = ExitCode.INTERRUPTED
            else:
                uploader.start()
                ending = self.run_load(schedule, launch_at)
                log.info("load ended: %s", ending.value)
                uploader.final_sync()
                code = self.finish(schedule, ending)
        except SurgeError as exc:
            log.error("error: %s", exc)
            code = exc.exit_code
            s3_failed = isinstance(exc, S3Error)
        except Exception:  # a bug: exit 5 like the CLI, traceback in the uploaded agent log
            log.exception("error: internal error")
            code = ExitCode.INTERNAL_ERROR
        finally:
            self.stop_watcher.close()
            if self.spot is not None:
                self.spot.close()
            self._stop_processes()
        log.info("agent exits with %d", code)
        _flush_logs()
        if not s3_failed:
            try:
                uploader.final_sync()
            except S3Error as exc:
                log.error("error: %s", exc)
                code = ExitCode.INFRASTRUCTURE
        return code

    def fetch_schedule(self) -> Schedule:
        url = S3Url(self.settings.bucket, self.settings.schedule_key)
        data = self.store.get_bytes(url)
        schedule = parse_schedule(data, source=str(url))
        (self.run_dir / SCHEDULE_FILE).write_bytes(data)
        log.info(
            "schedule %s: %s, %d stages, %gs, start_at %s",
            url, schedule.name, len(schedule.stages), schedule.duration_s,
            schedule.start_at.isoformat() if schedule.start_at else "when ready",
        )  # fmt: skip
        return schedule

    def log_clock(self) -> None:
        """Log (and keep in the run directory) how far this host's clock is off."""
        chrony = chrony_offset_ms()
        http = http_date_offset_ms(lambda: self.poll_store.server_date(self.settings.bucket))
        record = {"agent": self.settings.agent_id, "chrony_ms": chrony, "s3_date_ms": http}
        log.info("clock offset: chrony %s ms, against S3's Date header %s ms", chrony, http)
        path = self.run_dir / "logs" / f"clock-{self.settings.agent_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record))

    def wait_for_start(self, schedule: Schedule) -> dt.datetime | None:
        """Wait until it is time to launch Locust; None when stopped before the start."""
        if schedule.start_at is None:
            return utcnow()
        until = check_not_stale(schedule.start_at)
        launch_at = schedule.start_at - dt.timedelta(seconds=LAUNCH_LEAD_S)
        log.info("start_at in %.1fs; launching Locust %gs before it", until, LAUNCH_LEAD_S)
        if not wait_until(launch_at, self._stop_requested.is_set):
            log.warning("stopped before the start")
            return None
        return launch_at

    # ------------------------------------------------------------ the load

    def run_load(self, schedule: Schedule, launched: dt.datetime) -> Ending:
        """Start Locust, supervise it, and return why it ended."""
        started = schedule.start_at or launched
        hard_end = schedule.hard_end(started).timestamp()
        self.processes = [self._spawn(argv, name) for name, argv in self._commands(schedule)]
        while any(p.poll() is None for p in self._watched()):
            if self._stop_requested.is_set():
                ending = self._why_stopped()
                self._note(ending)  # before the signal: the master's manifest says who
                self._stop_processes()
                return ending
            if time.time() >= hard_end:
                log.warning("hard end %s reached: stopping", dt.datetime.fromtimestamp(hard_end))
                self._note(Ending.HARD_END)
                self._stop_processes()
                return Ending.HARD_END
            time.sleep(SUPERVISE_POLL_S)
        self._stop_processes()  # a master gone means its workers must go too
        codes = [p.returncode for p in self.processes]
        log.info("Locust exit codes: %s", codes)
        return Ending.FINISHED

    def _watched(self) -> list[subprocess.Popen]:
        # the master's life is the run's; a worker agent runs while any of its workers does
        return self.processes[:1] if self.settings.role is Role.MASTER else self.processes

    def _commands(self, schedule: Schedule) -> list[tuple[str, list[str]]]:
        from surge.provisioning import local

        path = self.run_dir / SCHEDULE_FILE
        common: dict[str, Any] = {
            "scenario_locustfile": self._setup(schedule).locustfile,
            "run_dir": self.run_dir,
            "run_id": self.settings.run_id,
            "master_port": self.settings.master_port,
        }
        agent = self.settings.agent_id
        if self.settings.role is Role.MASTER:
            argv = local.locust_command(
                local.Role.MASTER,
                schedule_path=path,
                master_bind_host=self.settings.master_bind_host,
                expect_workers=self.settings.expect_workers,
                **self.settings.ui.locust_kwargs(self.run),  # web UI, autostart, /metrics
                **common,
            )
            return [(f"master-{agent}", argv)]
        return [
            (
                f"worker-{agent}-{i}",
                local.locust_command(
                    local.Role.WORKER, master_host=self.settings.master_host or "", **common
                ),
            )
            for i in range(self.settings.worker_processes)
        ]

    def _setup(self, schedule: Schedule) -> ScenarioSetup:
        """The scenario `run_once` prepared; a schedule given directly runs the local way."""
        if self.scenario is None:
            self.scenario = local_scenario(self.run_dir / SCHEDULE_FILE, schedule)
        return self.scenario

    def _spawn(self, argv: list[str], name: str) -> subprocess.Popen:
        from surge.provisioning import local

        logs = self.run_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # the scenario's folder is the working directory; its env and secrets are added
        setup = self.scenario or ScenarioSetup(locustfile=Path(), cwd=self.run_dir)
        env = setup.process_env()
        env["PYTHONPATH"] = os.pathsep.join(p for p in [local.python_path(), *sys.path] if p)
        if self.settings.instance_type:  # the engine reports it; the report prices the fleet
            env[INSTANCE_TYPE_ENV] = self.settings.instance_type
        if name.startswith("master-"):  # its UI's login and Stop (the kill switch in S3)
            env.update(self._master_env())
        with open(logs / f"locust-{name}.log", "ab") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=env, cwd=setup.cwd, start_new_session=True,
            )  # fmt: skip
        log.info("started %s (pid %d)", name, proc.pid)
        return proc

    def _master_env(self) -> dict[str, str]:
        from surge.provisioning.agent_ui import read_ssm_parameter

        env = self.settings.ui.master_env(read_ssm_parameter(self.settings.region))
        if self.settings.s3_endpoint:  # the view's Stop writes the stop object there
            env["AWS_ENDPOINT_URL"] = self.settings.s3_endpoint
        if self.settings.region:
            env.setdefault("AWS_DEFAULT_REGION", self.settings.region)
        return env

    def _request_stop(self) -> None:
        self._stop_requested.set()

    def _why_stopped(self) -> Ending:
        if self.signalled.is_set():
            return Ending.SIGNALLED
        if self.spot is not None and self.spot.notice is not None:
            return Ending.SPOT
        return Ending.ABORTED

    def _note(self, ending: Ending) -> None:
        if self.settings.role is Role.MASTER:
            note_for_master(self.run_dir, ending, self.stop_watcher.body)

    def _watch_spot(self) -> bool:
        """Workers on EC2 (or wherever the metadata endpoint is set) watch for a notice."""
        on_ec2 = bool(self.settings.instance_type or os.environ.get(IMDS_ENDPOINT_ENV))
        return self.settings.role is Role.WORKER and on_ec2

    def _on_spot_notice(self, notice: dict[str, Any]) -> None:
        log.warning("spot interruption at %s: stopping this worker", notice.get("time"))
        self._stop_requested.set()

    def on_signal(self, signum: int, _frame: Any = None) -> None:
        """SIGTERM/SIGINT: stop the load, keep and upload what was recorded."""
        log.warning("signal %d: stopping the load", signum)
        self.signalled.set()
        self._stop_requested.set()

    def _stop_processes(self) -> None:
        """SIGTERM every Locust process (it writes its last part), SIGKILL stragglers."""
        live = [p for p in self.processes if p.poll() is None]
        for p in live:
            _signal(p, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in live:
            try:
                p.wait(max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                _signal(p, signal.SIGKILL)
                p.wait()

    # ------------------------------------------------------------ after the load

    def _not_ours(self, rel: Path) -> bool:
        """A worker uploads only its request parts and logs; the rest is the master's."""
        if self.settings.role is Role.MASTER:
            return rel.parts[0] == REQUESTS_DIR  # a master sends no load
        return rel.parts[0] not in {REQUESTS_DIR, "logs"}

    def finish(self, schedule: Schedule, ending: Ending) -> int:
        if self.settings.role is Role.WORKER:
            self.mark_done()
            return worker_exit_code(ending, [p.returncode for p in self.processes])
        self.wait_for_workers()
        code = self.build_and_upload_report()
        if ending is Ending.SIGNALLED:
            return ExitCode.INTERRUPTED
        return code

    def mark_done(self) -> None:
        """Tell the master this instance's results are all in S3 (which workers it ran)."""
        recorded = set(worker_dirs(self.run_dir))  # requests/worker=<id>/ folders
        # the engine names a worker <hostname>-<pid>; one that died before its first
        # part has no folder, and the master must not wait for it
        started = {f"{socket.gethostname()}-{p.pid}" for p in self.processes}
        workers = sorted(recorded | started)
        body = {"agent": self.settings.agent_id, "workers": workers, "at": time.time()}
        self.store.put_bytes(
            self.run.join(DONE_DIR, self.settings.agent_id), json.dumps(body).encode()
        )

    def wait_for_workers(self) -> None:
        """Wait until every live worker the manifest names is covered by a done mark (bounded)."""
        expected = self._manifest_workers()
        deadline = time.monotonic() + WORKERS_DONE_WAIT_S
        while True:
            done = self._done_workers()
            missing = expected - done
            if not missing:
                log.info("all %d workers' results are in S3", len(expected))
                return
            if time.monotonic() >= deadline:
                log.warning("no final upload from %s: reporting without it", sorted(missing))
                return
            time.sleep(WORKERS_DONE_POLL_S)

    def _manifest_workers(self) -> set[str]:
        try:
            manifest = Manifest.load(self.run_dir)
        except SurgeError:
            return set()
        lost = {str(w.get("id")) for w in manifest.lost_workers}
        workers = {w.id for w in manifest.workers if w.id}
        return workers - lost  # a lost worker's parts, if any, come with its agent's mark

    def _done_workers(self) -> set[str]:
        done: set[str] = set()
        for key in self.store.list_keys(self.run.join(DONE_DIR)):
            try:
                done.update(
                    json.loads(self.store.get_bytes(S3Url(self.run.bucket, key)))["workers"]
                )
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring an unreadable done mark %s", key)
        return done

    def build_and_upload_report(self) -> int:
        """Gather every worker's parts from S3, build the report (`report/` goes up with
        the final upload). The report step is the caller's (`surge agent` passes the
        analysis), so provisioning never imports analysis."""
        self.store.download_tree(self.run.join(REQUESTS_DIR), self.run_dir / REQUESTS_DIR)
        if self.report is None:
            log.warning("no report step given: the run is uploaded without a report")
            return ExitCode.PASSED
        return int(self.report(self.run_dir))


def _signal(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # the process and anything it started


def _log_retry(what: str, failure: Any, exc: BaseException) -> None:
    log.warning("S3 %s: %s; retrying", what, failure.value)


def _flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()


def setup_logging(settings: AgentSettings) -> None:
    """Log to stderr (the journal on an instance) and to the run directory."""
    path = settings.run_dir / "logs" / f"agent-{settings.agent_id}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    for handler in (logging.StreamHandler(sys.stderr), logging.FileHandler(path)):
        handler.setFormatter(fmt)
        root.addHandler(handler)


def power_off() -> None:
    """Shut the instance down (the fleet's instances terminate on shutdown)."""
    try:
        subprocess.run(POWEROFF_COMMAND, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("power-off failed: %s", exc)


def run_agent(settings: AgentSettings, report: ReportStep | None = None) -> int:
    """The whole agent: logging, signals, the run, optional power-off. Returns the exit code.

    `report` builds the master's report in the run directory and returns the verdict's
    exit code (`surge agent` passes the analysis)."""
    setup_logging(settings)
    log.info(
        "surge agent %s: role %s, run %s, bucket %s",
        settings.agent_id, settings.role.value, settings.run_id, settings.bucket,
    )  # fmt: skip
    agent = Agent(settings=settings, report=report)
    previous = {s: signal.signal(s, agent.on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = agent.run_once()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if settings.poweroff:
        power_off()
    return code
