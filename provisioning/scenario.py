"""Where a run's scenario lives and what its Locust processes see.

A user's scenario sits beside its schedule, in the user's own repository, so every
Locust process of a run works in the scenario's folder: the schedule's folder on a
laptop, the unpacked bundle (`surge.bundle`) on an EC2 instance. That folder is
the processes' working directory (relative data paths in a locustfile work as with
plain ``locust -f``, and its helper modules import), and every path handed to
Locust is absolute.

`scenario.env` reaches every generator process as environment variables;
`scenario.secrets` too, resolved where the process runs: from this machine's
environment locally, from SSM Parameter Store on an instance. Secret values live
only in those processes' environments: never in S3, logs or the manifest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from surge.bundle import PACKAGE_ROOT, SCENARIO_DIR
from surge.errors import InfrastructureError, SurgeError
from surge.s3 import S3Store
from surge.schedule import Schedule


class SecretError(SurgeError):
    """A `scenario.secrets` entry that cannot be resolved: the run stops before any load."""


@dataclass(frozen=True)
class ScenarioSetup:
    """What the Locust processes of one run need to find and run the scenario.

    Attributes:
        locustfile: the scenario's locustfile, absolute.
        cwd: the scenario's folder: the Locust processes' working directory.
        env: `scenario.env` and the resolved secrets, added to each process's environment.
    """

    locustfile: Path
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def process_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a Locust process: `base` (this one's) plus the scenario's."""
        return {**(os.environ if base is None else base), **self.env}


def find_locustfile(base: Path, locustfile: str, where: str) -> Path:
    """`locustfile` relative to `base` (the schedule's folder), else surge's own scenarios.

    The package fallback keeps the default (``locustfiles/shop_user.py``) usable from
    any directory; the working directory comes last, for schedules written before
    paths were relative to the schedule.
    """
    for root in (base, PACKAGE_ROOT, Path.cwd()):
        candidate = (root / locustfile).resolve()
        if candidate.is_file():
            return candidate
    raise SurgeError(
        f"scenario locustfile not found: {locustfile} (looked beside the schedule, "
        f"in {base}, and among surge's own scenarios)",
        where,
    )


def local_scenario(
    schedule_path: Path, schedule: Schedule, environ: Mapping[str, str] | None = None
) -> ScenarioSetup:
    """The scenario of a run on this machine: beside the schedule, secrets from `environ`.

    A fetched fleet run's ``schedule.yaml`` names its bundle, unpacked beside it in
    ``scenario/``: running it again runs exactly that scenario.
    """
    base = schedule_path.resolve().parent
    if schedule.bundle is not None and (base / SCENARIO_DIR).is_dir():
        base = base / SCENARIO_DIR
    locustfile = find_locustfile(base, schedule.scenario.locustfile, str(schedule_path))
    env = os.environ if environ is None else environ
    return ScenarioSetup(
        locustfile=locustfile,
        cwd=base,
        env=scenario_env(schedule, lambda name, _ref: env.get(name), str(schedule_path)),
    )


def scenario_env(
    schedule: Schedule,
    resolve: Callable[[str, str], str | None],
    where: str,
    *,
    error: type[SurgeError] = SecretError,
) -> dict[str, str]:
    """`scenario.env` plus every secret, each resolved by ``resolve(name, reference)``.

    Every missing secret is named in one `error` (its values never are), before any load.
    """
    env = dict(schedule.scenario.env)
    missing: list[str] = []
    for name, reference in schedule.scenario.secrets.items():
        value = resolve(name, reference)
        if value is None:
            missing.append(f"{name} ({reference})")
        else:
            env[name] = value
    if missing:
        raise error(f"secret not found: {', '.join(missing)}", where)
    return env


def fleet_scenario(
    store: S3Store,
    schedule: Schedule,
    *,
    bucket: str,
    run_dir: Path,
    region: str | None = None,
    resolve_secret: Callable[[str, str], str | None] | None = None,
) -> ScenarioSetup:
    """The scenario of a run on an EC2 instance, before any load (exit 4 when it fails).

    The schedule's bundle is downloaded, checked against its SHA-256 and unpacked into
    ``<run_dir>/scenario``; the archive stays as ``<run_dir>/scenario.tar.gz``, so
    `surge fetch` brings back exactly what ran. Secrets come from SSM.
    """
    try:
        base, locustfile = _unbundle(store, schedule, bucket, run_dir)
    except InfrastructureError:
        raise  # S3 itself failed: the agent knows not to retry its uploads
    except SurgeError as exc:  # on an instance, a bad bundle is infrastructure (exit 4)
        raise InfrastructureError(exc.what, exc.where) from None
    where = schedule.source
    if resolve_secret is None and schedule.scenario.secrets:
        from surge.secrets import make_ssm_client, ssm_resolver

        resolve_secret = ssm_resolver(make_ssm_client(region=region))
    env = scenario_env(
        schedule, resolve_secret or (lambda _n, _r: None), where, error=InfrastructureError
    )
    # the unpacked scenario is uploaded with the run: no bytecode beside it
    return ScenarioSetup(
        locustfile=locustfile, cwd=base, env={**env, "PYTHONDONTWRITEBYTECODE": "1"}
    )


def pushed_scenario(
    store: S3Store, schedule: Schedule, *, bucket: str, run_dir: Path
) -> ScenarioSetup:
    """`surge run s3://...` of a pushed schedule on this machine: its bundle unpacked into
    the run directory (a bad one is exit 2 here), secrets from the environment."""
    base, locustfile = _unbundle(store, schedule, bucket, run_dir)
    env = scenario_env(schedule, lambda name, _ref: os.environ.get(name), schedule.source)
    return ScenarioSetup(locustfile=locustfile, cwd=base, env=env)


def _unbundle(store: S3Store, schedule: Schedule, bucket: str, run_dir: Path) -> tuple[Path, Path]:
    """Download, check and unpack the schedule's bundle; (scenario folder, locustfile).

    The archive stays as ``<run_dir>/scenario.tar.gz`` so `surge fetch` brings back
    exactly what ran. Without a bundle the scenario is one of surge's own.
    """
    from surge.bundle import BUNDLE_FILE, unpack
    from surge.s3 import S3Url

    base = run_dir
    if schedule.bundle is not None:
        url = S3Url(bucket, schedule.bundle.key)
        data = store.get_bytes(url)
        unpack(data, schedule.bundle.sha256, run_dir / SCENARIO_DIR, str(url))
        (run_dir / BUNDLE_FILE).write_bytes(data)
        base = run_dir / SCENARIO_DIR
    return base, find_locustfile(base, schedule.scenario.locustfile, schedule.source)
