"""One owner of failure types (`locustfiles.error_types`): what a record's ``error`` is,
and how the report and the live table show it. The client tests (test_client.py) check
the answers' types end to end; these check the rule's three views agree."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from surge.locustfiles.error_types import (
    DROPPED_LATE,
    DROPPED_STOPPED,
    live_kind,
    record_error,
    shown_type,
    status_line,
)

THROTTLED = "ProvisionedThroughputExceededException"


def _answer(status: int, body: bytes = b"", header: str | None = None) -> SimpleNamespace:
    headers = {"x-amzn-errortype": header} if header else {}
    return SimpleNamespace(status_code=status, headers=headers, content=body)


def test_a_record_error_and_its_two_views() -> None:
    typed = record_error(
        RuntimeError("x"), _answer(400, header=f"{THROTTLED}:http://aws"), scenario_failure=False
    )
    assert typed == THROTTLED
    assert shown_type(typed, 400) == THROTTLED and live_kind("error", 400, typed) == THROTTLED
    bare = record_error(RuntimeError("x"), _answer(500), scenario_failure=False)
    assert bare == status_line(500) == "HTTP 500 Internal Server Error"
    # a scenario's own failure keeps its text; the report unwraps it, the live label
    # (bounded cardinality) shows the status instead
    own = record_error(ValueError("sold out: id 17"), _answer(409), scenario_failure=True)
    assert own == "ValueError: sold out: id 17"
    catch = "CatchResponseError: sold out: id 17"
    assert shown_type(catch, 409) == "sold out: id 17" and live_kind("error", 409, catch) == (
        "HTTP 409"
    )
    # no answer: the exception, by class live
    refused = record_error(ConnectionRefusedError("refused"), None, scenario_failure=False)
    assert shown_type(refused, 0) == refused and live_kind("error", 0, refused) == (
        "ConnectionRefusedError"
    )
    assert live_kind("dropped", 0, DROPPED_LATE) == "late"
    assert live_kind("dropped", 0, DROPPED_STOPPED) == "stopped"
    assert shown_type(float("nan"), 0) == "no response" and shown_type(None, 503) == "HTTP 503"


def test_the_report_can_import_it_without_locust() -> None:
    """The report process must not import Locust (it monkey-patches the standard library)."""
    code = (
        "import sys, surge.locustfiles.error_types; "
        "sys.exit(1 if 'locust' in sys.modules or 'gevent' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


NGINX_404 = (
    b"<!DOCTYPE HTML>\r\n<html>\r\n<head><title>404 Not Found</title></head>\r\n"
    b"<body><center><h1>404 Not Found</h1></center><hr><center>nginx</center></body></html>"
)


def test_an_html_error_page_is_named_by_its_title_never_its_markup() -> None:
    def typed(status: int, body: bytes, header: str | None = None) -> str:
        return record_error(
            RuntimeError("x"), _answer(status, body, header), scenario_failure=False
        )

    assert typed(404, NGINX_404) == "404 Not Found"
    long_title = b"<html><head><title>\n  Service &amp; " + b"z" * 400 + b"</title>"
    assert typed(502, long_title) == ("Service & " + "z" * 400)[:120]  # bounded, unescaped
    assert typed(502, b"<html><body><h1>Bad gateway</h1></body></html>") == (
        "HTTP 502 Bad Gateway"  # no title: the status line, not the tags
    )
    s3 = b'<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>m</Message></Error>'
    assert typed(503, s3) == "SlowDown"
    # JSON bodies and the type header keep their rule
    assert typed(400, b'{"__type": "a.b#ValidationException", "message": "m"}') == (
        "ValidationException"
    )
    assert typed(500, b'{"code": "Conflict"}') == "Conflict"
    assert typed(500, b'{"errorType": "Lambda.Timeout"}') == "Lambda.Timeout"
    assert typed(503, b'{"message": "try later"}') == "try later"
    assert typed(503, NGINX_404, header=f"{THROTTLED}:http://aws") == THROTTLED
    for text in (typed(404, NGINX_404), typed(502, b"<html><p>x</p></html>")):
        assert "<" not in text


def test_markup_recorded_before_the_rule_is_shown_by_its_title() -> None:
    """Runs recorded with the old rule (the first 120 bytes) read the same in a report."""
    old = " ".join(NGINX_404[:120].decode().split())
    assert shown_type(old, 404) == "404 Not Found"
    assert shown_type("<html> <h1>Bad gateway</h1>" + "x" * 89, 502) == "HTTP 502 Bad Gateway"
    assert shown_type("plain text answer", 500) == "plain text answer"
