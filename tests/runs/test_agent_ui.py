"""The fleet master's web UI settings: loopback unless Terraform opened it, and then a
login whose password the agent reads from SSM Parameter Store (the moto server here)."""

from __future__ import annotations

import pytest

from surge.errors import ExitCode, SurgeError
from surge.provisioning.agent_settings import parse_settings
from surge.provisioning.agent_ui import AUTOQUIT_S, MasterUI, UISettingsError, read_ssm_parameter
from surge.s3 import S3Url
from surge.secrets import make_ssm_client
from tests.helpers.s3 import MotoServer

BASE = {
    "SURGE_ROLE": "master", "SURGE_BUCKET": "b", "SURGE_SCHEDULE_KEY": "schedules/s.yaml",
    "SURGE_RUN_ID": "bf-1",
}  # fmt: skip
RUN = S3Url("b", "runs/bf-1")
PARAMETER = "/surge/ui-password"


def test_by_default_ui_and_metrics_listen_on_loopback_and_the_schedule_starts_itself() -> None:
    ui = parse_settings(BASE).ui
    assert ui == MasterUI()
    kwargs = ui.locust_kwargs(RUN)
    assert kwargs["ui"] and kwargs["web_host"] == "127.0.0.1" and kwargs["web_port"] == 8089
    args = kwargs["extra_args"]
    assert args[:3] == ["--autostart", "--autoquit", str(AUTOQUIT_S)]  # no click needed
    assert args[args.index("--surge-stop-url") + 1] == "s3://b/runs/bf-1"  # Stop = kill switch
    assert args[args.index("--surge-metrics-port") + 1] == "9646"
    assert args[args.index("--surge-metrics-host") + 1] == "127.0.0.1"
    assert ui.master_env(lambda name: pytest.fail("no parameter to read")) == {}


def test_metrics_port_zero_turns_metrics_off() -> None:
    ui = parse_settings({**BASE, "SURGE_METRICS_PORT": "0"}).ui
    assert "--surge-metrics-port" not in ui.locust_kwargs(RUN)["extra_args"]


def test_an_open_ui_needs_a_password_parameter_and_ports_are_checked() -> None:
    with pytest.raises(SurgeError) as exc:  # the settings' own error type, or ours
        parse_settings({**BASE, "SURGE_WEB_HOST": "0.0.0.0"}, where="agent.env")
    assert exc.value.exit_code == ExitCode.BAD_INPUT
    assert "SURGE_UI_PASSWORD_PARAMETER" in str(exc.value)
    with pytest.raises(SurgeError, match="SURGE_WEB_PORT: got '99999'"):
        parse_settings({**BASE, "SURGE_WEB_PORT": "99999"})
    worker = {**BASE, "SURGE_ROLE": "worker", "SURGE_MASTER_HOST": "10.0.0.1"}
    assert parse_settings({**worker, "SURGE_WEB_HOST": "0.0.0.0"}).ui == MasterUI()  # ignored


def test_the_login_password_comes_from_ssm(moto_server: MotoServer, s3_env: dict) -> None:
    client = make_ssm_client(endpoint_url=moto_server.endpoint_url)
    client.put_parameter(Name=PARAMETER, Value="s3cret-from-ssm", Type="SecureString",
                         Overwrite=True)  # fmt: skip
    env = {**BASE, "SURGE_WEB_HOST": "0.0.0.0", "SURGE_UI_PASSWORD_PARAMETER": PARAMETER}
    ui = parse_settings(env).ui
    assert ui.locust_kwargs(RUN)["web_host"] == "0.0.0.0"
    read = read_ssm_parameter("us-east-1")
    assert ui.master_env(read) == {"SURGE_UI_USER": "surge", "SURGE_UI_PASSWORD": "s3cret-from-ssm"}
    missing = MasterUI(web_host="0.0.0.0", password_parameter="/surge/nope")
    with pytest.raises(UISettingsError, match="does not exist"):
        missing.master_env(read)
