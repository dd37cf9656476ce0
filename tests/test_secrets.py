"""Secrets come only from the environment and never show up anywhere else.

A unique marker is the SMTP password and an API token (an http_json header from the environment). Every
command is run at debug level; the marker is then looked for in the log records, stdout and stderr, every
row of every table of the store, the outbox files and the raw messages the SMTP server received -- also
after an authentication failure and after request errors on the API. TLS certificates are verified unless
DIGEST_SMTP_VERIFY=0 (the handshakes themselves are tested in test_mailer.py::test_tls_with_authentication
and test_sources_http.py::test_tls_is_verified).
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import ssl
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.config import load_config, smtp_settings
from digest.errors import ConfigError
from digest.mailer import SmtpMailer

from .conftest import free_port, run_cli
from .helpers_faults import db_path, dump, write_project
from .helpers_http import LocalServer, send, serving

MARKER = "s3cr3t-" + secrets.token_hex(8)
TOKEN_VAR = "DIGEST_TEST_API_TOKEN"


@dataclass
class AuthSmtp:
    """aiosmtpd on loopback that wants AUTH (user `digest`, password MARKER) and keeps raw messages."""

    port: int
    raw: list[bytes] = field(default_factory=list)
    rcpt: list[str] = field(default_factory=list)

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content or envelope.content)
        self.rcpt.extend(envelope.rcpt_tos)
        return "250 OK"


def _authenticator(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest", MARKER.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_smtp() -> Iterator[AuthSmtp]:
    server = AuthSmtp(free_port())
    # no TLS on loopback (DIGEST_SMTP_TLS=none), so aiosmtpd must allow AUTH without it
    controller = Controller(server, hostname="127.0.0.1", port=server.port, authenticator=_authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


def api_items(now: datetime) -> bytes:
    """Ten angry posts from the last half hour: enough for a spike alert as well as a digest."""
    items = [{"id": f"p{i}", "body": f"Acme Air lost my bag again, terrible service, refund denied {i}",
              "created": (now - timedelta(minutes=3 * i)).isoformat(), "permalink": f"https://social.example/{i}"}
             for i in range(10)]
    return json.dumps({"data": items}).encode()


@pytest.fixture
def api() -> Iterator[tuple[LocalServer, LocalServer]]:
    """The API (wants `Authorization: Bearer MARKER`) and another origin its broken route redirects to."""
    with serving() as server, serving() as elsewhere:
        body = api_items(datetime.now(UTC))

        def authorized(h: BaseHTTPRequestHandler) -> None:
            if h.headers.get("Authorization") != f"Bearer {MARKER}":
                send(h, 401, b'{"error": "unauthorized"}', "application/json")
            else:
                send(h, 200, body, "application/json")

        server.route("/posts", authorized)
        server.static("/broken", b'{"error": "boom"}', "application/json", 500)
        server.static("/away", b"", "text/plain", 302, {"Location": elsewhere.url("/posts")})
        elsewhere.static("/posts", json.dumps({"data": []}).encode(), "application/json")
        yield server, elsewhere


def api_source(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "kind": "http_json", "url": url, "channel": "twitter", "items_path": "data",
            "timeout": 2, "headers_from_env": {"Authorization": TOKEN_VAR},
            "fields": {"id": "id", "text": "body", "published": "created", "url": "permalink"}}


def leaks(text: str | bytes) -> list[str]:
    """The forms of the marker found in `text`: as is, and as an SMTP AUTH PLAIN/LOGIN client would send it."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
    forms = {"plain": MARKER.encode(),
             "auth-plain": base64.b64encode(f"\0digest\0{MARKER}".encode()),
             "auth-login": base64.b64encode(MARKER.encode())}
    return [name for name, form in forms.items() if form in data]


