"""surge used from a user's own project: any working directory, paths as the user types them.

`surge run smoke.yaml` in a folder outside the repository: the schedule path is
relative to the working directory, the locustfile (with its helper module, package
and CSV file) relative to the schedule, and the results land in ./results. The
scenario's `env` reaches the generators and its secret comes from the environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge.results import read_manifest, read_requests
from tests.helpers.shop import ShopHandle, running_shop
from tests.helpers.user_project import (
    SECRET_NAME,
    SECRET_VALUE,
    expected_name,
    schedule_yaml,
    write_user_project,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 120.0


def surge(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """The `surge` command as a user runs it: its own process, in `cwd`, no PYTHONPATH."""
    base = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-m", "surge", *args], cwd=cwd, env={**base, **(env or {})},
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopHandle]:
    with running_shop() as handle:
        yield handle


@pytest.fixture
def project(tmp_path: Path, shop: ShopHandle) -> Path:
    root = tmp_path / "my-api"
    write_user_project(root, target=shop.url, stages="[{rps: 20, duration: 2s}]")
    assert not root.resolve().is_relative_to(REPO_ROOT)
    return root


@pytest.mark.integration
def test_run_from_the_users_folder_with_relative_paths(project: Path) -> None:
    done = surge(["run", "smoke.yaml", "--workers", "1"], project, {SECRET_NAME: SECRET_VALUE})
    assert done.returncode in (0, 3), done.stdout + done.stderr  # 3: this busy VM lagged
    (run_dir,) = (project / "results").iterdir()  # results land in the user's folder
    names = set(read_requests(run_dir, columns=["name"]).column("name").to_pylist())
    assert names == {expected_name(secret=True)}, names  # CSV, helpers, env, secret
    assert (run_dir / "report" / "index.html").exists()
    manifest = read_manifest(run_dir)
    assert manifest.schedule["scenario"]["env"] == {"LABEL": "from-env"}
    assert manifest.scenario_bundle is None  # a local run of a file: nothing was bundled
    assert SECRET_VALUE not in (run_dir / "manifest.json").read_text()
    for log in (run_dir / "logs").iterdir():
        assert SECRET_VALUE not in log.read_text(errors="replace")
    assert not (REPO_ROOT / "results" / run_dir.name).exists()


@pytest.mark.integration
def test_a_missing_secret_stops_the_run_before_any_load(project: Path) -> None:
    done = surge(["run", "smoke.yaml", "--workers", "1"], project)  # SHOP_API_TOKEN unset
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"error: secret not found: {SECRET_NAME} (ssm:/surge-test/shop-api-token)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list((project / "results").glob("*/requests"))  # nothing was sent


def test_a_schedule_in_another_folder_finds_its_locustfile_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Relative schedule path against the cwd, locustfile against the schedule's folder."""
    from surge.provisioning.scenario import local_scenario
    from surge.schedule import load_schedule

    root = tmp_path / "proj"
    schedule = write_user_project(
        root, target="http://127.0.0.1:9", stages="[{rps: 1, duration: 1s}]"
    )
    monkeypatch.chdir(tmp_path)  # pytest's tmp_path is outside the repository
    setup = local_scenario(
        Path("proj/smoke.yaml"), load_schedule("proj/smoke.yaml"), {SECRET_NAME: "x"}
    )
    assert setup.locustfile == (root / "locustfiles" / "browse.py").resolve()
    assert setup.cwd == root.resolve()
    assert setup.env == {"LABEL": "from-env", SECRET_NAME: "x"}
    assert schedule.exists()
    # the default scenario ships inside the package, found from any folder
    (tmp_path / "default.yaml").write_text(
        schedule_yaml(target="http://127.0.0.1:9", stages="[{rps: 1, duration: 1s}]").split(
            "scenario:"
        )[0]
        + "load: {stages: [{rps: 1, duration: 1s}]}\n"
    )
    default = local_scenario(Path("default.yaml"), load_schedule("default.yaml"), {})
    assert default.locustfile.name == "shop_user.py" and default.locustfile.is_file()


def test_the_demo_schedule_and_scenario_ship_inside_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.resources

    from surge.cli.demo import DEMO_SCHEDULE
    from surge.provisioning.scenario import local_scenario
    from surge.schedule import load_schedule

    monkeypatch.chdir(tmp_path)  # `surge demo` from any folder
    assert (
        importlib.resources.files("surge.cli").joinpath("schedules/demo-staircase.yaml").is_file()
    )
    setup = local_scenario(DEMO_SCHEDULE, load_schedule(DEMO_SCHEDULE), {})
    assert setup.locustfile.name == "shop_user.py" and setup.locustfile.is_file()
