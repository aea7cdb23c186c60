"""The scenario's User class as a run drives it: chosen, filtered, aimed, on its client.

`prepare_user_class` is what a worker does with the class a schedule names before the
first arrival (and what `locustfiles.inspect_scenario` checks before a run starts):

- pick the class (``scenario.user``, else the file's only one);
- keep the tasks ``scenario.tags`` / ``scenario.exclude_tags`` select (Locust's own
  ``--tags`` filter, nested task sets included);
- aim it at the schedule's target (a class ``host`` is overridden; ``allow_hosts`` is
  enforced by the client and `locustfiles.guard`) with the schedule's timeout and TLS
  settings (``scenario.tls``; verified unless the schedule says otherwise);
- choose its HTTP client (``scenario.client``): ``HttpUser`` and ``FastHttpUser``
  classes run on surge's client through `locustfiles.compat` unless their source uses
  what only Locust's client does (`locust_client_reasons`).

A subclass is made rather than the class changed, so the user's file is used as written.
"""

from __future__ import annotations

import ast
import functools
import inspect
import logging
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from locust import FastHttpUser, HttpUser, User
from locust.user.task import filter_tasks_by_tags

from surge.errors import ScheduleError
from surge.locustfiles.client import SurgeHttpUser, shared_tls_context
from surge.locustfiles.compat import UNSUPPORTED_KWARGS, CompatSession, adopt_session_state
from surge.locustfiles.tasks import defines_wait_time, is_task_set
from surge.schedule import Schedule

logger = logging.getLogger(__name__)

#: FastHttpUser/HttpUser class attributes that change the transport (-> Locust's client)
TRANSPORT_ATTRIBUTES = ("proxy_host", "client_pool", "ssl_context_factory", "pool_manager")
#: method calls and attribute writes in a scenario's source that only Locust's client does
LOCUST_ONLY_CALLS = {"mount": "a mounted transport adapter (.mount())"}
LOCUST_ONLY_ATTRIBUTES = {"proxies": "session proxies", "cookiejar": "FastHttpSession.cookiejar"}


@dataclass(frozen=True)
class ClientChoice:
    """Which client drives a class and why (for the run log and the manifest)."""

    client: str  # "surge", "locust" or "own" (a User without Locust's HTTP clients)
    reason: str

    def line(self, class_name: str) -> str:
        return f"{class_name}: {self.client} client ({self.reason})"


def pick_user_class(schedule: Schedule, classes: dict[str, type[User]]) -> type[User]:
    """The class the schedule names, else the only one; a `ScheduleError` otherwise."""
    wanted = schedule.scenario.user
    if wanted:
        if wanted not in classes:
            raise ScheduleError(
                [f"scenario.user: no User class {wanted!r} in {schedule.scenario.locustfile} "
                 f"(found: {', '.join(sorted(classes)) or 'none'})"],
                schedule.source,
            )  # fmt: skip
        return classes[wanted]
    if len(classes) == 1:
        return next(iter(classes.values()))
    if not classes:
        raise ScheduleError(
            [f"scenario.locustfile: {schedule.scenario.locustfile} defines no User class "
             "(a subclass of HttpUser, FastHttpUser or SurgeHttpUser that is not abstract)"],
            schedule.source,
        )  # fmt: skip
    raise ScheduleError(
        [f"scenario.user: {schedule.scenario.locustfile} has several User classes "
         f"({', '.join(sorted(classes))}); name one"],
        schedule.source,
    )  # fmt: skip


def choose_client(base: type[User], setting: str = "auto") -> ClientChoice:
    """`scenario.client` applied to `base`: surge's client wherever it is exact."""
    if issubclass(base, SurgeHttpUser):
        return ClientChoice("surge", "SurgeHttpUser")
    if not issubclass(base, FastHttpUser | HttpUser):
        return ClientChoice("own", "not an HttpUser or FastHttpUser: its own code makes requests")
    if setting == "locust":
        return ClientChoice("locust", "scenario.client: locust")
    if setting == "surge":
        return ClientChoice("surge", "scenario.client: surge")
    reasons = locust_client_reasons(base)
    if reasons:
        return ClientChoice("locust", "uses " + "; ".join(reasons))
    return ClientChoice("surge", "scenario.client: auto, only supported calls")


def locust_client_reasons(base: type[User]) -> list[str]:
    """What in `base` (class attributes, the source of it and its task sets) only
    Locust's client does. Helpers outside the classes are not read: `CompatSession`
    switches at the first such call instead."""
    reasons = []
    for name in TRANSPORT_ATTRIBUTES:
        if getattr(base, name, None) is not None:
            reasons.append(f"{name} on the class")
    for klass in _scenario_classes(base):
        reasons += _source_reasons(klass)
    return reasons


