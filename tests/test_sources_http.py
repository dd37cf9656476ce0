"""Fetching over real HTTP on loopback: conditional GET, retries, rate limits, timeouts, caps, redirects."""

from __future__ import annotations

import gzip
import itertools
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from digest.models import SourceResult
from digest.sources import fetch_source
from digest.sources.http import BACKOFF, MAX_BYTES
from tests.helpers_http import LocalServer, Route, make_config, make_ctx, send, serving

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Acme Air was late</title><guid>g1</guid><description>Two hours.</description></item>"
        b"<item><title>Great crew on Acme Air</title><guid>g2</guid><description>Thanks!</description></item>"
        b"</channel></rss>")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serving() as s:
        yield s


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def fetch(url: str, session: requests.Session, tmp_path: Path, *, state: dict[str, str] | None = None,
          timeout: float = 5.0, deadline_in: float | None = 10.0) -> SourceResult:
    config = make_config(tmp_path, [{"name": "f", "kind": "feed", "url": url, "channel": "news",
                                     "timeout": timeout}])
    ctx = make_ctx(config, session, state=state, deadline_in=deadline_in)
    return fetch_source(config.sources.sources[0], ctx)


def test_ok_returns_mentions_and_state(server: LocalServer, session: requests.Session,
                                       tmp_path: Path) -> None:
    validators = {"ETag": '"v1"', "Last-Modified": "Tue, 19 Mar 2024 10:00:00 GMT"}
    url = server.static("/feed", FEED, headers=validators)
    result = fetch(url, session, tmp_path)
    assert result.status == "ok" and [m.external_id for m in result.mentions] == ["g1", "g2"]
    assert result.state["etag"] == '"v1"'
    assert result.state["last_modified"] == "Tue, 19 Mar 2024 10:00:00 GMT"
    assert len(result.state["sha256"]) == 64


def conditional(etag: str | None = None, modified: str | None = None) -> Route:
    """A route answering 304 when the client's validators match."""
    def route(h: BaseHTTPRequestHandler) -> None:
        if (etag and h.headers.get("If-None-Match") == etag) or (
                modified and h.headers.get("If-Modified-Since") == modified):
            h.send_response(304)
            h.send_header("ETag", etag or "")
            h.end_headers()
            return
        headers = {"ETag": etag} if etag else {"Last-Modified": modified or ""}
        send(h, 200, FEED, headers=headers)
    return route


@pytest.mark.parametrize(("etag", "modified"), [('"abc"', None), (None, "Tue, 19 Mar 2024 10:00:00 GMT")])
def test_conditional_get_gives_not_modified(etag: str | None, modified: str | None, server: LocalServer,
                                            session: requests.Session, tmp_path: Path) -> None:
    url = server.route("/feed", conditional(etag, modified))
    first = fetch(url, session, tmp_path)
    assert first.status == "ok"
    second = fetch(url, session, tmp_path, state=first.state)
    assert second.status == "not_modified" and second.mentions == ()
    assert second.state["sha256"] == first.state["sha256"]  # kept for the next comparison
    sent = server.seen[-1][1]
    assert sent.get("If-None-Match") == etag and sent.get("If-Modified-Since") == modified


def test_unchanged_body_is_not_parsed_again(server: LocalServer, session: requests.Session,
                                            tmp_path: Path) -> None:
    url = server.static("/feed", FEED)  # no validators at all
    first = fetch(url, session, tmp_path)
    assert fetch(url, session, tmp_path, state=first.state).status == "not_modified"
    changed = server.static("/feed", FEED.replace(b"Two hours", b"Three hours"))
    assert fetch(changed, session, tmp_path, state=first.state).status == "ok"


def test_retry_after_within_the_deadline_is_honoured(server: LocalServer, session: requests.Session,
                                                      tmp_path: Path) -> None:
    calls = itertools.count()
    server.route("/feed", lambda h: send(h, 429, b"slow down", "text/plain", {"Retry-After": "1"})
                 if next(calls) == 0 else send(h, 200, FEED))
    started = time.monotonic()
    result = fetch(server.url("/feed"), session, tmp_path)
    assert result.status == "ok"
    assert time.monotonic() - started >= 1.0
    assert len(server.seen) == 2


