"""The module's static checks and its `terraform test` suite (mocked provider)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers.terraform import TERRAFORM_DIR, TerraformWorkspace

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("terraform")]  # one init

EXAMPLES = ("minimal", "large")


def test_formatting_is_canonical(tf_workspace: TerraformWorkspace) -> None:
    proc = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", "-no-color", str(TERRAFORM_DIR)],
        env=tf_workspace.env(tf_workspace.root),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"run `terraform fmt -recursive terraform/`:\n{proc.stdout}"


def test_mocked_provider_suite_passes(tf_module: Path, tf_workspace: TerraformWorkspace) -> None:
    """tests/*.tftest.hcl: worker count, IMDSv2, open ingress, IAM scope, volumes, user data."""
    proc = tf_workspace.run(tf_module, "test")
    summary = proc.stdout.strip().splitlines()[-1]
    assert summary.startswith("Success!") and " 0 failed" in summary, proc.stdout
    # Guard against a suite that silently shrank to nothing.
    passed = int(summary.split()[1])
    assert passed >= 10, proc.stdout


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_validates(example: str, tf_workspace: TerraformWorkspace) -> None:
    workdir = tf_workspace.root / "examples" / example
    tf_workspace.init(workdir)
    proc = tf_workspace.run(workdir, "validate")
    assert "The configuration is valid" in proc.stdout
