"""The fleet master's web UI and metrics: what the master agent adds to Locust's command.

On a fleet nobody clicks Start: the master runs Locust's web UI with the surge view
and ``--autostart``, so the schedule starts by itself at ``start_at`` (the engine's
`FleetController` waits for it) and the UI shows it live. By default the UI and
``/metrics`` listen on loopback, which is what an SSM port forward reaches. Terraform
opens them only on request:

- ``operator_cidrs`` -> ``SURGE_WEB_HOST=0.0.0.0`` and ``SURGE_UI_PASSWORD_PARAMETER``:
  the login's password is read here from SSM Parameter Store at start and handed to
  the master's environment only (never user data, S3, logs or the manifest);
- ``metrics_cidrs`` -> ``SURGE_METRICS_HOST=0.0.0.0`` (the security group limits who).

The view's Stop button writes the run's kill switch (``--surge-stop-url``), the same
stop object ``surge abort`` writes, so every agent stops its generators.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from surge.errors import SurgeError
from surge.s3 import S3Url

DEFAULT_WEB_HOST = "127.0.0.1"
DEFAULT_WEB_PORT = 8089
DEFAULT_METRICS_PORT = 9646
DEFAULT_UI_USER = "surge"
#: after the schedule ends, the master keeps its UI and /metrics up this long (the final
#: state on screen, a last scrape), then quits so the agent can build the report
AUTOQUIT_S = 15


class UISettingsError(SurgeError):
    """A master UI setting that cannot be used (exit code 2)."""


@dataclass(frozen=True)
class MasterUI:
    """Where the fleet master serves its web UI and /metrics, and who may log in."""

    web_host: str = DEFAULT_WEB_HOST
    web_port: int = DEFAULT_WEB_PORT
    metrics_host: str = DEFAULT_WEB_HOST
    metrics_port: int = DEFAULT_METRICS_PORT
    ui_user: str = DEFAULT_UI_USER
    password_parameter: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str], where: str) -> MasterUI:
        """The optional ``SURGE_WEB_*``/``SURGE_METRICS_*``/``SURGE_UI_*`` keys, checked."""
        from surge.locustfiles.webui.access import is_loopback

        ui = cls(
            web_host=env.get("SURGE_WEB_HOST") or DEFAULT_WEB_HOST,
            web_port=_port(env, "SURGE_WEB_PORT", DEFAULT_WEB_PORT, where),
            metrics_host=env.get("SURGE_METRICS_HOST") or DEFAULT_WEB_HOST,
            metrics_port=_port(env, "SURGE_METRICS_PORT", DEFAULT_METRICS_PORT, where, off=True),
            ui_user=env.get("SURGE_UI_USER") or DEFAULT_UI_USER,
            password_parameter=env.get("SURGE_UI_PASSWORD_PARAMETER") or None,
        )
        if not is_loopback(ui.web_host) and not ui.password_parameter:
            raise UISettingsError(
                f"SURGE_WEB_HOST={ui.web_host} opens the web UI to a network: set "
                "SURGE_UI_PASSWORD_PARAMETER to the SSM parameter holding its password",
                where,
            )
        return ui

    def locust_kwargs(self, run: S3Url) -> dict[str, Any]:
        """Keyword arguments of `provisioning.local.locust_command` for the master."""
        extra = [
            "--autostart", "--autoquit", str(AUTOQUIT_S),
            "--surge-stop-url", str(run),
            "--surge-report-by-parent",  # the agent builds it once all parts are in S3
        ]  # fmt: skip
        if self.metrics_port:
            extra += ["--surge-metrics-port", str(self.metrics_port)]
            extra += ["--surge-metrics-host", self.metrics_host]
        kwargs = {"ui": True, "web_host": self.web_host, "web_port": self.web_port}
        return {**kwargs, "extra_args": extra}

    def master_env(self, read_parameter: Callable[[str], str | None]) -> dict[str, str]:
        """The login for the master's environment (empty without a password parameter)."""
        from surge.locustfiles.webui.access import PASSWORD_ENV, USER_ENV

        if not self.password_parameter:
            return {}
        password = read_parameter(self.password_parameter)
        if not password:
            raise UISettingsError(
                "the web UI's password parameter does not exist or is empty",
                f"SURGE_UI_PASSWORD_PARAMETER={self.password_parameter}",
            )
        return {USER_ENV: self.ui_user, PASSWORD_ENV: password}


def read_ssm_parameter(region: str | None) -> Callable[[str], str | None]:
    """A reader of SecureString parameters through surge's one SSM client factory."""
    from surge.secrets import make_ssm_client, ssm_resolver

    def read(name: str) -> str | None:  # the client is built only when there is a parameter
        return ssm_resolver(make_ssm_client(region=region))("web UI password", name)

    return read


def _port(env: Mapping[str, str], key: str, default: int, where: str, off: bool = False) -> int:
    """A port number; with `off`, 0 turns the service off."""
    value = env.get(key) or str(default)
    if not value.isdigit() or not (0 if off else 1) <= int(value) <= 65535:
        expected = "a port number" + (" (0: off)" if off else "")
        raise UISettingsError(f"{key}: got {value!r}; expected {expected}", where)
    return int(value)
