"""The HTTP sessions an ingest fetches with (digest.sources.http.Sessions), over real loopback servers:
connections kept open from source to source, nothing carried from one source to the next, and the
environment's proxy and CA settings honoured although requests is told not to read the environment."""

from __future__ import annotations

import multiprocessing
import ssl
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import trustme

from digest.config import Config
from digest.models import SourceResult
from digest.parallel import fetch_one
from digest.sources.http import MAX_BYTES, Sessions
from tests.helpers_http import NOW, LocalServer, make_config, serving

FEED = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Acme Air was late</title><guid>g1</guid><description>Two hours.</description></item>"
        b"</channel></rss>")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serving() as s:
        yield s


@pytest.fixture
def sessions() -> Iterator[Sessions]:
    made = Sessions("test-agent")
    yield made
    made.close()


def config_for(tmp_path: Path, *urls: str) -> Config:
    return make_config(tmp_path, [{"name": f"s{i}", "kind": "feed", "url": url, "channel": "news", "timeout": 5}
                                  for i, url in enumerate(urls)])


def fetch_all(config: Config, sessions: Sessions) -> list[SourceResult]:
    """Each source in turn, as one fetching thread does."""
    return [fetch_one(spec, config=config, state={}, now=NOW, sessions=sessions) for spec in config.sources.sources]


def test_one_connection_serves_source_after_source(server: LocalServer, sessions: Sessions,
                                                   tmp_path: Path) -> None:
    urls = [server.static(f"/feed{i}", FEED) for i in range(5)]
    results = fetch_all(config_for(tmp_path, *urls), sessions)
    assert [r.status for r in results] == ["ok"] * 5
    assert len(server.peers) == 5 and len(set(server.peers)) == 1  # keep-alive: one client port
    assert {headers["User-Agent"] for _, headers in server.seen} == {"test-agent"}


def test_a_304_keeps_the_connection(server: LocalServer, sessions: Sessions, tmp_path: Path) -> None:
    url = server.static("/feed", b"", status=304, headers={"ETag": '"v1"'})
    config = config_for(tmp_path, url, url)
    results = [fetch_one(spec, config=config, state={"etag": '"v1"'}, now=NOW, sessions=sessions)
               for spec in config.sources.sources]
    assert [r.status for r in results] == ["not_modified"] * 2
    assert len(set(server.peers)) == 1


def test_a_response_left_half_read_is_not_reused(server: LocalServer, sessions: Sessions, tmp_path: Path) -> None:
    def oversized(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(MAX_BYTES + 1))
        h.end_headers()
        h.wfile.write(b"<rss>" + b" " * 1000)  # the start of a body the client will not read

    big = server.route("/big", oversized)
    fine = server.static("/feed", FEED)
    first, second = fetch_all(config_for(tmp_path, big, fine), sessions)
    assert first.error == "response larger than 10 MiB"
    # the unread rest of /big must not be taken for the answer to /feed: a new connection
    assert second.status == "ok" and [m.title for m in second.mentions] == ["Acme Air was late"]
    assert server.peers[0] != server.peers[1]


def test_cookies_do_not_pass_from_source_to_source(server: LocalServer, sessions: Sessions,
                                                   tmp_path: Path) -> None:
    first = server.static("/login-wall", FEED, headers={"Set-Cookie": "session=secret-of-source-one; Path=/"})
    second = server.static("/feed", FEED)
    fetch_all(config_for(tmp_path, first, second), sessions)
    assert len(set(server.peers)) == 1  # the same session, reused
    assert "Cookie" not in server.seen[1][1]


def test_http_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch, sessions: Sessions,
                                         tmp_path: Path) -> None:
    with serving() as proxy:
        target = "http://feeds.example.invalid/feed.xml"  # .invalid never resolves: only the proxy can answer
        proxy.static(target, FEED)  # a proxy receives the absolute URL as the request target
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.delenv("http_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        proxied = Sessions("test-agent")
        (result,) = fetch_all(config_for(tmp_path, target), proxied)
        proxied.close()
    assert result.status == "ok", result.error
    assert [path for path, _ in proxy.seen] == [target]


def test_no_proxy_hosts_are_fetched_directly(monkeypatch: pytest.MonkeyPatch, server: LocalServer,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    monkeypatch.delenv("no_proxy", raising=False)
    direct = Sessions("test-agent")
    (result,) = fetch_all(config_for(tmp_path, server.static("/feed", FEED)), direct)
    direct.close()
    assert result.status == "ok", result.error
    assert Sessions("x").proxies_for("http://feeds.example.com/") == {"http": "http://127.0.0.1:9"}


def test_netrc_credentials_are_not_sent(monkeypatch: pytest.MonkeyPatch, server: LocalServer,
                                        tmp_path: Path) -> None:
    """Credentials come from headers_from_env only; requests alone would send ~/.netrc's to the host."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login ops password hunter2\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    direct = Sessions("test-agent")
    fetch_all(config_for(tmp_path, server.static("/feed", FEED)), direct)
    direct.close()
    assert "Authorization" not in server.seen[0][1]


@pytest.fixture
def https_server(tmp_path: Path) -> Iterator[tuple[LocalServer, Path]]:
    authority = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    with LocalServer(tls=context) as s:
        yield s, bundle


def test_https_is_verified_against_requests_ca_bundle(monkeypatch: pytest.MonkeyPatch,
                                                      https_server: tuple[LocalServer, Path], tmp_path: Path) -> None:
    server, bundle = https_server
    url = server.static("/feed", FEED)
    assert url.startswith("https://")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    untrusting = Sessions("test-agent")
    (refused,) = fetch_all(config_for(tmp_path, url), untrusting)
    untrusting.close()
    assert refused.status == "error" and refused.error is not None and refused.error.startswith("TLS error")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    trusting = Sessions("test-agent")
    (fetched,) = fetch_all(config_for(tmp_path, url), trusting)
    trusting.close()
    assert fetched.status == "ok", fetched.error


def _borrowed_in_child(sessions: Sessions, parents: int, out: multiprocessing.queues.SimpleQueue[bool]) -> None:
    with sessions.borrow() as session:
        out.put(id(session) == parents)


def test_a_forked_worker_never_uses_its_parents_sessions(sessions: Sessions) -> None:
    """A session made before a fork holds the parent's sockets: a worker makes its own."""
    with sessions.borrow() as session:
        parents = id(session)
    with sessions.borrow() as again:
        assert id(again) == parents  # reused in the same process
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    child = context.Process(target=_borrowed_in_child, args=(sessions, parents, out))
    child.start()
    child.join(10)
    assert child.exitcode == 0 and out.get() is False