@pytest.mark.parametrize(("retry_after", "reason"), [
    ("120", "rate limited (HTTP 429): the server asks to retry after 120 s, more than the time left"),
    ("Wed, 21 Oct 2099 07:28:00 GMT", "rate limited (HTTP 429): the server asks to retry after"),
    (None, "rate limited (HTTP 429) without a usable Retry-After header"),
])
def test_retry_after_past_the_deadline_is_an_error(retry_after: str | None, reason: str, server: LocalServer,
                                                   session: requests.Session, tmp_path: Path) -> None:
    url = server.static("/feed", b"", "text/plain", 429, {"Retry-After": retry_after} if retry_after else {})
    started = time.monotonic()
    result = fetch(url, session, tmp_path, deadline_in=100)
    assert result.status == "error" and result.error is not None and result.error.startswith(reason)
    assert time.monotonic() - started < 30  # it did not wait for the deadline (a generous bound: catches a wait)


def test_server_error_then_success_is_retried(server: LocalServer, session: requests.Session,
                                              tmp_path: Path) -> None:
    calls = itertools.count()
    server.route("/feed", lambda h: send(h, 503, b"busy", "text/plain") if next(calls) == 0
                 else send(h, 200, FEED))
    result = fetch(server.url("/feed"), session, tmp_path)
    assert result.status == "ok" and len(server.seen) == 2


def test_retries_never_run_past_the_deadline(server: LocalServer, session: requests.Session,
                                             tmp_path: Path) -> None:
    url = server.static("/feed", b"oops", "text/plain", 500)
    started = time.monotonic()
    result = fetch(url, session, tmp_path, deadline_in=BACKOFF * 2)  # room for one backoff, not two
    assert time.monotonic() - started < 30  # catches a hang; the attempt count below shows the deadline held
    assert result.error == "HTTP 500 Internal Server Error (after 2 attempts)"


