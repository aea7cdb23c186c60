"""A user's own project, as a performance engineer keeps it next to their API.

A folder outside the repository with a schedule, a locustfile in Locust's ordinary
style, a helper module it imports (which imports from a namespace package), a package
it imports and a CSV data file it reads by a relative path. Its request names say where
each part came from, so a test can tell from the records that every file reached the
generators:

    ``GET product <sku> [<label>] <secret-ok|secret-missing>``

where the sku comes from the CSV, the label from `scenario.env`, and the secret
check from `scenario.secrets` (compared by hash: the value is in no file and no name).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

SECRET_NAME = "SHOP_API_TOKEN"
SECRET_VALUE = "s3cr3t-7f1c9a"  # tests grep S3, logs and manifests for this string
LABEL = "from-env"

SECRET_SHA256 = hashlib.sha256(SECRET_VALUE.encode()).hexdigest()  # the scenario compares this

LOCUSTFILE = f'''"""Browse the shop: the products to ask for come from data/products.csv."""

import hashlib
import os

from locust import FastHttpUser, task

from helpers import product_path
from shared.names import request_name

SKUS = [line.split(",")[0] for line in open("data/products.csv").read().split()[1:]]


class BrowseProducts(FastHttpUser):
    @task
    def product(self) -> None:
        sku = SKUS[0]
        value = os.environ.get("{SECRET_NAME}", "").encode()
        secret = hashlib.sha256(value).hexdigest() == "{SECRET_SHA256}"
        ok = "secret-ok" if secret else "secret-missing"
        self.client.get(product_path(sku), name=request_name(sku, os.environ["LABEL"], ok))
'''

HELPER = """from lib.text import clean


def product_path(sku: str) -> str:
    return "/products/" + clean(sku)
"""

TEXT = """def clean(text: str) -> str:
    return text.strip()
"""

NAMES = """def request_name(sku: str, label: str, secret: str) -> str:
    return f"GET product {sku} [{label}] {secret}"
"""

CSV = "sku,title\n1,first product\n2,second product\n"


def expected_name(secret: bool = True) -> str:
    return f"GET product 1 [{LABEL}] {'secret-ok' if secret else 'secret-missing'}"


def schedule_yaml(*, target: str, name: str = "own-project", stages: str, extra: str = "") -> str:
    return (
        f"name: {name}\n"
        f"target: {target}\n"
        "arrivals: uniform\n"
        "scenario:\n"
        "  locustfile: locustfiles/browse.py\n"
        "  files: [data/*.csv]\n"
        f"  env: {{LABEL: {LABEL}}}\n"
        f"  secrets: {{{SECRET_NAME}: ssm:/surge-test/shop-api-token}}\n"
        f"load: {{stages: {stages}}}\n" + extra
    )


def write_user_project(root: Path, *, target: str, stages: str, extra: str = "") -> Path:
    """Write the project under `root`; returns the schedule's path (root/smoke.yaml).

    The locustfile lives in ``locustfiles/`` (the name users give their scenario folder,
    which must not collide with surge's own) and reads its data by a path relative
    to the schedule's folder, as it would under plain ``locust -f``.
    """
    (root / "locustfiles").mkdir(parents=True, exist_ok=True)
    (root / "locustfiles" / "browse.py").write_text(LOCUSTFILE)
    (root / "locustfiles" / "helpers.py").write_text(HELPER)
    (root / "shared").mkdir(exist_ok=True)
    (root / "shared" / "__init__.py").write_text("")
    (root / "shared" / "names.py").write_text(NAMES)
    (root / "lib").mkdir(exist_ok=True)  # a namespace package: no __init__.py
    (root / "lib" / "text.py").write_text(TEXT)
    (root / "lib" / "unused.py").write_text("")  # not imported: not bundled
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "products.csv").write_text(CSV)
    (root / "README.md").write_text("not part of the scenario: never bundled\n")
    schedule = root / "smoke.yaml"
    schedule.write_text(schedule_yaml(target=target, stages=stages, extra=extra))
    return schedule
