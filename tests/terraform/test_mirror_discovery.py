"""How the Terraform helpers find the provider mirror (no terraform needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.terraform import (
    MIRROR_ENV,
    PROVIDER_PATH,
    find_provider_mirror,
    write_cli_config,
)


def make_mirror(root: Path) -> Path:
    (root / PROVIDER_PATH / "5.100.0" / "linux_amd64").mkdir(parents=True)
    return root


def test_env_var_wins_over_search(tmp_path: Path) -> None:
    explicit = make_mirror(tmp_path / "explicit")
    searched = make_mirror(tmp_path / "searched")
    found = find_provider_mirror({MIRROR_ENV: str(explicit)}, roots=(searched,))
    assert found == explicit


def test_wrong_env_var_is_an_error_not_a_fallback(tmp_path: Path) -> None:
    searched = make_mirror(tmp_path / "searched")
    with pytest.raises(FileNotFoundError, match=MIRROR_ENV):
        find_provider_mirror({MIRROR_ENV: str(tmp_path / "nowhere")}, roots=(searched,))


def test_search_finds_a_mirror_nested_below_a_root(tmp_path: Path) -> None:
    nested = make_mirror(tmp_path / "plugins" / "mirror")
    assert find_provider_mirror({}, roots=(tmp_path / "absent", tmp_path)) == nested


def test_no_mirror_anywhere(tmp_path: Path) -> None:
    assert find_provider_mirror({}, roots=(tmp_path,)) is None


def test_cli_config_installs_only_from_the_mirror(tmp_path: Path) -> None:
    text = write_cli_config(tmp_path / "rc", Path("/opt/mirror")).read_text()
    assert 'filesystem_mirror {\n    path    = "/opt/mirror"' in text
    assert "direct" not in text
