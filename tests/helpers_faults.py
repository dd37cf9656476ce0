"""Helpers of the fault, hostile-input and secrets tests: a small project on disk, a scriptable SMTP
server that can drop a connection mid-message or hold its answer, and views of a SQLite store."""

from __future__ import annotations

import contextlib
import os
import socket
import socketserver
import sqlite3
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

NOW = datetime.now(UTC)
SENDER = "Customer Voice <digest@acme.example>"
RECIPIENTS: list[dict[str, Any]] = [
    {"name": "Dana Chief", "email": "ceo@acme.example", "digests": ["daily", "weekly"]},
    {"name": "Morgan Lee", "email": "cmo@acme.example", "digests": ["weekly"]},
    {"name": "Sam Ortiz", "email": "service@acme.example", "digests": ["weekly"]},
]
WEEKLY = sorted(r["email"] for r in RECIPIENTS if "weekly" in r["digests"])


@dataclass
class Item:
    """One feed entry; every part is written as given (escaped as XML text, so markup stays text)."""

    guid: str
    title: str
    text: str
    author: str = ""
    link: str = ""
    published: datetime = NOW


def feed_xml(items: Sequence[Item]) -> bytes:
    """An RSS 2.0 document of `items`."""
    parts = []
    for it in items:
        author = f"<author>{escape(it.author)}</author>" if it.author else ""
        link = f"<link>{escape(it.link)}</link>" if it.link else ""
        parts.append(f"<item><guid>{escape(it.guid)}</guid><title>{escape(it.title)}</title>{link}{author}"
                     f"<pubDate>{format_datetime(it.published)}</pubDate>"
                     f"<description>{escape(it.text)}</description></item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
            + "".join(parts) + "</channel></rss>").encode()


def complaints(prefix: str, n: int, *, days: float = 12.0) -> list[Item]:
    """`n` distinct negative mentions of the brand spread over the last `days` days."""
    step = timedelta(days=days) / max(n, 1)
    return [Item(f"{prefix}{i}", f"Acme Air complaint {prefix}{i}",
                 f"Acme Air lost my bag on flight {prefix}{i} and the refund never came, terrible service "
                 f"number {i}", link=f"https://social.example/{prefix}/{i}", published=NOW - step * (i + 1))
            for i in range(n)]


