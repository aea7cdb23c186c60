"""S3: the one place boto3 clients are built, and every transfer surge makes.

Tests point every client at a real S3-protocol server on loopback with one
setting: the standard ``AWS_ENDPOINT_URL`` (or surge's own ``SURGE_S3_ENDPOINT``,
which the instance agent reads from its env file). Transfers retry with
exponential backoff, because on a fleet of a hundred instances a few requests
always fail, and IAM permissions of a fresh instance profile propagate late.
When retries run out the caller gets an `S3Error` (exit code 4) saying what
failed and where, never a botocore traceback.

boto3 is imported lazily: importing it before Locust in one process breaks
gevent's monkey-patching of ``ssl``, so modules that Locust loads must not
import boto3 at import time.
"""

from __future__ import annotations

import difflib
import enum
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from surge.atomic import atomic_write_bytes
from surge.errors import InfrastructureError, SurgeError, UsageError

ENDPOINT_ENV = "AWS_ENDPOINT_URL"  # the standard setting, honoured by boto3 itself too
SURGE_ENDPOINT_ENV = "SURGE_S3_ENDPOINT"  # surge's own override (agent env file, tests)
DEFAULT_REGION = "us-east-1"

# per transfer; with the backoff below about 30 s before giving up. SURGE_S3_MAX_ATTEMPTS
# overrides it (tests of a fleet losing S3 must not wait half a minute per file)
MAX_ATTEMPTS = int(os.environ.get("SURGE_S3_MAX_ATTEMPTS") or 6)
BACKOFF_BASE_S = 0.5  # first wait; doubles each attempt
BACKOFF_MAX_S = 8.0
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0

T = TypeVar("T")


class Failure(enum.Enum):
    """How an S3 call failed, which decides whether trying again can help."""

    UNREACHABLE = "unreachable"  # connection refused, DNS, timeouts: retry
    DENIED = "access denied"  # retry: fresh instance-profile permissions arrive late
    CREDENTIALS = "bad credentials"  # none, unknown key, wrong secret: final, retrying won't help
    THROTTLED = "throttled or server error"  # SlowDown, 5xx: retry
    NOT_FOUND = "not found"  # no such key or bucket: final
    OTHER = "rejected"  # any other client error: final


RETRYABLE = frozenset({Failure.UNREACHABLE, Failure.DENIED, Failure.THROTTLED})
#: error codes of credentials S3 does not accept: an unknown access key, a wrong secret, a
#: malformed session token (an expired one is refreshed by boto3 for instance profiles)
CREDENTIAL_ERROR_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"})


class S3Error(InfrastructureError):
    """An S3 transfer that failed for good; `failure` says how."""

    def __init__(self, what: str, where: str | None = None, failure: Failure = Failure.OTHER):
        super().__init__(what, where)
        self.failure = failure


class S3NotFoundError(S3Error):
    """The key or bucket does not exist."""

    def __init__(self, what: str, where: str | None = None) -> None:
        super().__init__(what, where, Failure.NOT_FOUND)


@dataclass(frozen=True)
class S3Url:
    """An ``s3://bucket/key`` address; `key` may be a prefix (no trailing slash kept)."""

    bucket: str
    key: str = ""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"

    def join(self, *parts: str) -> S3Url:
        """A key below this one: ``S3Url('b', 'runs/x').join('control', 'stop')``."""
        pieces = [self.key, *parts] if self.key else list(parts)
        return S3Url(self.bucket, "/".join(p.strip("/") for p in pieces if p.strip("/")))


def is_s3_url(text: str) -> bool:
    return isinstance(text, str) and text.startswith("s3://")


def parse_s3_url(text: str) -> S3Url:
    """Parse ``s3://bucket[/key]``. Raises UsageError naming the bad URL."""
    if not is_s3_url(text):
        raise UsageError("expected an S3 URL like s3://bucket/key", text)
    parts = urlsplit(text)
    bucket = parts.netloc
    if not bucket or not _valid_bucket(bucket):
        raise UsageError("not a valid bucket name in the S3 URL", text)
    if parts.query or parts.fragment:
        raise UsageError("an S3 URL has no query or fragment", text)
    return S3Url(bucket, parts.path.strip("/"))


def _valid_bucket(name: str) -> bool:
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    return 3 <= len(name) <= 63 and set(name) <= allowed and name[0].isalnum()


def endpoint_from_env(environ: dict[str, str] | None = None) -> str | None:
    """The S3 endpoint override in force: surge's own setting first, then the standard one."""
    env = os.environ if environ is None else environ
    return env.get(SURGE_ENDPOINT_ENV) or env.get(ENDPOINT_ENV) or None


