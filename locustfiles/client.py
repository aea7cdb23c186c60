"""surge's HTTP client: FastHttpUser's interface at a fraction of its CPU per request.

A load generator's capacity is its CPU per request, and on a loopback target plain
Locust spends most of it in its client (measured on this machine, 50 greenlets on one
core against nginx): ``FastHttpSession`` ~230 µs per request, geventhttpclient's own
``HTTPClient`` under it ~135 µs, a gevent socket with the llhttp parser ~35 µs. The
difference is layers: URL objects, two header merges and validations, a cookie jar
consulted on every request, a pool that probes each idle socket with ``select``,
response wrappers copied into context managers.

`SurgeSession` keeps only what a request needs: the request head is one formatted
string, idle keep-alive sockets wait in a list per host (a slot reuses its own, so a
connection per concurrent request), responses are parsed by httptools (llhttp, the
parser geventhttpclient also wraps) and headers and bodies are decoded only when the
scenario asks. It reports every request through Locust's ``request`` event exactly as
FastHttpSession does (name, type, response time, length, exception, context), so
Locust's statistics, web UI and CSVs and surge's recorder see the same requests.

Supported, with FastHttpSession's names: ``get/post/put/patch/delete/head/options`` and
``request`` with ``name`` (or ``rename_request``), ``catch_response``
(``success()``/``failure()``), ``headers``, ``params``, ``data`` (str, bytes or a form
dict), ``json``, ``auth``, ``allow_redirects``, ``context``; responses
(`locustfiles.http_response`) with ``status_code``, ``ok``, ``headers``, ``content``,
``text``, ``json()``, ``raise_for_status()``, ``url``, ``error``. Deadlines:
`locustfiles.deadlines`.
Hardened: TLS certificates are verified (``insecure``/``ca_file`` change it, set from the
schedule's ``scenario.tls``); ``Authorization`` and ``Cookie`` headers are dropped when a
redirect leads to another host or from HTTPS to HTTP; 1xx interim answers (100, 103)
are skipped; a POST or PATCH whose kept-alive connection fails is never sent again (an
idle connection the server closed is only replaced for idempotent requests); an error
answer's exception is named by its failure type (`locustfiles.error_types`).
Deliberately simpler: cookies are name=value pairs kept per host and sent back to that
host (Path, Domain and Expires are not interpreted; ``Max-Age=0`` deletes); the whole
request, connect included, has one deadline (the schedule's ``timeout``); a response
body is read whole (no ``stream``). ``HttpUser`` and ``FastHttpUser`` classes run on
this transport through `locustfiles.compat`, or on Locust's client when they need more.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json as jsonlib
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

import gevent
import gevent.socket
import gevent.ssl
import httptools
from locust import User
from locust.exception import ResponseError, StopTest

import surge
from surge.locustfiles.deadlines import DEADLINES, Deadline
from surge.locustfiles.error_types import response_error_type, status_line
from surge.locustfiles.guard import HostNotAllowedError, check_host
from surge.locustfiles.http_response import (
    FAILURE_FROM_STATUS,
    HTTPStatusError,
    SurgeResponse,
    find_header,
    parse_head,
)
from surge.locustfiles.verbs import HttpVerbs

RECV_BYTES = 65536
DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_REDIRECTS = 5
REDIRECT_CODES = frozenset((301, 302, 303, 307, 308))
KEEP_METHOD_ON_REDIRECT = frozenset((307, 308))  # others become GET without a body
BODILESS_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE", "TRACE"))
NOT_RESENT_METHODS = frozenset(("POST", "PATCH", "CONNECT"))  # not idempotent (RFC 9110 9.2.2)
CREDENTIAL_HEADERS = ("authorization:", "proxy-authorization:", "cookie:")
URL_CACHE_SIZE = 4096  # distinct absolute URLs whose parts are kept
USER_AGENT = f"surge/{surge.__version__}"
ACCEPT_ENCODING = "gzip, deflate"  # what `content` can decode without extra packages
_SAFE_URL_CHARS = "/%?=&;:@+,$!*'()~#[]"


#: gevent's plain TCP socket (TLS sockets are another class and read through OpenSSL)
_PLAIN_SOCKET = gevent.socket.socket


class ConnectionClosedError(ConnectionError):
    """The server closed the connection before a complete response."""


# ---------------------------------------------------------------------- parsing


class _Message:
    """httptools callbacks for one response (only those it has are called).

    The parser holds this message (its callbacks) and the message holds the parser while
    it parses: `_round_trip` cuts that cycle when the response is read, so both are freed
    by reference counting. A cycle per request is garbage only the cyclic GC finds, and
    at 10,000 requests a second it made the GC run so often, and its full collections
    take so long (~100 ms over Locust's heap), that they showed up as send-lag spikes.
    """

    __slots__ = (
        "body", "complete", "head", "headers_done", "interim", "keep_alive", "parser", "status",
    )  # fmt: skip

    def __init__(self) -> None:
        self.head = b""
        self.interim = 0  # 1xx answers skipped before the final one
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False  # set when complete; a body ended by the close leaves it False
        self.parser: Any = None
        self.status = 0

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self.parser.get_status_code() < 200:
            # an interim answer (100 Continue, 103 Early Hints): the real one follows on
            # the same connection; llhttp parses it as the next message
            self.interim += 1
            self.headers_done = False
            self.body = []
            return
        self.complete = True
        # asked now: once the message is over, llhttp has reset and answers False
        self.keep_alive = self.parser.should_keep_alive()


# ---------------------------------------------------------------------- targets


class _Origin:
    """Where requests for one scheme://host:port go, and the fixed part of their head."""

    __slots__ = ("address", "host_header", "key", "tls")

    def __init__(self, scheme: str, host: str, port: int | None) -> None:
        scheme = scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {scheme!r} (http or https)")
        if not host:
            raise ValueError("URL without a host")
        self.tls = scheme == "https"
        default_port = 443 if self.tls else 80
        port = port or default_port
        self.address = (host, port)
        bracketed = f"[{host}]" if ":" in host else host
        self.host_header = bracketed if port == default_port else f"{bracketed}:{port}"
        self.key = (scheme, host.lower(), port)


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _split_absolute(url: str) -> tuple[_Origin, str, str]:
    """(origin, request target, userinfo) of an absolute URL; cached, URLs repeat."""
    parts = urlsplit(url)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    return _Origin(parts.scheme, parts.hostname or "", parts.port), _quoted(target), userinfo


def _quoted(target: str) -> str:
    """Percent-encode what may not go on the request line raw (spaces, non-ASCII)."""
    if target.isascii() and " " not in target and "\t" not in target:
        return target
    return quote(target, safe=_SAFE_URL_CHARS)


def shared_tls_context(insecure: bool, cafile: str | None = None) -> gevent.ssl.SSLContext:
    """One client TLS context per process (per `insecure` and CA file), for surge's client
    and, as their ``ssl_context_factory``, for FastHttpUser classes the engine drives:
    building one costs ~40 ms of CPU (certifi's CA bundle is loaded every time), so a
    context per connection or per user would stall every new slot of a ramp."""
    return _tls_context(insecure, cafile)  # one cache key however it is called


@functools.cache
def _tls_context(insecure: bool, cafile: str | None) -> gevent.ssl.SSLContext:
    context = gevent.ssl.create_default_context(cafile=cafile)
    if insecure:  # FastHttpUser's default too: load-test targets often use private CAs
        context.check_hostname = False
        context.verify_mode = gevent.ssl.CERT_NONE
    return context


def _basic_auth(username: str | bytes, password: str | bytes) -> str:
    user = username.encode("latin-1") if isinstance(username, str) else username
    secret = password.encode("latin-1") if isinstance(password, str) else password
    return "Basic " + base64.b64encode(user + b":" + secret).decode("ascii")


def _checked_header(name: str, value: Any) -> str:
    text = str(value)
    if "\r" in text or "\n" in text or "\r" in name or "\n" in name or ":" in name:
        raise ValueError(f"header {name!r}: line breaks or ':' in a header are not allowed")
    return text


# ---------------------------------------------------------------------- the session


class SurgeSession(HttpVerbs):
    """A user's HTTP client: keep-alive connections per host, one request event each.

    Args:
        base_url: scheme://host[:port][/prefix]; relative request paths are appended.
        request_event: Locust's ``environment.events.request``.
        user: the User, whose ``context()`` goes with every request (may be None).
        timeout_s: deadline of a whole request (connect, send, full response).
        insecure: do not verify TLS certificates (surge verifies by default; the schedule's
            ``scenario.tls`` changes it).
        ca_file: a PEM bundle of the CAs to trust instead of the system's.
        default_headers: sent with every request unless the request sets them itself.

    Attributes:
        allow_hosts: when set (the engine sets the schedule's), a request or redirect to
            any other host fails with `HostNotAllowedError` before a connection is made.
    """

    #: it checks `allow_hosts` itself (redirects too): `guard.guard_user` sets its
    #: allow list and timeout instead of wrapping it (a marker, so guard needs no import)
    guards_itself = True

    def __init__(
        self,
        base_url: str,
        request_event: Any,
        user: User | None = None,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        insecure: bool = False,
        ca_file: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
    ) -> None:
        self.request_event = request_event
        self.user = user
        self.timeout_s = timeout_s
        self.insecure = insecure
        self.ca_file = ca_file
        self.max_redirects = max_redirects
        self.allow_hosts: tuple[str, ...] = ()
        self.request_name: str | None = None  # set by `rename_request`
        #: cookies per origin (scheme, host, port): name -> value
        self.cookie_jars: dict[tuple[str, str, int], dict[str, str]] = {}
        self._idle: dict[tuple[str, str, int], list[Any]] = {}
        origin, prefix, userinfo = _split_absolute(base_url)
        self._origin = origin
        self._prefix = "" if prefix == "/" else prefix.rstrip("/")
        scheme = "https" if origin.tls else "http"
        self.base_url = f"{scheme}://{origin.host_header}{self._prefix}"  # no credentials
        fixed = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
        if userinfo:
            user_part, _, password = userinfo.partition(":")  # percent-encoded in URLs
            fixed["Authorization"] = _basic_auth(unquote(user_part), unquote(password))
        for name, value in (default_headers or {}).items():
            fixed = {k: v for k, v in fixed.items() if k.lower() != name.lower()}
            fixed[name] = _checked_header(name, value)
        self._default_headers = fixed
        self._default_lower = {k.lower() for k in fixed}
        self._fixed_head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())

    def request(
        self,
        method: str,
        url: str,
        *,
        name: str | None = None,
        data: Any = None,
        json: Any = None,
        headers: Mapping[str, Any] | None = None,
        params: Any = None,
        auth: tuple[str | bytes, str | bytes] | None = None,
        catch_response: bool = False,
        allow_redirects: bool = True,
        context: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> SurgeResponse:
        """Send one request and report it (now, or at the end of a ``catch_response`` block)."""
        method = method.upper()
        origin, target, full_url = self._resolve(method, url, params)
        body, extra = self._body_and_headers(data, json, headers, auth)
        start_time = time.time()
        started = time.perf_counter()
        history: list[SurgeResponse] = []
        status, head, raw, error, answered_by = self._send_following(
            method, origin, target, full_url, body, extra, allow_redirects,
            timeout if timeout is not None else self.timeout_s, history,
        )  # fmt: skip
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        response = SurgeResponse(method, answered_by, status, head, raw, error)
        response.elapsed_s = elapsed_ms / 1000.0
        response._sent = (extra, body)  # `response.request`, built only if a task reads it
        if history:
            response.history = history
        if error is None and status >= FAILURE_FROM_STATUS:
            # named by the answer's own failure type (README "Results", `error` column)
            response.error = error = HTTPStatusError(
                response_error_type(response) or status_line(status)
            )
            error.status = status
        user = self.user
        ctx = user.context() if user is not None else {}
        if context:
            ctx = {**ctx, **context}
        meta = {
            "request_type": method,
            "name": name or self.request_name or url,
            "response_time": elapsed_ms,
            "response_length": len(raw),
            "response": response,
            "exception": error,
            "context": ctx,
            "start_time": start_time,
            "url": full_url,
        }
        if catch_response:
            response._meta = meta
            response._event = self.request_event
        else:
            self.request_event.fire(**meta)
        return response

    def _resolve(self, method: str, url: str, params: Any) -> tuple[Any, str, str]:
        """(origin, request target, full URL) of a path or an absolute URL, with its query;
        an absolute URL must be one of `allow_hosts`."""
        if url.startswith("/"):
            origin, target = self._origin, self._prefix + _quoted(url)
            full_url = self.base_url + url
        elif url.startswith(("http://", "https://", "HTTP://", "HTTPS://")):
            origin, target, _ = _split_absolute(url)
            full_url = url
            if self.allow_hosts:
                check_host(f"{method} {url}", url, self.allow_hosts)
        else:
            raise ValueError(f"{url!r}: a path starts with '/' (or give an http(s) URL)")
        if params:
            query = urlencode(params, doseq=True)
            target = f"{target}{'&' if '?' in target else '?'}{query}"
            full_url = f"{full_url}{'&' if '?' in full_url else '?'}{query}"
        return origin, target, full_url

    @property
    def cookies(self) -> Any:
        """The cookie jars per origin (`CompatSession` shows requests' view instead)."""
        return self.cookie_jars

    @contextlib.contextmanager
    def rename_request(self, name: str) -> Iterator[None]:
        """Report the requests made inside the block under `name` (as FastHttpSession)."""
        self.request_name = name
        try:
            yield
        finally:
            self.request_name = None

    def close(self) -> None:
        """Close every idle connection (in-flight ones close when their request ends)."""
        for socks in self._idle.values():
            for sock in socks:
                _close(sock)
        self._idle.clear()

    # ------------------------------------------------------------------ internals
    def _body_and_headers(
        self,
        data: Any,
        json: Any,
        headers: Mapping[str, Any] | None,
        auth: tuple[str | bytes, str | bytes] | None,
    ) -> tuple[bytes | None, str]:
        """The body and the request head's lines beyond the fixed ones."""
        extra: dict[str, str] = {}
        if headers:
            for key, value in headers.items():
                extra[key] = _checked_header(key, value)
        lower = {k.lower() for k in extra} if extra else set()
        body: bytes | None = None
        if data is not None:
            if isinstance(data, Mapping):
                body = urlencode(data, doseq=True).encode("ascii")
                if "content-type" not in lower:
                    extra["Content-Type"] = "application/x-www-form-urlencoded"
            elif isinstance(data, str):
                body = data.encode("utf-8")
            else:
                body = bytes(data)
        elif json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            if "content-type" not in lower:
                extra["Content-Type"] = "application/json"
            if "accept" not in lower:
                extra["Accept"] = "application/json"
        if auth is not None:
            extra["Authorization"] = _basic_auth(auth[0], auth[1])
        if not extra:
            return body, self._fixed_head
        overridden = self._default_lower & {k.lower() for k in extra}
        fixed = self._fixed_head
        if overridden:
            fixed = "".join(
                f"{k}: {v}\r\n" for k, v in self._default_headers.items()
                if k.lower() not in overridden
            )  # fmt: skip
        return body, fixed + "".join(f"{k}: {v}\r\n" for k, v in extra.items())

    def _send_following(
        self,
        method: str,
        origin: _Origin,
        target: str,
        full_url: str,
        body: bytes | None,
        head_lines: str,
        allow_redirects: bool,
        timeout_s: float,
        history: list[SurgeResponse] | None = None,
    ) -> tuple[int, bytes, bytes, BaseException | None, str]:
        """One exchange, and the redirects after it; the deadline covers them all.

        Returns status, response head, body, the error (None when answered) and the
        URL that gave the final answer; each redirect answer is appended to `history`.
        Credentials (Authorization, Cookie headers) are not sent on to another host."""
        deadline = Deadline()
        DEADLINES.add(deadline, timeout_s)
        try:
            for _ in range(self.max_redirects + 1):
                status, head, raw = self._exchange(method, origin, target, body, head_lines)
                if not allow_redirects or status not in REDIRECT_CODES:
                    return status, head, raw, None, full_url
                location = find_header(parse_head(head), b"location")
                if location is None:
                    return status, head, raw, None, full_url
                next_url = urljoin(full_url, location)
                if self.allow_hosts:
                    try:
                        check_host(f"redirect to {next_url}", next_url, self.allow_hosts)
                    except HostNotAllowedError as refused:
                        return status, head, raw, refused, full_url
                if history is not None:
                    history.append(SurgeResponse(method, full_url, status, head, raw, None))
                full_url = next_url
                previous = origin
                origin, target, _ = _split_absolute(full_url)
                if origin.key[1:] != previous.key[1:] or (previous.tls and not origin.tls):
                    head_lines = _without_credentials(head_lines)
                if status not in KEEP_METHOD_ON_REDIRECT and method not in ("GET", "HEAD"):
                    method, body = "GET", None  # as browsers do; the body's type goes too
                    head_lines = "".join(
                        f"{line}\r\n" for line in head_lines.split("\r\n")
                        if line and not line.lower().startswith("content-type:")
                    )  # fmt: skip
            return (
                status,
                head,
                raw,
                ResponseError(f"more than {self.max_redirects} redirects"),
                full_url,
            )
        except Deadline as fired:
            if fired is not deadline:
                raise
            late = TimeoutError(f"no complete response within {timeout_s:g}s")
            return 0, b"", b"", late, full_url
        except (OSError, httptools.HttpParserError, ValueError) as exc:
            return 0, b"", b"", exc, full_url
        finally:
            DEADLINES.discard(deadline)

    def _exchange(
        self, method: str, origin: _Origin, target: str, body: bytes | None, head_lines: str
    ) -> tuple[int, bytes, bytes]:
        """Send one request on a keep-alive connection; its status, head and whole body."""
        cookie = self._cookie_line(origin.key) if self.cookie_jars else ""
        if body is not None:
            length = f"Content-Length: {len(body)}\r\n"
        elif method in BODILESS_METHODS:
            length = ""
        else:  # a POST without a body still says so
            length = "Content-Length: 0\r\n"
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {origin.host_header}\r\n"
            f"{head_lines}{cookie}{length}\r\n"
        )
        payload = head.encode("latin-1") + body if body else head.encode("latin-1")
        idle = self._idle.get(origin.key)
        reused = bool(idle)
        sock = idle.pop() if idle else self._connect(origin)
        while True:
            try:
                message = self._round_trip(sock, payload, method)
                break
            except ConnectionClosedError:
                _close(sock)
                if not reused:  # a fresh connection that closes at once: the server's answer
                    raise
                if method in NOT_RESENT_METHODS:
                    # the server may have acted on it before closing: a second POST could
                    # buy twice, so it is recorded as an error instead (as browsers and
                    # urllib3 do not retry it either)
                    raise ConnectionClosedError(
                        f"connection closed before a response; a {method} is not sent twice"
                    ) from None
                # the server closed an idle keep-alive connection (its timeout): send anew
                reused = False
                sock = self._connect(origin)
            except BaseException:
                _close(sock)
                raise
        if message.keep_alive:
            self._idle.setdefault(origin.key, []).append(sock)
        else:
            _close(sock)
        if b"set-cookie" in message.head.lower():
            self._keep_cookies(origin.key, parse_head(message.head))
        raw = message.body[0] if len(message.body) == 1 else b"".join(message.body)
        return message.status, message.head, raw

    @staticmethod
    def _round_trip(sock: Any, payload: bytes, method: str) -> _Message:
        """Write `payload`, read one whole response. `ConnectionClosedError` only when the
        connection ended before any byte of a response (so sending again is safe)."""
        message = _Message()
        parser = message.parser = httptools.HttpResponseParser(message)
        try:
            return SurgeSession._read_response(sock, payload, method, message, parser)
        finally:
            message.status = parser.get_status_code() if message.complete else 0
            message.parser = None  # no message <-> parser cycle left for the GC (see _Message)

    @staticmethod
    def _read_response(
        sock: Any, payload: bytes, method: str, message: _Message, parser: Any
    ) -> _Message:
        received = False
        try:
            sent = sock.send(payload)  # one small request: usually all of it at once
            if sent < len(payload):
                sock.sendall(payload[sent:])
            head_chunks: list[bytes] = []  # what came until the headers were complete
            if type(sock) is _PLAIN_SOCKET:
                # the answer cannot be there yet: wait until it is, instead of gevent's
                # recv first trying (EAGAIN, an exception raised and caught) then waiting
                sock._wait(sock._read_event)
            while not message.complete:
                data = sock.recv(RECV_BYTES)
                if not data:
                    if message.headers_done:  # a body that ends with the connection
                        message.complete = True
                        break
                    if received:
                        raise ConnectionError("connection closed in the middle of a response")
                    raise ConnectionClosedError("connection closed before a response")
                received = True
                if not message.headers_done:
                    head_chunks.append(data)
                parser.feed_data(data)
                if method == "HEAD" and message.headers_done and not message.complete:
                    # a HEAD response has no body, whatever its Content-Length says
                    message.keep_alive = parser.should_keep_alive()
                    message.complete = True
        except (BrokenPipeError, ConnectionResetError) as exc:
            if received:
                raise
            raise ConnectionClosedError(str(exc) or type(exc).__name__) from exc
        start = head_chunks[0] if len(head_chunks) == 1 else b"".join(head_chunks)
        for _ in range(message.interim):  # drop the heads of 1xx answers
            start = start[start.find(b"\r\n\r\n") + 4 :]
        message.head = start[: start.find(b"\r\n\r\n")]
        return message

    def _connect(self, origin: _Origin) -> Any:
        sock = gevent.socket.create_connection(origin.address)
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        if origin.tls:
            try:
                sock = shared_tls_context(self.insecure, self.ca_file).wrap_socket(
                    sock, server_hostname=origin.address[0]
                )
            except BaseException:
                _close(sock)
                raise
        return sock

    # ------------------------------------------------------------------ cookies
    def _cookie_line(self, key: tuple[str, str, int]) -> str:
        jar = self.cookie_jars.get(key)
        if not jar:
            return ""
        return "Cookie: " + "; ".join(f"{k}={v}" for k, v in jar.items()) + "\r\n"

    def _keep_cookies(
        self, key: tuple[str, str, int], header_list: list[tuple[bytes, bytes]]
    ) -> None:
        jar = self.cookie_jars.setdefault(key, {})
        for name, value in header_list:
            if name.lower() != b"set-cookie":
                continue
            pair, *attributes = value.decode("latin-1").split(";")
            cookie_name, sep, cookie_value = pair.strip().partition("=")
            if not sep or not cookie_name:
                continue
            if _deletes_cookie(attributes):
                jar.pop(cookie_name, None)
            else:
                jar[cookie_name] = cookie_value


