"""The surge view in Locust's web UI: the schedule, live open-model numbers, the verdict.

Loaded by the engine (``locustfiles/engine.py`` imports this module), it plugs into
Locust's supported extension points when the process has a web UI (master or
standalone, not ``--headless``), never by editing Locust:

- ``events.init``: runs after Locust built its `WebUI` and before it starts serving,
  so the bind address can still be narrowed (`access.decide_bind`) and a login put
  on every route (`access.require_login`).
- ``web_ui.app``: a Flask blueprint under ``/surge/``: the page (static HTML, plain JS
  drawing its own SVG, no CDN), ``api/status`` (the JSON it polls), ``api/stop`` (this
  master's runner, or on a fleet the kill switch in S3, ``--surge-stop-url``) and
  ``report/`` (the run's report: built by the master after the run, or by ``surge run``
  itself with ``--surge-report-by-parent``; `report.ReportBuilder`). ``/metrics`` is
  `locustfiles.metrics`'.
- ``web_ui.template_args`` (``extendedTabs``/``extendedTables``) and an
  ``after_request`` hook: a "Surge" tab in Locust's own UI with the live figures, and
  a banner on Locust's page saying that the schedule, not a user count, drives the load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import MasterRunner

from surge.errors import SurgeError, UsageError
from surge.locustfiles import live_metrics
from surge.locustfiles.webui import access
from surge.locustfiles.webui.live import StatusSource, SurgeView
from surge.locustfiles.webui.report import REPORT_INDEX, ReportBuilder
from surge.schedule import load_schedule

STATIC_DIR = Path(__file__).resolve().parent / "static"
URL_PREFIX = "/surge"
TAB_KEY = "surge"
BANNER_SCRIPT = b'<script src="surge/static/banner.js" defer></script>'

__all__ = ["install"]


def install(
    environment: Any, *, run_dir: Path, schedule_path: str, target: str | None = None,
    status_source: StatusSource | None = None,
) -> SurgeView:  # fmt: skip
    """Add the surge view to `environment.web_ui` (which must exist and not yet serve).

    `status_source` returns the live status in-process; by default the view reads
    ``RUN_DIR/status.json``. Raises `access.UIAccessError` for an unprotected bind.
    """
    web_ui = environment.web_ui
    options = environment.parsed_options
    web_ui.host, credentials = access.decide_bind(getattr(options, "web_host", ""))
    if credentials is not None:
        access.require_login(web_ui.app, credentials)
    schedule = load_schedule(schedule_path)
    if target:
        schedule = schedule.with_target(target)
    report = ReportBuilder(
        run_dir, external=bool(getattr(options, "surge_report_by_parent", False))
    )
    view = SurgeView(
        schedule=schedule,
        run_dir=Path(run_dir),
        report=report,
        runner_state=lambda: str(getattr(environment.runner, "state", "")),
        worker_count=lambda: int(getattr(environment.runner, "worker_count", 0)),
        needs_workers=isinstance(environment.runner, MasterRunner),
        status_source=status_source,
        live=lambda: live_metrics.CURRENT,
        stop_url=getattr(options, "surge_stop_url", None) or None,
    )
    base = (getattr(options, "web_base_path", "") or "").rstrip("/")
    web_ui.app.register_blueprint(_blueprint(view, environment), url_prefix=base + URL_PREFIX)
    _add_locust_tab(web_ui, view, base)
    import gevent

    environment.events.test_stop.add_listener(lambda **_: gevent.spawn(report.build_when_final))
    return view


def _blueprint(view: SurgeView, environment: Any) -> Any:
    from flask import Blueprint, abort, jsonify, send_from_directory

    bp = Blueprint("surge", __name__, static_folder=str(STATIC_DIR), static_url_path="/static")

    @bp.route("/")
    def page() -> Any:
        return send_from_directory(STATIC_DIR, "index.html", max_age=0)

    @bp.route("/api/status")
    def status() -> Any:
        response = jsonify(view.snapshot())
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.route("/api/stop", methods=["POST"])
    def stop() -> Any:
        try:
            message = _stop(view, environment)
        except SurgeError as exc:
            return jsonify({"success": False, "message": str(exc)}), 502
        return jsonify({"success": True, "message": message})

    @bp.route("/report/")
    @bp.route("/report/<path:path>")
    def report(path: str = REPORT_INDEX) -> Any:
        if not (view.report.out_dir / REPORT_INDEX).is_file():
            abort(404, "the report is built once the run is over")
        return send_from_directory(view.report.out_dir, path, max_age=0)

    return bp


def _stop(view: SurgeView, environment: Any) -> str:
    """Stop the run: on a fleet through the kill switch every agent polls (as
    ``surge abort`` does: all generators stop within 5 s); else this master's runner."""
    if view.stop_url:
        from surge.s3 import S3Store, parse_run_url, request_stop

        url = request_stop(S3Store(), parse_run_url(view.stop_url), "stopped from the web UI")
        return f"stop requested for the whole fleet ({url})"
    import gevent

    gevent.spawn(environment.runner.stop)
    return "stopping"


