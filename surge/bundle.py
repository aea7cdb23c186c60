"""The scenario bundle: a user's scenario, carried to the fleet beside its schedule.

`surge schedule push` packs what the scenario needs into one gzip'd tar: the
locustfile, the Python modules and packages beside it that it imports (found by
reading its ``import`` statements, and theirs, within the schedule's folder), and
the data files the schedule lists under ``scenario.files`` (globs relative to the
schedule). The archive is deterministic (sorted members, no timestamps or owners),
so the same files give the same SHA-256; it is uploaded content-addressed next to
the schedule (``.../bundles/<sha256>.tar.gz``) and the pushed schedule names it
under ``bundle:``. Each agent downloads it, checks the hash and unpacks it into the
run directory; the image holds surge only.

Limits: every file must lie inside the schedule's folder, exist, and the whole must
stay under `MAX_BUNDLE_BYTES`. A scenario that is not beside the schedule but ships
with surge (the default ``locustfiles/shop_user.py``) needs no bundle.
"""

from __future__ import annotations

import ast
import gzip
import hashlib
import importlib.resources
import io
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from surge.errors import SurgeError
from surge.s3 import S3Store, S3Url
from surge.schedule import BundleRef, Schedule, parse_schedule

MAX_BUNDLE_BYTES = 50 * 1024 * 1024  # the files' total size; a scenario, not a data set
BUNDLES_DIR = "bundles"  # beside the pushed schedule's key
SCENARIO_DIR = "scenario"  # in a run directory: the unpacked bundle
BUNDLE_FILE = "scenario.tar.gz"  # in a run directory: the bundle as the fleet ran it
SKIPPED_DIRS = {"__pycache__", ".git", ".venv", "results"}
# where surge's own scenarios resolve (`locustfiles/shop_user.py`): the folder holding
# the surge.locustfiles room, the repository (editable) or site-packages/surge (a wheel)
PACKAGE_ROOT = Path(str(importlib.resources.files("surge.locustfiles"))).parent


class BundleError(SurgeError):
    """A scenario that cannot be bundled or a bundle that fails its check (exit 2)."""


@dataclass(frozen=True)
class Bundle:
    """A built bundle: the archive, its SHA-256 (hex) and its members (POSIX paths)."""

    data: bytes
    sha256: str
    files: tuple[str, ...]


def build_bundle(schedule_path: str | Path, schedule: Schedule) -> Bundle | None:
    """The bundle of `schedule`'s scenario; None when it runs surge's own scenario only."""
    base = Path(schedule_path).resolve().parent
    files = scenario_files(base, schedule, where=str(schedule_path))
    if not files:
        return None
    total = sum((base / f).stat().st_size for f in files)
    if total > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"scenario bundle too large: {total / 2**20:.1f} MB over the "
            f"{MAX_BUNDLE_BYTES // 2**20} MB limit (check scenario.files)",
            str(schedule_path),
        )
    data = _archive(base, files)
    return Bundle(data=data, sha256=hashlib.sha256(data).hexdigest(), files=tuple(files))


def scenario_files(base: Path, schedule: Schedule, *, where: str) -> list[str]:
    """Every file of the scenario, relative to `base` (the schedule's folder), sorted."""
    found: set[Path] = set()
    locustfile = _inside(base, schedule.scenario.locustfile, "scenario.locustfile", where)
    if locustfile.is_file():
        found.add(locustfile)
        found |= _local_imports(locustfile, base)
    elif not (PACKAGE_ROOT / schedule.scenario.locustfile).is_file():
        raise BundleError(
            f"scenario.locustfile not found: {schedule.scenario.locustfile} "
            f"(looked in the schedule's folder {base})",
            where,
        )
    for pattern in schedule.scenario.files:
        found |= _glob(base, pattern, where)
    return sorted(p.relative_to(base).as_posix() for p in found)


def bundle_key(schedule_key: str, sha256: str) -> str:
    """Where a bundle goes: next to the schedule, named by its hash."""
    folder = str(PurePosixPath(schedule_key).parent)
    prefix = "" if folder in {"", "."} else folder + "/"
    return f"{prefix}{BUNDLES_DIR}/{sha256}.tar.gz"


def stamp(schedule: Schedule, ref: BundleRef) -> str:
    """The schedule's YAML with its bundle named at the end (comments and layout kept)."""
    if schedule.bundle is not None:
        raise BundleError(
            "this schedule already names a bundle (it was pushed before): push the original",
            schedule.source,
        )
    text = schedule.text if schedule.text.endswith("\n") else schedule.text + "\n"
    text += (
        "# written by `surge schedule push`: the scenario bundle the fleet runs (SHA-256 checked)\n"
        f"bundle: {{key: {ref.key}, sha256: {ref.sha256}}}\n"
    )
    parse_schedule(text, source=schedule.source)  # the stamped file must still be valid
    return text