def _deletes_cookie(attributes: list[str]) -> bool:
    """``Max-Age=0`` (or negative): the server asks to forget the cookie."""
    for attribute in attributes:
        key, _, value = attribute.strip().partition("=")
        if key.lower() == "max-age":
            try:
                return int(value.strip()) <= 0
            except ValueError:
                return False
    return False


def _without_credentials(head_lines: str) -> str:
    """The request's header lines without credentials, for a redirect to another host
    (or from HTTPS to HTTP): a token meant for one API must not reach another."""
    return "".join(
        f"{line}\r\n" for line in head_lines.split("\r\n")
        if line and not line.lower().startswith(CREDENTIAL_HEADERS)
    )  # fmt: skip


def _close(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.close()


# ---------------------------------------------------------------------- the user class


class SurgeHttpUser(User):
    """A User whose ``self.client`` is a `SurgeSession`: write tasks as for FastHttpUser.

    The attributes keep FastHttpUser's names, so the engine sets the schedule's timeout
    on either class the same way.
    """

    abstract = True
    network_timeout: float = DEFAULT_TIMEOUT_S  # the whole request's deadline
    connection_timeout: float = DEFAULT_TIMEOUT_S  # kept for FastHttpUser compatibility
    insecure: bool = False  # TLS verified; the schedule's scenario.tls changes it
    ca_file: str | None = None
    default_headers: dict[str, str] | None = None
    max_redirects: int = DEFAULT_MAX_REDIRECTS

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if self.host is None:
            raise StopTest("no host: set `host` on the User class or pass --host")
        self.client = SurgeSession(
            self.host,
            environment.events.request,
            self,
            timeout_s=self.network_timeout,
            insecure=self.insecure,
            ca_file=self.ca_file,
            default_headers=self.default_headers,
            max_redirects=self.max_redirects,
        )
