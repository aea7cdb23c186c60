"""surge's HTTP client against a scripted HTTP/1.1 server on loopback.

The server runs in this process on gevent (Locust's import has patched the world) and
answers by path, so each test can provoke one behaviour: keep-alive and its loss,
redirects, cookies, gzip, chunked and close-delimited bodies, slowness, dropped
connections. It counts connections and records every request it read.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.server
import gevent.ssl
import pytest
from locust import FastHttpUser, HttpUser, task
from locust.env import Environment
from locust.exception import CatchResponseError, LocustError, StopTest

from surge.locustfiles.client import SurgeHttpUser, SurgeSession
from surge.locustfiles.deadlines import DEADLINES, Deadline
from surge.locustfiles.guard import HostNotAllowedError, guard_user
from surge.locustfiles.http_response import HTTPStatusError
from surge.locustfiles.recorder import classify

# ---------------------------------------------------------------------- the server


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ScriptedServer:
    port: int = 0
    connections: int = 0
    requests: list[Seen] = field(default_factory=list)
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"


def _read_request(conn: socket.socket, buf: bytearray) -> Seen | None:
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        rest += conn.recv(65536)
    buf[:] = rest[length:]
    return Seen(method, path, headers, rest[:length])


def _response(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    all_headers = {"Content-Length": str(len(body)), **(headers or {})}
    lines += [f"{k}: {v}" for k, v in all_headers.items() if v is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _answer(server: ScriptedServer, conn: socket.socket, seen: Seen) -> bool:
    """Send the answer for `seen`; False closes the connection."""
    path = seen.path.split("?")[0]
    if path == "/ok":
        conn.sendall(_response(200, b'{"ok": true}', {"Content-Type": "application/json"}))
    elif path.startswith("/status/"):
        conn.sendall(_response(int(path.rsplit("/", 1)[1]), b"status"))
    elif path == "/echo":
        body = json.dumps(
            {"method": seen.method, "path": seen.path, "headers": seen.headers,
             "body": seen.body.decode("latin-1")}
        ).encode()  # fmt: skip
        conn.sendall(_response(200, body, {"Content-Type": "application/json"}))
    elif path == "/gzip":
        conn.sendall(_response(200, gzip.compress(b"squeezed " * 50), {"Content-Encoding": "gzip"}))
    elif path == "/chunked":
        parts = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + parts)
    elif path == "/until-close":
        conn.sendall(b"HTTP/1.0 200 OK\r\n\r\nthe body ends with the connection")
        return False
    elif path == "/close":
        conn.sendall(_response(200, b"bye", {"Connection": "close"}))
        return False
    elif path == "/answer-then-hang-up":  # like an idle keep-alive timeout on the server
        conn.sendall(_response(200, b"ok"))
        return False
    elif path == "/drop":
        return False
    elif path == "/slow":
        gevent.sleep(2.0)
        conn.sendall(_response(200, b"late"))
    elif path == "/head":
        conn.sendall(_response(200, b"", {"Content-Length": "1234"}))
    elif path == "/cookie/set":
        conn.sendall(_response(200, b"", {"Set-Cookie": "sid=abc123; Path=/; HttpOnly"}))
    elif path == "/cookie/del":
        conn.sendall(_response(200, b"", {"Set-Cookie": "sid=; Max-Age=0"}))
    elif path.startswith("/redirect/"):
        code = int(path.rsplit("/", 1)[1])
        conn.sendall(_response(code, b"", {"Location": "/echo"}))
    elif path == "/redirect-loop":
        conn.sendall(_response(302, b"", {"Location": "/redirect-loop"}))
    elif path == "/redirect-out":
        conn.sendall(_response(302, b"", {"Location": "http://elsewhere.example/x"}))
    elif path == "/redirect-other-host":  # same server, another host name
        conn.sendall(_response(302, b"", {"Location": f"http://localhost:{server.port}/echo"}))
    elif path == "/interim":  # 100 Continue and 103 Early Hints before the answer
        conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        gevent.sleep(0.01)
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                     + _response(201, b"made", {"X-Final": "yes"}))  # fmt: skip
    elif path == "/typed/header":
        conn.sendall(
            _response(
                400,
                b'{"message": "slow down"}',
                {"x-amzn-ErrorType": "ProvisionedThroughputExceededException:http://internal"},
            )
        )
    elif path == "/typed/aws-json":
        body = b'{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": "x"}'
        conn.sendall(_response(400, body))
    elif path == "/typed/code":
        conn.sendall(_response(500, b'{"code": "ProvisionedThroughputExceededException"}'))
    elif path == "/typed/message":
        conn.sendall(_response(503, b'{"message": "Service Unavailable: try later"}'))
    elif path == "/typed/html":  # an nginx error page: its title, never its markup
        page = (b"<!DOCTYPE HTML>\r\n<html lang=en>\r\n<head><title>404   Not Found"
                b"</title></head>\r\n<body><center><h1>404 Not Found</h1></center>"
                + b"x" * 500 + b"</body></html>")  # fmt: skip
        conn.sendall(_response(404, page, {"Content-Type": "text/html"}))
    elif path == "/typed/html-untitled":
        conn.sendall(_response(502, b"<html>\n  <h1>Bad   gateway</h1>" + b"x" * 500))
    elif path == "/typed/html-with-header":  # the type header still wins over the page
        conn.sendall(_response(503, b"<html><title>Oops</title></html>",
                               {"x-amzn-ErrorType": "ThrottlingException"}))  # fmt: skip
    elif path == "/typed/text":
        conn.sendall(_response(500, b"lock wait   timeout exceeded; " + b"y" * 200))
    elif path == "/typed/empty":
        conn.sendall(_response(504))
    else:
        conn.sendall(_response(404, b"no such path"))
    return True


@contextlib.contextmanager
def _serving(scheme: str = "http", ssl_context: Any = None) -> Iterator[ScriptedServer]:
    """The scripted server on a free loopback port, in this process, until the block ends."""
    state = ScriptedServer(scheme=scheme)

    def handle(conn: socket.socket, _addr: Any) -> None:
        state.connections += 1
        buf = bytearray()
        try:
            while (seen := _read_request(conn, buf)) is not None:
                state.requests.append(seen)
                if not _answer(state, conn, seen):
                    return
        except OSError:
            return
        finally:
            conn.close()

    extra = {"ssl_context": ssl_context} if ssl_context is not None else {}
    srv = gevent.server.StreamServer(("127.0.0.1", 0), handle, **extra)
    srv.start()
    state.port = srv.server_port
    try:
        yield state
    finally:
        srv.stop(timeout=1)


@pytest.fixture
def server():
    with _serving() as state:
        yield state


class Events:
    """Stands in for Locust's request event: keeps what each fire reported."""

    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []

    def fire(self, **kwargs: Any) -> None:
        self.fired.append(kwargs)


