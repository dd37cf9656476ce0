"""Hostile input end to end: bad servers in one real ingest, and hostile feed text through ingest, the store,
rendering and a real SMTP server into the received message."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest

from digest import periods
from digest.store import Store

from .conftest import SmtpServer, run_cli
from .helpers_faults import WEEKLY, Item, complaints, db_path, feed_source, feed_xml, mention_ids, write_project
from .helpers_http import LocalServer, send, serving


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DIGEST_SMTP_HOST", "DIGEST_SMTP_USER", "DIGEST_SMTP_PASSWORD", "DIGEST_DB", "DIGEST_CONFIG",
                "DIGEST_OUTBOX", "DIGEST_DB_BUSY_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)


# -- hostile servers, all in one ingest ------------------------------------------------------------------

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
BOMB = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">' + LAUGHS + ']><rss version="2.0"><channel>'
        "<title>t</title><item><guid>b1</guid><title>Acme &lol9;</title><description>&lol9;</description></item>"
        "</channel></rss>").encode()
# a UTF-8 feed with Windows-1252 bytes pasted in (\xe9 = é, \xe8 = è, \x92 = ’)
LATIN = (b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
         b"<item><guid>l1</guid><title>Acme Air caf\xe9 ch\xe8re</title><description>Acme Air didn\x92t refund me, "
         + "déjà vu".encode() + b"</description></item></channel></rss>")


@pytest.fixture
def hostile_server() -> Iterator[tuple[LocalServer, threading.Event]]:
    stop = threading.Event()

    def hang(h: BaseHTTPRequestHandler) -> None:
        stop.wait(30)

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.end_headers()
        while not stop.wait(1.0):  # one byte a second, for ever
            h.wfile.write(b" ")
            h.wfile.flush()

    def gigabytes(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Connection", "close")
        h.end_headers()
        chunk = b"<!-- " + b"x" * (1024 * 1024 - 9) + b" -->"
        for _ in range(4 * 1024):  # 4 GiB, generated as it is sent
            h.wfile.write(chunk)

    with serving() as server:
        server.route("/hang", hang)
        server.route("/drip", drip)
        server.route("/huge", gigabytes)
        server.route("/loop-a", lambda h: send(h, 302, b"", "text/plain", {"Location": "/loop-b"}))
        server.route("/loop-b", lambda h: send(h, 302, b"", "text/plain", {"Location": server.url("/loop-a")}))
        server.static("/bomb", BOMB)
        server.static("/latin", LATIN, "application/rss+xml; charset=utf-8")
        server.static("/good", feed_xml(complaints("g", 5)))
        try:
            yield server, stop
        finally:
            stop.set()


def test_hostile_servers_are_cut_off_and_reported(tmp_path: Path, clean_env: None,
                                                  hostile_server: tuple[LocalServer, threading.Event],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    server, _ = hostile_server
    names = {"Hang": "/hang", "Drip": "/drip", "Huge": "/huge", "Loop": "/loop-a", "Bomb": "/bomb",
             "Latin": "/latin", "Good": "/good"}
    project = write_project(tmp_path / "p", [feed_source(n, server.url(p), timeout=1) for n, p in names.items()])
    started = time.monotonic()
    r = run_cli(capsys, "--config", str(project), "ingest")
    elapsed = time.monotonic() - started
    assert r.code == 3, r.out + r.err
    assert "Traceback" not in r.err
    limit = "(limit 1 s per request, or the run's deadline)"
    expected = {
        "Hang": f"error · timed out waiting for the response {limit}",
        "Drip": f"error · timed out while reading the response {limit}",
        "Huge": "error · response larger than 10 MiB",
        "Loop": f"error · redirect loop: {server.url('/loop-b')} -> {server.url('/loop-a')}",
        "Bomb": "error · not a feed: its XML entity declarations would expand it past 1 MiB (an entity bomb?)",
        "Latin": f"ok · 1 items, 1 about the brand (invalid UTF-8 from byte {LATIN.index(0xE9)}: 3 bytes read as "
                 "Windows-1252)",
        "Good": "ok · 5 items, 5 about the brand",
    }
    got = dict(re.findall(r"^  (\w+) \[twitter\]: (.*)$", r.out, re.MULTILINE))
    assert got == expected
    assert r.out.endswith("7 sources: 2 ok, 0 not modified, 5 failed · 6 new mentions\n")
    # every bound is a few seconds at most; none waited for the server to give up
    assert elapsed < 20
    db = db_path(project)
    assert mention_ids(db) == {("Good", f"g{i}") for i in range(5)} | {("Latin", "l1")}
    store = Store.open(f"sqlite:///{db}")
    try:
        health = {h.name: h.last_error for h in store.health()}
        latin = store.mentions(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
    finally:
        store.close()
    # the digest's data health names each failure and its reason
    assert health == {n: (e.split(" · ", 1)[1] if e.startswith("error") else None) for n, e in expected.items()}
    [(title, text)] = latin[latin["source"] == "Latin"][["title", "text"]].itertuples(index=False)
    assert (title, text) == ("Acme Air café chère", "Acme Air didn’t refund me, déjà vu")


# -- hostile text, ingest to inbox -------------------------------------------------------------------------

HOSTILE_LINKS = ["javascript:alert('link')", " JaVaScRiPt:alert(1)", "java\tscript:alert(2)",
                 "data:text/html;base64,PHNjcmlwdD5hbGVydCgzKTwvc2NyaXB0Pg==", "vbscript:msgbox(4)",
                 "//evil.example/protocol-relative", "https://evil.example/\"><script>alert(5)</script>"]


def hostile_items(at: datetime) -> list[Item]:
    """Negative, on-topic mentions (so the digest quotes them) whose every part is hostile."""
    long_word = "A" * 10_000
    items = [
        Item("h1", 'Acme Air <script>alert("title")</script> lost my bag',
             'Acme Air lost my bag <img src=x onerror="alert(1)"> awful <a href="javascript:alert(2)" '
             'onclick="alert(3)" onmouseover=alert(4)>refund</a> never came <iframe src="https://evil.example">',
             author="Eve\r\nBcc: victim@evil.example", link=HOSTILE_LINKS[0]),
        Item("h2", "Acme Air \u202eterrible\u202c refund <b onload=alert(6)>fail</b>",
             # shown as text, not markup: the feed escaped it twice
             "Acme Air lost my bag &lt;script&gt;alert(7)&lt;/script&gt; and the refund is late, terrible",
             author="Mallory <mallory@evil.example>\nBcc: x@evil.example\r\nX-Evil: 1", link=HOSTILE_LINKS[1]),
        Item("h3", "Acme Air lost bag " + long_word, f"Acme Air terrible bag loss {long_word} refund denied",
             author="\u202eMallory\x00\x07", link=HOSTILE_LINKS[2]),
        Item("h4", "Acme Air refund <style>body{display:none}</style> refused",
             "Acme Air lost my bag again <svg onload=alert(8)><script>alert(9)</script></svg> worst airline",
             author="<script>alert(10)</script>", link=HOSTILE_LINKS[3]),
        Item("h5", "Acme Air terrible baggage service", "Acme Air lost my luggage and refund was denied, awful",
             author="Trudy", link=HOSTILE_LINKS[4]),
        Item("h6", "Acme Air bag lost again", "Acme Air lost my bag, refund please, terrible airline",
             author="Oscar", link=HOSTILE_LINKS[5]),
        Item("h7", "Acme Air lost my bag", "Acme Air lost my bag, terrible, no refund at all",
             author="Peggy", link=HOSTILE_LINKS[6]),
        Item("ok1", "Acme Air lost my bag, awful", "Acme Air lost my bag and the refund is terrible",
             author="Walter", link="https://social.example/ok"),
    ]
    for i, item in enumerate(items):
        item.published = at + timedelta(hours=i)
    return items


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def test_hostile_text_never_becomes_markup_links_or_headers(tmp_path: Path, clean_env: None,
                                                            smtp_server: SmtpServer,
                                                            capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    week = periods.last_complete("weekly", datetime.now(UTC), ZoneInfo("UTC"))
    project = tmp_path / "p"
    project.mkdir()
    (project / "h.xml").write_bytes(feed_xml(hostile_items(week.start_utc + timedelta(days=2))))
    write_project(project, [feed_source("Hostile", "h.xml")])
    assert run_cli(capsys, "--config", str(project), "ingest").code == 0
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    r = run_cli(capsys, "--config", str(project), "send", "weekly")
    assert r.code == 0, r.out + r.err
    # the envelope went to the configured recipients and nobody else: no injected Bcc
    assert sorted(rcpt for _, [rcpt] in smtp_server.envelopes) == WEEKLY
    for msg in smtp_server.messages:
        check_headers(msg)
        # line ends are CRLF on the wire; any other CR is the feed's
        html = msg.get_body(("html",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        text = msg.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
        check_html(html)
        check_text(text)
    # the hostile mentions really are in the digest (else this test would prove nothing)
    ceo = next(m for m in smtp_server.messages if m["To"].addresses[0].addr_spec == "ceo@acme.example")
    html = ceo.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "https://social.example/ok" in html
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in html  # shown, escaped
    assert "lost my bag" in html


def check_headers(msg: EmailMessage) -> None:
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert set(msg.keys()) <= {"From", "To", "Subject", "Date", "Message-ID", "Auto-Submitted",
                               "X-Auto-Response-Suppress", "List-Id", "MIME-Version", "Content-Type",
                               "X-Peer", "X-MailFrom", "X-RcptTo"}
    for name, value in msg.items():
        assert "\n" not in str(value) and "\r" not in str(value), name
    assert len(msg["To"].addresses) == 1


def check_html(html: str) -> None:
    parser = Elements()
    parser.feed(html)
    tags = parser.tags
    assert tags, "no HTML"
    for tag, attrs in tags:
        assert tag not in ("script", "iframe", "frame", "object", "embed", "applet", "svg", "form", "base"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name in ("href", "src", "action", "background", "formaction", "xlink:href"):
                assert value is not None
                scheme = urlsplit(value).scheme
                assert scheme in ("http", "https", "mailto") or (name == "src" and scheme == "cid"), (tag, value)
                assert "evil.example" not in value, value
    for bad in ("javascript:", "vbscript:", "data:text", "onerror", "onclick", "onload", "onmouseover"):
        assert bad not in html.lower(), bad
    assert "alert(2)" not in html and "alert(1)" not in html  # markup attributes are dropped, not shown
    assert "body{display:none}" not in html  # a <style> in a title is dropped with its content
    assert not CONTROL.search(html)
    assert "A" * 1000 not in html  # a 10,000-letter word is cut, not allowed to blow up the layout
    assert len(html.encode()) < 102 * 1024


def check_text(text: str) -> None:
    assert not CONTROL.search(text.replace("\t", " "))
    # names and titles are text here (an author may well be called "Eve Bcc: ..."), links are not
    for bad in ("javascript:", "vbscript:", "data:text", "//evil.example"):
        assert bad not in text.lower(), bad
    assert "<img" not in text and "onerror" not in text
    assert "A" * 1000 not in text


# -- a post two sources deliver ---------------------------------------------------------------------------

def test_a_post_two_sources_deliver_is_credited_by_sources_yaml_order_in_every_run(
        tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's example: a blog post reached through Google Alerts and through the blog's own feed. Whichever
    source is fetched (and stored) first, the post counts once, for the source listed first in sources.yaml,
    and keeps both sources."""
    posts = complaints("p", 4)
    with serving() as server:
        server.static("/blog", feed_xml(posts))
        # Google Alerts gives the same posts under ids and titles of its own
        server.static("/alerts", feed_xml([Item(f"alert-{p.guid}", f"Alert: {p.title}", p.text, link=p.link,
                                                published=p.published) for p in posts]))
        project = write_project(tmp_path / "p", [
            feed_source("Blog feed", server.url("/blog"), channel="blog"),
            feed_source("Google Alerts", server.url("/alerts"), channel="news"),
        ])
        # Google Alerts is stored first (alone, as when the blog's feed is slow or down) ...
        assert run_cli(capsys, "--config", str(project), "ingest", "--source", "Google Alerts").code == 0
        assert {s for s, _ in mention_ids(db_path(project))} == {"Google Alerts"}
        # ... and the next full run credits the posts to the blog's feed, listed first
        assert run_cli(capsys, "--config", str(project), "ingest").code == 0
        assert run_cli(capsys, "--config", str(project), "ingest").code == 0
    assert mention_ids(db_path(project)) == {("Blog feed", p.guid) for p in posts}
    store = Store.open(f"sqlite:///{db_path(project)}")
    try:
        frame = store.mentions(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
        assert set(frame["channel"]) == {"blog"}
        assert set(map(tuple, store.sources_of(frame["id"]).values())) == {("Blog feed", "Google Alerts")}
        utc = ZoneInfo("UTC")
        facts = store.facts(periods.Window("monthly", datetime.now(utc) - timedelta(days=60),
                                           datetime.now(utc) + timedelta(days=1)))
    finally:
        store.close()
    # the rollups moved with the credit: no channel counts a post twice
    assert facts.counts[facts.counts["n"] != 0].groupby("channel")["n"].sum().to_dict() == {"blog": 4}


# -- the per-source deadline, through the real command ---------------------------------------------------------


def test_each_source_has_a_deadline_of_four_timeouts_and_at_least_a_minute(
        tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """README: a deadline per source of 4 x `timeout`, at least 60 s. A 503 or 429 asking for a pause is retried when
    the pause still fits in the deadline, and refused (named) when it does not -- whatever the request timeout."""
    asked: dict[str, int] = {}

    def busy_then_ok(code: int, retry_after: int) -> Callable[[BaseHTTPRequestHandler], None]:
        def route(h: BaseHTTPRequestHandler) -> None:
            n = asked[h.path] = asked.get(h.path, 0) + 1
            if n == 1:
                send(h, code, b"busy", "text/plain", {"Retry-After": str(retry_after)})
            else:
                send(h, 200, feed_xml(complaints(h.path.strip("/"), 2)), "application/rss+xml")
        return route

    with serving() as server:
        for path, code, pause in [("/short", 503, 5), ("/long", 429, 61), ("/longer", 429, 81)]:
            server.route(path, busy_then_ok(code, pause))
        project = write_project(tmp_path / "p", [
            # timeout 1 s: the deadline is the minute, so a 5 s pause (more than the timeout) is waited for
            feed_source("Short", server.url("/short"), timeout=1),
            # ... and a 61 s one is not
            feed_source("Long", server.url("/long"), timeout=1),
            # timeout 20 s: 4 x 20 = 80 s, so 81 s does not fit either
            feed_source("Longer", server.url("/longer"), timeout=20),
        ])
        started = time.monotonic()
        r = run_cli(capsys, "--config", str(project), "ingest")
        elapsed = time.monotonic() - started
    got = dict(re.findall(r"^  (\w+) \[twitter\]: (.*)$", r.out, re.MULTILINE))
    assert r.code == 3, r.out + r.err
    assert got["Short"] == "ok · 2 items, 2 about the brand"
    assert got["Long"] == ("error · rate limited (HTTP 429): the server asks to retry after 61 s, "
                           "more than the time left")
    assert got["Longer"] == ("error · rate limited (HTTP 429): the server asks to retry after 81 s, "
                             "more than the time left")
    assert asked == {"/short": 2, "/long": 1, "/longer": 1}
    assert 5 <= elapsed < 40  # the short pause was really waited; the long ones were not
