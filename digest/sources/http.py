"""Fetching a source's bytes: http(s) with limits, retries and conditional GET; file: URLs and local paths."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import math
import os
import re
import stat
import threading
import time
import zlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies_environment, url2pathname
from urllib.request import proxy_bypass_environment as _bypass  # type: ignore[attr-defined]  # not in typeshed

import requests
import urllib3

from ..config import Config
from ..errors import SourceError

log = logging.getLogger(__name__)

MAX_BYTES = 10 * 1024 * 1024  # a feed bigger than this is a mistake or an attack, not news
MAX_REDIRECTS = 5
RETRIES = 2  # after the first attempt, on connection errors and 5xx
BACKOFF = 0.5  # seconds before the first retry, doubled for each next one
_CHUNK = 64 * 1024
_REDIRECT = {301, 302, 303, 307, 308}
_TRANSIENT = {500, 502, 503, 504}
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


@dataclasses.dataclass(frozen=True)
class FetchContext:
    """What a source needs from the outside world; injected so that tests need no patching."""

    session: requests.Session
    now: datetime  # aware UTC
    config: Config  # digest.config.Config (brand, tz, resolve(path))
    state: Mapping[str, str]  # what this source returned as SourceResult.state last time
    deadline: float | None = None  # time.monotonic() value after which the source must stop


class Sessions:
    """The HTTP sessions sources are fetched with: `borrow` one for a source, it goes back for the next.

    A session is reused, source after source, by one fetching thread at a time: its connections stay
    open (keep-alive), so the next feed on the same host costs no new connection (Google Alerts, Reddit
    and YouTube feeds share hosts), and its cookies are cleared between sources.

    requests reads the whole environment (proxies, NO_PROXY, ~/.netrc, REQUESTS_CA_BUNDLE) on every
    request, which costs more than a 304 from a nearby server (a steady-state ingest is mostly those).
    These sessions read the proxy and CA variables once, when this is made, and apply them to each request
    as requests would; ~/.netrc is not read (credentials come from headers_from_env only).
    """

    def __init__(self, user_agent: str) -> None:
        self.user_agent = user_agent
        found = getproxies_environment()  # {"https": ..., "no": ...} from *_proxy, lower case winning
        self.no_proxy = found.pop("no", "")
        self.proxies = found
        self.ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
        self._idle: list[tuple[int, requests.Session]] = []
        self._lock = threading.Lock()

    def __call__(self) -> requests.Session:
        """A new session (the caller closes it)."""
        session = _Session(self)
        session.headers["User-Agent"] = self.user_agent
        return session

    @contextlib.contextmanager
    def borrow(self) -> Iterator[requests.Session]:
        """An idle session of this process, or a new one; it is kept for reuse when the block ends."""
        with self._lock:
            # a session made before a fork belongs to the parent: its sockets must not be shared
            idle = [(pid, s) for pid, s in self._idle if pid == os.getpid()]
            session = idle.pop()[1] if idle else self()
            self._idle = idle
        try:
            yield session
        finally:
            session.cookies.clear()  # nothing one source's server set goes to the next source
            with self._lock:
                self._idle.append((os.getpid(), session))

    def close(self) -> None:
        """Close the idle sessions (and their connections) of this process."""
        with self._lock:
            idle, self._idle = self._idle, []
        for pid, session in idle:
            if pid == os.getpid():
                session.close()

    def proxies_for(self, url: str) -> dict[str, str]:
        """The proxies requests would use for `url` (none for a host NO_PROXY names)."""
        if not self.proxies:
            return {}
        host = urlsplit(url).hostname or ""
        if self.no_proxy and _bypass(host, {"no": self.no_proxy}):
            return {}
        return dict(self.proxies)


class _Session(requests.Session):
    def __init__(self, sessions: Sessions) -> None:
        super().__init__()
        self.trust_env = False  # see Sessions
        self._sessions = sessions

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        text = url if isinstance(url, str) else url.decode()
        if kwargs.get("proxies") is None:
            kwargs["proxies"] = self._sessions.proxies_for(text)
        # only https needs the CA bundle (requests looks the path up on disk on every request it is given)
        if (kwargs.get("verify") in (None, True) and self._sessions.ca_bundle
                and text[:6].lower() == "https:"):
            kwargs["verify"] = self._sessions.ca_bundle
        return super().request(method, url, *args, **kwargs)


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A body and where it came from; `not_modified` when the server or the hash says nothing changed."""

    body: bytes
    url: str  # final URL after redirects (base of relative links); a file: URL for local files
    content_type: str  # the Content-Type header as sent ("" for local files)
    state: dict[str, str]  # etag, last_modified, sha256: to be returned as SourceResult.state
    not_modified: bool = False

    @property
    def media_type(self) -> str:
        """`application/rss+xml` from `application/rss+xml; charset=utf-8`."""
        return self.content_type.split(";", 1)[0].strip().lower()


