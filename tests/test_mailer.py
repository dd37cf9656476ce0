"""Messages and delivery against a real SMTP server on loopback: plain, STARTTLS + auth, implicit TLS."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest.config import SmtpSettings
from digest.errors import DeliveryError
from digest.mailer import OutboxMailer, SmtpMailer, build_message
from digest.models import RenderedDigest

from .conftest import SmtpServer, _Handler, free_port

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
DIGEST = RenderedDigest("Acme Air daily · 22 Nov: 120 mentions", "<html><body><p>Hi</p></body></html>", "Hi")


def message(to: str = "ceo@acme.example", name: str = "Dana Chief") -> Any:
    return build_message(DIGEST, sender="Customer Voice <digest@acme.example>", to_name=name, to_addr=to,
                         now=NOW, list_id="Acme Air daily digest", kind="daily-digest")


def test_message_headers_and_parts() -> None:
    msg = message()
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["List-Id"] == "Acme Air daily digest <daily-digest.acme.example>"
    assert msg["Message-ID"].endswith("@acme.example>")
    assert msg["Date"] == "Mon, 23 Nov 2026 12:00:00 +0000"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]


def test_crlf_in_names_cannot_inject_headers() -> None:
    msg = message(name="Dana\r\nBcc: evil@x.example")
    raw = msg.as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ceo@acme.example"]


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path / "outbox")
    with mailer.session() as s:
        s.send(message())
        s.send(message("cmo@acme.example", "Morgan"))
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2 and not list((tmp_path / "outbox").glob(".tmp-*"))
    parsed = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Subject"] == DIGEST.subject
    assert b"\r\n" in files[0].read_bytes()


def test_plain_smtp_delivery(smtp_server: SmtpServer) -> None:
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", smtp_server.port, None, None, "none"))
    with mailer.session() as s:
        s.send(message())
    assert smtp_server.envelopes == [("digest@acme.example", ["ceo@acme.example"])]
    assert smtp_server.messages[0]["Subject"] == DIGEST.subject


def test_4xx_answer_is_a_delivery_error(smtp_server: SmtpServer) -> None:
    smtp_server.fail_with = "451 4.3.0 Mailbox busy, try later"
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", smtp_server.port, None, None, "none"))
    with pytest.raises(DeliveryError) as info, mailer.session() as s:
        s.send(message())
    assert str(info.value) == f"SMTP 127.0.0.1:{smtp_server.port} (none): 451 4.3.0 Mailbox busy, try later"


def test_connection_refused_is_a_delivery_error() -> None:
    port = free_port()
    mailer = SmtpMailer(SmtpSettings("127.0.0.1", port, None, None, "none", timeout=2))
    with pytest.raises(DeliveryError) as info, mailer.session():
        pass
    assert str(info.value) == f"SMTP 127.0.0.1:{port}: connection refused"


@contextlib.contextmanager
def _mute_server(greet: bool) -> Iterator[int]:
    """A loopback TCP server that accepts and then never answers (or answers only the greeting and EHLO)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if greet:
                conn.sendall(b"220 mute.example ESMTP\r\n")
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(1024)  # EHLO
                    conn.sendall(b"250 mute.example\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


@pytest.mark.parametrize("greet", [False, True])
def test_a_server_that_never_answers_is_reported_as_timed_out_with_the_wait(greet: bool) -> None:
    with _mute_server(greet) as port:
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", port, None, None, "none", timeout=0.5))
        with pytest.raises(DeliveryError) as info:
            with mailer.session() as session:
                session.send(message())
    # silent from the start: the greeting never comes; greeting only: the message's first command gets no answer
    where = f"SMTP 127.0.0.1:{port} (none)" if greet else f"SMTP 127.0.0.1:{port}"
    assert str(info.value) == f"{where}: timed out: no answer from the server within 0.5 s"


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[trustme.CA, ssl.SSLContext]]:
    authority = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    yield authority, server_ctx


def _authenticator(_server: Any, _session: Any, _envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"digest", b"s3cret!")
    return AuthResult(success=ok, handled=False)


def _tls_server(server_ctx: ssl.SSLContext, *, implicit: bool) -> tuple[Controller, SmtpServer]:
    server = SmtpServer("127.0.0.1", free_port())
    kwargs: dict[str, Any] = {"authenticator": _authenticator, "auth_require_tls": True}
    if implicit:
        kwargs["ssl_context"] = server_ctx
        kwargs["server_hostname"] = "127.0.0.1"
        # aiosmtpd only counts STARTTLS as TLS; with implicit TLS the whole connection already is
        kwargs["auth_require_tls"] = False
    else:
        kwargs.update(tls_context=server_ctx, require_starttls=True)
    controller = Controller(_Handler(server), hostname="127.0.0.1", port=server.port, **kwargs)
    controller.start()
    return controller, server


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_with_authentication(ca: tuple[trustme.CA, ssl.SSLContext], tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    authority, server_ctx = ca
    controller, server = _tls_server(server_ctx, implicit=mode == "ssl")
    try:
        # an untrusted certificate is refused: verification is on by default
        mailer = SmtpMailer(SmtpSettings("127.0.0.1", server.port, "digest", "s3cret!", mode, timeout=5))  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as info, mailer.session():
            pass
        assert "s3cret" not in str(info.value)
        assert "certificate" in str(info.value).lower() or "ssl" in str(info.value).lower()
        # trusted through the standard SSL_CERT_FILE
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
        with mailer.session() as s:
            s.send(message())
        assert server.to() == ["Dana Chief <ceo@acme.example>"]
        bad = SmtpMailer(SmtpSettings("127.0.0.1", server.port, "digest", "wrong", mode, timeout=5))  # type: ignore[arg-type]
        with pytest.raises(DeliveryError) as info, bad.session():
            pass
        assert "authentication failed for user 'digest'" in str(info.value) and "wrong" not in str(info.value)
    finally:
        controller.stop()