def make_client(*, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """Build an S3 client. The only place in surge that calls ``boto3.client``.

    botocore's own retries are off: `S3Store` retries with its own backoff so the
    time to give up is bounded and the final error is one clear sentence.
    """
    import boto3
    from botocore.config import Config

    endpoint = endpoint_url or endpoint_from_env()
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"total_max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"} if endpoint else None,
    )
    region_name = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name=region_name or DEFAULT_REGION, config=config
    )


def classify(exc: BaseException) -> Failure:
    """Map a botocore exception onto a `Failure`."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )

    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}:
            return Failure.NOT_FOUND
        if code in CREDENTIAL_ERROR_CODES:
            return Failure.CREDENTIALS
        if code in {"AccessDenied", "403"}:
            return Failure.DENIED
        if code in {"SlowDown", "RequestTimeout", "InternalError"} or status >= 500:
            return Failure.THROTTLED
        return Failure.OTHER
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Failure.CREDENTIALS
    if isinstance(exc, ConnectionError | HTTPClientError | OSError):
        return Failure.UNREACHABLE
    if isinstance(exc, BotoCoreError):
        return Failure.UNREACHABLE
    return Failure.OTHER


def _is_boto_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


def backoff_delays(attempts: int = 0) -> Iterator[float]:
    """Waits between attempts: exponential with full jitter, capped (AWS's advice)."""
    for attempt in range(max(attempts or MAX_ATTEMPTS, 1) - 1):
        yield random.uniform(0.5, 1.0) * min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**attempt)


