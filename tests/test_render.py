"""render_digest / render_alert: templates, escaping, subject, text part, premailer without network."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from digest import periods
from digest.analysis import Spike, Summary, summarize, to_quotes
from digest.errors import RenderError
from digest.models import SourceHealth
from digest.render import (
    HTML_BUDGET,
    SUBJECT_CHARS,
    Templates,
    default_templates_dir,
    render_alert,
    render_digest,
)

from . import factories as f

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WEEK = periods.last_complete("weekly", NOW, TZ)
PREV = periods.previous(WEEK)


def block(n: int, window: periods.Window, **kw: object) -> pd.DataFrame:
    return f.mentions(n, window.start_utc, window.end_utc, **kw)  # type: ignore[arg-type]


def known_summary(brand: str = "Acme Air") -> Summary:
    cur = f.concat(
        block(10, WEEK, channel="twitter", sentiment="negative", topics=["Baggage"],
              text=[f"my bag went to Denver, trip {i}" for i in range(10)]),
        block(5, WEEK, channel="twitter", sentiment="positive", text="the crew were lovely"),
        block(4, WEEK, channel="call_center", sentiment="negative", topics=["Billing"], url=None,
              text="charged twice for one seat"),
        block(1, WEEK, channel="call_center", sentiment="neutral", url=None),
    )
    prev = f.concat(block(5, PREV, sentiment="negative", topics=["Baggage"]), block(5, PREV))
    return summarize(cur, prev, WEEK, PREV, brand=brand, now=NOW, praise_topics={"Crew": ["crew"]})


class Tags(HTMLParser):
    """Every element and attribute of a document, as a browser would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(html: str) -> list[tuple[str, dict[str, str | None]]]:
    p = Tags()
    p.feed(html)
    return p.tags


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


@pytest.fixture(scope="module")
def known(templates: Templates) -> tuple[Summary, object]:
    s = known_summary()
    return s, render_digest(s, recipient_name="Dana Chief", templates=templates)


# -- templates ---------------------------------------------------------------------------------------------


def test_default_templates_are_the_source_tree_folder_in_a_checkout() -> None:
    assert default_templates_dir() == ROOT / "templates"
    for name in ("digest.html.j2", "digest.txt.j2", "digest.subject.j2", "alert.html.j2", "alert.txt.j2",
                 "alert.subject.j2"):
        assert (ROOT / "templates" / name).is_file()


def test_user_templates_come_first(tmp_path: Path) -> None:
    (tmp_path / "digest.subject.j2").write_text("Custom {{ summary.brand }} {{ summary.period }}")
    r = render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))
    assert r.subject == "Custom Acme Air weekly"
    assert "Top complaints" in r.html  # the other templates still come from the defaults


def test_misspelt_variable_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "digest.subject.j2").write_text("{{ summary.brand }}\n{{ summary.brnad }}")
    with pytest.raises(RenderError, match=r"digest\.subject\.j2:2: .*brnad"):
        render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))
    (tmp_path / "digest.subject.j2").unlink()
    (tmp_path / "digest.txt.j2").write_text("{{ sumary.headline }}")
    with pytest.raises(RenderError, match=r"digest\.txt\.j2:1: 'sumary' is undefined"):
        render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "digest.txt.j2").write_text("ok\n{% if summary.empty %}\nno endif")
    with pytest.raises(RenderError, match=r"digest\.txt\.j2:3: "):
        render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))


def test_missing_user_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="templates folder not found"):
        Templates(tmp_path / "nope")


def test_user_html_templates_are_autoescaped(tmp_path: Path) -> None:
    (tmp_path / "digest.html.j2").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head>'
        "<body><p>{{ '<b>x</b>' }}</p></body></html>")
    r = render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))
    assert "&lt;b&gt;x&lt;/b&gt;" in r.html and "<b>x</b>" not in r.html


# -- the digest --------------------------------------------------------------------------------------------


def test_subject(known: tuple[Summary, object]) -> None:
    _, r = known
    assert r.subject == "Acme Air weekly · Week 47 (16–22 Nov 2026): 20 mentions, 70% negative (+20 pts)"  # type: ignore[attr-defined]