def session(url: str, **kwargs: Any) -> tuple[SurgeSession, Events]:
    events = Events()
    return SurgeSession(url, events, None, **kwargs), events


# ---------------------------------------------------------------------- requests


def test_a_get_is_answered_and_reported_once(server):
    client, events = session(server.url)
    r = client.get("/ok", name="the ok page")
    assert r.status_code == 200 and r.ok and r.json() == {"ok": True}
    assert r.headers["content-type"] == "application/json"
    assert len(events.fired) == 1
    meta = events.fired[0]
    assert meta["request_type"] == "GET" and meta["name"] == "the ok page"
    assert meta["exception"] is None and meta["response"] is r
    assert meta["response_length"] == len(b'{"ok": true}')
    assert 0 < meta["response_time"] < 5000
    assert meta["url"] == f"{server.url}/ok"
    assert abs(meta["start_time"] - time.time()) < 5


def test_the_name_defaults_to_the_url_as_given(server):
    client, events = session(server.url)
    client.get("/ok?x=1")
    assert events.fired[0]["name"] == "/ok?x=1"


def test_rename_request_groups_requests_under_one_name(server):
    client, events = session(server.url)
    with client.rename_request("echo any"):
        client.get("/echo?a=1")
        client.get("/echo?a=2", name="explicit wins")
    client.get("/ok")
    assert [e["name"] for e in events.fired] == ["echo any", "explicit wins", "/ok"]


def test_connections_are_kept_alive(server):
    client, _ = session(server.url)
    for _ in range(5):
        assert client.get("/ok").status_code == 200
    assert server.connections == 1


