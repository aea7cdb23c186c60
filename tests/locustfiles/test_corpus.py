"""Locust files written the ways Locust's documentation shows, run unmodified by `surge run`.

Each file of ``corpus/`` runs under a two-stage schedule with uniform arrivals on two
workers against the scripted target (`tests.helpers.target_server`, its ``/api/`` JSON
routes: login, a token-protected part, echo), through the real CLI: exit 0, every
stage offered its arrivals (within 2 %), request names as the file writes them and no
failed request. Then the same file forced onto Locust's own client
(``scenario.client: locust``) must give the same names and outcomes, so the two clients
agree (those runs go through the engine alone: no second report); the manifest says
which client ran.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from surge.results import read_manifest
from tests.helpers.locust import (
    REPO,
    RERUN_IF_OVERLOADED,
    http_target,
    requests_of,
    require_generator_kept_up,
)

# one worker under xdist: one target, and the corpus runs never compete with each other
pytestmark = pytest.mark.xdist_group("corpus")
CORPUS = Path(__file__).resolve().parent / "corpus"
STAGES = ((50, 2.0), (100, 2.0))  # (rate, seconds): 100 and 200 arrivals
RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class Case:
    file: str
    names: frozenset[str]  # every request name the run must show, and no other
    setup: frozenset[str] = frozenset()  # once-per-slot requests (on_start): not arrivals
    scenario: str = ""  # extra YAML lines under scenario:


CASES = [
    Case("taskset_login.py", frozenset({"/api/login", "products", "product"}),
         setup=frozenset({"/api/login"})),
    Case("nested_tasksets.py", frozenset({"forum", "thread", "home"})),
    Case("sequential_journey.py", frozenset({"1 home", "2 search", "3 cart", "4 checkout"})),
    Case("session_headers.py", frozenset({"/api/login", "/api/secure/orders", "optional"}),
         setup=frozenset({"/api/login"})),
    Case("fasthttp_rest.py", frozenset({"/api/orders", "/api/orders/[id]"})),
    Case("tagged_options.py", frozenset({"product 42", "home"}),
         scenario="  tags: [browse]\n  options: {product-id: 42}\n"),
]  # fmt: skip


@pytest.fixture(scope="module")
def target():
    with http_target() as url:
        yield url


def run_corpus_file(tmp_path: Path, target: str, case: Case, client: str, cli: bool) -> Path:
    """One corpus file through `surge run` (`cli`, report and verdict included) or just
    the engine (`run_local`, for the comparison runs); asserts exit 0, returns the run."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    stages = "\n".join(f"    - {{rps: {r}, duration: {d}s}}" for r, d in STAGES)
    schedule = tmp_path / "schedule.yaml"
    schedule.write_text(
        f"name: corpus\ntarget: {target}\narrivals: uniform\n"
        f"scenario:\n  locustfile: {CORPUS / case.file}\n  client: {client}\n{case.scenario}"
        f"load:\n  stages:\n{stages}\n"
    )
    out = tmp_path / "results"
    if not cli:
        from surge.provisioning.local import run_local

        result = run_local(schedule, out / "run", workers=2, run_id="corpus")
        if result.exit_code == 3:
            require_generator_kept_up(out / "run")
        assert result.exit_code == 0, [p.read_text()[-3000:] for p in (out / "run").glob("logs/*")]
        return out / "run"
    done = subprocess.run(
        [sys.executable, "-m", "surge", "run", str(schedule), "--workers", "2", "--out", str(out)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    (run_dir,) = out.iterdir()
    if done.returncode == 3:  # untrustworthy: fails as "overloaded" (and reruns) if saturated
        require_generator_kept_up(run_dir)
    logs = "".join(p.read_text()[-3000:] for p in (run_dir / "logs").glob("*.log"))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{logs}"
    return run_dir


def check_run(run_dir: Path, case: Case) -> collections.Counter:
    """The run's outcome per request name; asserts names, no failures, arrivals per stage."""
    records = requests_of(run_dir, ["name", "stage", "outcome", "error"])
    bad = records[records.outcome != "ok"]
    assert bad.empty, bad.groupby(["name", "outcome", "error"]).size().to_dict()
    assert set(records.name) == case.names
    arrivals = records[~records.name.isin(case.setup)].groupby("stage").size()
    for stage, (rate, seconds) in enumerate(STAGES):
        expected = rate * seconds
        assert abs(arrivals.get(stage, 0) - expected) <= 0.02 * expected, (stage, arrivals)
    return collections.Counter(records.name)


@pytest.mark.integration
@RERUN_IF_OVERLOADED
@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_corpus_file_runs_unmodified_on_both_clients(tmp_path: Path, target: str, case: Case):
    on_surge = run_corpus_file(tmp_path / "surge", target, case, "auto", cli=True)
    surge_names = check_run(on_surge, case)
    assert (read_manifest(on_surge).scenario_client or {})["client"] == "surge"
    assert ", surge client" in (on_surge / "report" / "summary.md").read_text()

    on_locust = run_corpus_file(tmp_path / "locust", target, case, "locust", cli=False)
    locust_names = check_run(on_locust, case)
    assert (read_manifest(on_locust).scenario_client or {})["client"] == "locust"
    assert set(surge_names) == set(locust_names)  # same names, all "ok" (checked above)