def _add_locust_tab(web_ui: Any, view: SurgeView, base: str) -> None:
    """A "Surge" tab in Locust's own UI (key figures) and the banner on its start page."""
    from flask import request

    web_ui.template_args["extendedTabs"] = [{"title": "Surge", "key": TAB_KEY}]
    web_ui.template_args["extendedTables"] = [
        {"key": TAB_KEY, "structure": [{"key": "name", "title": "Figure"},
                                       {"key": "value", "title": "Value"}]},
    ]  # fmt: skip

    @web_ui.app.after_request
    def _extend(response: Any) -> Any:
        path = request.path.removeprefix(base)
        if path == "/stats/requests" and response.is_json:
            data = response.get_json()
            data["extended_stats"] = [{"key": TAB_KEY, "data": _tab_rows(view)}]
            response.set_data(json.dumps(data))
        elif path in ("", "/") and response.mimetype == "text/html" and response.status_code == 200:
            response.direct_passthrough = False
            body = response.get_data()
            response.set_data(body.replace(b"</body>", BANNER_SCRIPT + b"</body>", 1))
        return response


def _tab_rows(view: SurgeView) -> list[dict[str, str]]:
    s = view.status() or {}
    figures = view.figures(s)
    # after the run, the whole run's figures (as the surge view's tiles); else the windows
    f = figures["whole_run"] or s
    span = "whole run" if figures["whole_run"] else "live"

    def ms(key: str) -> str:
        return "-" if f.get(key) is None else f"{f[key]:,.0f} ms"

    def count(*keys: str) -> str:
        return " / ".join(f"{s.get(k, 0):,}" for k in keys)

    stage = "-"
    if s.get("stage_index") is not None:
        stage = f"{s['stage_index'] + 1} of {s['stage_count']}"
    rates = f"{f.get('offered_rps', 0):,.1f} / {f.get('achieved_rps', 0):,.1f} req/s"
    rows = [
        ("Run", f"{s.get('run_id', '-')} ({s.get('state', 'waiting')})"),
        ("Stage", stage),
        (f"Offered / achieved ({span})", rates),
        (f"p95 corrected / uncorrected ({span})", f"{ms('p95_ms')} / {ms('p95_uncorrected_ms')}"),
        (f"p99 corrected / uncorrected ({span})", f"{ms('p99_ms')} / {ms('p99_uncorrected_ms')}"),
        ("Late / dropped / errors", count("late", "dropped", "errors")),
        ("Full surge view", "/surge/ (timeline, endpoints, generators, thresholds, verdict)"),
    ]
    return [{"name": name, "value": value} for name, value in rows]


@events.init_command_line_parser.add_listener
def _add_arguments(parser: Any) -> None:
    # on the parser itself: Locust's `include_in_web_ui` exists there, not on groups
    parser.add_argument(
        "--surge-report-by-parent", action="store_true", include_in_web_ui=False,
        help="the process that started Locust builds the report (surge run --ui)",
    )  # fmt: skip
    parser.add_argument(
        "--surge-stop-url", metavar="S3_RUN_URL", include_in_web_ui=False,
        help="Stop writes the fleet's kill switch under this s3://bucket/runs/<id>",
    )  # fmt: skip


@events.init.add_listener
def _on_init(environment: Any, web_ui: Any = None, **_kwargs: Any) -> None:
    """Install the view on a master or standalone process that has a web UI."""
    options = environment.parsed_options
    schedule_path = getattr(options, "surge_schedule", None)
    if web_ui is None or not schedule_path:
        return
    run_dir = getattr(options, "surge_run_dir", None)
    try:
        if not run_dir:
            raise UsageError(
                "the surge view needs --surge-run-dir to find the run's status",
                "locust command line",
            )
        install(environment, run_dir=Path(run_dir), schedule_path=schedule_path,
                target=getattr(options, "surge_target", None))  # fmt: skip
    except SurgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
