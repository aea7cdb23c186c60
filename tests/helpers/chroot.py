"""A throwaway Debian 12 chroot for testing the instance provisioning without AWS.

The base system comes from ``debootstrap --variant=minbase`` with the image's package
list (provisioning/instance/packages.txt) and is cached as a tarball outside the
repository, keyed by a hash of everything that shapes it, so only the first run pays
for debootstrap. Each test session extracts a fresh copy, mounts what the provisioning
needs (proc, a read-only sysfs, a tmpfs /dev/shm) and removes it again.

Safety: the tree is deleted only after every mount below it is gone; a mount that
refuses to go makes teardown fail loudly instead of recursing into the host.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES_FILE = REPO_ROOT / "provisioning" / "instance" / "packages.txt"
SUITE = "bookworm"
VARIANT = "minbase"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
DEBOOTSTRAP_TIMEOUT_S = 900
COMMAND_TIMEOUT_S = 600
# Bumped when the way the base is built changes, so old caches are not reused.
CACHE_FORMAT = "1"
CHROOT_TMPFS_SIZE = "4g"  # base ~0.3 GB + venv ~0.6 GB, allocated only as written
CHROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ChrootError(RuntimeError):
    """The chroot could not be built, entered or removed."""


def cache_dir() -> Path:
    """Per-user cache outside the repository (survives `make clean`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "surge"
    path.mkdir(parents=True, exist_ok=True)
    return path


def read_packages(path: Path = PACKAGES_FILE) -> list[str]:
    """Package names from a packages.txt (comments and blank lines skipped)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


def apt_mirror(sources: Sequence[Path] = APT_SOURCES) -> str:
    """The Debian mirror this machine's apt uses, so debootstrap reaches the same one."""
    for path in sources:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        deb822 = re.search(r"^URIs:\s*(\S+)", text, re.MULTILINE)
        if deb822 and "security" not in deb822.group(1):
            return deb822.group(1).rstrip("/")
        classic = re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+" + SUITE + r"\s", text, re.M)
        if classic:
            return classic.group(1).rstrip("/")
    return DEFAULT_MIRROR


def base_key(packages: Sequence[str], mirror: str) -> str:
    """Short hash of everything that shapes the base tree."""
    material = "\n".join([CACHE_FORMAT, SUITE, VARIANT, mirror, *sorted(packages)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def base_tarball(packages: Sequence[str] | None = None) -> Path:
    """The cached base tarball, built with debootstrap when missing (minutes, once)."""
    packages = list(packages if packages is not None else read_packages())
    mirror = apt_mirror()
    tarball = cache_dir() / f"debootstrap-{SUITE}-{base_key(packages, mirror)}.tar"
    with _locked(tarball.with_suffix(".lock")):
        if tarball.exists():
            return tarball
        work = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=cache_dir()))
        try:
            root = work / "root"
            _run(
                [
                    "debootstrap",
                    f"--variant={VARIANT}",
                    f"--include={','.join(packages)}",
                    SUITE,
                    str(root),
                    mirror,
                ],
                timeout=DEBOOTSTRAP_TIMEOUT_S,
            )
            partial = work / "base.tar"
            _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."])
            partial.replace(tarball)
        finally:
            _remove_tree(work)
    return tarball


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Serialise concurrent builders of the same cache entry."""
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Chroot:
    """A live chroot: run commands in it, read and write its files by host path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.wheel_name = ""  # set by tests that stage a surge wheel into it

    def path(self, inside: str) -> Path:
        """Host path of a path inside the chroot."""
        return self.root / inside.lstrip("/")

    def run(
        self,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT_S,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the chroot with a clean, explicit environment."""
        environment = {"PATH": CHROOT_PATH, "LANG": "C.UTF-8", "HOME": "/root"}
        environment.update(env or {})
        result = subprocess.run(
            ["chroot", str(self.root), *command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ChrootError(
                f"{' '.join(command)} exited {result.returncode} in the chroot\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@contextlib.contextmanager
def debian_chroot(tarball: Path) -> Iterator[Chroot]:
    """Extract the base into a fresh tmpfs, mount what it needs, always clean up.

    The tree lives on its own tmpfs: extracting is fast, and removing it is one unmount
    instead of deleting a gigabyte of small files (two minutes on a busy disk).
    """
    work = Path(tempfile.mkdtemp(prefix="chroot-", dir=cache_dir()))
    root = work / "root"
    root.mkdir()
    mounted: list[Path] = []
    try:
        _run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"mode=0755,size={CHROOT_TMPFS_SIZE}",
                "tmpfs",
                str(root),
            ]
        )
        mounted.append(root)
        _run(["tar", "--numeric-owner", "-C", str(root), "-xf", str(tarball)])
        shutil.copy2("/etc/resolv.conf", root / "etc" / "resolv.conf", follow_symlinks=True)
        for args, target in (
            (["-t", "proc", "proc"], root / "proc"),
            (["-o", "bind,ro", "/sys"], root / "sys"),
            (["-t", "tmpfs", "-o", "mode=1777,size=64m", "tmpfs"], root / "dev" / "shm"),
        ):
            target.mkdir(parents=True, exist_ok=True)
            _run(["mount", *args, str(target)])
            mounted.append(target)
        yield Chroot(root)
    finally:
        for target in reversed(mounted):
            _unmount(target)
        _remove_tree(work)


def _unmount(target: Path) -> None:
    result = subprocess.run(["umount", str(target)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # Something still uses it (a stray process): detach it so the tree can go.
        subprocess.run(["umount", "--lazy", str(target)], check=False)


def _mounts_below(path: Path) -> list[str]:
    prefix = str(path.resolve()).rstrip("/") + "/"
    # mountinfo escapes spaces etc. as octal; our temp paths have none.
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = [line.split()[4] for line in handle]
    return [point for point in points if point.startswith(prefix)]


def _remove_tree(path: Path) -> None:
    """Delete a work tree, but never through a mount point into the host."""
    if not path.exists():
        return
    leftovers = _mounts_below(path)
    if leftovers:
        raise ChrootError(f"not removing {path}: still mounted: {', '.join(leftovers)}")
    shutil.rmtree(path)


def _run(command: Sequence[str], timeout: float = COMMAND_TIMEOUT_S) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise ChrootError(
            f"{' '.join(command)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )


def wheelhouse(lock_file: Path, python: str) -> Path:
    """Wheels for every pin in the lock, downloaded once by the host's pip and cached.

    The chroot then installs with ``PIP_NO_INDEX``/``PIP_FIND_LINKS`` pointing here: the
    same provisioning script and pip, without a network round trip per test run. The
    host's pip configuration (index, mirror, certificates) applies to the download.
    """
    key = hashlib.sha256(lock_file.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"wheelhouse-{key}"
    with _locked(target.with_suffix(".lock")):
        if target.is_dir():
            return target
        partial = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=cache_dir()))
        try:
            _run(
                [
                    python,
                    "-m",
                    "pip",
                    "download",
                    "--quiet",
                    "--no-deps",
                    "--only-binary=:all:",
                    "--requirement",
                    str(lock_file),
                    "--dest",
                    str(partial),
                ],
                timeout=DEBOOTSTRAP_TIMEOUT_S,
            )
            partial.rename(target)
        finally:
            _remove_tree(partial)
    return target