@functools.cache
def _source_reasons(klass: type) -> list[str]:
    try:
        lines, first = inspect.getsourcelines(klass)
        tree = ast.parse(textwrap.dedent("".join(lines)))
        where = Path(inspect.getsourcefile(klass) or "?").name
    except (OSError, TypeError, SyntaxError, ValueError):
        return []
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 1) + first - 1
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in UNSUPPORTED_KWARGS and not _is_falsy_constant(kw.value):
                    found.append(f"{UNSUPPORTED_KWARGS[kw.arg]} ({where}:{line})")
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in LOCUST_ONLY_CALLS:
                found.append(f"{LOCUST_ONLY_CALLS[func.attr]} ({where}:{line})")
        elif isinstance(node, ast.Attribute) and node.attr in LOCUST_ONLY_ATTRIBUTES:
            found.append(f"{LOCUST_ONLY_ATTRIBUTES[node.attr]} ({where}:{line})")
    return found


def _is_falsy_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not node.value


def _scenario_classes(base: type[User]) -> list[type]:
    """`base`, its bases below Locust's and surge's classes, and the task sets it reaches."""
    found: list[type] = []

    def visit(cls: Any) -> None:
        for klass in getattr(cls, "__mro__", ()):
            module = getattr(klass, "__module__", "") or ""
            if module.startswith(("locust.", "surge.")) or klass is object or klass in found:
                continue
            found.append(klass)
            for task in vars(klass).get("tasks", None) or []:
                if is_task_set(task):
                    visit(task)
            for value in vars(klass).values():  # @task-decorated nested TaskSet classes
                if is_task_set(value):
                    visit(value)

    visit(base)
    return found


def prepare_user_class(schedule: Schedule, classes: dict[str, type[User]]) -> type[User]:
    """The scenario's User class ready to run (see the module docstring)."""
    base = pick_user_class(schedule, classes)
    scenario = schedule.scenario
    timeout = schedule.limits.timeout_s
    insecure, ca_file = not scenario.tls_verify, scenario.tls_ca_file
    choice = choose_client(base, scenario.client)
    attrs: dict[str, Any] = {
        "host": schedule.target,
        "network_timeout": timeout,
        "connection_timeout": timeout,
        "surge_schedule": schedule,
        "surge_client": choice,
        "__module__": base.__module__,
    }
    if issubclass(base, SurgeHttpUser):
        attrs.update(insecure=insecure, ca_file=ca_file)
    elif choice.client == "surge":
        attrs["__init__"] = _compat_init(base, insecure, ca_file)
    elif issubclass(base, FastHttpUser) and base.ssl_context_factory is None:
        # left alone, FastHttpUser builds a TLS context per user, and every slot is a user;
        # classes that set their own factory keep it
        attrs["ssl_context_factory"] = staticmethod(tls_factory(insecure, ca_file))
    elif issubclass(base, HttpUser):
        attrs["__init__"] = _verifying_init(base, insecure, ca_file)
    user_class = type(base.__name__, (base,), attrs)
    if scenario.tags is not None or scenario.exclude_tags is not None:
        filter_tasks_by_tags(
            user_class,
            set(scenario.tags) if scenario.tags is not None else None,
            set(scenario.exclude_tags) if scenario.exclude_tags is not None else None,
        )
        if not user_class.tasks:
            raise ScheduleError(
                [f"scenario.tags: no task of {base.__name__} is left after the tag filter"],
                schedule.source,
            )
    return user_class


def scenario_notes(user_class: type[User]) -> list[str]:
    """What the run log says once about how the class runs (client, ignored wait_time)."""
    choice: ClientChoice = user_class.surge_client
    notes = [choice.line(user_class.__name__)]
    if defines_wait_time(user_class):
        notes.append(
            f"{user_class.__name__}: wait_time is ignored; arrivals come from the schedule "
            "(open model), one task per arrival"
        )
    return notes


def apply_options(environment: Any, schedule: Schedule) -> None:
    """`scenario.options` into ``environment.parsed_options``, where the file's own
    command-line options (``init_command_line_parser``) are read."""
    options = environment.parsed_options
    if options is None:
        return
    for name, value in schedule.scenario.options.items():
        setattr(options, name, value)


# ---------------------------------------------------------------------- constructors