def test_connection_refused(session: requests.Session, tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on: bind, then close
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = fetch(f"http://127.0.0.1:{port}/feed", session, tmp_path, deadline_in=0.3)
    assert result.error == "cannot connect to 127.0.0.1: Connection refused (after 1 attempt)"


def test_client_errors_are_not_retried(server: LocalServer, session: requests.Session,
                                       tmp_path: Path) -> None:
    result = fetch(server.url("/missing"), session, tmp_path)
    assert result.error == "HTTP 404 Not Found (check the URL)" and len(server.seen) == 1


def drip(h: BaseHTTPRequestHandler) -> None:
    """Headers at once, then one byte every 0.1 s: each read is quick, the whole body never ends (a minute)."""
    h.send_response(200)
    h.send_header("Content-Type", "application/xml")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(600):
        h.wfile.write(b" ")
        h.wfile.flush()
        time.sleep(0.1)


def hang(h: BaseHTTPRequestHandler) -> None:
    """No answer at all for a minute."""
    time.sleep(60)
    send(h, 200, FEED)


@pytest.mark.parametrize(("route", "reason"), [
    (drip, "timed out while reading the response"),
    (hang, "timed out waiting for the response"),
])
def test_slow_servers_are_cut_off(route: Route, reason: str, server: LocalServer, session: requests.Session,
                                  tmp_path: Path) -> None:
    url = server.route("/feed", route)
    started = time.monotonic()
    result = fetch(url, session, tmp_path, timeout=0.5)
    assert time.monotonic() - started < 20  # generous (30x the timeout), but well short of the server's minute
    assert result.status == "error" and result.error is not None and result.error.startswith(reason)


def test_the_run_deadline_cuts_a_drip_before_the_request_timeout(server: LocalServer,
                                                                session: requests.Session,
                                                                tmp_path: Path) -> None:
    url = server.route("/feed", drip)
    started = time.monotonic()
    result = fetch(url, session, tmp_path, timeout=30, deadline_in=0.5)
    assert time.monotonic() - started < 20 and result.error is not None and "timed out" in result.error


def endless(h: BaseHTTPRequestHandler) -> None:
    """A body without Content-Length that goes on for 20 MiB, generated as it is sent."""
    h.send_response(200)
    h.send_header("Content-Type", "application/xml")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<!-- " + b"x" * (1024 * 1024 - 9) + b" -->"
    for _ in range(20):
        h.wfile.write(chunk)


def test_huge_body_is_cut_at_the_cap(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    result = fetch(server.route("/feed", endless), session, tmp_path)
    assert result.error == "response larger than 10 MiB"


def test_huge_content_length_is_refused_before_reading(server: LocalServer, session: requests.Session,
                                                       tmp_path: Path) -> None:
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(MAX_BYTES + 1))
        h.end_headers()
    assert fetch(server.route("/feed", route), session, tmp_path).error == "response larger than 10 MiB"


def test_gzip_encoding_is_decoded(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    url = server.static("/feed", gzip.compress(FEED), headers={"Content-Encoding": "gzip"})
    result = fetch(url, session, tmp_path)
    assert result.status == "ok" and len(result.mentions) == 2
    assert "gzip" in server.seen[0][1].get("Accept-Encoding", "")


def test_gzip_bomb_is_cut_at_the_cap(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    bomb = gzip.compress(b" " * (MAX_BYTES * 3))
    assert len(bomb) < 100_000
    url = server.static("/feed", bomb, headers={"Content-Encoding": "gzip"})
    assert fetch(url, session, tmp_path).error == "response larger than 10 MiB"


def test_gzip_without_content_encoding_is_decoded(server: LocalServer, session: requests.Session,
                                                  tmp_path: Path) -> None:
    (tmp_path / "feed.xml.gz").write_bytes(gzip.compress(FEED))
    assert len(fetch("feed.xml.gz", session, tmp_path).mentions) == 2


def redirect(to: str) -> Route:
    return lambda h: send(h, 302, b"", "text/plain", {"Location": to})


def test_redirects_are_followed(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    server.route("/old", redirect("/new"))
    server.static("/new", FEED)
    assert fetch(server.url("/old"), session, tmp_path).status == "ok"


def test_redirect_loop_is_reported(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    server.route("/a", redirect("/b"))
    server.route("/b", redirect(server.url("/a")))
    result = fetch(server.url("/a"), session, tmp_path)
    assert result.error == f"redirect loop: {server.url('/b')} -> {server.url('/a')}"


def test_too_many_redirects(server: LocalServer, session: requests.Session, tmp_path: Path) -> None:
    for i in range(10):
        server.route(f"/r{i}", redirect(f"/r{i + 1}"))
    assert fetch(server.url("/r0"), session, tmp_path).error == "too many redirects (more than 5)"
    assert len(server.seen) == 6


def test_redirect_to_a_local_file_is_refused(server: LocalServer, session: requests.Session,
                                             tmp_path: Path) -> None:
    server.route("/feed", redirect("file:///etc/passwd"))
    assert fetch(server.url("/feed"), session, tmp_path).error == "redirected to a non-http URL (file:///etc/passwd)"


def test_tls_is_verified(session: requests.Session, tmp_path: Path) -> None:
    """A plain-HTTP server answering an https:// URL fails the TLS handshake: an error, never a downgrade."""
    with serving() as plain:
        plain.static("/feed", FEED)
        result = fetch(plain.url("/feed").replace("http://", "https://"), session, tmp_path, deadline_in=0.3)
    assert result.status == "error" and result.error is not None
    assert result.error.startswith(("TLS error with 127.0.0.1", "cannot connect to 127.0.0.1"))


def test_deadline_already_passed(session: requests.Session, tmp_path: Path) -> None:
    result = fetch("http://127.0.0.1:9/feed", session, tmp_path, deadline_in=-1)
    assert result.error == "not fetched: the run's deadline had already passed"