def verify(data: bytes, sha256: str, where: str) -> None:
    """Refuse a bundle whose bytes are not the ones the schedule names."""
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise BundleError(
            f"scenario bundle hash mismatch: expected {sha256}, got {actual}; refusing to run it",
            where,
        )


def unpack(data: bytes, sha256: str, dest: Path, where: str) -> list[str]:
    """Check `data` against `sha256`, then extract it into `dest`; returns the members.

    Only regular files with relative paths inside `dest` are accepted (the ``data``
    extraction filter), and their declared sizes must fit the bundle limit.
    """
    verify(data, sha256, where)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = tar.getmembers()
            if sum(m.size for m in members) > MAX_BUNDLE_BYTES:
                raise BundleError("scenario bundle expands beyond the size limit", where)
            bad = [m.name for m in members if not m.isfile()]
            if bad:
                raise BundleError(f"scenario bundle holds non-files: {', '.join(bad[:3])}", where)
            dest.mkdir(parents=True, exist_ok=True)
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BundleError(f"unreadable scenario bundle: {exc}", where) from None
    return [m.name for m in members]


# ---------------------------------------------------------------- helpers


def _inside(base: Path, relative: str, key: str, where: str) -> Path:
    path = (base / relative).resolve()
    if not path.is_relative_to(base):
        raise BundleError(
            f"{key}: {relative} is outside the schedule's folder {base}; "
            "keep the scenario beside its schedule",
            where,
        )
    return path


def _glob(base: Path, pattern: str, where: str) -> set[Path]:
    if Path(pattern).is_absolute() or ".." in PurePosixPath(pattern).parts:
        raise BundleError(f"scenario.files: {pattern} is outside the schedule's folder", where)
    matches: set[Path] = set()
    for match in base.glob(pattern):
        for path in [match] if match.is_file() else sorted(match.rglob("*")):
            if not path.is_file() or SKIPPED_DIRS & set(path.relative_to(base).parts):
                continue
            matches.add(_inside(base, str(path.relative_to(base)), "scenario.files", where))
    if not matches:
        raise BundleError(f"scenario.files: no file matches {pattern}", where)
    return matches


def _local_imports(module: Path, base: Path) -> set[Path]:
    """Modules and packages under `base` that `module` imports, and what they import."""
    found: set[Path] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        roots = [current.parent, base]  # beside the file, and the run's working directory
        for name in _imported_names(current):
            for path in _resolve(name, roots, base):
                if path not in found and path != module:
                    found.add(path)
                    todo.append(path)
    return found


def _imported_names(path: Path) -> Iterable[str]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError):
        return []  # Locust reports a broken file with its own traceback
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _resolve(name: str, roots: list[Path], base: Path) -> list[Path]:
    """The files of module `name` under one of `roots` (inside `base`): a module file, a
    regular package (all of it: its modules import each other relatively), or the named
    module of a namespace package (a folder without ``__init__.py``)."""
    parts = name.split(".")
    for root in roots:
        top = root / parts[0]
        if (root / f"{parts[0]}.py").is_file():
            found = [root / f"{parts[0]}.py"]
        elif (top / "__init__.py").is_file():
            found = [p for p in top.rglob("*.py") if "__pycache__" not in p.parts]
        elif top.is_dir():
            found = [root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")]
            found = [p for p in found if p.is_file()]
        else:
            continue
        return sorted({p.resolve() for p in found if p.resolve().is_relative_to(base)})
    return []  # the standard library or an installed package: the image has it


def _archive(base: Path, files: list[str]) -> bytes:
    """A reproducible tar.gz: sorted members, fixed mode, owner and time."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in files:
            data = (base / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def push_schedule(
    store: S3Store, schedule_path: Path, schedule: Schedule, url: S3Url
) -> Bundle | None:
    """Upload the scenario bundle (if any) and then the schedule naming it.

    The bundle goes first: a schedule in S3 never names a bundle that is not there.
    A bundle already uploaded (same hash, same bytes) is not sent again.
    """
    bundle = build_bundle(schedule_path, schedule)
    text = schedule_path.read_bytes()
    if bundle is not None:
        ref = BundleRef(key=bundle_key(url.key, bundle.sha256), sha256=bundle.sha256)
        bundle_url = S3Url(url.bucket, ref.key)
        if not store.exists(bundle_url):
            store.put_bytes(bundle_url, bundle.data)
        text = stamp(schedule, ref).encode()
    store.put_bytes(url, text)
    return bundle