def tls_factory(insecure: bool, ca_file: str | None) -> Any:
    """A FastHttpSession ``ssl_context_factory`` returning the process's shared context
    for the schedule's TLS settings (geventhttpclient passes ``cafile=None``)."""

    def factory(*_args: Any, **_kwargs: Any) -> Any:
        return shared_tls_context(insecure, ca_file)

    return factory


def fasthttp_user_agent() -> str:
    """The User-Agent Locust's FastHttpSession sends unless told otherwise (geventhttpclient's)."""
    from geventhttpclient.client import HTTPClient

    return str(HTTPClient.DEFAULT_HEADERS.get("User-Agent", ""))


def with_user_agent(headers: dict[str, str] | None, agent: str) -> dict[str, str]:
    """`headers` with `agent` as User-Agent unless they name one (in any case)."""
    headers = dict(headers or {})
    if agent and not any(k.lower() == "user-agent" for k in headers):
        return {"User-Agent": agent, **headers}
    return headers


def _compat_init(base: type[User], insecure: bool, ca_file: str | None) -> Any:
    """``__init__`` of an HttpUser/FastHttpUser subclass whose client is surge's.

    Requests carry the User-Agent Locust's client would send for the class (servers,
    WAFs and logs may tell clients apart by it): an ``HttpUser`` keeps requests'
    session headers (``python-requests/<version>``), a ``FastHttpUser`` gets
    geventhttpclient's, worked out once per class; a User-Agent the class or scenario
    sets wins."""
    style = "fasthttp" if issubclass(base, FastHttpUser) else "requests"
    class_headers = getattr(base, "default_headers", None)
    agent = fasthttp_user_agent()
    fast_defaults = with_user_agent(class_headers, agent)  # once per class, not per user

    def __init__(self: Any, environment: Any) -> None:
        # the class's own __init__ chain runs as written (it may set up state, even use
        # the client); the Locust client it made is then replaced, its state carried over
        base.__init__(self, environment)
        made = self.client
        defaults = None
        if style == "fasthttp":
            own = getattr(self, "default_headers", None)
            defaults = fast_defaults if own is class_headers else with_user_agent(own, agent)
        self.client = CompatSession(
            self.host, environment.events.request, self,
            timeout_s=self.network_timeout, insecure=insecure, ca_file=ca_file,
            default_headers=defaults, style=style,
            fallback=functools.partial(_locust_client, self, style, insecure, ca_file),
        )  # fmt: skip
        adopt_session_state(self.client, made)

    return __init__


def _locust_client(user: Any, style: str, insecure: bool, ca_file: str | None) -> Any:
    """The client Locust would have given `user` (for `CompatSession`'s switch)."""
    if style == "requests":
        from locust.clients import HttpSession

        client = HttpSession(
            base_url=user.host, request_event=user.environment.events.request, user=user,
            pool_manager=user.pool_manager,
        )  # fmt: skip
        client.trust_env = False
        return client
    from locust.contrib.fasthttp import FastHttpSession

    return FastHttpSession(
        base_url=user.host, request_event=user.environment.events.request, user=user,
        network_timeout=user.network_timeout, connection_timeout=user.connection_timeout,
        max_redirects=user.max_redirects, max_retries=user.max_retries, insecure=insecure,
        concurrency=user.concurrency,
        ssl_context_factory=tls_factory(insecure, ca_file),
        headers=user.default_headers,
    )  # fmt: skip


def _verifying_init(base: type[User], insecure: bool, ca_file: str | None) -> Any:
    """``__init__`` of an HttpUser subclass on Locust's client, with the schedule's TLS."""

    def __init__(self: Any, environment: Any) -> None:
        base.__init__(self, environment)
        self.client.verify = ca_file if ca_file else not insecure

    return __init__


_described: dict[int, dict[str, Any]] = {}


def describe_for_manifest(environment: Any, schedule: Schedule) -> dict[str, Any] | None:
    """The manifest's ``scenario_client``: class, client, why, notes (master side; the run
    log gets the notes once, the first time). None when the class cannot be prepared."""
    key = id(schedule)
    if key not in _described:
        try:
            user_class = prepare_user_class(schedule, dict(environment.user_classes_by_name))
        except Exception:  # the workers report it; the manifest must still be written
            logger.debug("scenario not described in the manifest", exc_info=True)
            return None
        choice: ClientChoice = user_class.surge_client
        notes = scenario_notes(user_class)
        for note in notes:
            logger.info("scenario: %s", note)
        _described[key] = {
            "user_class": user_class.__name__, "client": choice.client,
            "reason": choice.reason, "notes": notes,
        }  # fmt: skip
    return _described[key]