def test_concurrent_requests_of_one_session_each_get_a_connection(server):
    client, events = session(server.url)
    gevent.joinall([gevent.spawn(client.get, "/ok") for _ in range(4)], timeout=5)
    assert [e["response"].status_code for e in events.fired] == [200] * 4
    for _ in range(4):  # the pool then serves later requests without new connections
        gevent.joinall([gevent.spawn(client.get, "/ok") for _ in range(4)], timeout=5)
    assert server.connections == 4


def test_a_connection_the_server_closed_while_idle_is_replaced_transparently(server):
    client, events = session(server.url)
    client.get("/answer-then-hang-up")
    gevent.sleep(0.05)  # the server's close reaches us while the connection sits idle
    r = client.get("/ok")
    assert r.status_code == 200 and r.error is None
    assert len(events.fired) == 2 and server.connections == 2


def test_connection_close_is_honoured(server):
    client, _ = session(server.url)
    client.get("/close")
    client.get("/ok")
    assert server.connections == 2


def test_a_dropped_fresh_connection_is_an_error_and_not_sent_twice(server):
    client, events = session(server.url)
    r = client.get("/drop")
    assert r.status_code == 0 and not r.ok
    assert isinstance(r.error, ConnectionError)
    assert events.fired[0]["exception"] is r.error
    assert classify(r.error) == "error"
    assert [s.path for s in server.requests] == ["/drop"]


def test_a_drop_on_a_reused_connection_is_sent_once_more_then_reported(server):
    client, _ = session(server.url)
    client.get("/ok")
    r = client.get("/drop")
    assert r.status_code == 0 and isinstance(r.error, ConnectionError)
    # the first send went to the kept-alive connection; one retry on a fresh one
    assert [s.path for s in server.requests] == ["/ok", "/drop", "/drop"]


def test_refused_connections_are_errors():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client, events = session(f"http://127.0.0.1:{port}")
    r = client.get("/ok")
    assert r.status_code == 0 and isinstance(r.error, ConnectionRefusedError)
    assert events.fired[0]["exception"] is r.error and events.fired[0]["response_length"] == 0


def test_http_errors_fail_with_a_groupable_message(server):
    client, events = session(server.url)
    for pid in (1, 2):
        client.get(f"/status/500?id={pid}")
    errors = [e["exception"] for e in events.fired]
    assert all(isinstance(e, HTTPStatusError) for e in errors)
    # named by the answer (here the start of its body), never by the URL
    assert {str(e) for e in errors} == {"status"}
    assert classify(errors[0]) == "error"
    r = client.get("/status/404")
    assert not r.ok and r.status_code == 404 and r.text == "status"
    with pytest.raises(HTTPStatusError):
        r.raise_for_status()


def test_redirect_statuses_not_followed_count_as_success(server):
    client, events = session(server.url)
    r = client.get("/redirect/302", allow_redirects=False)
    assert r.status_code == 302 and r.ok and events.fired[0]["exception"] is None


def test_the_timeout_covers_the_whole_request(server):
    client, events = session(server.url, timeout_s=0.3)
    started = time.monotonic()
    r = client.get("/slow")
    took = time.monotonic() - started
    assert r.status_code == 0 and isinstance(r.error, TimeoutError)
    assert classify(r.error) == "timeout"
    assert 0.3 <= took < 1.0  # fires within one sweep (50 ms) of the deadline
    assert events.fired[0]["exception"] is r.error
    assert client.get("/ok", timeout=5).status_code == 200  # a fresh connection works


def test_a_shorter_deadline_is_kept_while_a_long_one_is_pending(server):
    """The sweeper sleeps until the earliest deadline; a nearer one must wake it."""
    patient, _ = session(server.url, timeout_s=30.0)
    hasty, _ = session(server.url, timeout_s=0.3)
    waiting = gevent.spawn(patient.get, "/slow")  # pending for 2 s with a 30 s deadline
    gevent.sleep(0.05)
    started = time.monotonic()
    r = hasty.get("/slow")
    assert isinstance(r.error, TimeoutError) and time.monotonic() - started < 1.0
    assert waiting.get(timeout=5).status_code == 200


def test_a_deadline_never_fires_after_its_request_ended(server):
    """Requests finishing just before their deadline leave nothing behind to fire."""
    client, events = session(server.url, timeout_s=0.12)

    def one_then_wait() -> str:
        client.get("/ok")
        gevent.sleep(0.4)  # well past the deadline of the request above
        return "survived"

    runs = [gevent.spawn(one_then_wait) for _ in range(20)]
    gevent.joinall(runs, timeout=5)
    assert [g.value for g in runs] == ["survived"] * 20
    assert all(e["exception"] is None for e in events.fired)