class S3Store:
    """Retrying transfers against one bucket-agnostic client.

    `on_retry` (optional) hears about each failed attempt, so the agent can log
    that S3 is flaky while it keeps going.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_attempts: int | None = None,
        on_retry: Callable[[str, Failure, BaseException], None] | None = None,
    ) -> None:
        self.client = client or make_client(endpoint_url=endpoint_url, region=region)
        self.max_attempts = max_attempts
        self.on_retry = on_retry

    # -- the retry loop
    def _call(self, what: str, where: S3Url, fn: Callable[[], T]) -> T:
        delays = backoff_delays(self.max_attempts or MAX_ATTEMPTS)
        while True:
            try:
                return fn()
            except Exception as exc:
                if not _is_boto_error(exc) and not isinstance(exc, ConnectionError):
                    raise
                failure = classify(exc)
                delay = next(delays, None) if failure in RETRYABLE else None
                if delay is None:
                    raise _final_error(what, where, failure, exc) from None
                if self.on_retry:
                    self.on_retry(f"{what} {where}", failure, exc)
                time.sleep(delay)

    # -- transfers
    def put_bytes(self, url: S3Url, data: bytes) -> None:
        self._call(
            "upload to",
            url,
            lambda: self.client.put_object(Bucket=url.bucket, Key=url.key, Body=data),
        )

    def put_file(self, url: S3Url, path: str | Path) -> None:
        """Upload a file in one PUT, streamed from disk (a compacted part is ~64 MB: not
        held in memory). One PUT keeps the ETag the MD5 the resume check compares."""

        def put() -> Any:
            with open(path, "rb") as body:  # reopened per attempt: a retry starts at 0
                return self.client.put_object(Bucket=url.bucket, Key=url.key, Body=body)

        self._call("upload to", url, put)

    def delete(self, url: S3Url) -> None:
        """Delete one object (no error when it is already gone)."""
        self._call(
            "delete of", url, lambda: self.client.delete_object(Bucket=url.bucket, Key=url.key)
        )

    def get_bytes(self, url: S3Url) -> bytes:
        def fetch() -> bytes:
            return self.client.get_object(Bucket=url.bucket, Key=url.key)["Body"].read()

        return self._call("download of", url, fetch)

    def get_range(self, url: S3Url, start: int, length: int) -> bytes:
        """`length` bytes of an object from offset `start` (an HTTP range request)."""

        def fetch() -> bytes:
            span = f"bytes={start}-{start + length - 1}"
            return self.client.get_object(Bucket=url.bucket, Key=url.key, Range=span)["Body"].read()

        return self._call("download of", url, fetch)

    def get_file(self, url: S3Url, path: str | Path) -> Path:
        """Download to `path` atomically, so an interrupted fetch leaves no half file."""
        return atomic_write_bytes(path, self.get_bytes(url), fsync=False)

    def exists(self, url: S3Url) -> bool:
        def head() -> bool:
            from botocore.exceptions import ClientError

            try:
                self.client.head_object(Bucket=url.bucket, Key=url.key)
            except ClientError as exc:
                if classify(exc) is Failure.NOT_FOUND:
                    return False
                raise
            return True

        return self._call("check of", url, head)

    def list_keys(self, prefix: S3Url) -> list[str]:
        """Every key under `prefix` (treated as a folder), sorted."""
        folder = prefix.key + "/" if prefix.key else ""

        def listing() -> list[str]:
            keys: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=prefix.bucket, Prefix=folder):
                keys.extend(obj["Key"] for obj in page.get("Contents", ()))
            return sorted(keys)

        return self._call("listing of", prefix, listing)

    def server_date(self, bucket: str) -> float | None:
        """The server's clock (HTTP Date, 1 s resolution) as a Unix time, for clock checks."""
        import email.utils

        def head() -> float | None:
            response = self.client.head_bucket(Bucket=bucket)
            date = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
            return email.utils.parsedate_to_datetime(date).timestamp() if date else None

        return self._call("clock check against", S3Url(bucket), head)

    # -- folders
    def folders(self, prefix: S3Url) -> list[str]:
        """Names of the folders right below `prefix` (one delimited listing), sorted."""
        folder = prefix.key + "/" if prefix.key else ""

        def listing() -> list[str]:
            names: list[str] = []
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=prefix.bucket, Prefix=folder, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    names.append(common["Prefix"][len(folder) :].rstrip("/"))
            return sorted(names)

        return self._call("listing of", prefix, listing)

    def objects(self, prefix: S3Url) -> dict[str, tuple[int, str]]:
        """key -> (size, ETag without quotes) of every object under `prefix` (a folder)."""
        folder = prefix.key + "/" if prefix.key else ""

        def listing() -> dict[str, tuple[int, str]]:
            found: dict[str, tuple[int, str]] = {}
            paginator = self.client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=prefix.bucket, Prefix=folder):
                for obj in page.get("Contents", ()):
                    found[obj["Key"]] = (int(obj["Size"]), str(obj.get("ETag", "")).strip('"'))
            return found

        return self._call("listing of", prefix, listing)

    def upload_tree(
        self, local_dir: str | Path, prefix: S3Url, skip: Callable[[Path], bool] | None = None
    ) -> list[Path]:
        """Upload every file under `local_dir` below `prefix`, keeping relative paths,
        `TRANSFER_THREADS` at a time. Resumes: a file already there with the same content
        (size and MD5 ETag) is not sent again. Returns every file that is now there."""
        root = Path(local_dir)
        there = self.objects(prefix)
        base = prefix.key + "/" if prefix.key else ""
        todo: list[tuple[Path, S3Url]] = []
        done = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root)
            if rel.name.startswith(".") or (skip and skip(rel)):
                continue  # temp files of atomic writes
            done.append(path)
            if not _same(path, there.get(base + rel.as_posix())):
                todo.append((path, prefix.join(rel.as_posix())))
        _in_parallel([lambda p=path, u=url: self.put_file(u, p) for path, url in todo])
        return done

    def download_tree(
        self, prefix: S3Url, local_dir: str | Path, skip: Callable[[str], bool] | None = None
    ) -> list[Path]:
        """Download every object under `prefix` into `local_dir`, keeping relative paths,
        `TRANSFER_THREADS` at a time. Resumes: a local file with the same content (size
        and MD5 ETag) is kept, so a fetch interrupted half-way goes on where it stopped."""
        root = Path(local_dir)
        base = prefix.key + "/" if prefix.key else ""
        todo: list[tuple[S3Url, Path]] = []
        done = []
        for key, meta in sorted(self.objects(prefix).items()):
            rel = key[len(base) :]
            if not rel or rel.endswith("/") or (skip and skip(rel)):
                continue
            target = (root / rel).resolve()
            if root.resolve() not in target.parents:
                raise S3Error("refusing an object key that leaves the folder", key)
            done.append(target)
            if not _same(target, meta):
                todo.append((S3Url(prefix.bucket, key), target))
        _in_parallel([lambda u=url, t=target: self.get_file(u, t) for url, target in todo])
        return done


#: objects transferred at once by `upload_tree`/`download_tree` (boto3 clients are
#: thread-safe; its connection pool holds 10)
TRANSFER_THREADS = 8


