"""A fast, fixed target for generator benchmarks: Debian's nginx on loopback.

nginx answers a static ``/products`` JSON from one worker process pinned to its own
core, so the generator under test is the bottleneck. ``/nginx_status`` (stub_status)
counts requests on the target side: every generator is measured the same way, whatever
it reports about itself. With ``tls=True`` a second listener speaks HTTPS with a
self-signed certificate made by openssl for this run.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import NotRun
from benchmarks.procs import TARGET_CPU, pinned, spawn, stop, wait_for
from surge.provisioning.local import free_port

NGINX_CANDIDATES = ("nginx", "/usr/sbin/nginx")
START_TIMEOUT_S = 10.0
STATUS_PATH = "/nginx_status"
PRODUCTS_PATH = "/products"
_REQUESTS_RE = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)

#: a body the size of the shop's product list (10 products)
PRODUCTS = [
    {"id": str(i), "name": f"Product {i}", "price": 9.99 + i, "stock": 1000} for i in range(1, 11)
]

CONFIG = """\
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    types {{ application/json json; }}
    server {{
        listen 127.0.0.1:{port};
        {tls_listen}
        {tls_files}
        root {root}/www;
        location = {products} {{ default_type application/json; try_files /products.json =404; }}
        location = {status} {{ stub_status; }}
    }}
}}
"""


@dataclass(frozen=True)
class Nginx:
    """A running nginx: its URLs and its request counter."""

    url: str
    tls_url: str | None
    root: Path

    def requests(self) -> int:
        """Requests nginx has handled so far (the status query itself included)."""
        with urllib.request.urlopen(self.url + STATUS_PATH, timeout=2) as reply:
            match = _REQUESTS_RE.search(reply.read().decode())
        if not match:
            raise RuntimeError("nginx stub_status: unexpected format")
        return int(match.group(3))


def nginx_binary() -> str:
    for candidate in NGINX_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    raise NotRun("nginx is not installed (scripts/system-deps.sh installs it: make system-deps)")


def _self_signed(root: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        raise NotRun("openssl is not installed: no certificate for the TLS endpoint")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


@contextlib.contextmanager
def running_nginx(*, tls: bool = False, cpu: int | None = TARGET_CPU) -> Iterator[Nginx]:
    """Start nginx on free loopback ports with a generated config; stop it afterwards."""
    binary = nginx_binary()
    root = Path(tempfile.mkdtemp(prefix="surge-bench-nginx-"))
    root.chmod(0o755)  # nginx workers run as nobody when started by root
    (root / "www").mkdir(mode=0o755)
    (root / "tmp").mkdir(mode=0o755)
    (root / "www" / "products.json").write_text(json.dumps(PRODUCTS))
    port = free_port()
    tls_port = free_port() if tls else None
    tls_listen = tls_files = ""
    if tls:
        cert, key = _self_signed(root)
        tls_listen = f"listen 127.0.0.1:{tls_port} ssl;"
        tls_files = f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1.3;"
    conf = root / "nginx.conf"
    conf.write_text(
        CONFIG.format(
            root=root,
            port=port,
            tls_listen=tls_listen,
            tls_files=tls_files,
            products=PRODUCTS_PATH,
            status=STATUS_PATH,
        )
    )
    proc = spawn(pinned([binary, "-p", str(root), "-c", str(conf)], cpu), log=root / "stdout.log")
    server = Nginx(
        url=f"http://127.0.0.1:{port}",
        tls_url=f"https://127.0.0.1:{tls_port}" if tls else None,
        root=root,
    )
    try:
        if not wait_for(lambda: _answers(server), START_TIMEOUT_S):
            log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
            raise RuntimeError(f"nginx did not start: {log[-2000:]}")
        yield server
    finally:
        stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _answers(server: Nginx) -> bool:
    try:
        server.requests()
        return True
    except OSError:
        return False