def test_an_expired_deadline_is_not_thrown_once_its_request_has_ended():
    """The sweeper decided to expire a request, but the request finished before the hub
    ran that decision: nothing may be thrown into the greenlet, which has moved on."""
    deadline = Deadline()
    DEADLINES.add(deadline, 0.0)
    gevent.get_hub().loop.run_callback(DEADLINES._expire, deadline)  # the sweeper's verdict
    DEADLINES.discard(deadline)  # ...and the request ends first
    gevent.sleep(0.01)  # the hub runs the verdict now; it must not raise in here


# ---------------------------------------------------------------------- request bodies


def test_json_bodies_and_headers(server):
    client, _ = session(server.url)
    echo = client.post("/echo", json={"quantity": 2}, headers={"X-Trace": "t1"}).json()
    assert echo["method"] == "POST" and json.loads(echo["body"]) == {"quantity": 2}
    assert echo["headers"]["content-type"] == "application/json"
    assert echo["headers"]["accept"] == "application/json"
    assert echo["headers"]["x-trace"] == "t1"
    assert echo["headers"]["host"] == f"127.0.0.1:{server.port}"
    assert echo["headers"]["user-agent"].startswith("surge/")


def test_form_and_text_bodies(server):
    client, _ = session(server.url)
    form = client.post("/echo", data={"a": "1", "b": "x y"}).json()
    assert form["body"] == "a=1&b=x+y"
    assert form["headers"]["content-type"] == "application/x-www-form-urlencoded"
    text = client.put("/echo", data="plain").json()
    assert text["method"] == "PUT" and text["body"] == "plain"
    empty = client.post("/echo").json()
    assert empty["headers"]["content-length"] == "0"


def test_request_headers_override_defaults_case_insensitively(server):
    client, _ = session(server.url, default_headers={"X-Team": "perf"})
    echo = client.get("/echo", headers={"user-agent": "mine"}).json()
    assert echo["headers"]["user-agent"] == "mine"
    assert echo["headers"]["x-team"] == "perf"


def test_header_injection_is_refused(server):
    client, events = session(server.url)
    with pytest.raises(ValueError, match="line breaks"):
        client.get("/echo", headers={"X-Evil": "a\r\nInjected: yes"})
    assert events.fired == [] and server.requests == []


def test_params_and_odd_paths(server):
    client, _ = session(server.url)
    echo = client.get("/echo", params={"q": "red shoes", "page": 2}).json()
    assert echo["path"] == "/echo?q=red+shoes&page=2"
    assert client.get("/echo?a=1", params={"b": 2}).json()["path"] == "/echo?a=1&b=2"
    assert client.get("/echo/ü x").status_code == 404  # sent percent-encoded, not raw
    assert server.requests[-1].path == "/echo/%C3%BC%20x"


def test_basic_auth_from_the_base_url_and_per_request(server):
    client, events = session(f"http://ann:s3cret%21@127.0.0.1:{server.port}/")
    echo = client.get("/echo").json()
    assert echo["headers"]["authorization"] == "Basic YW5uOnMzY3JldCE="  # ann:s3cret!
    assert "s3cret" not in events.fired[0]["url"]
    echo = client.get("/echo", auth=("bob", "pw")).json()
    assert echo["headers"]["authorization"] == "Basic Ym9iOnB3"


def test_paths_must_start_with_a_slash(server):
    client, _ = session(server.url)
    with pytest.raises(ValueError, match="starts with '/'"):
        client.get("products")


def test_a_base_url_path_prefixes_every_relative_request(server):
    client, events = session(f"{server.url}/api/")
    client.get("/echo")
    assert server.requests[-1].path == "/api/echo"
    assert events.fired[-1]["url"] == f"{server.url}/api/echo"


# ---------------------------------------------------------------------- response bodies


def test_gzip_chunked_and_close_delimited_bodies(server):
    client, _ = session(server.url)
    squeezed = client.get("/gzip")
    assert squeezed.content == b"squeezed " * 50 and squeezed.text.startswith("squeezed")
    assert client.get("/chunked").content == b"hello world"
    r = client.get("/until-close")
    assert r.status_code == 200 and r.content == b"the body ends with the connection"


