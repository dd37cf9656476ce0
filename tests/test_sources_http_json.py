"""The http_json kind against a real JSON API on loopback: pages, secret headers from the environment."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import requests

from digest.config import HttpJsonSource
from digest.errors import SourceError
from digest.models import SourceResult
from digest.sources import fetch_source
from digest.sources.http_json import fetch as fetch_http_json
from tests.helpers_http import LocalServer, make_config, make_ctx, send, serving

SECRET = "s3cret-token-value"
FIELDS = {"id": "id", "text": "body", "published": "created", "author": "user.name", "url": "permalink",
          "influence": "user.followers"}


def page(items: list[Any], next_url: str | None) -> bytes:
    return json.dumps({"data": {"posts": items}, "paging": {"next": next_url}}).encode()


def post(i: int, body: str = "Acme Air was late again") -> dict[str, Any]:
    return {"id": f"p{i}", "body": body, "created": f"2024-03-18T1{i}:00:00Z",
            "user": {"name": f"user{i}", "followers": i * 100}, "permalink": f"https://social.example/p/{i}"}


def authorized(body: bytes) -> Any:
    def route(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != f"Bearer {SECRET}":
            send(h, 401, b'{"error": "unauthorized"}', "application/json")
        else:
            send(h, 200, body, "application/json")
    return route


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serving() as s:
        yield s


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def run(session: requests.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """run(url, env=..., **source): fetch_source on an http_json spec, with the environment set."""
    def go(url: str, env: dict[str, str] | None = None, state: dict[str, str] | None = None,
           **source: Any) -> SourceResult:
        for name, value in ({"ACME_API_AUTH": f"Bearer {SECRET}"} if env is None else env).items():
            monkeypatch.setenv(name, value)
        spec = {"name": "api", "kind": "http_json", "url": url, "channel": "twitter",
                "items_path": "data.posts", "next_path": "paging.next", "fields": FIELDS,
                "headers_from_env": {"Authorization": "ACME_API_AUTH"}, **source}
        config = make_config(tmp_path, [spec])
        return fetch_source(config.sources.sources[0], make_ctx(config, session, state=state))
    return go


Run = Callable[..., SourceResult]


def test_pages_are_followed_with_the_secret_header(server: LocalServer, run: Run) -> None:
    server.route("/api", authorized(page([post(1), post(2)], "/api/p2?cursor=abc")))
    server.route("/api/p2", authorized(page([post(3), post(4, "Nothing about us")], None)))
    result = run(server.url("/api"))
    assert result.status == "ok" and result.items_seen == 4
    assert [m.external_id for m in result.mentions] == ["p1", "p2", "p3"]  # p4 is off-brand
    m = result.mentions[0]
    assert (m.author, m.url, m.influence) == ("user1", "https://social.example/p/1", 100.0)
    assert [p for p, _ in server.seen] == ["/api", "/api/p2?cursor=abc"]


def test_a_page_pointing_at_itself_stops_the_walk(server: LocalServer, run: Run) -> None:
    server.route("/api", authorized(page([post(1)], "/api")))
    result = run(server.url("/api"))
    assert result.items_seen == 1 and len(server.seen) == 1


def test_max_pages_bounds_an_endless_api(server: LocalServer, run: Run) -> None:
    def endless(h: BaseHTTPRequestHandler) -> None:
        n = int(h.path.rsplit("=", 1)[1]) if "=" in h.path else 0
        authorized(page([post(n % 10)], f"/api?page={n + 1}"))(h)
    server.route("/api", endless)
    result = run(server.url("/api"), max_pages=3)
    assert [p for p, _ in server.seen] == ["/api", "/api?page=1", "/api?page=2"]
    assert result.items_seen == 3


def test_missing_environment_variable_is_named(server: LocalServer, run: Run) -> None:
    result = run(server.url("/api"), headers_from_env={"Authorization": "DIGEST_TEST_SURELY_UNSET"})
    assert result.error == ("environment variable DIGEST_TEST_SURELY_UNSET is not set "
                            "(it holds the Authorization header)")
    assert server.seen == []  # nothing was sent without it


def test_the_environment_can_be_injected(session: requests.Session, tmp_path: Path) -> None:
    config = make_config(tmp_path, [{"name": "api", "kind": "http_json", "url": "http://127.0.0.1:9/",
                                     "channel": "twitter", "fields": {"text": "body"},
                                     "headers_from_env": {"X-Key": "KEY"}}])
    spec = config.sources.sources[0]
    assert isinstance(spec, HttpJsonSource)
    with pytest.raises(SourceError, match="environment variable KEY is not set"):
        fetch_http_json(spec, make_ctx(config, session), env={})


def test_the_secret_never_appears_in_errors_or_logs(server: LocalServer, run: Run,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    server.route("/api", authorized(b"<html>not json</html>"))
    with caplog.at_level(logging.DEBUG):
        result = run(server.url("/api"))
    assert result.error == "page 1 is not JSON: Expecting value: line 1 column 1 (char 0)"
    assert server.seen[0][1]["Authorization"] == f"Bearer {SECRET}"  # it was sent...
    assert SECRET not in caplog.text  # ...and never logged
    bad = run(server.url("/api"), env={"ACME_API_AUTH": "x\r\nInjected: 1"})
    assert bad.error == ("environment variable ACME_API_AUTH contains a line break "
                         "(for the Authorization header)")


def test_the_secret_is_not_sent_to_another_host(server: LocalServer, run: Run) -> None:
    other = server.url("/p2").replace("127.0.0.1", "localhost")  # same server, another origin
    server.route("/api", authorized(page([post(1)], other)))
    server.route("/p2", lambda h: send(h, 200, page([post(2)], None), "application/json"))
    result = run(server.url("/api"))
    assert [m.external_id for m in result.mentions] == ["p1", "p2"]
    assert "Authorization" in server.seen[0][1] and "Authorization" not in server.seen[1][1]


def test_a_next_link_to_a_file_is_refused(server: LocalServer, run: Run) -> None:
    server.route("/api", authorized(page([post(1)], "file:///etc/passwd")))
    assert run(server.url("/api")).error == "next page link is not an http(s) URL: file:///etc/passwd"


def test_single_page_source_uses_conditional_get(server: LocalServer, run: Run) -> None:
    server.route("/api", authorized(page([post(1)], None)))
    first = run(server.url("/api"), next_path=None)
    assert first.status == "ok" and first.state.get("sha256")
    assert run(server.url("/api"), next_path=None, state=first.state).status == "not_modified"
    # a paged source is always read again: page 1 unchanged says nothing about the others
    assert run(server.url("/api"), state=first.state).status == "ok"


def test_items_with_bad_dates_are_skipped_and_counted(server: LocalServer, run: Run) -> None:
    bad = {**post(2), "created": "someday"}
    server.route("/api", authorized(page([post(1), bad, "junk"], None)))
    result = run(server.url("/api"))
    assert [m.external_id for m in result.mentions] == ["p1"]
    assert result.problems == ("2 items skipped (no text, not an object or a bad date)",)
    assert (result.error, result.dropped) == (None, 2)


def test_a_redirect_to_another_host_drops_the_secret(server: LocalServer, run: Run) -> None:
    other = server.url("/moved").replace("127.0.0.1", "localhost")
    server.route("/api", lambda h: send(h, 302, b"", "text/plain", {"Location": other}))
    server.route("/moved", lambda h: send(h, 200, page([post(1)], None), "application/json"))
    assert run(server.url("/api")).status == "ok"
    assert [("Authorization" in headers) for _, headers in server.seen] == [True, False]
