"""``response.request`` for responses of surge's client: what was sent, read when asked.

Scenarios written for Locust's clients look at the request behind a response (a
``requests.PreparedRequest`` for ``HttpUser``, a ``FastRequest`` for ``FastHttpUser``):
``response.request.headers["Authorization"]`` in an assertion, ``.body`` in a failure
message, ``.url`` and ``.method`` in a log line. Surge's client keeps only what it
already built to send (the head lines and the body bytes) on the response; this object
is made from them the first time a task reads ``response.request``, so requests nobody
inspects cost one attribute store.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict


class SentRequest:
    """The request a response answers, with the names both Locust clients' requests share.

    Attributes:
        method: the HTTP method sent (``GET``, ``POST``...).
        url: the full URL, query included.
        headers: the header fields sent with it (case-insensitive), ``Content-Length``
            included and ``Host`` not, as Locust's clients show them; the ``Cookie``
            header is added from the session's jar at send time and is not repeated here.
        body: the body bytes, None when there was none.
    """

    __slots__ = ("_head_lines", "_headers", "body", "method", "url")

    def __init__(self, method: str, url: str, head_lines: str, body: bytes | None) -> None:
        self.method = method
        self.url = url
        self.body = body
        self._head_lines = head_lines
        self._headers: CaseInsensitiveDict | None = None

    @property
    def headers(self) -> CaseInsensitiveDict:
        if self._headers is None:
            found: CaseInsensitiveDict = CaseInsensitiveDict()
            for line in self._head_lines.split("\r\n"):
                name, sep, value = line.partition(":")
                if sep and name:
                    found[name.strip()] = value.strip()
            if self.body is not None:
                found["Content-Length"] = str(len(self.body))
            self._headers = found
        return self._headers

    @property
    def path_url(self) -> str:
        """The path and query (``requests.PreparedRequest.path_url``)."""
        parts = urlsplit(self.url)
        return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    @property
    def full_url(self) -> str:  # FastRequest's (urllib.request.Request's) name
        return self.url

    def get_method(self) -> str:  # urllib.request.Request's name, as FastRequest has it
        return self.method

    def __repr__(self) -> str:
        return f"<SentRequest [{self.method}] {self.url}>"


def sent_request(response: Any) -> SentRequest:
    """The `SentRequest` of a `SurgeResponse` (what `client.SurgeSession.request` kept)."""
    head_lines, body = getattr(response, "_sent", None) or ("", None)
    return SentRequest(response.method, response.url, head_lines, body)
