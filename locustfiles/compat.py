"""Unmodified ``HttpUser`` and ``FastHttpUser`` classes on surge's client.

Most scenario files use a small part of their client: verbs with ``name``, ``params``,
``json``/``data``, ``headers``, ``catch_response``, session headers set in
``on_start``, cookies, basic auth. `CompatSession` gives those exactly the meaning
Locust's client gives them (``requests`` semantics for ``HttpUser``: session headers
merged under request headers, ``None`` removing one, the statistics name defaulting to
the path with its query; FastHttpSession's for ``FastHttpUser``) on `SurgeSession`'s
transport, which costs a fraction of the CPU per request.

What surge's transport cannot do exactly (multipart ``files=``, ``stream=True``,
proxies, client certificates, hooks, mounted adapters, custom ``auth`` objects, file
bodies, per-request ``cookies=``) is never approximated: the session switches, for good,
to a Locust client built the way the class would have built it, copying its headers,
cookies and auth, and says so once in the log. `locustfiles.user_class` decides up
front from the source (``scenario.client: auto``) whether a class goes to Locust's
client anyway; this switch catches what a static look cannot see.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from requests.auth import HTTPBasicAuth
from requests.structures import CaseInsensitiveDict

from surge.locustfiles.client import SurgeSession, _checked_header
from surge.locustfiles.client_switch import SWITCHES
from surge.locustfiles.guard import check_host

logger = logging.getLogger(__name__)

#: request keywords surge's transport does not implement -> how the log names them
UNSUPPORTED_KWARGS = {
    "files": "multipart files=",
    "stream": "stream=True",
    "proxies": "proxies=",
    "cert": "client certificates (cert=)",
    "hooks": "hooks=",
    "cookies": "per-request cookies=",
}
#: keywords that need a look before surge's transport takes a request
_CHECKED_KWARGS = frozenset(UNSUPPORTED_KWARGS) | {"auth", "verify", "data"}
#: keywords surge's transport takes as they are
_KNOWN_KWARGS = frozenset(
    ("name", "json", "headers", "params", "catch_response", "allow_redirects", "context",
     "timeout")
)  # fmt: skip
#: keywords that go to surge's transport unchanged (`CompatSession.request`'s fast path)
_PLAIN_KWARGS = frozenset(("name", "catch_response", "allow_redirects", "context"))
_switched_logged: set[str] = set()


class TrackedHeaders(CaseInsensitiveDict):
    """Session headers that count their changes, so a request can tell in O(1) whether
    the fixed part of its head must be rebuilt (scenarios change them rarely)."""

    version = 0

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.version += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.version += 1


class CookieView(MutableMapping):
    """The session's cookies for its base host, with requests' ``CookieJar`` names that
    scenarios use (``set``, ``get``, ``get_dict``, ``clear``, item access)."""

    def __init__(self, session: SurgeSession) -> None:
        self._session = session

    def _jar(self) -> dict[str, str]:
        return self._session.cookie_jars.setdefault(self._session._origin.key, {})

    def __getitem__(self, name: str) -> str:
        return self._jar()[name]

    def __setitem__(self, name: str, value: str) -> None:
        self._jar()[name] = str(value)

    def __delitem__(self, name: str) -> None:
        del self._jar()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._jar()))

    def __len__(self) -> int:
        return len(self._jar())

    def set(self, name: str, value: str | None, **_attributes: Any) -> None:
        if value is None:
            self._jar().pop(name, None)
        else:
            self._jar()[name] = str(value)

    def get_dict(self, *_args: Any, **_kwargs: Any) -> dict[str, str]:
        return dict(self._jar())

    def clear(self, *_args: Any) -> None:
        self._session.cookie_jars.clear()


class CompatSession(SurgeSession):
    """`SurgeSession` with the session attributes and keywords of Locust's clients.

    Args (beyond `SurgeSession`'s):
        style: ``"requests"`` (HttpUser) or ``"fasthttp"`` (FastHttpUser).
        fallback: builds the Locust client the class would have had (on a switch).
    """

    def __init__(self, *args: Any, style: str, fallback: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style = style
        self._fallback_factory = fallback
        self.fallback: Any = None  # the Locust client, once switched
        self.headers: MutableMapping[str, str] = TrackedHeaders(self._default_headers)
        if style == "requests":
            self.headers["Accept"] = "*/*"
        self._synced: tuple = ()
        self.auth: Any = None
        self.verify: bool | str = not self.insecure if self.ca_file is None else self.ca_file
        self.proxies: dict[str, str] = {}
        self.trust_env = True
        self.adapters: dict[str, Any] = {}

    @property
    def cookies(self) -> CookieView:  # type: ignore[override]
        return CookieView(self)

    def mount(self, prefix: str, adapter: Any) -> None:
        """A mounted adapter changes the transport: only Locust's client can honour it."""
        self.adapters[prefix] = adapter
        self._switch("a mounted transport adapter")

    def head(self, url: str, **kwargs: Any) -> Any:
        if self.style == "requests":
            kwargs.setdefault("allow_redirects", False)  # as requests.Session.head
        return self.request("HEAD", url, **kwargs)

    def request(self, method: str, url: str, **kwargs: Any) -> Any:  # type: ignore[override]
        if (
            self.fallback is None
            and kwargs.keys() <= _PLAIN_KWARGS
            and self.auth is None
            and not self.proxies
            and not self.adapters
        ):
            # the usual request (a path, maybe a name): nothing to translate; the CPU
            # per request is what decides the rate one core can offer
            self._sync_session()
            if self.style == "requests" and kwargs.get("name") is None and not self.request_name:
                kwargs["name"] = _path_url(url, None)
            return SurgeSession.request(self, method, url, **kwargs)
        if self.fallback is None:
            why = self._unsupported(kwargs)
            if why:
                self._switch(why)
        if self.fallback is not None:
            if url.startswith(("http://", "https://", "//")) and self.allow_hosts:
                check_host(f"{method} {url}", url, self.allow_hosts)
            if self.style == "requests":
                kwargs.setdefault("timeout", self.timeout_s)
            return self.fallback.request(method, url, **kwargs)
        self._sync_session()
        headers = kwargs.pop("headers", None)
        if headers and self.style == "requests":
            headers = self._merged_headers(headers)
        kwargs.pop("verify", None)  # the session's verify applies (checked in _unsupported)
        timeout = kwargs.pop("timeout", None)
        if isinstance(timeout, tuple):  # requests' (connect, read): one deadline for both
            timeout = sum(t for t in timeout if t is not None) or None
        auth = kwargs.pop("auth", None) or self.auth
        if isinstance(auth, HTTPBasicAuth):
            auth = (auth.username, auth.password)
        data = kwargs.pop("data", None)
        if isinstance(data, list | tuple):  # requests: a list of pairs is a form
            data = urlencode(list(data), doseq=True)
            headers = dict(headers or {})
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.style == "fasthttp" and isinstance(data, Mapping):
            headers = dict(headers or {})  # FastHttpSession names the form's charset
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        if self.style == "requests" and kwargs.get("json") is not None and data is None:
            # requests sends the session's Accept with a JSON body (surge's own default,
            # like FastHttpSession's, would ask for application/json)
            headers = dict(headers or {})
            if not any(k.lower() == "accept" for k in headers) and "Accept" in self.headers:
                headers["Accept"] = self.headers["Accept"]
        params = kwargs.pop("params", None)
        if self.style == "requests" and kwargs.get("name") is None and not self.request_name:
            kwargs["name"] = _path_url(url, params)
        if params is not None:
            url, params = _with_params(url, params), None
        return super().request(
            method, url, headers=headers, timeout=timeout, auth=auth, data=data, **kwargs
        )

    # ------------------------------------------------------------------ internals
    def _unsupported(self, kwargs: dict[str, Any]) -> str | None:
        """Why surge's transport cannot send this request exactly (None: it can). Unset
        unsupported keywords (``stream=False``, ``files=None``) are removed from `kwargs`."""
        if (
            kwargs.keys() <= _KNOWN_KWARGS
            and self.auth is None
            and not self.proxies
            and not self.adapters
        ):
            return None  # the usual request: nothing to look at
        for key, what in UNSUPPORTED_KWARGS.items():
            if key in kwargs:
                value = kwargs[key]
                if value is not None and value is not False and value != {}:
                    return what
                del kwargs[key]
        unknown = sorted(kwargs.keys() - _KNOWN_KWARGS - _CHECKED_KWARGS)
        if unknown:
            return f"the request keyword {unknown[0]}="
        if self.proxies:
            return "session proxies"
        if self.auth is not None and not isinstance(self.auth, tuple | HTTPBasicAuth):
            return f"auth object {type(self.auth).__name__}"
        auth = kwargs.get("auth")
        if auth is not None and not isinstance(auth, tuple | HTTPBasicAuth):
            return f"auth object {type(auth).__name__}"
        if "verify" in kwargs and kwargs["verify"] != self.verify:
            return "per-request verify="
        data = kwargs.get("data")
        if data is not None and (hasattr(data, "read") or hasattr(data, "__next__")):
            return "a file or generator body"
        if self.adapters:
            return "a mounted transport adapter"
        return None

    def _switch(self, why: str) -> None:
        """From now on this user's requests go through Locust's own client."""
        if self.fallback is not None:
            return
        client = self._fallback_factory()
        copy_session_state(self, client)
        self.fallback = client
        owner = type(self.user).__name__ if self.user is not None else "a user"
        SWITCHES.record(owner, why)  # -> health message -> manifest and `surge run` (#21)
        if owner not in _switched_logged:
            _switched_logged.add(owner)
            logger.warning(
                "%s uses %s, which surge's client does not support: it runs on Locust's "
                "own client from now on (correct, slower)",
                owner,
                why,
            )

    def _merged_headers(self, headers: Any) -> dict[str, str] | None:
        """requests' merge: a request header set to None removes the session's one."""
        removed = {k.lower() for k, v in headers.items() if v is None}
        if not removed:
            return dict(headers)
        if removed & self._default_lower:  # rebuild the fixed head without them
            self._synced = ()
            self._sync_session(removed)
        return {k: v for k, v in headers.items() if v is not None}

    def _sync_session(self, removed: set[str] | None = None) -> None:
        """Session headers and verify, as the scenario last set them, into the transport."""
        headers = self.headers
        if type(headers) is TrackedHeaders:
            key: tuple = (id(headers), headers.version)
        else:  # the scenario replaced the mapping: compare contents
            key = tuple(headers.items()) if headers else ()
        if key != self._synced or removed:
            self._synced = () if removed else key
            fixed = {k: _checked_header(k, v) for k, v in headers.items()
                     if v is not None and k.lower() not in (removed or ())}  # fmt: skip
            self._default_headers = fixed
            self._default_lower = {k.lower() for k in fixed}
            self._fixed_head = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        verify = self.verify
        if verify is False:
            self.insecure, self.ca_file = True, None
        elif isinstance(verify, str):
            self.insecure, self.ca_file = False, verify
        else:
            self.insecure = False


def copy_session_state(source: CompatSession, client: Any) -> None:
    """Headers, cookies, auth and verify of `source` onto a Locust client."""
    jar = dict(source.cookie_jars.get(source._origin.key, {}))
    if source.style == "requests":
        client.headers.update(source.headers)
        for name, value in jar.items():
            client.cookies.set(name, value)
        client.auth = source.auth
        client.verify = source.verify
        client.proxies.update(source.proxies)
        for prefix, adapter in source.adapters.items():
            client.mount(prefix, adapter)
    elif jar:
        from http.cookiejar import Cookie

        host = source._origin.address[0]
        for name, value in jar.items():
            client.cookiejar.set_cookie(Cookie(
                0, name, value, None, False, host, False, False, "/", True, False, None,
                False, None, None, {},
            ))  # fmt: skip


def adopt_session_state(session: CompatSession, client: Any) -> None:
    """What a class's ``__init__`` left in the Locust client it made (headers, cookies,
    auth) into `session`, which replaces it; the Locust client's connections are closed."""
    if session.style == "requests":
        session.headers = TrackedHeaders(client.headers)
        session.auth = client.auth
        cookies = {c.name: c.value for c in client.cookies if c.value is not None}
    else:
        cookies = {c.name: c.value for c in client.cookiejar if c.value is not None}
    for name, value in cookies.items():
        session.cookies[name] = value
    with contextlib.suppress(Exception):
        client.close()


def _with_params(url: str, params: Any) -> str:
    """`url` with requests-style `params` (mapping, pairs or a string; None values out)."""
    if isinstance(params, bytes):
        params = params.decode("utf-8")
    if isinstance(params, str):
        query = params
    else:
        items = params.items() if hasattr(params, "items") else params
        query = urlencode([(k, v) for k, v in items if v is not None], doseq=True)
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _path_url(url: str, params: Any) -> str:
    """What Locust's HttpSession names a request by default: the path and query sent."""
    full = _with_params(url, params) if params is not None else url
    if full.startswith(("http://", "https://")):
        parts = urlsplit(full)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return full
