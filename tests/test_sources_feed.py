"""The feed kind: each file in tests/feeds has its expected result beside it (NAME.expected.json), and is
fetched as a local path, as a file: URL and over HTTP, which must all give that result.

Regenerate the expected files after a deliberate change with DIGEST_REGEN_FEEDS=1 (then review the diff).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from digest.models import Mention, SourceResult
from digest.sources import KINDS, fetch_source
from digest.sources.feed import parse_feed
from digest.sources.presets import PRESETS
from tests.helpers_http import LocalServer, make_config, make_ctx, serving

FEEDS = Path(__file__).parent / "feeds"
CASES = sorted(p for p in FEEDS.iterdir() if p.is_file() and not p.name.endswith(".expected.json"))
MODES = ("path", "file_url", "http")
TYPES = {".json": "application/feed+json", ".html": "text/html; charset=utf-8"}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with serving() as s:
        for case in CASES:
            s.static(f"/{case.name}", case.read_bytes(), TYPES.get(case.suffix, "application/xml"))
        yield s


def as_dict(result: SourceResult) -> dict[str, Any]:
    """A result as JSON-able data, without the state (which holds a hash and, over HTTP, validators)."""
    return {
        "status": result.status,
        "error": result.error,
        "items_seen": result.items_seen,
        "mentions": [{**_set_fields(m), "published": m.published.isoformat()} for m in result.mentions],
    }


# thread fields (issue 16) and whom it is about (issue 17) are in the expected files only where an entry has them
_THREAD_DEFAULTS = {"reply_to": "", "scope": "", "addressed_to": (), "answered": None, "responded": None,
                    "about_brand": True, "competitors": ()}


def _set_fields(m: Mention) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(m).items() if k not in _THREAD_DEFAULTS or v != _THREAD_DEFAULTS[k]}


def fetch_case(case: Path, mode: str, server: LocalServer, session: requests.Session,
               source: dict[str, Any]) -> SourceResult:
    url = {"path": f"feeds/{case.name}", "file_url": case.as_uri(), "http": server.url(f"/{case.name}")}[mode]
    spec = {"name": "test feed", "kind": "feed", "url": url, "channel": "twitter", **source}
    config = make_config(FEEDS.parent, [spec])
    return fetch_source(config.sources.sources[0], make_ctx(config, session))


def test_every_case_has_an_expected_result() -> None:
    assert len(CASES) >= 10
    missing = [c.name for c in CASES if not (FEEDS / f"{c.name}.expected.json").exists()]
    assert not missing or os.environ.get("DIGEST_REGEN_FEEDS"), f"no expected result for {missing}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_feed_file(case: Path, mode: str, server: LocalServer, session: requests.Session) -> None:
    expected_file = FEEDS / f"{case.name}.expected.json"
    stored = json.loads(expected_file.read_text()) if expected_file.exists() else {"source": {}}
    got = as_dict(fetch_case(case, mode, server, session, stored["source"]))
    if os.environ.get("DIGEST_REGEN_FEEDS"):
        # a regenerated file compared with itself proves nothing: write it, and pass no case in this run
        if mode == "path":
            expected_file.write_text(json.dumps({"source": stored["source"], "expected": got}, indent=2,
                                                ensure_ascii=False) + "\n")
        pytest.skip(f"DIGEST_REGEN_FEEDS: {expected_file.name} written; review `git diff`, then run without it")
    assert got == stored["expected"]


def mentions_of(case: str, session: requests.Session, server: LocalServer, **source: Any) -> list[Any]:
    result = fetch_case(FEEDS / case, "path", server, session, source)
    assert result.status == "ok", result.error
    return list(result.mentions)


def test_hostile_text_comes_out_plain(session: requests.Session, server: LocalServer) -> None:
    mentions = {m.external_id: m for m in mentions_of("rss_hostile.xml", session, server)}
    first = mentions["hostile-1"]
    assert first.title == "Acme Air lost my bag"  # the script element is gone, content and all
    assert first.url is None  # javascript: never reaches an email
    assert "\r" not in first.author and "\n" not in first.author
    assert first.text == "Acme Air & friends ruined my trip"
    assert mentions["hostile-4"].url is None  # data: URL
    assert "\u202e" not in mentions["hostile-4"].text and "\u200b" not in mentions["hostile-4"].text
    second = mentions["https://social.example/eve/status/2"]
    assert second.title == "@AcmeAir refund <still> missing"  # plain text: the renderer escapes it
    assert second.url == "https://social.example/eve/status/2"
    assert "hostile-5" not in mentions  # dated 2100: skipped and named, as an export's row would be
    assert "excluded-1" not in mentions and "offbrand-1" not in mentions
    for m in mentions.values():
        assert "<script" not in m.title + m.text and "alert(" not in m.title + m.text


def test_brand_filter_off_keeps_everything(session: requests.Session, server: LocalServer) -> None:
    ids = {m.external_id for m in mentions_of("rss_hostile.xml", session, server, brand_filter=False)}
    assert {"excluded-1", "offbrand-1"} <= ids


def test_google_alerts_preset_unwraps_links(session: requests.Session, server: LocalServer) -> None:
    mentions = mentions_of("atom_google_alerts.xml", session, server, preset="google_alerts")
    assert [m.url for m in mentions] == [
        "https://news.example.com/2024/03/acme-routes",
        "https://travelwire.example.org/review?id=7",
        "https://www.google.com/url?rct=j&url=javascript:alert(1)",  # not unwrapped into javascript:
    ]
    assert mentions[0].title == "Acme Air adds three routes from Boston"
    assert mentions[1].title == "Review: flying Acme Air's premium economy"
    assert mentions[1].text == "Comfortable seats & attentive crew."


def test_google_alerts_without_preset_keeps_wrapped_links(session: requests.Session,
                                                          server: LocalServer) -> None:
    mentions = mentions_of("atom_google_alerts.xml", session, server)
    assert mentions[0].url is not None and mentions[0].url.startswith("https://www.google.com/url?")


def test_not_a_feed_names_the_problem(session: requests.Session, server: LocalServer) -> None:
    result = fetch_case(FEEDS / "not_a_feed.html", "http", server, session, {})
    assert result.status == "error"
    assert result.error == ("not a feed: got an HTML page, not RSS/Atom "
                            "(the page links to a feed: https://acme.example/news/feed.xml)")


def test_invalid_utf8_still_yields_entries(session: requests.Session, server: LocalServer) -> None:
    mentions = mentions_of("rss_invalid_utf8.xml", session, server)
    assert len(mentions) == 1 and mentions[0].title.startswith("Acme Air")


def test_unsupported_scheme(session: requests.Session, server: LocalServer) -> None:
    config = make_config(FEEDS.parent, [{"name": "f", "kind": "feed", "url": "ftp://x.example/feed.xml",
                                         "channel": "news"}])
    result = fetch_source(config.sources.sources[0], make_ctx(config, session))
    assert result.error == "unsupported URL scheme 'ftp': use http(s), a file: URL or a local path"


def test_missing_file(session: requests.Session, tmp_path: Path) -> None:
    config = make_config(tmp_path, [{"name": "f", "kind": "feed", "url": "nope.xml", "channel": "news"}])
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, state={"etag": "x"}))
    assert result.status == "error"
    assert result.error == f"file not found: {tmp_path / 'nope.xml'}"
    assert result.state == {"etag": "x"}  # an error keeps the previous state


def test_unchanged_file_is_not_modified(session: requests.Session, server: LocalServer) -> None:
    first = fetch_case(FEEDS / "rss_hostile.xml", "path", server, session, {})
    config = make_config(FEEDS.parent, [{"name": "f", "kind": "feed", "url": "feeds/rss_hostile.xml",
                                         "channel": "news"}])
    again = fetch_source(config.sources.sources[0], make_ctx(config, session, state=first.state))
    assert again.status == "not_modified" and again.mentions == ()


def _rss(*items: tuple[str, str]) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            + "".join(f"<item><guid>{guid}</guid><title>{title}</title><description>&lt;p&gt;{title} "
                      "&lt;b&gt;today&lt;/b&gt;&lt;/p&gt;</description></item>" for guid, title in items)
            + "</channel></rss>")


def _fetch_file(tmp_path: Path, session: requests.Session, state: dict[str, str],
                **brand: Any) -> SourceResult:
    extra = {"brand": brand} if brand else {}
    config = make_config(tmp_path, [{"name": "f", "kind": "feed", "url": "f.xml", "channel": "news"}], **extra)
    return fetch_source(config.sources.sources[0], make_ctx(config, session, state=state))


def test_a_changed_feed_gives_only_entries_it_did_not_serve_before(session: requests.Session,
                                                                   tmp_path: Path) -> None:
    feed = tmp_path / "f.xml"
    feed.write_text(_rss(("1", "acme lost my bag"), ("2", "acme is late"), ("3", "weather today")))
    first = _fetch_file(tmp_path, session, {})
    assert [m.external_id for m in first.mentions] == ["1", "2"] and first.items_seen == 3
    assert len(first.state["entries"].split()) == 3  # the filtered-out entry is remembered too

    feed.write_text(_rss(("4", "acme refund at last"), ("1", "acme lost my bag"), ("2", "acme is late"),
                         ("3", "weather today")))
    second = _fetch_file(tmp_path, session, first.state)
    assert second.status == "ok" and second.items_seen == 4
    assert [(m.external_id, m.text) for m in second.mentions] == [("4", "acme refund at last today")]

    # unchanged: what it remembers is kept for the next change
    third = _fetch_file(tmp_path, session, second.state)
    assert third.status == "not_modified" and third.state["entries"] == second.state["entries"]

    # an entry edited in place is read again (the store decides whether it is new)
    feed.write_text(_rss(("4", "acme refund at last"), ("1", "acme lost my bag, found it"),
                         ("2", "acme is late"), ("3", "weather today")))
    fourth = _fetch_file(tmp_path, session, third.state)
    assert [(m.external_id, m.text) for m in fourth.mentions] == [("1", "acme lost my bag, found it today")]


def test_new_brand_keywords_reconsider_entries_filtered_out_before(session: requests.Session,
                                                                   tmp_path: Path) -> None:
    feed = tmp_path / "f.xml"
    feed.write_text(_rss(("1", "acme lost my bag"), ("2", "the weather is awful")))
    first = _fetch_file(tmp_path, session, {})
    assert [m.external_id for m in first.mentions] == ["1"]
    feed.write_text(_rss(("3", "acme again"), ("1", "acme lost my bag"), ("2", "the weather is awful")))
    second = _fetch_file(tmp_path, session, first.state, name="Acme Air", keywords=["acme", "weather"])
    assert [m.external_id for m in second.mentions] == ["3", "1", "2"]


def test_remembered_entries_of_a_json_feed(session: requests.Session, tmp_path: Path) -> None:
    def doc(*ids: str) -> str:
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t",
                           "items": [{"id": i, "content_text": f"acme post {i}"} for i in ids]})

    feed = tmp_path / "f.xml"
    feed.write_text(doc("a", "b"))
    first = _fetch_file(tmp_path, session, {})
    feed.write_text(doc("c", "a", "b"))
    second = _fetch_file(tmp_path, session, first.state)
    assert [m.external_id for m in first.mentions] == ["a", "b"]
    assert [m.external_id for m in second.mentions] == ["c"] and second.items_seen == 3


# -- entity bombs and other hostile XML -----------------------------------------------------------------

LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10))
BILLION_LAUGHS = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol0 "lol">\n' + LAUGHS + "]>\n"
                  '<rss version="2.0"><channel><title>t</title><item><title>acme &lol9;</title>'
                  "<description>&lol9;</description></item></channel></rss>")
ONE_LINE_LAUGHS = BILLION_LAUGHS.replace(">\n<!ENTITY", "><!ENTITY")
QUADRATIC = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY a "' + "a" * 100_000 + '">\n]>\n'
             '<rss version="2.0"><channel><title>t</title><item><title>acme</title><description>'
             + "&a;" * 3000 + "</description></item></channel></rss>")
XXE = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n'
       '<rss version="2.0"><channel><title>t</title><item><title>acme &x;</title>'
       "<description>leak: &x;</description></item></channel></rss>")
PARAMETER = ('<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd">\n%p;\n]>\n'
             '<rss version="2.0"><channel><title>t</title><item><title>acme</title></item></channel></rss>')


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, ONE_LINE_LAUGHS, QUADRATIC, XXE, PARAMETER],
                         ids=["billion-laughs", "one-line-laughs", "quadratic", "xxe", "parameter-entity"])
def test_entity_tricks_neither_expand_nor_leak(doc: str, session: requests.Session, tmp_path: Path) -> None:
    (tmp_path / "bomb.xml").write_text(doc)
    config = make_config(tmp_path, [{"name": "b", "kind": "feed", "url": "bomb.xml", "channel": "news"}])
    started = time.monotonic()
    result = fetch_source(config.sources.sources[0], make_ctx(config, session))
    assert time.monotonic() - started < 5
    assert result.status in ("ok", "error") and (result.status == "ok" or result.error)
    for m in result.mentions:
        assert len(m.text) < 10_000 and "lollol" not in m.text and "root:" not in m.text
    if doc is QUADRATIC:
        assert result.error == ("not a feed: its XML entity declarations would expand it past 1 MiB "
                                "(an entity bomb?)")


def test_a_small_entity_is_still_expanded() -> None:
    doc = (b'<!DOCTYPE rss [\n<!ENTITY id "tag:example.com,">\n]>\n<rss version="2.0"><channel><item>'
           b'<guid isPermaLink="false">&id;2006</guid><title>acme</title></item></channel></rss>')
    assert [e.id for e in parse_feed(doc)] == ["tag:example.com,2006"]


def test_utf16_entity_bomb_is_refused() -> None:
    doc = QUADRATIC.replace('encoding="utf-8"', "").encode("utf-16")
    with pytest.raises(Exception, match="entity bomb"):
        parse_feed(doc)


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "not a feed: the response is empty"),
    (b"   \n", "not a feed: the response is empty"),
    (b"{not json", "not a feed: invalid JSON (Expecting property name enclosed in double quotes: line 1 "
                   "column 2 (char 1))"),
    (b'{"version": "1", "items": []}', "not a feed: JSON without a jsonfeed.org version"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": 3}',
     "not a feed: JSON Feed without an items list"),
    (b"[" * 100_000, "not a feed: no RSS, Atom or JSON Feed found"),
    (b"<foo><bar/></foo>", "not a feed: no RSS, Atom or JSON Feed found"),
    (b"\x00\x01\x02 binary", "not a feed: no RSS, Atom or JSON Feed found"),
])
def test_bodies_without_a_feed(body: bytes, reason: str) -> None:
    with pytest.raises(Exception) as info:
        parse_feed(body)
    assert str(info.value).startswith(reason)


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    with pytest.raises(Exception, match="not a feed: invalid JSON"):
        parse_feed(b'{"version": "https://jsonfeed.org/version/1", "items": ' + b"[" * 100_000)


def test_every_preset_runs_on_every_case(session: requests.Session, server: LocalServer) -> None:
    for case in CASES:
        for preset in PRESETS:
            result = fetch_case(case, "path", server, session, {"preset": preset, "brand_filter": False})
            assert result.status in ("ok", "error")
            assert not (result.error or "").startswith("unexpected"), (case.name, preset, result.error)


def test_a_bug_in_a_kind_becomes_an_error_result(session: requests.Session, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    def broken(spec: object, ctx: object) -> SourceResult:
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setitem(KINDS, "feed", broken)
    config = make_config(tmp_path)
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, state={"etag": "e"}))
    assert result.status == "error" and result.state == {"etag": "e"}
    assert result.error == "unexpected RuntimeError: boom second line"
    assert "Traceback" in caplog.text  # the bug is logged in full for whoever fixes it


def test_relative_links_resolve_against_the_feed_and_protocol_relative_ones_get_https(
        session: requests.Session, server: LocalServer, tmp_path: Path) -> None:
    links = {"r1": "/path/post-1", "r2": "post-2", "r3": "//other.example/x", "r4": "\\\\evil.example/y",
             "r5": "https://blog.example/ok"}
    items = "".join(f"<item><guid>{k}</guid><title>Acme Air {k}</title><link>{v}</link></item>"
                    for k, v in links.items())
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
    server.static("/feeds/acme.xml", body, "application/rss+xml")
    (tmp_path / "acme.xml").write_bytes(body)
    origin = server.url("/").rstrip("/")
    for url, expected in [
        (server.url("/feeds/acme.xml"), {"r1": f"{origin}/path/post-1", "r2": f"{origin}/feeds/post-2",
                                         "r3": "https://other.example/x", "r4": None,
                                         "r5": "https://blog.example/ok"}),
        # a local file has no origin to resolve against: only the absolute link stays a link
        (str(tmp_path / "acme.xml"), {"r1": None, "r2": None, "r3": None, "r4": None,
                                      "r5": "https://blog.example/ok"})]:
        config = make_config(tmp_path, [{"name": "blog", "kind": "feed", "url": url, "channel": "blogs"}])
        result = fetch_source(config.sources.sources[0], make_ctx(config, session))
        assert {m.external_id: m.url for m in result.mentions} == expected, url


def test_entries_without_text_are_counted_not_dropped_silently(session: requests.Session,
                                                               tmp_path: Path) -> None:
    (tmp_path / "f.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><guid>1</guid><title>acme lost my bag</title></item>"
        "<item><guid>2</guid></item><item><guid>3</guid><description>  </description></item>"
        "</channel></rss>")
    result = _fetch_file(tmp_path, session, {})
    assert [m.external_id for m in result.mentions] == ["1"] and result.items_seen == 3
    assert result.problems == ("2 items without text skipped",) and result.dropped == 2
    (tmp_path / "f.xml").write_text(_rss(("1", "acme lost my bag")))
    clean = _fetch_file(tmp_path, session, {})
    assert clean.problems == () and clean.dropped == 0
