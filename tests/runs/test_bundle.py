"""The scenario bundle: what `surge schedule push` packs, its limits, and a fleet running it.

The fleet tests start a master and two worker agents as separate processes against
the moto server (S3 and SSM on loopback). The scenario exists only in a temporary
user folder (locustfile, helper module, package, CSV): the agents run it from the
bundle, so its request names in the records prove every file arrived.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from surge import bundle as bundle_mod
from surge.bundle import build_bundle, bundle_key, unpack
from surge.cli import main
from surge.errors import SurgeError
from surge.results import read_manifest, read_requests
from surge.s3 import S3Store, S3Url
from surge.schedule import load_schedule, parse_schedule
from surge.secrets import make_ssm_client
from tests.helpers.fleet import Fleet, fetch
from tests.helpers.s3 import MotoServer
from tests.helpers.shop import ShopHandle, running_shop
from tests.helpers.user_project import (
    SECRET_NAME,
    SECRET_VALUE,
    expected_name,
    write_user_project,
)

PARAMETER = "/surge-test/shop-api-token"  # what the user project's schedule names


@pytest.fixture
def shop() -> Iterator[ShopHandle]:
    with running_shop() as handle:
        yield handle


def _project(tmp_path: Path, target: str = "http://127.0.0.1:9") -> Path:
    return write_user_project(tmp_path / "user", target=target, stages="[{rps: 30, duration: 3s}]")


def _members(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


# ---------------------------------------------------------------- what goes in


def test_the_bundle_holds_the_scenario_its_imports_and_data_only(tmp_path: Path) -> None:
    path = _project(tmp_path)
    built = build_bundle(path, load_schedule(path))
    assert built is not None
    assert _members(built.data) == [
        "data/products.csv",
        "lib/text.py",
        "locustfiles/browse.py",
        "locustfiles/helpers.py",
        "shared/__init__.py",
        "shared/names.py",
    ]  # README.md, lib/unused.py and the schedule itself stay out
    again = build_bundle(path, load_schedule(path))
    assert again is not None and again.sha256 == built.sha256  # reproducible: content-addressed
    (path.parent / "data" / "products.csv").write_text("sku\n9\n")
    changed = build_bundle(path, load_schedule(path))
    assert changed is not None and changed.sha256 != built.sha256
    assert bundle_key("schedules/x.yaml", "ab") == "schedules/bundles/ab.tar.gz"


def test_surge_own_scenario_needs_no_bundle(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntarget: http://127.0.0.1:9\nload: {stages: [{rps: 1, duration: 1s}]}\n"
    )
    assert build_bundle(path, load_schedule(path)) is None  # locustfiles/shop_user.py ships


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("locustfile: ../outside.py", "outside the schedule's folder"),
        ("locustfile: locustfiles/nope.py", "scenario.locustfile not found"),
        ("files: [data/*.json]", "no file matches data/*.json"),
        ("files: [../*.csv]", "outside the schedule's folder"),
    ],
)
def test_bundle_mistakes_are_bad_input(tmp_path: Path, change: str, message: str) -> None:
    path = _project(tmp_path)
    (tmp_path / "outside.py").write_text("")
    key = change.split(":")[0]
    text = path.read_text()
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith(f"{key}:")]
    lines.insert(lines.index("scenario:") + 1, f"  {change}")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SurgeError, match=re.escape(message)) as caught:
        build_bundle(path, load_schedule(path))
    assert caught.value.exit_code == 2


def test_a_bundle_over_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _project(tmp_path)
    monkeypatch.setattr(bundle_mod, "MAX_BUNDLE_BYTES", 100)
    with pytest.raises(SurgeError, match="scenario bundle too large") as caught:
        build_bundle(path, load_schedule(path))
    assert caught.value.exit_code == 2


def test_unpack_checks_the_hash_first(tmp_path: Path) -> None:
    path = _project(tmp_path)
    built = build_bundle(path, load_schedule(path))
    assert built is not None
    with pytest.raises(SurgeError, match="hash mismatch"):
        unpack(built.data + b"x", built.sha256, tmp_path / "out", "s3://b/k")
    assert not (tmp_path / "out").exists()
    assert "locustfiles/browse.py" in unpack(built.data, built.sha256, tmp_path / "out", "here")
    assert (tmp_path / "out" / "data" / "products.csv").exists()


def test_unpack_refuses_paths_outside_the_run(tmp_path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        tar.addfile(info, io.BytesIO(b""))
    data = raw.getvalue()
    with pytest.raises(SurgeError, match="unreadable scenario bundle"):
        unpack(data, hashlib.sha256(data).hexdigest(), tmp_path / "out", "here")
    assert not (tmp_path / "escape.py").exists()


# ---------------------------------------------------------------- push


def test_push_uploads_the_bundle_and_names_it_in_the_schedule(
    tmp_path: Path, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _project(tmp_path)
    assert main(["schedule", "push", str(path), f"s3://{bucket}/schedules/own.yaml"]) == 0
    assert "scenario bundle" in capsys.readouterr().out
    store = S3Store()
    pushed = parse_schedule(store.get_bytes(S3Url(bucket, "schedules/own.yaml")))
    assert pushed.bundle is not None
    assert pushed.bundle.key == f"schedules/bundles/{pushed.bundle.sha256}.tar.gz"
    data = store.get_bytes(S3Url(bucket, pushed.bundle.key))
    assert hashlib.sha256(data).hexdigest() == pushed.bundle.sha256
    assert pushed.text.startswith(path.read_text())  # the user's file as written, then bundle:
    # a bad scenario sends nothing
    (path.parent / "locustfiles" / "browse.py").unlink()
    assert main(["schedule", "push", str(path), f"s3://{bucket}/schedules/broken.yaml"]) == 2
    assert not store.exists(S3Url(bucket, "schedules/broken.yaml"))


# ---------------------------------------------------------------- on a fleet


def _put_secret(moto_server: MotoServer) -> None:
    client = make_ssm_client(endpoint_url=moto_server.endpoint_url)
    client.put_parameter(Name=PARAMETER, Value=SECRET_VALUE, Type="SecureString", Overwrite=True)


def _push(fleet: Fleet, path: Path) -> None:
    url = f"s3://{fleet.bucket}/schedules/{fleet.run_id}.yaml"
    assert main(["schedule", "push", str(path), url]) == 0


def _pushed_project(fleet: Fleet, shop: ShopHandle, moto_server: MotoServer) -> Path:
    """The user project aimed at the shop, its secret in SSM, pushed for the fleet."""
    _put_secret(moto_server)
    path = _project(fleet.tmp, target=shop.url)
    _push(fleet, path)
    return path


def _load_seen(shop: ShopHandle) -> dict:
    """Requests the shop answered, by route, without its own /stats calls."""
    return {r: n for r, n in shop.stats()["requests"].items() if r != "GET /stats"}


def _everything_in(bucket: str) -> bytes:
    store = S3Store()
    keys = store.list_keys(S3Url(bucket, ""))
    return b"".join(store.get_bytes(S3Url(bucket, key)) for key in keys)


@pytest.mark.integration
@pytest.mark.slow
def test_a_users_scenario_runs_on_the_fleet_from_its_bundle(
    fleet: Fleet,
    shop: ShopHandle,
    moto_server: MotoServer,
) -> None:
    _pushed_project(fleet, shop, moto_server)
    fleet.start("master", "master", expect_workers=2)
    fleet.start("w1", "worker")
    fleet.start("w2", "worker")
    codes = fleet.wait()
    assert codes["w1"] == 0 and codes["w2"] == 0, fleet.output("w1") + fleet.output("w2")
    assert codes["master"] in (0, 3), fleet.output("master")

    dest = fetch(fleet)
    names = set(read_requests(dest, columns=["name"]).column("name").to_pylist())
    assert names == {expected_name(secret=True)}, names  # CSV, helpers, env and the SSM secret
    manifest = read_manifest(dest)
    bundle = (dest / "scenario.tar.gz").read_bytes()  # fetch brings back what ran
    assert manifest.scenario_bundle == hashlib.sha256(bundle).hexdigest()
    assert (dest / "scenario" / "locustfiles" / "browse.py").exists()
    assert main(["report", str(dest), "--out", str(fleet.tmp / "report")]) in (0, 3)
    # the report says which scenario produced it
    summary = json.loads((fleet.tmp / "report" / "summary.json").read_text())
    assert summary["schedule"]["scenario_bundle"] == manifest.scenario_bundle
    assert summary["schedule"]["locustfile"] == "locustfiles/browse.py"
    assert manifest.scenario_bundle[:12] in (fleet.tmp / "report" / "summary.md").read_text()
    # the secret's value is nowhere: not in S3 (schedule, bundle, logs, manifest), not in logs
    assert SECRET_VALUE.encode() not in _everything_in(fleet.bucket)
    for name in fleet.logs:
        assert SECRET_VALUE not in fleet.logs[name].read_text(errors="replace")
    assert f"{SECRET_NAME}" in manifest.schedule_yaml  # the name and path are fine


@pytest.mark.integration
def test_a_tampered_bundle_is_refused_and_nothing_is_sent(
    fleet: Fleet,
    shop: ShopHandle,
    moto_server: MotoServer,
) -> None:
    path = _pushed_project(fleet, shop, moto_server)
    store = S3Store()
    pushed = parse_schedule(store.get_bytes(S3Url(fleet.bucket, f"schedules/{fleet.run_id}.yaml")))
    assert pushed.bundle is not None
    (path.parent / "locustfiles" / "helpers.py").write_text(
        'def product_path(sku):\n    return "/admin/reset"\n'
    )
    tampered = build_bundle(path, load_schedule(path))
    assert tampered is not None
    store.put_bytes(S3Url(fleet.bucket, pushed.bundle.key), tampered.data)
    before = _load_seen(shop)
    fleet.start("w1", "worker")
    assert fleet.wait(timeout=60) == {"w1": 4}, fleet.output("w1")
    log = fleet.output("w1")
    assert "scenario bundle hash mismatch" in log
    assert "started worker" not in log and "Traceback" not in log
    assert not store.list_keys(S3Url(fleet.bucket, f"runs/{fleet.run_id}/requests"))
    assert _load_seen(shop) == before  # not one request reached the target


@pytest.mark.integration
def test_surge_run_of_a_pushed_schedule_runs_its_bundle_here(
    tmp_path: Path, bucket: str, shop: ShopHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _project(tmp_path, target=shop.url)
    url = f"s3://{bucket}/schedules/own.yaml"
    assert main(["schedule", "push", str(path), url]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # nothing of the scenario here: it comes from S3
    monkeypatch.setenv(SECRET_NAME, SECRET_VALUE)  # locally, secrets come from the environment
    assert main(["run", url, "--workers", "1"]) in (0, 3)
    (run_dir,) = (elsewhere / "results").iterdir()
    names = set(read_requests(run_dir, columns=["name"]).column("name").to_pylist())
    assert names == {expected_name(secret=True)}
    assert read_manifest(run_dir).scenario_bundle is not None
    # a tampered bundle is bad input here (exit 2) and nothing runs
    pushed = parse_schedule(S3Store().get_bytes(S3Url(bucket, "schedules/own.yaml")))
    assert pushed.bundle is not None
    S3Store().put_bytes(S3Url(bucket, pushed.bundle.key), b"not the bundle")
    assert main(["run", url, "--workers", "1", "--out", "tampered"]) == 2
    assert not list((elsewhere / "tampered").glob("*/requests"))


@pytest.mark.integration
def test_a_missing_ssm_secret_stops_the_instance_before_any_load(
    fleet: Fleet, shop: ShopHandle, moto_server: MotoServer
) -> None:
    client = make_ssm_client(endpoint_url=moto_server.endpoint_url)
    with contextlib.suppress(client.exceptions.ParameterNotFound):
        client.delete_parameter(Name=PARAMETER)
    _push(fleet, _project(fleet.tmp, target=shop.url))
    before = _load_seen(shop)
    fleet.start("w1", "worker")
    assert fleet.wait(timeout=60) == {"w1": 4}, fleet.output("w1")
    log = fleet.output("w1")
    assert f"secret not found: {SECRET_NAME} (ssm:{PARAMETER})" in log
    assert "started worker" not in log and "Traceback" not in log
    assert _load_seen(shop) == before


def test_a_fetched_runs_schedule_runs_its_unpacked_bundle(tmp_path: Path) -> None:
    from surge.bundle import BundleRef, stamp
    from surge.provisioning.scenario import local_scenario

    path = _project(tmp_path)
    built = build_bundle(path, load_schedule(path))
    assert built is not None
    run_dir = tmp_path / "fetched-run"
    unpack(built.data, built.sha256, run_dir / "scenario", "here")
    ref = BundleRef(key=bundle_key("schedules/s.yaml", built.sha256), sha256=built.sha256)
    (run_dir / "schedule.yaml").write_text(stamp(load_schedule(path), ref))
    again = load_schedule(run_dir / "schedule.yaml")
    with pytest.raises(SurgeError, match="already names a bundle"):
        stamp(again, ref)  # pushing a pushed schedule: push the original instead
    setup = local_scenario(run_dir / "schedule.yaml", again, {SECRET_NAME: "x"})
    assert setup.locustfile == (run_dir / "scenario" / "locustfiles" / "browse.py").resolve()
    assert setup.cwd == (run_dir / "scenario").resolve()