def test_head_responses_have_no_body_and_keep_the_connection(server):
    client, _ = session(server.url)
    r = client.head("/head")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "1234"
    assert client.get("/ok").status_code == 200
    assert server.connections == 1


# ---------------------------------------------------------------------- cookies, redirects


def test_cookies_go_back_to_their_host_until_deleted(server):
    client, _ = session(server.url)
    assert "cookie" not in client.get("/echo").json()["headers"]
    client.get("/cookie/set")
    assert client.get("/echo").json()["headers"]["cookie"] == "sid=abc123"
    client.get("/cookie/del")
    assert "cookie" not in client.get("/echo").json()["headers"]


@pytest.mark.parametrize(("code", "method"), [(301, "GET"), (302, "GET"), (303, "GET"),
                                               (307, "POST"), (308, "POST")])  # fmt: skip
def test_redirects_are_followed_like_browsers_do(server, code, method):
    client, events = session(server.url)
    r = client.post(f"/redirect/{code}", json={"a": 1})
    echo = r.json()
    assert r.status_code == 200 and echo["method"] == method
    assert (echo["body"] != "") == (method == "POST")
    assert len(events.fired) == 1 and events.fired[0]["url"] == f"{server.url}/redirect/{code}"
    assert r.url == f"{server.url}/echo"


def test_redirect_loops_end_in_an_error(server):
    client, events = session(server.url, max_redirects=3)
    r = client.get("/redirect-loop")
    assert "more than 3 redirects" in str(r.error)
    assert len(server.requests) == 4 and len(events.fired) == 1


# ---------------------------------------------------------------------- allow_hosts


def test_allow_hosts_refuses_absolute_urls_and_redirects_elsewhere(server):
    client, events = session(server.url)
    client.allow_hosts = ("127.0.0.1",)
    with pytest.raises(HostNotAllowedError):
        client.get("http://elsewhere.example/")
    assert events.fired == []
    r = client.get("/redirect-out")
    assert isinstance(r.error, HostNotAllowedError) and r.status_code == 302
    assert [s.path for s in server.requests] == ["/redirect-out"]
    assert client.get(f"{server.url}/ok").status_code == 200  # allowed absolute URL


def test_the_engine_guard_configures_the_session_instead_of_wrapping_it(server):
    class Shopper(SurgeHttpUser):
        host = server.url

        @task
        def noop(self) -> None:
            pass

    user = Shopper(Environment(user_classes=[Shopper]))
    guard_user(user, allow_hosts=("127.0.0.1",), timeout_s=7.0)
    assert isinstance(user.client, SurgeSession)
    assert user.client.allow_hosts == ("127.0.0.1",) and user.client.timeout_s == 7.0


# ---------------------------------------------------------------------- catch_response


def test_catch_response_success_and_failure(server):
    client, events = session(server.url)
    with client.get("/status/409", catch_response=True) as r:
        assert r.status_code == 409
        r.success()
    with client.get("/ok", catch_response=True) as r:
        r.failure("wrong content")
    with client.get("/status/503", catch_response=True):
        pass
    first, second, third = (e["exception"] for e in events.fired)
    assert first is None
    assert isinstance(second, CatchResponseError) and str(second) == "wrong content"
    assert isinstance(third, HTTPStatusError)


def test_catch_response_reports_once_even_when_the_block_raises(server):
    client, events = session(server.url)
    with pytest.raises(KeyError), client.get("/ok", catch_response=True) as r:
        r.json()["missing"]
    assert len(events.fired) == 1 and isinstance(events.fired[0]["exception"], KeyError)


def test_a_with_block_needs_catch_response(server):
    client, _ = session(server.url)
    with pytest.raises(LocustError), client.get("/ok"):
        pass


# ---------------------------------------------------------------------- Locust integration


def test_locust_statistics_count_requests_of_a_surge_user(server):
    class Shopper(SurgeHttpUser):
        host = server.url

        @task
        def browse(self) -> None:
            self.client.get("/ok")
            self.client.get("/status/500", name="broken")

    env = Environment(user_classes=[Shopper])
    env.create_local_runner()  # the runner is what feeds Locust's statistics
    user = Shopper(env)
    user.browse()
    user.browse()
    assert env.stats.total.num_requests == 4 and env.stats.total.num_failures == 2
    assert env.stats.get("/ok", "GET").num_requests == 2
    assert len(env.stats.errors) == 1  # both 500s under one message