class _Retry(Exception):
    """A transient failure: try again after `wait` seconds (None: the usual backoff)."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


def mib(n: int) -> str:
    """`10 MiB` for 10485760."""
    return f"{n / 1024 / 1024:g} MiB"


def show_url(url: str) -> str:
    """A URL for a message: no query or credentials, which may hold tokens."""
    try:
        p = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    host = p.hostname or ""
    port = f":{p.port}" if p.port else ""
    return f"{p.scheme}://{host}{port}{p.path}" if p.scheme in ("http", "https") else url


def locate(location: str, config: Config) -> tuple[Literal["http", "file"], str]:
    """Classify a source location: an http(s) URL, or a file (file: URL or path relative to the config)."""
    location = location.strip()
    try:
        parts = urlsplit(location)
    except ValueError as exc:
        raise SourceError(f"invalid URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise SourceError(f"URL has no host: {location}")
        return "http", location
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SourceError(f"file: URL names another host ({parts.netloc}); only local files can be read")
        return "file", str(config.resolve(url2pathname(parts.path)))
    if scheme and len(scheme) > 1:  # one letter is a Windows drive, i.e. a path
        raise SourceError(f"unsupported URL scheme {scheme!r}: use http(s), a file: URL or a local path")
    return "file", str(config.resolve(location))


def fetch_bytes(location: str, ctx: FetchContext, *, timeout: float, accept: str,
                headers: Mapping[str, str] | None = None, conditional: bool = True,
                max_bytes: int = MAX_BYTES) -> Fetched:
    """Fetch a URL or local file within the limits; raise SourceError with a one-line reason.

    `headers` (secrets from the environment) are sent only to the origin of `location`, never to a
    host a redirect leads to. `conditional`: use and compare ctx.state (ETag, Last-Modified, sha256).
    """
    kind, target = locate(location, ctx.config)
    if kind == "file":
        return read_file(Path(target), ctx, conditional=conditional, max_bytes=max_bytes)
    return _fetch_http(target, ctx, timeout=timeout, accept=accept, secrets=headers or {},
                       conditional=conditional, max_bytes=max_bytes)


def read_file(path: Path, ctx: FetchContext, *, conditional: bool = True,
              max_bytes: int = MAX_BYTES) -> Fetched:
    """Read a local file with the same size cap and unchanged-body check as HTTP."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise SourceError(f"not a regular file: {path}")
        if st.st_size > max_bytes:
            raise SourceError(f"file larger than {mib(max_bytes)}: {path}")
        with path.open("rb") as f:
            body = f.read(max_bytes + 1)
    except FileNotFoundError:
        raise SourceError(f"file not found: {path}") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(body) > max_bytes:
        raise SourceError(f"file larger than {mib(max_bytes)}: {path}")
    body = gunzip_if_needed(body, max_bytes)
    digest = hashlib.sha256(body).hexdigest()
    unchanged = conditional and ctx.state.get("sha256") == digest
    return Fetched(body, path.absolute().as_uri(), "", {"sha256": digest}, unchanged)


