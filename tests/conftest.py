"""Suite-wide setup.

Locust must be imported before anything imports urllib3/ssl (boto3 does): it
monkey-patches ssl with gevent, and doing that after ssl is in use recurses
forever. Importing it here, first, keeps boto3 and Locust usable in one pytest
process whatever order the tests run in.

`make test` runs the suite on pytest-xdist workers (``-n 3 --dist loadgroup``): it
mostly waits for real processes, so three workers share the two cores. A test runs in
whichever worker is free, except the modules marked ``xdist_group(NAME)``, whose tests
run in one worker, one after another (each worker has its own session fixtures):

- ``capacity``: the staircase demo (one run, shared by tests/cli/test_demo.py and
  test_demo_search.py, which compares a search against it) and the knee searches of
  tests/runs/test_search.py: the runs that measure where a target breaks never share
  the CPU with each other.
- ``corpus``, ``stall``: one target per module, and their rate runs never overlap.
- ``terraform``: one ``terraform init`` of the module copy; ``chroot``: one provisioned
  image; ``clean-install``: one wheel and virtualenv.

Ports are always free ones (surge.provisioning.local.free_port), never fixed.
``PYTEST_ARGS="-n 0" make test`` runs everything in this process, one test at a time.
"""

import locust  # noqa: F401
import pytest

from tests.helpers.xdist_compat import (
    add_group_suffixes,
    integration_first,
    use_native_locks_in_xdist_worker,
)

use_native_locks_in_xdist_worker()


@pytest.hookimpl(trylast=True)  # after xdist's own (ineffective on pytest 9.2) renaming
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    integration_first(config, items)
    add_group_suffixes(config, items)