def test_a_surge_user_needs_a_host():
    class Hostless(SurgeHttpUser):
        @task
        def noop(self) -> None:
            pass

    with pytest.raises(StopTest):
        Hostless(Environment(user_classes=[Hostless]))


# ---------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed for the TLS tests (Debian: apt-get install openssl)")
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate
    context = gevent.ssl.SSLContext(gevent.ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    with _serving("https", context) as state:
        yield state


def test_https_with_keep_alive(tls_server):
    client, _ = session(tls_server.url, insecure=True)
    for _ in range(3):
        assert client.get("/ok").json() == {"ok": True}
    assert tls_server.connections == 1


def test_https_is_verified_by_default(tls_server):
    client, events = session(tls_server.url)
    r = client.get("/ok")
    assert r.status_code == 0 and "CERTIFICATE_VERIFY_FAILED" in str(r.error)
    assert classify(events.fired[0]["exception"]) == "error"


def test_https_trusts_a_given_ca_file(tls_server, certificate):
    client, _ = session(tls_server.url, ca_file=str(certificate[0]))
    assert client.get("/ok").json() == {"ok": True}


# ---------------------------------------------------------------------- hardening (#21)


def test_interim_1xx_answers_are_skipped(server):
    client, events = session(server.url)
    for _ in range(2):  # and the connection stays usable after them
        r = client.post("/interim", data=b"x")
        assert r.status_code == 201 and r.text == "made" and r.headers["x-final"] == "yes"
    assert client.get("/ok").status_code == 200
    assert [e["exception"] for e in events.fired] == [None, None, None]
    assert server.connections == 1


def test_credentials_are_not_sent_to_another_host_on_redirect(server):
    client, _ = session(server.url)
    r = client.get(
        "/redirect-other-host",
        headers={"Authorization": "Bearer secret", "Cookie": "sid=1", "X-Trace": "t"},
    )
    assert r.status_code == 200 and r.url == f"http://localhost:{server.port}/echo"
    sent = r.json()["headers"]
    assert "authorization" not in sent and "cookie" not in sent and sent["x-trace"] == "t"
    assert server.requests[0].headers["authorization"] == "Bearer secret"
    same_host = client.get("/redirect/302", headers={"Authorization": "Bearer secret"})
    assert same_host.json()["headers"]["authorization"] == "Bearer secret"
    assert [h.status_code for h in r.history] == [302]


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_non_idempotent_request_is_never_sent_twice(server, method):
    client, events = session(server.url)
    client.get("/ok")  # a kept-alive connection the next request reuses
    r = client.request(method, "/drop", json={"buy": 1})
    assert r.status_code == 0 and isinstance(r.error, ConnectionError)
    assert "not sent twice" in str(r.error)
    assert [s.path for s in server.requests] == ["/ok", "/drop"]
    assert classify(events.fired[-1]["exception"]) == "error"


@pytest.mark.parametrize(("path", "expected"), [
    ("/typed/header", "ProvisionedThroughputExceededException"),
    ("/typed/aws-json", "ThrottlingException"),
    ("/typed/code", "ProvisionedThroughputExceededException"),
    ("/typed/message", "Service Unavailable: try later"),
    ("/typed/html", "404 Not Found"),  # the page's <title>, never raw markup
    ("/typed/html-untitled", "HTTP 502 Bad Gateway"),  # markup without a title: status
    ("/typed/html-with-header", "ThrottlingException"),
    ("/typed/text", "lock wait timeout exceeded; " + "y" * 90),  # plain text: 120 bytes
    ("/typed/empty", "HTTP 504 Gateway Timeout"),
])  # fmt: skip
def test_errors_carry_the_failure_type_of_the_answer(server, path, expected, tmp_path):
    from surge.locustfiles.recorder import Recorder

    recorder = Recorder(run_dir=tmp_path, worker_id="w")
    client = SurgeSession(server.url, _RecorderEvent(recorder), None)
    r = client.get(path)
    assert str(r.error) == expected
    assert recorder._cols["error"] == [expected]


class _RecorderEvent:
    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder

    def fire(self, **kwargs: Any) -> None:
        self.recorder.on_request(**kwargs)


# ---------------------------------------------------------------------- HttpUser/FastHttpUser (#21)


def on_surge(cls: type, url: str, client: str = "auto") -> tuple[Any, list[dict[str, Any]]]:
    """A user of `cls` as the engine prepares it for a schedule aimed at `url`, and the
    request events it fires."""
    from surge.locustfiles.user_class import prepare_user_class
    from surge.schedule import parse_schedule

    schedule = parse_schedule(
        f"name: t\ntarget: {url}\nscenario:\n  client: {client}\n"
        "load:\n  stages:\n    - {rps: 1, duration: 1s}\n"
    )
    made = prepare_user_class(schedule, {cls.__name__: cls})
    env = Environment(user_classes=[made])
    fired: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: fired.append(kw))
    return made(env), fired


