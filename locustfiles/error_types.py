"""The failure type of an HTTP error answer, for the ``error`` column of the records.

"HTTP 500 Internal Server Error" says nothing a report can act on; the answer itself
usually names what went wrong. AWS services put it in the ``x-amzn-errortype`` header
(``ProvisionedThroughputExceededException:http://...``) and in the JSON body
(``__type``, ``code``); other APIs use ``errorType``, ``code`` or at least a
``message``. The order below is the one documented in the README ("Results"): header,
JSON type fields, JSON message, the start of the body, and the status line when the
body is empty. The status itself stays in the ``status`` column.
"""

from __future__ import annotations

import json
import re
from typing import Any

from surge.locustfiles.http_response import status_phrase

MAX_ERROR_CHARS = 200  # the recorder's bound for any error text
BODY_START_CHARS = 120  # how much of an unstructured body names the failure
TYPE_HEADER = "x-amzn-errortype"
JSON_TYPE_KEYS = ("__type", "code", "errorType", "error_type", "type")
JSON_MESSAGE_KEYS = ("message", "Message", "errorMessage", "error_description", "detail")
MAX_JSON_BYTES = 64 * 1024  # larger bodies are not parsed (an error answer is small)
_SPACES = re.compile(r"\s+")


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
    if text:
        start = _SPACES.sub(" ", text[:BODY_START_CHARS].decode("utf-8", "replace")).strip()
        if start:
            return start
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