def test_subject_of_an_empty_period_and_a_long_brand(templates: Templates) -> None:
    empty = summarize(f.empty(), f.empty(), WEEK, PREV, brand="Acme Air", now=NOW)
    r = render_digest(empty, recipient_name="Dana", templates=templates)
    assert r.subject == "Acme Air weekly · Week 47 (16–22 Nov 2026): no mentions collected"
    long = render_digest(known_summary("Acme Intercontinental Airways " * 4), recipient_name="D",
                         templates=templates)
    assert len(long.subject) <= SUBJECT_CHARS and long.subject.endswith("…")


def test_html_structure(known: tuple[Summary, object]) -> None:
    s, r = known
    html: str = r.html  # type: ignore[attr-defined]
    assert html.startswith("<!DOCTYPE html>")
    tags = parse(html)
    assert ("html", {"lang": "en"}) == (tags[0][0], {"lang": tags[0][1].get("lang")})
    metas = {a.get("name"): a.get("content") for t, a in tags if t == "meta"}
    assert metas["color-scheme"] == "light dark" and metas["supported-color-schemes"] == "light dark"
    assert all(a.get("role") == "presentation" for t, a in tags if t == "table")
    assert "<!--[if mso]>" in html and 'width="600"' in html
    assert "prefers-color-scheme:dark" in html and "max-width:480px" in html
    assert not [a for t, a in tags if t in ("img", "link", "script")]  # no external or hidden resources
    # premailer inlined the card style, and kept the class for dark mode
    card = next(a for t, a in tags if t == "td" and a.get("class") == "card")
    assert "background-color:#fff" in (card.get("style") or "")
    # the hidden preheader carries the headline
    assert r.preheader == s.headline  # type: ignore[attr-defined]
    assert "display:none" in html.split(s.headline)[0][-400:]


def test_html_shows_every_section(known: tuple[Summary, object]) -> None:
    s, r = known
    html: str = r.html  # type: ignore[attr-defined]
    for text in ("Complaints rose 180% to 14, driven by Baggage; negative share 70% (+20 pts).",
                 "Mentions by day", "By channel", "Call center", "Top complaints", "Baggage", "Billing",
                 "my bag went to Denver", "charged twice for one seat", "Most negative",
                 "What customers praise", "the crew were lovely", "Data health",
                 "No source status was recorded", "recipients.yaml", "Dana Chief", "▲&nbsp;+180%"):
        assert text in html.replace("\xa0", "&nbsp;"), text
    hrefs = [a["href"] for t, a in parse(html) if t == "a" and a.get("href")]
    assert "https://twitter.example/post/1" in hrefs
    assert html.count('class="bad"') >= 3  # bad news in red: negative share, complaints, topics


def test_text_part(known: tuple[Summary, object]) -> None:
    s, r = known
    text: str = r.text  # type: ignore[attr-defined]
    assert s.headline in text
    for kpi in s.kpis:
        assert kpi.label in text and kpi.display in text
    for line in ("Mentions             20  ▲ +100% (was 10)", "Complaints           14  ▲ +180% (was 5)",
                 "Baggage: 10 (71%) ▲ +100%", '"my bag went to Denver, trip', '"charged twice for one seat"',
                 "https://twitter.example/post/1", "DATA HEALTH", "recipients.yaml"):
        assert line in text, line
    assert "<" not in text and "&nbsp;" not in text and "&amp;" not in text
    assert "\n\n\n" not in text and "\n  Crew 5\n" in text
    # every section heading (a line in capitals) has a blank line before it and its first line right after
    lines = text.splitlines()
    headings = [i for i, line in enumerate(lines) if i > 3 and line[:1].isupper() and line.split(" (")[0].isupper()]
    assert len(headings) >= 5 and "BY CHANNEL" in [lines[i] for i in headings]
    for i in headings:
        assert lines[i - 1] == "" and lines[i + 1].strip(), lines[i - 1: i + 2]


