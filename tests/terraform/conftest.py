"""Fixtures for the Terraform checks: one private copy of terraform/ per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.terraform import (
    TerraformWorkspace,
    make_workspace,
    skip_loudly_without_terraform,
)


@pytest.fixture(scope="session")
def tf_workspace(tmp_path_factory: pytest.TempPathFactory) -> TerraformWorkspace:
    """terraform/ copied to a temp dir, with the mirror's CLI config; skips loudly without it."""
    skip_loudly_without_terraform()
    return make_workspace(tmp_path_factory.mktemp("tf"))


@pytest.fixture(scope="session")
def tf_module(tf_workspace: TerraformWorkspace) -> Path:
    """The module root, initialised from the provider mirror."""
    tf_workspace.init(tf_workspace.root)
    return tf_workspace.root