def _in_parallel(jobs: list[Callable[[], Any]]) -> None:
    """Run `jobs` on `TRANSFER_THREADS` threads; the first error is raised once every
    started job has ended (each has its own retries), later jobs are not started."""
    if len(jobs) <= 1:
        for job in jobs:
            job()
        return
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    with ThreadPoolExecutor(min(TRANSFER_THREADS, len(jobs))) as pool:
        futures = [pool.submit(job) for job in jobs]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()  # not started yet: skipped
        for future in finished:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]


def _same(path: Path, meta: tuple[int, str] | None) -> bool:
    """Is `path` the object described by (size, ETag)? A single-part upload's ETag is
    the MD5 of its bytes; a multipart one (with '-') is never taken as the same."""
    if meta is None or not path.is_file():
        return False
    size, etag = meta
    if path.stat().st_size != size or "-" in etag or not etag:
        return False
    import hashlib

    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() == etag


def _final_error(what: str, where: S3Url, failure: Failure, exc: BaseException) -> S3Error:
    detail = _short(exc)
    # "upload to s3://..." reads well in a retry line; the error names the URL last
    what = what.removesuffix(" to").removesuffix(" of").removesuffix(" against")
    if failure is Failure.NOT_FOUND:
        return S3NotFoundError(f"S3 {what} failed: not found ({detail})", str(where))
    hints = {
        Failure.UNREACHABLE: "S3 unreachable; check the network, region and "
        f"{ENDPOINT_ENV}/{SURGE_ENDPOINT_ENV}",
        Failure.DENIED: "access denied; check the credentials and the bucket policy",
        Failure.CREDENTIALS: "AWS credentials missing or not accepted; set AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (an instance uses its instance profile)",
        Failure.THROTTLED: "S3 kept failing (throttled or server errors)",
        Failure.OTHER: "S3 rejected the request",
    }
    return S3Error(f"S3 {what} failed: {hints[failure]} ({detail})", str(where), failure)


def _short(exc: BaseException) -> str:
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', '?')}: {err.get('Message', '')}".strip().rstrip(":")
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# ---------------------------------------------------------------- the bucket layout
# schedules/<name>.yaml; runs/<run_id>/ mirrors the local run directory;
# runs/<run_id>/control/stop is the fleet's kill switch.

SCHEDULES_PREFIX = "schedules"
RUNS_PREFIX = "runs"
CONTROL_DIR = "control"
STOP_OBJECT = "control/stop"


def schedule_url(bucket: str, name: str) -> S3Url:
    return S3Url(bucket, f"{SCHEDULES_PREFIX}/{name}.yaml")


def run_url(bucket: str, run_id: str) -> S3Url:
    return S3Url(bucket, f"{RUNS_PREFIX}/{run_id}")


def parse_run_url(text: str) -> S3Url:
    """Parse ``s3://bucket/runs/<run_id>``; anything else is a usage error."""
    url = parse_s3_url(text)
    parts = url.key.split("/")
    if len(parts) != 2 or parts[0] != RUNS_PREFIX or not parts[1]:
        raise UsageError(f"expected a run URL like s3://{url.bucket}/{RUNS_PREFIX}/<run_id>", text)
    return url


def stop_url(run: S3Url) -> S3Url:
    return run.join(STOP_OBJECT)


def request_stop(store: S3Store, run: S3Url, reason: str = "surge abort") -> S3Url:
    """Write the stop object every generator of the run polls."""
    import json

    body = {"requested_at": time.time(), "reason": reason, "host": os.uname().nodename}
    url = stop_url(run)
    store.put_bytes(url, json.dumps(body).encode())
    return url


class NoSuchRunError(SurgeError):
    """The bucket answered but holds no run of that id: a mistyped id, not an outage
    (exit 2, with the nearest run ids there)."""


def fetch_run(
    store: S3Store, run: S3Url, dest: str | Path, skip: Callable[[str], bool] | None = None
) -> list[Path]:
    """Download a run's results (not its control objects, nor what `skip` names by its
    key under the run) into the run directory `dest`."""
    files = store.download_tree(
        run,
        dest,
        skip=lambda rel: rel.startswith(CONTROL_DIR + "/") or (skip is not None and skip(rel)),
    )
    if not files:
        parent_key, _, run_id = run.key.rpartition("/")
        siblings = store.folders(S3Url(run.bucket, parent_key))
        if run_id not in siblings:  # nothing at all under the prefix
            hint = difflib.get_close_matches(run_id, siblings, n=3, cutoff=0.5)
            where = f"did you mean {', '.join(hint)}?" if hint else f"{len(siblings)} runs there"
            raise NoSuchRunError(f"no run {run_id} in {S3Url(run.bucket, parent_key)}", where)
        raise S3NotFoundError("no run results under this prefix", str(run))
    return files