def test_and_n_more_is_singular_for_one(templates: Templates) -> None:
    """"and 1 more topic", not "topics"; a user's template that passes one noun (the old form) still renders."""
    from digest.analysis.summary import Capped

    html = templates.env.from_string('{% import "_macros.html.j2" as m %}'
                                     '{{ m.more(one, "topic", "topics") }}|{{ m.more(two, "topic", "topics") }}|'
                                     '{{ m.more(one, "topics") }}|{{ m.more(none_left, "topic", "topics") }}')
    got = html.render(one=Capped((), 1), two=Capped((), 2), none_left=Capped((1, 2), 2))
    assert [part.split(">", 1)[-1].split("<", 1)[0] for part in got.split("|")] == [
        "and 1 more topic", "and 2 more topics", "and 1 more topics", ""]


def test_hostile_feed_text_never_becomes_markup_or_a_link(templates: Templates) -> None:
    n = len(f.HOSTILE_TEXTS) * len(f.HOSTILE_URLS)
    cur = f.concat(
        block(n, WEEK, sentiment=["negative", "positive"], topics=[["<script>x</script>"], ["Baggage"]],
              text=list(f.HOSTILE_TEXTS), url=list(f.HOSTILE_URLS), author=list(f.HOSTILE_AUTHORS),
              title=list(f.HOSTILE_TEXTS), influence=[float(i) for i in range(n)],
              channel=["twitter", "<img src=x onerror=alert(1)>"]),
    )
    health = [SourceHealth('<svg onload="alert(1)">', "twitter", NOW, None, "<script>boom</script>\r\nX: y",
                           2, 0)]
    s = summarize(cur, f.empty(), WEEK, PREV, brand="Acme\r\nBcc: victim@example.com <b>", now=NOW,
                  health=health)
    r = render_digest(s, recipient_name="<i>Dana</i>\r\nX: y", templates=templates)
    tags = parse(r.html)
    allowed = {"html", "head", "meta", "title", "style", "body", "div", "table", "tr", "td", "p", "span", "a",
               "b", "br", "h1"}
    assert {t for t, _ in tags} <= allowed
    assert sum(1 for t, _ in tags if t == "style") == 1  # ours, in the head
    for tag, attrs in tags:
        assert not [k for k in attrs if k.startswith("on")], (tag, attrs)
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("https://", "http://", "mailto:")), href
            assert not any(c in href for c in "<>\"' \r\n"), href
    assert "<script" not in r.html and "<img" not in r.html and "<svg" not in r.html
    assert "&lt;script&gt;" in r.html  # shown, as text
    for header in (r.subject, r.preheader):
        assert "\r" not in header and "\n" not in header
    assert "Bcc: victim@example.com <b>" in r.subject  # a subject is text; the mailer encodes it
    assert "\r" not in r.text