class Requests(HttpUser):
    @task
    def t(self) -> None:
        pass


def requests_calls(user: Any) -> list[Any]:
    """The requests-API calls scenarios make, in order; returns the responses."""
    c = user.client
    c.headers.update({"Authorization": "Bearer tok", "X-Client": "corpus"})
    out = [c.get("/cookie/set")]
    out.append(c.get("/echo", params={"q": "shoes", "page": None}))
    out.append(c.post("/echo", data=[("a", "1"), ("a", "2")], headers={"X-Client": None}))
    out.append(c.post("/echo", json={"sku": 1}, name="buy"))
    out.append(c.get("/redirect/302"))
    out.append(c.head("/redirect/302"))
    out.append(c.get("/echo", auth=("ann", "pw"), timeout=(3, 5)))
    return out


def test_an_httpuser_on_surges_client_matches_locusts_requests_client(server):
    from requests.exceptions import HTTPError

    from surge.locustfiles.compat import CompatSession

    surge_user, surge_events = on_surge(Requests, server.url)
    assert isinstance(surge_user.client, CompatSession)
    answers = requests_calls(surge_user)
    locust_user, locust_events = on_surge(Requests, server.url, client="locust")
    assert not isinstance(locust_user.client, CompatSession)
    expected = requests_calls(locust_user)
    # same statistics names and statuses as Locust's own HttpUser client
    assert [e["name"] for e in surge_events] == [e["name"] for e in locust_events]
    assert [a.status_code for a in answers] == [e.status_code for e in expected]
    for mine, theirs in zip(answers[1:4], expected[1:4], strict=True):  # what the server saw
        seen, wanted = mine.json(), theirs.json()
        assert (seen["method"], seen["path"], seen["body"]) == (
            wanted["method"], wanted["path"], wanted["body"],
        )  # fmt: skip
        for header in ("accept", "content-type", "authorization", "cookie", "x-client"):
            assert seen["headers"].get(header) == wanted["headers"].get(header), header
    echo = [a.json() for a in answers[1:4]]
    assert echo[0]["path"] == "/echo?q=shoes"
    assert echo[0]["headers"]["authorization"] == "Bearer tok"
    assert echo[0]["headers"]["cookie"] == "sid=abc123"  # the server's cookie came back
    assert echo[1]["body"] == "a=1&a=2" and "x-client" not in echo[1]["headers"]
    assert echo[1]["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert json.loads(echo[2]["body"]) == {"sku": 1}
    assert answers[4].history[0].status_code == 302 and answers[4].url.endswith("/echo")
    assert answers[5].status_code == 302  # requests' head() does not follow redirects
    assert answers[6].json()["headers"]["authorization"].startswith("Basic ")
    assert surge_user.client.cookies.get_dict() == {"sid": "abc123"}
    assert answers[1].elapsed.total_seconds() > 0 and answers[1].headers["CONTENT-TYPE"]
    failed = surge_user.client.get("/status/503")
    with pytest.raises(HTTPError):
        failed.raise_for_status()


def test_what_surges_client_lacks_switches_the_user_to_locusts_client(server):
    user, fired = on_surge(Requests, server.url)
    user.client.get("/cookie/set")
    r = user.client.post("/echo", files={"f": ("a.txt", b"hello")})
    assert r.status_code == 200
    sent = r.json()
    assert sent["headers"]["content-type"].startswith("multipart/form-data")
    assert "hello" in sent["body"] and sent["headers"]["cookie"] == "sid=abc123"
    assert user.client.fallback is not None  # and stays there: one client per user
    assert user.client.get("/ok").status_code == 200
    assert [e["exception"] for e in fired] == [None, None, None]


def test_a_file_using_what_surges_client_lacks_runs_on_locusts_client(tmp_path):
    import importlib.util

    from surge.locustfiles.user_class import choose_client

    path = tmp_path / "uploads.py"
    path.write_text(
        "from locust import HttpUser, task\n\nclass Uploader(HttpUser):\n    @task\n"
        "    def up(self):\n        self.client.post('/u', files={'f': b'x'})\n"
    )
    spec = importlib.util.spec_from_file_location("uploads", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["uploads"] = module  # as Locust's loader does
    spec.loader.exec_module(module)
    choice = choose_client(module.Uploader)
    assert choice.client == "locust" and "multipart files= (uploads.py:6)" in choice.reason
    assert choose_client(module.Uploader, "surge").client == "surge"  # forced
    assert choose_client(Requests).client == "surge"


def test_fasthttpuser_rest_on_surges_client(server):
    class Rest(FastHttpUser):
        @task
        def t(self) -> None:
            pass

    user, fired = on_surge(Rest, server.url)
    with user.rest("POST", "/echo", json={"a": 1}) as resp:
        assert resp.js["method"] == "POST"
        assert resp.js["headers"]["content-type"] == "application/json"
    with user.rest("GET", "/echo") as resp:
        assert resp.js["method"] == "PUT", "wrong method"
    assert fired[0]["exception"] is None
    assert str(fired[1]["exception"]).startswith("wrong method")


def test_locusts_own_clients_errors_are_typed_the_same_way(server, tmp_path):
    from surge.locustfiles.recorder import Recorder

    class Fast(FastHttpUser):
        @task
        def t(self) -> None:
            pass

    for cls in (Requests, Fast):
        user, fired = on_surge(cls, server.url, client="locust")
        user.client.get("/typed/code")
        user.client.get("/typed/empty")
        recorder = Recorder(run_dir=tmp_path, worker_id="w")
        for meta in fired:
            recorder.on_request(**meta)
        assert recorder._cols["error"] == [
            "ProvisionedThroughputExceededException", "HTTP 504 Gateway Timeout",
        ], cls  # fmt: skip


def test_an_answered_error_is_an_error_even_when_its_words_say_timeout(server):
    client, events = session(server.url)
    client.get("/typed/message")  # 503 "Service Unavailable: try later"
    client.get("/typed/empty")  # 504: the gateway timed out
    assert classify(events.fired[0]["exception"]) == "error"
    assert classify(events.fired[1]["exception"]) == "timeout"
    error = HTTPStatusError("lock wait timeout exceeded")  # a 500 whose body says so
    error.status = 500
    assert classify(error) == "error"


def test_unset_or_unknown_request_keywords_never_break_a_request(server):
    user, fired = on_surge(Requests, server.url)
    assert user.client.get("/ok", stream=False, files=None, cookies=None).status_code == 200
    assert user.client.fallback is None  # nothing that needed Locust's client
    with pytest.raises(TypeError, match="max_age"):  # what Locust's own client says
        user.client.get("/ok", max_age=3)  # unknown to surge: handed to Locust's client
    assert user.client.fallback is not None and len(fired) == 1


def test_a_fasthttpuser_on_surges_client_sends_what_locusts_would(server):
    class Fast(FastHttpUser):
        @task
        def t(self) -> None:
            pass

    def calls(user: Any) -> list[Any]:
        c = user.client
        return [
            c.post("/echo", json={"sku": 1}),
            c.post("/echo", data={"a": "1"}, headers={"X-Trace": "t"}),
            c.get("/echo?q=1", name="search"),
        ]

    surge_user, surge_events = on_surge(Fast, server.url)
    locust_user, locust_events = on_surge(Fast, server.url, client="locust")
    mine, theirs = calls(surge_user), calls(locust_user)
    assert [e["name"] for e in surge_events] == [e["name"] for e in locust_events]
    for a, b in zip(mine, theirs, strict=True):
        seen, wanted = a.json(), b.json()
        assert (seen["method"], seen["path"], seen["body"]) == (
            wanted["method"], wanted["path"], wanted["body"],
        )  # fmt: skip
        for header in ("accept", "content-type", "x-trace"):
            assert seen["headers"].get(header) == wanted["headers"].get(header), header
