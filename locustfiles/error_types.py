"""The failure type of an HTTP error answer, for the ``error`` column of the records.

"HTTP 500 Internal Server Error" says nothing a report can act on; the answer itself
usually names what went wrong. AWS services put it in the ``x-amzn-errortype`` header
(``ProvisionedThroughputExceededException:http://...``) and in the JSON body
(``__type``, ``code``); other APIs use ``errorType``, ``code`` or at least a
``message``. The order below is the one documented in the README ("Results"): header,
JSON type fields, JSON message, the start of the body, and the status line when the
body is empty. A markup body (an HTML error page from nginx or a load balancer, an
XML error) is never shown raw: its ``<title>`` (an XML error's ``<Code>``) names it,
else the status line. The status itself stays in the ``status`` column.

This module is the one owner of failure types: what a record's ``error`` is
(`record_error`, called by the recorder) and how it is shown, readable in the report
(`shown_type`) or short and low-cardinality in the live table and /metrics
(`live_kind`). It imports neither Locust nor pandas: the report imports it too.
"""

from __future__ import annotations

import html
import http
import json
import re
from typing import Any

from surge.trust import ERROR_OUTCOMES

MAX_ERROR_CHARS = 200  # the recorder's bound for any error text
MAX_SHOWN_CHARS = 120  # a failure type in the report's tables
MAX_KIND_CHARS = 60  # a failure type as a live label (web UI table, Prometheus)
#: the ``error`` column of a dropped request (never sent): why
DROPPED_LATE = "dropped: could not be sent within max_lateness"
DROPPED_STOPPED = "dropped: the run stopped (stop command, hard end or lost master) first"
#: how the ``error`` column carries a scenario's own ``response.failure(text)``
SCENARIO_FAILURE = "CatchResponseError"
CATCH_PREFIX = f"{SCENARIO_FAILURE}: "
BODY_START_CHARS = 120  # how much of an unstructured body names the failure
TYPE_HEADER = "x-amzn-errortype"
JSON_TYPE_KEYS = ("__type", "code", "errorType", "error_type", "type")
JSON_MESSAGE_KEYS = ("message", "Message", "errorMessage", "error_description", "detail")
MAX_JSON_BYTES = 64 * 1024  # larger bodies are not parsed (an error answer is small)
_SPACES = re.compile(r"\s+")
#: an HTML page's title / an XML error's code (S3's ``<Error><Code>NoSuchKey</Code>``)
_TITLE = re.compile(rb"<title(?:\s[^>]*)?>(.*?)</title", re.IGNORECASE | re.DOTALL)
_XML_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")


def error_type(status: int, type_header: str | None, body: bytes) -> str:
    """The failure type of an answer with `status`, from its header and body."""
    if type_header:
        found = type_header.split(":", 1)[0].strip()
        if found:
            return found[:MAX_ERROR_CHARS]
    text = body.strip()[:MAX_JSON_BYTES] if body else b""
    if text[:1] == b"{":
        found = _from_json(text)
        if found:
            return found[:MAX_ERROR_CHARS]
    if text[:1] == b"<":  # markup: what a person reads on the page, never the tags
        return _from_markup(text) or status_line(status)
    if text:
        start = _SPACES.sub(" ", text[:BODY_START_CHARS].decode("utf-8", "replace")).strip()
        if start:
            return start
    return status_line(status)


def _from_markup(text: bytes) -> str | None:
    """An HTML page's ``<title>`` text or an XML error's ``<Code>``, bounded; None
    when the markup names neither (the caller falls back to the status line)."""
    found = _TITLE.search(text) or _XML_CODE.search(text)
    if found is None:
        return None
    words = html.unescape(found.group(1).decode("utf-8", "replace"))
    words = _SPACES.sub(" ", words).strip()
    return words[:BODY_START_CHARS] or None


def status_phrase(status: int) -> str:
    """The standard reason phrase of `status` ("" for codes without one)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def status_line(status: int) -> str:
    """``HTTP 500 Internal Server Error``: the failure type of an answer that names none."""
    return f"HTTP {status} {status_phrase(status)}".strip()


def _from_json(text: bytes) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    inner = doc.get("error")
    candidates = [doc, inner] if isinstance(inner, dict) else [doc]
    for keys in (JSON_TYPE_KEYS, JSON_MESSAGE_KEYS):
        for node in candidates:
            for key in keys:
                value = node.get(key)
                if isinstance(value, str) and value.strip():
                    # AWS JSON protocols send "com.amazonaws.dynamodb.v20120810#Type"
                    return value.strip().rsplit("#", 1)[-1]
    if isinstance(inner, str) and inner.strip():  # {"error": "text"}
        return inner.strip()
    return None


def response_error_type(response: Any) -> str | None:
    """`error_type` of any client's response object (surge's, requests', FastHttpUser's)
    whose status is a failure; None when there is no such answer to read."""
    status = getattr(response, "status_code", 0) or 0
    if status < 400:
        return None
    try:
        headers = response.headers
        header = headers.get(TYPE_HEADER) if headers is not None else None
        body = response.content or b""
    except Exception:  # a half-read or failed response: fall back to the exception text
        return None
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    return error_type(status, header, body)


def exception_text(exception: BaseException) -> str:
    """A failure without an answer to read: ``<ExceptionType>: <message>``."""
    return f"{type(exception).__name__}: {exception}"[:MAX_ERROR_CHARS]


def record_error(exception: BaseException, response: Any, *, scenario_failure: bool) -> str:
    """The ``error`` column of a failed request: the answer's failure type when there was
    an error answer, else the exception (a scenario's own ``failure()``, `scenario_failure`,
    keeps its text: ``CatchResponseError: <text>``)."""
    if response is not None and not scenario_failure:
        found = response_error_type(response)
        if found:
            return found
    return exception_text(exception)


def shown_type(text: Any, status: int) -> str:
    """The failure type a person reads in the report: the recorded type, without the
    wrapper of a scenario's own failure, or ``HTTP <status>`` when nothing was recorded.
    `text` is the ``error`` column's value (None or NaN when empty)."""
    if not isinstance(text, str) or not text.strip():
        return f"HTTP {status}" if status else "no response"
    if text.startswith(CATCH_PREFIX):
        text = text[len(CATCH_PREFIX) :]
    elif text.lstrip().startswith("<") and status:  # recorded before the markup rule
        text = _from_markup(text.encode("utf-8", "replace")) or status_line(status)
    text = " ".join(text.split())
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def live_kind(outcome: str, status: int, text: str | None) -> str:
    """A short, low-cardinality kind of failure for live labels: ``HTTP 503``,
    ``ConnectionRefusedError``... A scenario's own failure texts vary (they may carry ids),
    so they show as their status; an exception as its class.

    Empty for answered requests; ``late``/``stopped`` for dropped ones (why never sent).
    """
    if outcome == "dropped":
        return "stopped" if text and "stopped" in text else "late"  # DROPPED_STOPPED/_LATE
    if outcome not in ERROR_OUTCOMES:
        return ""
    if status and text and not text.startswith(SCENARIO_FAILURE):
        return text[:MAX_KIND_CHARS]  # the answer's own failure type
    if status:
        return f"HTTP {status}"
    if not text:
        return outcome
    head = text.split(":", 1)[0].strip()  # the exception's class
    return head[:MAX_KIND_CHARS] or outcome