def test_huge_escaped_text_still_fits_the_budget(templates: Templates) -> None:
    w = periods.last_complete("monthly", NOW, TZ)
    n = 3000
    cur = f.random_mentions(n, w.start_utc, w.end_utc, channels=[f'c&"{i}' * 6 for i in range(30)],
                            topics=[f'T&"<{i}' * 8 for i in range(20)])
    cur["text"] = ['"&<>' * 80 + str(i) for i in range(n)]  # every character grows 4-6x when escaped
    cur["author"] = ['&"' * 40] * n
    cur["url"] = ["https://e.example/?" + "a=1&" * 500] * n
    s = summarize(cur, f.empty(), w, periods.previous(w), brand="Acme", now=NOW)
    r = render_digest(s, recipient_name="Dana", templates=templates)
    assert len(r.html.encode()) <= HTML_BUDGET
    assert "and " in r.html and "more" in r.html  # what was left out is counted
    # the plain-text part keeps the characters as written (escaping is the HTML part's business)
    assert '"&<>"&<>' in r.text and "&quot;" not in r.text and "&amp;" not in r.text and "&lt;" not in r.text
    assert "&<>" not in r.html and '"&amp;&lt;&gt;"&amp;&lt;&gt;' in r.html  # a quote needs no escape in text


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any attempt to resolve or connect fails the test."""
    attempts: list[object] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(args)
        raise AssertionError(f"network access: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts


def test_premailer_makes_no_network_access(no_network: list[object], tmp_path: Path) -> None:
    # a user template that links an external stylesheet and a CSS image: premailer must not fetch them
    (tmp_path / "digest.html.j2").write_text(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="https://cdn.example/x.css">'
        "<style>.x{color:red;background:url(https://cdn.example/i.png)}</style></head>"
        '<body><p class="x">{{ summary.headline }}</p></body></html>')
    r = render_digest(known_summary(), recipient_name="Dana", templates=Templates(tmp_path))
    assert 'style="color:red' in r.html
    r = render_digest(known_summary(), recipient_name="Dana", templates=Templates())
    assert no_network == []


# -- alerts ------------------------------------------------------------------------------------------------


def spike(**kw: object) -> Spike:
    start = datetime(2026, 11, 24, 14, tzinfo=TZ)
    examples = to_quotes(block(3, WEEK, sentiment="negative", text=list(f.HOSTILE_TEXTS[:3]),
                               url=["https://t.example/1", "javascript:alert(1)", None]), TZ)
    fields: dict[str, object] = {
        "brand": "Acme Air", "start": start, "end": start + timedelta(hours=1), "negative": 84,
        "baseline_per_hour": 20.0, "phrases": ("lost bag", "<b>on hold</b>"), "examples": examples,
        "channels": ("Twitter", "Reddit"), "generated_at": start,
    }
    fields.update(kw)
    return Spike(**fields)  # type: ignore[arg-type]


def test_alert(templates: Templates) -> None:
    r = render_alert(spike(), templates=templates, recipient_name="On call")
    assert r.subject == "Alert · Acme Air: 84 negative mentions in 1 h (4.2× usual)"
    assert r.html.startswith("<!DOCTYPE html>")
    assert "84 negative mentions in 1 h, 4.2× the usual 20 (Tue 24 Nov 14:00–15:00 EST)." in r.html
    assert "&lt;b&gt;on hold&lt;/b&gt;" in r.html and "<script" not in r.html
    assert [a["href"] for t, a in parse(r.html) if t == "a"] == ["https://t.example/1"]
    assert r.preheader in r.text and '"lost bag", "<b>on hold</b>"' in r.text
    assert "https://t.example/1" in r.text and "javascript" not in r.text.split("EXAMPLES")[1].split('"')[0]


def test_alert_without_baseline(templates: Templates) -> None:
    r = render_alert(spike(baseline_per_hour=0.0, examples=(), phrases=(), channels=()), templates=templates)
    assert r.subject == "Alert · Acme Air: 84 negative mentions in 1 h (usually none)"
    assert "where there are usually none" in r.text


def test_source_problems_are_flagged_under_the_headline(templates: Templates) -> None:
    health = [SourceHealth("Reddit", "reddit", NOW, NOW - timedelta(days=3), "HTTP 503", 4, 0),
              SourceHealth("Twitter", "twitter", NOW, NOW, None, 0, 9)]
    cur = block(5, WEEK)
    s = summarize(cur, f.empty(), WEEK, PREV, brand="Acme Air", now=NOW, health=health)
    r = render_digest(s, recipient_name="Dana", templates=templates)
    warning = "1 of 2 sources had problems: figures may be incomplete"
    assert warning in r.html and r.html.index(warning) < r.html.index("Mentions by day")
    assert warning in r.text and r.text.index(warning) < r.text.index("KEY FIGURES")
    assert "Reddit</b> (Reddit): failed 4 times in a row (HTTP 503); last success 3 days ago" in r.html


def test_an_installed_wheel_uses_its_package_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import digest.render as render_module

    packaged = tmp_path / "digest" / "templates"
    packaged.mkdir(parents=True)
    monkeypatch.setattr(render_module, "_PACKAGED", packaged)
    assert default_templates_dir() == packaged