def gunzip_if_needed(body: bytes, max_bytes: int) -> bytes:
    """Decompress a gzip body that came without Content-Encoding (a .gz file), within the cap."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error:
        return body  # not really gzip: let the parser say what it is
    if len(out) > max_bytes:
        raise SourceError(f"response larger than {mib(max_bytes)} once decompressed")
    return out


def _fetch_http(url: str, ctx: FetchContext, *, timeout: float, accept: str, secrets: Mapping[str, str],
                conditional: bool, max_bytes: int) -> Fetched:
    headers = {"Accept": accept}
    if conditional and ctx.state.get("etag"):
        headers["If-None-Match"] = ctx.state["etag"]
    if conditional and ctx.state.get("last_modified"):
        headers["If-Modified-Since"] = ctx.state["last_modified"]
    for attempt in range(RETRIES + 1):
        try:
            return _attempt(url, ctx, timeout=timeout, headers=headers, secrets=secrets,
                            conditional=conditional, max_bytes=max_bytes)
        except _Retry as retry:
            wait = retry.wait if retry.wait is not None else BACKOFF * 2**attempt
            problem = _instead_of_retrying(retry, wait, attempt, ctx.deadline, timeout)
            if problem:
                raise SourceError(problem) from None
            log.debug("%s: %s; retrying in %.1f s", show_url(url), retry.reason, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _instead_of_retrying(retry: _Retry, wait: float, attempt: int, deadline: float | None,
                         timeout: float) -> str | None:
    """The error to report rather than retry after `wait` seconds, or None to retry."""
    tries = f" (after {attempt + 1} attempt{'s' if attempt else ''})"
    if attempt == RETRIES:
        return retry.reason + tries
    if math.isinf(wait):
        return f"{retry.reason} without a usable Retry-After header"
    if _fits(wait, deadline, timeout):
        return None
    if retry.wait is not None:  # the server asked for a pause we cannot afford
        return f"{retry.reason}: the server asks to retry after {wait:.0f} s, more than the time left"
    return retry.reason + tries


def _fits(wait: float, deadline: float | None, timeout: float) -> bool:
    """Whether a pause of `wait` seconds still leaves time for one more request."""
    if deadline is None:
        return wait <= timeout
    return time.monotonic() + wait < deadline


def _attempt(url: str, ctx: FetchContext, *, timeout: float, headers: dict[str, str],
             secrets: Mapping[str, str], conditional: bool, max_bytes: int) -> Fetched:
    """One request (following redirects) within `timeout` seconds and the context's deadline."""
    stop = time.monotonic() + timeout
    if ctx.deadline is not None:
        stop = min(stop, ctx.deadline)
    resp = _follow(url, ctx.session, headers, secrets, stop, timeout)
    complete = False  # whether the response was read to its end (its connection can then be reused)
    try:
        code = resp.status_code
        if code == 304 and conditional:
            complete = True
            state = {k: v for k, v in ctx.state.items() if k in ("etag", "last_modified", "sha256")}
            state.update(_validators(resp))
            return Fetched(b"", resp.url, "", state, not_modified=True)
        if code == 429:
            raise _Retry("rate limited (HTTP 429)", _retry_after(resp.headers.get("Retry-After")))
        if code in _TRANSIENT:
            # a 503 may say when to come back (RFC 9110 10.2.3); without a usable one, the usual backoff
            after = _retry_after(resp.headers.get("Retry-After"))
            raise _Retry(f"HTTP {code} {resp.reason}".rstrip(), None if math.isinf(after) else after)
        if not 200 <= code < 300:
            raise SourceError(f"HTTP {code} {resp.reason}".rstrip() + _hint(code))
        body = _read_body(resp, stop, timeout, max_bytes)
        complete = True
        body = gunzip_if_needed(body, max_bytes)
    finally:
        _done_with(resp, complete=complete)
    digest = hashlib.sha256(body).hexdigest()
    state = {**_validators(resp), "sha256": digest}
    unchanged = conditional and ctx.state.get("sha256") == digest
    return Fetched(body, resp.url, resp.headers.get("Content-Type", ""), state, unchanged)


def _done_with(resp: requests.Response, *, complete: bool) -> None:
    """Close `resp`; its connection goes back to the session's pool (keep-alive) only when nothing of the
    response is left unread -- else it is closed with it: a half-read body must not reach the next request."""
    raw: Any = resp.raw
    if (complete or raw.length_remaining == 0) and hasattr(raw, "release_conn"):
        raw.release_conn()
    resp.close()


def _hint(code: int) -> str:
    if code in (401, 403):
        return " (check the credentials or the URL)"
    if code in (404, 410):
        return " (check the URL)"
    return ""


