"""Build MIME messages and deliver them: SMTP (from DIGEST_SMTP_*) or an outbox folder of .eml files."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from pathlib import Path
from typing import Protocol

from .config import SmtpSettings
from .errors import DeliveryError
from .models import RenderedDigest

log = logging.getLogger(__name__)


def _clean_header(value: str) -> str:
    """One line: CR, LF and other controls in a header value would inject headers."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", value).split())


def _display_name(value: str) -> str:
    """A display name that survives folding: one line, no address specials, at most 64 characters.

    The email package drops the quotes around a long display name when it folds the header, and then
    `"Lee, Morgan <x@y>"`-like specials become structure: the To line loses or gains addresses.
    """
    name = " ".join(re.sub(r'[\\"<>()\[\]:;@,]', " ", _clean_header(value)).split())
    return name if len(name) <= 64 else name[:63].rstrip() + "…"


def parse_sender(sender: str) -> Address:
    """`Name <addr>` (validated by config) as an email Address."""
    [(name, addr)] = getaddresses([_clean_header(sender)])
    user, _, domain = addr.partition("@")
    return Address(display_name=_display_name(name), username=user, domain=domain)


def build_message(digest: RenderedDigest, *, sender: str, to_name: str, to_addr: str, now: datetime,
                  list_id: str, kind: str = "digest", same_id_for: str | None = None) -> EmailMessage:
    """A multipart/alternative message (text, then HTML with inline images) with report headers.

    `same_id_for`: a key (recipient and window) from which the Message-ID is derived, so that a copy
    sent again after a crash carries the same Message-ID as the first and mail systems that
    deduplicate by Message-ID show it once; None gives a fresh, random Message-ID.
    """
    msg = EmailMessage()
    frm = parse_sender(sender)
    user, _, domain = to_addr.partition("@")
    msg["From"] = frm
    msg["To"] = Address(display_name=_display_name(to_name), username=user, domain=domain)
    msg["Subject"] = _clean_header(digest.subject)[:200]
    msg["Date"] = format_datetime(now)
    if same_id_for is None:
        msg["Message-ID"] = make_msgid(idstring=kind, domain=frm.domain or "localhost")
    else:
        key = hashlib.sha256(f"{frm.addr_spec}\0{to_addr.lower()}\0{same_id_for}".encode()).hexdigest()[:32]
        msg["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9-]', '', kind)}.{key}@{frm.domain or 'localhost'}>"
    # an automated report: no out-of-office replies back to us (RFC 3834), sortable by list
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["List-Id"] = f"{_clean_header(list_id)} <{kind}.{frm.domain or 'localhost'}>"
    msg.set_content(digest.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(digest.html, subtype="html", charset="utf-8", cte="quoted-printable")
    if digest.attachments:
        html_part = msg.get_payload()[1]  # type: ignore[index]
        assert isinstance(html_part, EmailMessage)
        for cid, mime, data in digest.attachments:
            maintype, _, subtype = mime.partition("/")
            html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{cid}>",
                                  disposition="inline")
    return msg


class Mailer(Protocol):
    """Delivers messages; `session()` keeps one connection for a batch."""

    def describe(self) -> str: ...

    def session(self) -> contextlib.AbstractContextManager[MailSession]: ...


class MailSession(Protocol):
    def send(self, msg: EmailMessage) -> None: ...


class OutboxMailer:
    """The embedded default: each message as a standards-conformant .eml file in a folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def describe(self) -> str:
        return f"outbox {self.directory}"

    @contextlib.contextmanager
    def session(self) -> Iterator[OutboxMailer]:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(f"cannot create the outbox {self.directory}: {exc.strerror or exc}") from None
        yield self

    def send(self, msg: EmailMessage) -> None:
        to = str(msg["To"].addresses[0].addr_spec) if msg["To"] else "unknown"
        stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S")
        slug = re.sub(r"[^A-Za-z0-9@._-]+", "_", to)[:80]
        kind = re.sub(r"[^a-z-]+", "", str(msg["List-Id"] or "").rsplit("<", 1)[-1].split(".", 1)[0])
        # the Message-ID is unique per message; its hash keeps two files of the same second apart
        mid = hashlib.sha256(str(msg["Message-ID"]).encode()).hexdigest()[:10]
        path = self.directory / f"{stamp}-{kind or 'message'}-{slug}-{mid}.eml"
        data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        try:
            # write then rename: a crash never leaves half a message for a mail importer to pick up
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)
            raise DeliveryError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.written.append(path)


class SmtpMailer:
    """SMTP with STARTTLS (default), implicit TLS or none (loopback only), optional authentication."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def describe(self) -> str:
        s = self.settings
        return f"SMTP {s.host}:{s.port} ({s.tls})"

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not self.settings.verify:  # explicitly asked for with DIGEST_SMTP_VERIFY=0
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    @contextlib.contextmanager
    def session(self) -> Iterator[_SmtpSession]:
        session = _SmtpSession(self._connect(), self.describe(), self._connect, self.settings.timeout)
        try:
            yield session
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                session.client.quit()

    def _connect(self) -> smtplib.SMTP:
        """A connected (and logged-in) client; DeliveryError, never naming the password, if not."""
        s = self.settings
        client: smtplib.SMTP | None = None
        try:
            if s.tls == "ssl":
                client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=self._context())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.tls == "starttls":
                    client.starttls(context=self._context())
            if s.user:
                client.login(s.user, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            _close(client)
            raise DeliveryError(f"SMTP {s.host}:{s.port}: authentication failed for user {s.user!r} "
                                f"({exc.smtp_code})") from None
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            _close(client)
            raise DeliveryError(f"SMTP {s.host}:{s.port}: {_smtp_reason(exc, s.timeout)}") from None
        return client


def _close(client: smtplib.SMTP | None) -> None:
    if client is not None:
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.close()


class _SmtpSession:
    def __init__(self, client: smtplib.SMTP, where: str, connect: Callable[[], smtplib.SMTP], timeout: float) -> None:
        self.client = client
        self.where = where
        self._connect = connect
        self._timeout = timeout

    def send(self, msg: EmailMessage) -> None:
        if self.client.sock is None:
            # the server dropped the connection during the previous message (smtplib closed it):
            # connect again rather than fail every message left in the batch
            self.client = self._connect()
        try:
            refused = self.client.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.where}: {_smtp_reason(exc, self._timeout)}") from None
        if refused:
            raise DeliveryError(f"{self.where}: refused {', '.join(sorted(refused))}")


def _smtp_reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {' '.join(_text(exc.smtp_error).split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        # the server's own words say whether to wait (450 greylisted) or to fix the address (550)
        return "recipients refused: " + ", ".join(
            f"{addr} ({code} {' '.join(_text(text).split())})" for addr, (code, text) in sorted(exc.recipients.items()))
    # smtplib turns a read that timed out into SMTPServerDisconnected("Connection unexpectedly closed: timed
    # out"): the server did not hang up, it never answered, and ops look for different things in each case
    if isinstance(exc, socket.timeout | TimeoutError) or isinstance(exc.__context__, socket.timeout | TimeoutError):
        return f"timed out: no answer from the server within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "server disconnected"
    return str(exc) or type(exc).__name__


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def recipients_of(msg: EmailMessage) -> Sequence[str]:
    return [a.addr_spec for a in msg["To"].addresses]
