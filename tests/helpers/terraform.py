"""Run the real `terraform` binary against the provider mirror on this machine.

There is no registry access here, so Terraform must install hashicorp/aws from a
filesystem mirror. This module is the one place that finds that mirror, writes the
CLI configuration pointing at it, and runs Terraform in a throw-away copy of
`terraform/` (with TF_DATA_DIR in a temp dir) so that tests never litter the tree.
moto's server for the apply/destroy test comes from tests/helpers/s3.py.

`scripts/lint-terraform.sh` uses it too, as a CLI:
``python -m tests.helpers.terraform cli-config OUT`` writes the CLI config and
prints the mirror; it exits 3 (and says why) when there is no mirror.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.s3 import moto_s3

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO_ROOT / "terraform"

#: env var naming the mirror directory (the one holding registry.terraform.io/)
MIRROR_ENV = "SURGE_TF_PROVIDER_MIRROR"
#: the provider every configuration here needs, as laid out in an unpacked mirror
PROVIDER_PATH = Path("registry.terraform.io/hashicorp/aws")
#: where provider mirrors usually live when the env var is not set, in search order
MIRROR_SEARCH_ROOTS: tuple[Path, ...] = (
    Path("/opt/tf-plugins"),
    Path("/usr/share/terraform/plugins"),
    Path("/usr/local/share/terraform/plugins"),
    Path.home() / ".terraform.d/plugins",
    Path.home() / ".local/share/terraform/plugins",
    Path("/opt/terraform/plugins"),
    Path("/opt/terraform-plugins"),
)
#: how deep below each root to look for registry.terraform.io/hashicorp/aws
MIRROR_SEARCH_DEPTH = 2

#: one terraform command (init/validate/apply...) may take this long before we give up
TERRAFORM_TIMEOUT_S = 300.0

EXIT_NO_MIRROR = 3


class TerraformError(RuntimeError):
    """A terraform command failed; carries its output so the test failure explains itself."""


def find_terraform() -> Path | None:
    """The terraform binary on PATH, or None."""
    found = shutil.which("terraform")
    return Path(found) if found else None


def _has_provider(root: Path) -> bool:
    return (root / PROVIDER_PATH).is_dir()


def find_provider_mirror(
    env: Mapping[str, str] | None = None,
    roots: Sequence[Path] = MIRROR_SEARCH_ROOTS,
) -> Path | None:
    """The mirror directory holding hashicorp/aws: $SURGE_TF_PROVIDER_MIRROR, else a search.

    The env var wins and must be right (a wrong value is an error, not a fallback),
    so that CI pointing at a mirror never silently tests another one.
    """
    env = os.environ if env is None else env
    explicit = env.get(MIRROR_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not _has_provider(path):
            raise FileNotFoundError(f"{MIRROR_ENV}={explicit} does not contain {PROVIDER_PATH}")
        return path
    for root in roots:
        if not root.is_dir():
            continue
        if _has_provider(root):
            return root
        for depth in range(1, MIRROR_SEARCH_DEPTH + 1):
            for candidate in sorted(root.glob("/".join(["*"] * depth))):
                if candidate.is_dir() and _has_provider(candidate):
                    return candidate
    return None


def write_cli_config(path: Path, mirror: Path) -> Path:
    """A CLI config that installs every provider from `mirror` and never from the network."""
    path.write_text(
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f'    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/*/*"]\n'
        "  }\n"
        "}\n"
        "disable_checkpoint = true\n"
    )
    return path


def missing_prerequisite() -> str | None:
    """Why Terraform tests cannot run here (None when they can)."""
    if find_terraform() is None:
        return "terraform binary not found on PATH"
    try:
        mirror = find_provider_mirror()
    except FileNotFoundError as exc:
        return str(exc)
    if mirror is None:
        searched = ", ".join(str(root) for root in MIRROR_SEARCH_ROOTS)
        return (
            f"no provider mirror with {PROVIDER_PATH}: set {MIRROR_ENV} "
            f"(searched {searched}); this machine has no registry access"
        )
    return None


def skip_loudly_without_terraform() -> None:
    """pytest.skip with the reason, and a warning so the skip is seen in the summary."""
    import pytest

    reason = missing_prerequisite()
    if reason is None:
        return
    message = f"TERRAFORM TESTS SKIPPED: {reason}"
    print(f"\n!!! {message} !!!", file=sys.stderr)
    warnings.warn(message, stacklevel=2)
    pytest.skip(message)


@dataclass
class TerraformWorkspace:
    """A private copy of terraform/ with its own CLI config and data dirs.

    Attributes:
        root: the copy of terraform/ (module at the root, examples under it)
        cli_config: the CLI config file pointing at the provider mirror
        data_root: parent of one TF_DATA_DIR per working directory
    """

    root: Path
    cli_config: Path
    data_root: Path

    def env(self, workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for terraform in `workdir`: our CLI config, a private data dir."""
        name = str(workdir.relative_to(self.root)).replace("/", "_") or "module"
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "TF_DATA_DIR": str(self.data_root / name),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        env.pop("TF_PLUGIN_CACHE_DIR", None)
        env.update(extra or {})
        return env

    def run(
        self,
        workdir: Path,
        *args: str,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = TERRAFORM_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run `terraform <args>` in `workdir`; raise TerraformError with its output on failure."""
        proc = subprocess.run(
            ["terraform", f"-chdir={workdir}", *args, "-no-color"],
            env=self.env(workdir, extra_env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise TerraformError(
                f"terraform {' '.join(args)} in {workdir} exited {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
            )
        return proc

    def init(self, workdir: Path) -> None:
        """`terraform init` from the mirror only (no backend, no downloads)."""
        self.run(workdir, "init", "-backend=false")


def copy_terraform_tree(dest: Path) -> Path:
    """Copy terraform/ without local state, data dirs or lock files."""
    return Path(
        shutil.copytree(
            TERRAFORM_DIR,
            dest,
            ignore=shutil.ignore_patterns(
                ".terraform", ".terraform.lock.hcl", "terraform.tfstate*", "*.tfplan"
            ),
        )
    )


def make_workspace(tmp: Path) -> TerraformWorkspace:
    """A workspace under `tmp` (call skip_loudly_without_terraform first)."""
    mirror = find_provider_mirror()
    assert mirror is not None, "call skip_loudly_without_terraform() first"
    root = copy_terraform_tree(tmp / "terraform")
    data_root = tmp / "tf-data"
    data_root.mkdir()
    cli_config = write_cli_config(tmp / "terraformrc", mirror)
    return TerraformWorkspace(root=root, cli_config=cli_config, data_root=data_root)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server (EC2, IAM, S3, STS...) on loopback, with AWS managed policies loaded."""
    # AmazonSSMManagedInstanceCore, which the module attaches, exists only when loaded.
    with moto_s3({"MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}) as server:
        yield server.endpoint_url


def moto_override(endpoint: str, region: str, module_name: str = "fleet") -> str:
    """A Terraform override file (test-only, never in the module) sending the aws provider to moto.

    It also turns off detailed monitoring in the module call: moto does not implement
    MonitorInstances and the provider retries its 500 answers until it times out.
    """
    services = ("ec2", "iam", "s3", "sts", "ssm")
    endpoints = "\n".join(f'    {name} = "{endpoint}"' for name in services)
    return (
        'provider "aws" {\n'
        f'  region                      = "{region}"\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_region_validation      = true\n"
        "  s3_use_path_style           = true\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n"
        "\n"
        f'module "{module_name}" {{\n'
        "  detailed_monitoring = false\n"
        "}\n"
    )


def _main(argv: Sequence[str]) -> int:
    if len(argv) != 2 or argv[0] != "cli-config":
        print("usage: python -m tests.helpers.terraform cli-config OUT", file=sys.stderr)
        return 2
    reason = missing_prerequisite()
    if reason is not None:
        print(f"no terraform provider mirror: {reason}", file=sys.stderr)
        return EXIT_NO_MIRROR
    mirror = find_provider_mirror()
    assert mirror is not None
    write_cli_config(Path(argv[1]), mirror)
    print(mirror)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