def write_project(directory: Path, sources: Sequence[Mapping[str, Any]],
                  recipients: Sequence[Mapping[str, Any]] = RECIPIENTS, **extra: Any) -> Path:
    """sources.yaml and recipients.yaml for Acme Air in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = {"brand": {"name": "Acme Air", "keywords": ["acme"]}, "timezone": "UTC", "sources": list(sources),
            "topics": {"Baggage": ["bag", "luggage"], "Refunds": ["refund"]}, **extra}
    (directory / "sources.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    people = {"sender": SENDER, "timezone": "UTC", "send_at": "00:00", "recipients": list(recipients)}
    (directory / "recipients.yaml").write_text(yaml.safe_dump(people, sort_keys=False), encoding="utf-8")
    return directory


def feed_source(name: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "kind": "feed", "url": url, "channel": "twitter", **extra}


# -- the store, seen from outside ----------------------------------------------------------------------


def db_path(project: Path) -> Path:
    return project / "digest.sqlite3"


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=10)
    try:
        yield conn
    finally:
        conn.close()


def mention_ids(path: Path) -> set[tuple[str, str]]:
    """(source, external id) of every stored mention."""
    with connect(path) as conn:
        return set(conn.execute("SELECT source, external_id FROM mentions").fetchall())  # type: ignore[arg-type]


def ledger(path: Path) -> dict[tuple[str, str], str]:
    """(recipient, window key) -> status of every delivery."""
    with connect(path) as conn:
        return {(r, k): s for r, k, s in conn.execute("SELECT recipient, window_key, status FROM deliveries")}


def integrity(path: Path) -> str:
    with connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def age_claims(path: Path, by: timedelta) -> int:
    """Move every open claim `by` into the past, as if that much time had gone by; return how many."""
    with connect(path) as conn:
        rows = conn.execute("SELECT id, claimed_at FROM deliveries WHERE status = 'claimed'").fetchall()
        for rid, claimed_at in rows:
            older = datetime.fromisoformat(claimed_at) - by
            conn.execute("UPDATE deliveries SET claimed_at = ? WHERE id = ?", (older.isoformat(sep=" "), rid))
        conn.commit()
    return len(rows)


def dump(path: Path) -> str:
    """Every row of every table, as SQL text."""
    with connect(path) as conn:
        return "\n".join(conn.iterdump())


# -- processes -----------------------------------------------------------------------------------------


def digest_process(project: Path, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """`digest --config PROJECT ARGS` as a real child process (so that it can be killed)."""
    full = {**os.environ, **(env or {})}
    for var in ("DIGEST_DB", "DIGEST_CONFIG", "DIGEST_OUTBOX"):
        if var not in (env or {}):
            full.pop(var, None)
    return subprocess.Popen([sys.executable, "-m", "digest", "--config", str(project), *args], env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# -- a scriptable SMTP server --------------------------------------------------------------------------


@dataclass
class RawSmtp:
    """A minimal SMTP server on loopback, scripted per message.

    `plan` is consumed one entry per message (then "ok"): "ok" accepts; "drop" closes the connection
    halfway through the message; "hold" keeps the complete message (a server that got the final dot
    may deliver it) and waits for `release` before answering 250.
    """

    host: str = "127.0.0.1"
    port: int = 0
    plan: list[str] = field(default_factory=list)
    messages: list[EmailMessage] = field(default_factory=list)
    rcpt_reply: str | None = None  # e.g. "450 4.2.0 greylisted": the answer to every RCPT TO
    dropped: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def env(self) -> dict[str, str]:
        return {"DIGEST_SMTP_HOST": self.host, "DIGEST_SMTP_PORT": str(self.port), "DIGEST_SMTP_TLS": "none"}

    def to(self) -> list[str]:
        """The recipient of each complete message received, in order."""
        return [m["To"].addresses[0].addr_spec for m in self.messages]

    def next_step(self) -> str:
        return self.plan.pop(0) if self.plan else "ok"


class _SmtpHandler(socketserver.StreamRequestHandler):
    server: _SmtpTcp
    timeout = 30

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        smtp = self.server.smtp
        with contextlib.suppress(OSError):
            self.reply("220 raw.test ESMTP")
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.reply("250 raw.test")
                elif verb == b"QUIT":
                    self.reply("221 bye")
                    return
                elif verb == b"DATA":
                    if not self.data(smtp):
                        return
                elif verb == b"RCPT" and smtp.rcpt_reply:
                    self.reply(smtp.rcpt_reply)
                else:  # MAIL, RCPT, RSET, NOOP
                    self.reply("250 OK")

    def data(self, smtp: RawSmtp) -> bool:
        step = smtp.next_step()
        self.reply("354 go ahead")
        lines: list[bytes] = []
        while True:
            line = self.rfile.readline()
            if not line:
                return False
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)
            if step == "drop" and len(lines) > 20:
                smtp.dropped += 1
                # RST rather than FIN: the client sees the connection die under it
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return False
        msg = message_from_bytes(b"".join(lines), policy=policy.default)
        assert isinstance(msg, EmailMessage)
        smtp.messages.append(msg)
        if step == "hold":
            smtp.arrived.set()
            smtp.release.wait(30)
        self.reply("250 OK queued")
        return True


class _SmtpTcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    smtp: RawSmtp


@contextlib.contextmanager
def raw_smtp() -> Iterator[RawSmtp]:
    smtp = RawSmtp()
    server = _SmtpTcp(("127.0.0.1", 0), _SmtpHandler)
    server.smtp = smtp
    smtp.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield smtp
    finally:
        smtp.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
