"""Test helpers for the sources: a real HTTP server on loopback, a Config and a FetchContext."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from digest.config import Config, RecipientsConfig, SourcesConfig
from digest.sources import FetchContext

NOW = datetime(2024, 3, 20, 15, 30, tzinfo=UTC)
Route = Callable[[BaseHTTPRequestHandler], None]


def make_config(directory: Path, sources: list[dict[str, Any]] | None = None, **extra: Any) -> Config:
    """A validated Config for Acme Air whose relative paths resolve against `directory`."""
    data: dict[str, Any] = {
        "brand": {"name": "Acme Air", "keywords": ["acme", "@acmeair", "#acmeair", "acme air"],
                  "exclude": ["acme looney", "wile e"]},
        "timezone": "America/New_York",
        "sources": sources or [{"name": "x", "kind": "feed", "url": "x.xml", "channel": "twitter"}],
        **extra,
    }
    recipients = RecipientsConfig.model_validate(
        {"sender": "Digest <digest@acme.example>", "recipients": [{"name": "A", "email": "a@acme.example"}]})
    return Config(directory, SourcesConfig.model_validate(data), recipients)


def make_ctx(config: Config, session: requests.Session, *, state: Mapping[str, str] | None = None,
             now: datetime = NOW, deadline_in: float | None = 10.0) -> FetchContext:
    """A FetchContext whose deadline is `deadline_in` seconds from now (None: no deadline)."""
    deadline = None if deadline_in is None else time.monotonic() + deadline_in
    return FetchContext(session=session, now=now, config=config, state=dict(state or {}), deadline=deadline)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers.items())))
        self.server.peers.append(self.client_address)
        route = self.server.routes.get(self.path) or self.server.routes.get(self.path.split("?", 1)[0])
        try:
            if route is None:
                send(self, 404, b"not found", "text/plain")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as the timeout tests want it to

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a dripping handler must not hold up the end of a test
    routes: dict[str, Route]
    seen: list[tuple[str, dict[str, str]]]
    peers: list[tuple[str, int]]


def send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str = "application/xml",
         headers: Mapping[str, str] | None = None) -> None:
    """Write a whole response."""
    h.send_response(status)
    h.send_header("Content-Type", content_type)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    h.wfile.write(body)


class LocalServer:
    """A ThreadingHTTPServer on 127.0.0.1 with routes set per test; records each request's headers."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self.scheme = "https" if tls else "http"
        if tls:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._server.routes = {}
        self._server.seen = []
        self._server.peers = []
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    @property
    def seen(self) -> list[tuple[str, dict[str, str]]]:
        """(path, headers) of every request received, in order."""
        return self._server.seen

    @property
    def peers(self) -> list[tuple[str, int]]:
        """The client (host, port) of every request received, in order: one port per connection."""
        return self._server.peers

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Route) -> str:
        """Serve `path` with `handler`; returns its URL."""
        self._server.routes[path] = handler
        return self.url(path)

    def static(self, path: str, body: bytes, content_type: str = "application/xml", status: int = 200,
               headers: Mapping[str, str] | None = None) -> str:
        """Serve a fixed response at `path`; returns its URL."""
        return self.route(path, lambda h: send(h, status, body, content_type, headers))

    def __enter__(self) -> LocalServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def serving() -> Iterator[LocalServer]:
    """`with serving() as server:` a LocalServer for one test."""
    with LocalServer() as server:
        yield server
