"""A clean install: the wheel built from this checkout, in a fresh virtualenv, used elsewhere.

The wheel is built from a copy of the checkout (a build writes into its source tree,
which other work shares) and installed with its declared dependencies resolved from
the locked wheelhouse the image build uses (`tests.helpers.chroot.wheelhouse`), so a
dependency missing from ``install_requires`` fails here. Then, from an empty folder
outside the repository: `surge init`, `surge schedule validate`, `surge run` against
the reference shop, `surge report`, `surge cost`.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.chroot import wheelhouse
from tests.helpers.shop import ShopHandle, running_shop

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.xdist_group("clean-install")]

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / "packer" / "requirements.lock"
NOT_SOURCE = (".venv", ".git", "results", "build", "dist", "*.egg-info", "__pycache__", ".cache")
NOT_SOURCE += (".pytest_cache", ".terraform", "node_modules")
GENERIC_NAMES = {"analysis", "shop", "provisioning", "locustfiles", "cli", "tests", "benchmarks"}
STEP_TIMEOUT_S = 120.0


@dataclass
class Install:
    venv: Path
    site_packages: Path
    record: list[str]  # the files the surge wheel installed, as its RECORD lists them

    def surge(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """`surge ...` from the fresh virtualenv, as a user would run it (no PYTHONPATH)."""
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run(
            [str(self.venv / "bin" / "surge"), *args], cwd=cwd, env=env,
            capture_output=True, text=True, timeout=STEP_TIMEOUT_S,
        )  # fmt: skip


def _run(argv: list[str], cwd: Path | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    root = tmp_path_factory.mktemp("clean-install")
    source = root / "src"
    shutil.copytree(REPO_ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ]
    )
    (wheel,) = (root / "dist").glob("surge-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = str(venv / "bin" / "python")
    wheels = wheelhouse(LOCK, sys.executable)
    _run(
        [
            python,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(wheels),
            str(wheel),
        ]
    )
    (site,) = (venv / "lib").glob("python3*/site-packages")
    (dist_info,) = site.glob("surge-*.dist-info")
    with open(dist_info / "RECORD", newline="") as f:
        record = [row[0] for row in csv.reader(f) if row]
    yield Install(venv, site, record)


@pytest.fixture(scope="module")
def shop() -> Iterator[ShopHandle]:
    with running_shop() as handle:
        yield handle


def _logs(work: Path) -> str:
    return "".join(
        f"\n--- {log}\n{log.read_text(errors='replace')[-3000:]}"
        for log in sorted(work.glob("results/*/logs/*.log"))
    )


def test_the_wheel_installs_only_surge_at_the_top_level(install: Install) -> None:
    tops = {path.split("/")[0] for path in install.record if not path.startswith("../")}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"surge"}, tops
    for name in GENERIC_NAMES:
        assert not (install.site_packages / name).exists(), name
    # the demo's schedule and the default scenario ship inside the package
    assert "surge/cli/schedules/demo-staircase.yaml" in install.record
    assert "surge/locustfiles/shop_user.py" in install.record
    assert "surge/locustfiles/webui/static/surge.js" in install.record
    # surge's own scenario is found where the wheel put it: pushing needs no bundle for it
    check = (
        "from pathlib import Path; from surge.bundle import build_bundle; "
        "from surge.schedule import load_schedule; "
        "p = Path('s.yaml'); p.write_text('name: s\\ntarget: http://127.0.0.1:9\\n"
        "load: {stages: [{rps: 1, duration: 1s}]}\\n'); "
        "assert build_bundle(p, load_schedule(p)) is None"
    )
    done = subprocess.run(
        [str(install.venv / "bin" / "python"), "-c", check], cwd=install.venv.parent,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_init_validate_run_report_from_an_empty_folder(
    install: Install, shop: ShopHandle, tmp_path: Path
) -> None:
    work = tmp_path / "api-tests"
    work.mkdir()
    steps = [
        ("init", "--target", shop.url),
        ("schedule", "validate", "smoke.yaml"),
        ("run", "smoke.yaml", "--workers", "1"),
    ]
    outputs = []
    for step in steps:
        done = install.surge(*step, cwd=work)
        outputs.append(done.stdout + done.stderr)
        assert done.returncode in (0, 3), f"surge {' '.join(step)}:\n{outputs[-1]}{_logs(work)}"
    assert "surge run smoke.yaml" in outputs[0]  # init prints the next commands
    (run_dir,) = (work / "results").iterdir()
    assert (run_dir / "report" / "index.html").exists()
    report = install.surge("report", str(run_dir.relative_to(work)), "--out", "again", cwd=work)
    assert report.returncode in (0, 3), report.stdout + report.stderr
    assert (work / "again" / "summary.json").exists()
    cost = install.surge("cost", "--rps", "100", "--hours", "1", cwd=work)
    assert cost.returncode == 0, cost.stderr
    assert install.surge("shop", "--help", cwd=work).returncode == 0
    assert install.surge("agent", "--help", cwd=work).returncode == 0
    assert install.surge("demo", "--help", cwd=work).returncode == 0
