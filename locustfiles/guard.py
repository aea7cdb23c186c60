"""The client a slot's user gets: only `allow_hosts`, always the schedule's timeout.

The engine creates every user instance itself (`locustfiles.dispatcher`), so instead of
patching Locust's clients it wraps the one it hands each user. The wrapper routes every
verb through one ``request`` that refuses an absolute URL outside ``allow_hosts`` before
any connection is made, and gives requests-based clients (``HttpUser``, which has no
class-level timeout) the schedule's timeout. ``FastHttpUser`` gets its timeout from the
class attributes `locustfiles.user_class.prepare_user_class` sets. A locustfile that builds
its own HTTP client bypasses this, as it bypasses Locust's statistics.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from surge.errors import SurgeError
from surge.locustfiles.verbs import HttpVerbs
from surge.schedule import host_matches

ABSOLUTE_PREFIXES = ("http://", "https://", "//")


class HostNotAllowedError(SurgeError):
    """A scenario asked for a host the schedule's ``allow_hosts`` does not list."""


def host_allowed(url: str, allow_hosts: tuple[str, ...]) -> bool:
    """`url`'s host matches an ``allow_hosts`` entry (the schedule's one matcher, so the
    target the schedule accepted and the requests the scenario makes agree)."""
    host = (urlsplit(url).hostname or "").lower()
    return any(host_matches(host, allowed) for allowed in allow_hosts)


def check_host(what: str, url: str, allow_hosts: tuple[str, ...]) -> None:
    """Raise `HostNotAllowedError` for `url` outside `allow_hosts` (`what`: the request)."""
    if not host_allowed(url, allow_hosts):
        raise HostNotAllowedError(
            f"{what}: host not in allow_hosts ({', '.join(allow_hosts)})", "scenario"
        )


class GuardedClient(HttpVerbs):
    """A user's ``self.client`` with the allow list and timeout applied to every request.

    Attributes other than the HTTP verbs are the wrapped client's, so scenario code
    that reads ``self.client.base_url`` or sets headers keeps working.
    """

    def __init__(
        self, client: Any, *, allow_hosts: tuple[str, ...], timeout_s: float | None
    ) -> None:
        self.__dict__["_inner"] = client
        self.__dict__["_allow"] = tuple(allow_hosts)
        self.__dict__["_timeout"] = timeout_s

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        if url.startswith(ABSOLUTE_PREFIXES):
            check_host(f"{method} {url}", url, self._allow)
        if self._timeout is not None:
            kwargs.setdefault("timeout", self._timeout)
        return self._inner.request(method, url, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._inner, name, value)


def guard_user(user: Any, *, allow_hosts: tuple[str, ...], timeout_s: float) -> None:
    """Hand `user` a guarded client (users without ``client``, e.g. plain `User`, are left).

    surge's own `SurgeSession` is not wrapped: it enforces the list itself, on redirects
    too, and saves the wrapper's calls on every request."""
    import requests

    client = getattr(user, "client", None)
    if client is None or isinstance(client, GuardedClient):
        return
    if getattr(client, "guards_itself", False):  # SurgeSession: checks URLs and redirects
        client.allow_hosts = tuple(allow_hosts)
        client.timeout_s = timeout_s
        return
    # requests takes a timeout per call; FastHttpUser's comes from its class attributes
    per_call = timeout_s if isinstance(client, requests.Session) else None
    user.client = GuardedClient(client, allow_hosts=allow_hosts, timeout_s=per_call)
