"""packer/requirements.lock: every runtime dependency pinned, extras and markers followed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCK = REPO_ROOT / "packer" / "requirements.lock"


def _load_locker() -> ModuleType:
    """packer/ is not a package: load the generator script by path."""
    spec = importlib.util.spec_from_file_location(
        "lock_requirements", REPO_ROOT / "packer" / "lock_requirements.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


locker = _load_locker()


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        if not line or line.startswith(("#", " ")):  # comments, --hash continuation lines
            continue
        name, separator, version = line.removesuffix(" \\").partition("==")
        assert separator, f"not pinned with ==: {line}"
        assert name == canonicalize_name(name), f"not a canonical name: {name}"
        assert name not in pins, f"pinned twice: {name}"
        pins[name] = version
    return pins


def test_every_pin_carries_hashes_and_matches_this_venv() -> None:
    # pip --require-hashes (AMI and make venv) refuses a pin without one
    locked = locker.parse_lock(LOCK.read_text())
    assert {name: version for name, (version, _h) in locked.items()} == _pins()
    for name, (_version, hashes) in locked.items():
        assert hashes and all(h.startswith("sha256:") for h in hashes), name
    assert locker.main(["--check"]) == 0  # the lock is what the tests run on


def test_check_names_a_drifted_or_unhashed_pin(tmp_path: Path) -> None:
    lock = tmp_path / "requirements.lock"
    text = LOCK.read_text()
    first = next(iter(locker.parse_lock(text)))
    version = locker.parse_lock(text)[first][0]
    lock.write_text(text.replace(f"{first}=={version}", f"{first}==0.0.1", 1))
    assert locker.check_lock(lock.read_text(), _pins()) == [
        f"{first}: .venv has {version}, lock 0.0.1"
    ]
    assert locker.check_lock("zz==1.0\n", {"zz": "1.0"}) == ["zz: no --hash"]


def test_lock_is_sorted_canonical_and_unique() -> None:
    names = list(_pins())
    assert names == sorted(names)
    assert "surge" not in names


def test_every_runtime_requirement_is_pinned_to_a_matching_version() -> None:
    pins = _pins()
    for requirement in locker.root_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} from setup.cfg is not in {LOCK.name}: relock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {requirement}: relock"
        )


def test_closure_follows_requested_extras_only() -> None:
    plain = locker.requirement_closure([Requirement("uvicorn")])
    standard = locker.requirement_closure([Requirement("uvicorn[standard]")])
    assert "h11" in plain
    assert "uvloop" not in plain and "httptools" not in plain
    assert {"uvloop", "httptools", "h11"} <= set(standard)


def test_closure_skips_dev_only_requirements() -> None:
    # pytest's own dev extra (pytest-xdist, ...) must not leak into the image.
    closure = locker.requirement_closure([Requirement("pytest")])
    assert {"pytest", "pluggy", "iniconfig"} <= set(closure)
    assert "pytest-xdist" not in closure


def test_missing_distribution_is_a_clear_error() -> None:
    with pytest.raises(locker.LockError, match="not installed"):
        locker.requirement_closure([Requirement("surge-no-such-package-xyz")])


def test_render_lock_sorts_pins() -> None:
    text = locker.render_lock({"zeta": "1.0", "alpha": "2.0"})
    assert text.splitlines()[-2:] == ["alpha==2.0", "zeta==1.0"]