def _validators(resp: requests.Response) -> dict[str, str]:
    out = {}
    if resp.headers.get("ETag"):
        out["etag"] = resp.headers["ETag"]
    if resp.headers.get("Last-Modified"):
        out["last_modified"] = resp.headers["Last-Modified"]
    return out


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); inf if absent/invalid."""
    if not value:
        return math.inf  # a 429 without a hint: backing off for half a second would not help
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return math.inf
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def same_origin(a: str, b: str) -> bool:
    """Same scheme, host and port: where a secret header sent to `a` may also go."""
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, (pa.hostname or "").lower(), pa.port) == (
        pb.scheme, (pb.hostname or "").lower(), pb.port)


def _follow(url: str, session: requests.Session, headers: Mapping[str, str], secrets: Mapping[str, str],
            stop: float, timeout: float) -> requests.Response:
    """GET `url`, following up to MAX_REDIRECTS redirects by hand (to count them and spot loops)."""
    seen = [url]
    current = url
    while True:
        sent = {**headers, **(secrets if same_origin(current, url) else {})}
        resp = _get(current, session, sent, stop, timeout)
        if resp.status_code not in _REDIRECT:
            return resp
        location = resp.headers.get("Location", "").strip()
        resp.close()
        if not location:
            raise SourceError(f"HTTP {resp.status_code} redirect without a Location header")
        target = urljoin(current, location)
        if urlsplit(target).scheme.lower() not in ("http", "https"):
            raise SourceError(f"redirected to a non-http URL ({show_url(target)})")
        if target in seen:
            raise SourceError(f"redirect loop: {show_url(current)} -> {show_url(target)}")
        if len(seen) > MAX_REDIRECTS:
            raise SourceError(f"too many redirects (more than {MAX_REDIRECTS})")
        seen.append(target)
        current = target


def _get(url: str, session: requests.Session, headers: Mapping[str, str], stop: float,
         timeout: float) -> requests.Response:
    """One GET whose headers arrive before `stop`; connection problems become _Retry."""
    left = stop - time.monotonic()
    if left <= 0:
        _timed_out(timeout, "before the request could be sent")
    try:
        # the read timeout bounds each socket read; _read_body bounds the whole body
        return session.get(url, headers=dict(headers), timeout=(left, left), stream=True,
                           allow_redirects=False, verify=True)
    except requests.exceptions.SSLError as exc:
        raise SourceError(f"TLS error with {urlsplit(url).hostname}: {_reason(exc)}") from None
    except requests.exceptions.ConnectTimeout:
        raise _Retry(f"cannot connect to {urlsplit(url).hostname}: timed out") from None
    except requests.exceptions.ConnectionError as exc:
        raise _Retry(f"cannot connect to {urlsplit(url).hostname}: {_reason(exc)}") from None
    except requests.exceptions.Timeout:
        _timed_out(timeout, "waiting for the response")
    except (requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader, ValueError) as exc:
        raise SourceError(f"invalid request: {_reason(exc)}") from None


def _read_body(resp: requests.Response, stop: float, timeout: float, max_bytes: int) -> bytes:
    """The decoded body, cut at `max_bytes` and at `stop` even when the server drips bytes slowly."""
    length = resp.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise SourceError(f"response larger than {mib(max_bytes)}")
    raw: Any = resp.raw
    # read1 returns whatever one socket read gives; read(n) would wait for n bytes from a slow drip
    read = raw.read1 if hasattr(raw, "read1") else raw.read
    buf = bytearray()
    try:
        while True:
            if time.monotonic() > stop:
                _timed_out(timeout, "while reading the response")
            chunk = read(_CHUNK, decode_content=True)
            if not chunk:
                return bytes(buf)
            buf += chunk
            if len(buf) > max_bytes:
                raise SourceError(f"response larger than {mib(max_bytes)}")
    except urllib3.exceptions.ReadTimeoutError:
        _timed_out(timeout, "while reading the response")
    except urllib3.exceptions.DecodeError as exc:
        raise SourceError(f"cannot decompress the response: {_reason(exc)}") from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise _Retry(f"connection broken while reading the response: {_reason(exc)}") from None


def _timed_out(timeout: float, when: str) -> NoReturn:
    raise SourceError(f"timed out {when} (limit {timeout:g} s per request, or the run's deadline)")


def _reason(exc: BaseException) -> str:
    """The human part of a requests/urllib3 exception, which nests its causes in one long repr."""
    text = str(exc)
    m = _ERRNO.search(text)
    if m:
        return m.group(1).strip()
    if "RemoteDisconnected" in text:
        return "the server closed the connection without a response"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate verify failed"
    text = " ".join(text.split())
    return text[:200] if text else type(exc).__name__
