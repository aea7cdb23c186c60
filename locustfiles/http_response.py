"""What surge's HTTP client (`locustfiles.client`) hands a task: one response, decoded lazily.

The head and body are kept as received; header fields, decompression and text are
worked out only when a task asks, because most load-test tasks read only the status.
The same object is the ``catch_response`` context manager, as in Locust's clients.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json as jsonlib
import zlib
from typing import Any

import requests
from locust.exception import CatchResponseError, LocustError, ResponseError
from requests.structures import CaseInsensitiveDict

from surge.locustfiles.error_types import status_phrase

FAILURE_FROM_STATUS = 400  # like FastHttpSession: 2xx and 3xx are successes


class HTTPStatusError(ResponseError, requests.HTTPError):
    """A response whose status code counts as a failure (4xx, 5xx).

    The message is the answer's failure type (`locustfiles.error_types`), not the URL,
    so Locust's failure table groups ``/products/1`` and ``/products/2`` under one line.
    It is also a ``requests.HTTPError``: ``HttpUser`` scenarios that catch that from
    ``raise_for_status()`` keep working on surge's client.
    """

    status = 0  # the answer's status code (its outcome: `locustfiles.recorder.classify`)


class SurgeResponse:
    """One response, or the error that took its place (``status_code`` 0, ``error`` set).

    Used as a context manager when the request was made with ``catch_response=True``:
    the request is then reported when the block ends, as a success or failure the
    block decides (``success()`` / ``failure(message)``), else by its status.
    """

    __slots__ = (
        "_body", "_decoded", "_event", "_fields", "_head", "_headers", "_manual", "_meta",
        "_sent", "elapsed_s", "error", "history", "js", "method", "status_code", "url",
    )  # fmt: skip

    def __init__(
        self,
        method: str,
        url: str,
        status_code: int,
        head: bytes,
        body: bytes,
        error: BaseException | None,
    ) -> None:
        self.method = method
        self.url = url
        self.status_code = status_code
        self.error = error
        self._head = head  # status line and header lines, parsed only when asked for
        self._fields: list[tuple[bytes, bytes]] | None = None
        self._body = body
        self._headers: CaseInsensitiveDict | None = None
        self._decoded: bytes | None = None
        self._manual: bool | BaseException | None = None
        self._meta: dict[str, Any] | None = None  # set for catch_response: reported on exit
        self._event: Any = None
        self.elapsed_s = 0.0  # send to complete answer (redirects included)
        self.history: list[SurgeResponse] = []  # redirect answers before this one (requests)
        self.js: Any = None  # set by Locust's rest(): the parsed JSON body

    # ------------------------------------------------------------------ content
    @property
    def headers(self) -> CaseInsensitiveDict:
        if self._headers is None:
            found: CaseInsensitiveDict = CaseInsensitiveDict()
            for raw_name, raw_value in self._header_fields():
                name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
                found[name] = f"{found[name]}, {value}" if name in found else value
            self._headers = found
        return self._headers

    @property
    def content(self) -> bytes:
        """The body, decompressed when the server sent gzip or deflate."""
        if self._decoded is None:
            self._decoded = _decode_body(self._body, self._header("content-encoding"))
        return self._decoded

    @property
    def text(self) -> str:
        return self.content.decode(_charset(self._header("content-type")), errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.content)

    @property
    def reason(self) -> str:
        return status_phrase(self.status_code)

    # requests.Response's names, for HttpUser scenarios on surge's client
    @property
    def elapsed(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.elapsed_s)

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies this answer set (name -> value)."""
        found = {}
        for name, value in self._header_fields():
            if name.lower() == b"set-cookie":
                pair = value.decode("latin-1").split(";", 1)[0]
                key, sep, val = pair.strip().partition("=")
                if sep and key:
                    found[key] = val
        return found

    @property
    def request(self) -> Any:
        """What was sent (`locustfiles.sent_request`), as Locust's responses offer it."""
        from surge.locustfiles.sent_request import SentRequest, sent_request

        sent = getattr(self, "_sent", None)  # the client's (head lines, body), unset: none
        if not isinstance(sent, SentRequest):
            self._sent = sent = sent_request(self)
        return sent

    @property
    def encoding(self) -> str:
        return _charset(self._header("content-type"))

    @property
    def is_redirect(self) -> bool:
        redirect = self.status_code in (301, 302, 303, 307, 308)
        return redirect and self._header("location") is not None

    def iter_content(self, chunk_size: int = 1, decode_unicode: bool = False) -> Any:
        data: Any = self.text if decode_unicode else self.content
        step = max(int(chunk_size or len(data) or 1), 1)
        return (data[i : i + step] for i in range(0, len(data), step))

    def iter_lines(self, *_args: Any, **_kwargs: Any) -> Any:
        return iter(self.content.splitlines())

    @property
    def ok(self) -> bool:
        return self.error is None and 0 < self.status_code < FAILURE_FROM_STATUS

    def raise_for_status(self) -> None:
        if self.error is not None:
            raise self.error

    def _header(self, lower_name: str) -> str | None:
        key = lower_name.encode("latin-1")
        return find_header(self._header_fields(), key)

    def _header_fields(self) -> list[tuple[bytes, bytes]]:
        if self._fields is None:
            self._fields = parse_head(self._head)
        return self._fields

    def __repr__(self) -> str:
        return f"<SurgeResponse [{self.status_code}] {self.method} {self.url}>"

    # ------------------------------------------------------------------ catch_response
    def success(self) -> None:
        """Count this request as a success whatever its status (inside ``catch_response``)."""
        self._manual = True

    def failure(self, exc: str | BaseException) -> None:
        """Count this request as a failure with `exc` as the reason (inside ``catch_response``)."""
        self._manual = exc if isinstance(exc, BaseException) else CatchResponseError(exc)

    def __enter__(self) -> SurgeResponse:
        if self._meta is None:
            raise LocustError("a with-block around a request needs catch_response=True")
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> bool:
        # reported once; letting go of the meta (it holds this response) leaves no
        # reference cycle per request for the garbage collector (see heap.py)
        meta, self._meta = self._meta, None
        assert meta is not None
        if self._manual is True:
            meta["exception"] = None
        elif self._manual is not None:
            meta["exception"] = self._manual
        elif isinstance(exc, ResponseError):
            meta["exception"] = exc
        elif exc is not None:  # the block failed: still one record, then the error goes on
            meta["exception"] = exc
            self._event.fire(**meta)
            return False
        self._event.fire(**meta)
        return exc is None or isinstance(exc, ResponseError)


def _decode_body(body: bytes, encoding: str | None) -> bytes:
    if not body or not encoding:
        return body
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if encoding == "br":  # HttpUser scenarios advertise it (requests does, with brotli)
        import brotli

        return brotli.decompress(body)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:  # some servers send raw deflate without the zlib header
            return zlib.decompress(body, -zlib.MAX_WBITS)
    return body


def _charset(content_type: str | None) -> str:
    if content_type:
        for part in content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"' ")
    return "utf-8"


def parse_head(head: bytes) -> list[tuple[bytes, bytes]]:
    """The (name, value) fields of a response head (its status line skipped)."""
    fields = []
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            fields.append((name.strip(), value.strip()))
    return fields


def find_header(header_list: list[tuple[bytes, bytes]], lower_name: bytes) -> str | None:
    for name, value in header_list:
        if len(name) == len(lower_name) and name.lower() == lower_name:
            return value.decode("latin-1")
    return None