def test_secrets_appear_nowhere(tmp_path: Path, auth_smtp: AuthSmtp, api: tuple[LocalServer, LocalServer],
                                capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    server, elsewhere = api
    refused = f"http://127.0.0.1:{free_port()}/posts"
    tls_to_plain = server.url("/posts").replace("http://", "https://")
    project = write_project(tmp_path / "p", [
        api_source("API", server.url("/posts")), api_source("Broken", server.url("/broken")),
        api_source("Away", server.url("/away")), api_source("Refused", refused),
        api_source("TLS", tls_to_plain)], alerts={"recipients": ["oncall@acme.example"], "min_negative": 3})
    for var in ("DIGEST_DB", "DIGEST_CONFIG", "DIGEST_OUTBOX"):
        monkeypatch.delenv(var, raising=False)
    smtp = {"DIGEST_SMTP_HOST": "127.0.0.1", "DIGEST_SMTP_PORT": str(auth_smtp.port), "DIGEST_SMTP_TLS": "none",
            "DIGEST_SMTP_USER": "digest", "DIGEST_SMTP_PASSWORD": MARKER}
    for k, v in {**smtp, TOKEN_VAR: f"Bearer {MARKER}"}.items():
        monkeypatch.setenv(k, v)
    caplog.set_level(logging.DEBUG)
    outputs: list[str] = []

    def digest(*args: str) -> int:
        r = run_cli(capsys, "-vv", "--config", str(project), *args)
        outputs.extend([r.out, r.err])
        return r.code

    assert digest("ingest") == 3  # four of the five API sources fail, each for its own reason
    assert digest("send", "weekly") == 0
    assert digest("alert") == 0
    assert len(auth_smtp.raw) == 3 + 1 and "oncall@acme.example" in auth_smtp.rcpt  # the alert went out too
    # a wrong password (holding the marker too): an authentication failure that must not quote it
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", MARKER + "-wrong")
    assert digest("send", "daily") == 1
    assert "failed: SMTP 127.0.0.1:" in outputs[-2] and "authentication failed for user 'digest'" in outputs[-2]
    # and to the outbox, with the password still in the environment
    monkeypatch.setenv("DIGEST_SMTP_PASSWORD", MARKER)
    monkeypatch.delenv("DIGEST_SMTP_HOST")
    assert digest("send", "daily", "--resend") == 0
    outbox = list((project / "outbox").glob("*.eml"))
    assert outbox
    # the API saw its token; the host the redirect led to did not
    assert any(h.get("Authorization") == f"Bearer {MARKER}" for _, h in server.seen)
    assert elsewhere.seen and not any(leaks(json.dumps(h)) for _, h in elsewhere.seen)
    places: dict[str, str | bytes] = {
        "stdout/stderr": "\n".join(outputs),
        "log records": caplog.text + "\n".join(repr(r.args) for r in caplog.records),
        "store": dump(db_path(project)),
        **{f"outbox {p.name}": p.read_bytes() for p in outbox},
        **{f"received message {i}": raw for i, raw in enumerate(auth_smtp.raw)},
    }
    assert {where: leaks(what) for where, what in places.items() if leaks(what)} == {}
    # the failures were reported, each with its reason (so the checks above looked at real error text)
    report = "\n".join(outputs)
    assert "Broken [twitter]: error · HTTP 500 Internal Server Error" in report
    assert "Refused [twitter]: error · cannot connect to 127.0.0.1: Connection refused" in report
    assert "TLS [twitter]: error · " in report
    assert "API [twitter]: ok · 10 items" in report


def test_tls_is_verified_unless_explicitly_disabled() -> None:
    base = {"DIGEST_SMTP_HOST": "mail.example"}
    for tls in ("starttls", "ssl"):
        settings = smtp_settings({**base, "DIGEST_SMTP_TLS": tls})
        assert settings is not None and settings.verify
        ctx = SmtpMailer(settings)._context()
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    for off in ("0", "false", "no"):
        settings = smtp_settings({**base, "DIGEST_SMTP_VERIFY": off})
        assert settings is not None and not settings.verify
        assert SmtpMailer(settings)._context().verify_mode == ssl.CERT_NONE
    assert smtp_settings({**base, "DIGEST_SMTP_VERIFY": "yes please"}).verify  # type: ignore[union-attr]


def test_secrets_cannot_be_written_into_the_yaml_files(tmp_path: Path) -> None:
    """There is no place for a password or a header value in the files: such keys are rejected."""
    write_project(tmp_path, [{**api_source("API", "https://api.example/posts"),
                              "headers": {"Authorization": "Bearer x"}}])
    recipients = (tmp_path / "recipients.yaml").read_text()
    (tmp_path / "recipients.yaml").write_text(recipients + textwrap.dedent("""\
        smtp_password: hunter2
        """))
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert [p.split(": ", 1)[1] for p in info.value.problems] == [
        "sources[0].headers: unknown field (a typo?)", "smtp_password: unknown field (a typo?)"]
    assert "hunter2" not in str(info.value) and "Bearer x" not in str(info.value)
