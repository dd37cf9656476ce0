"""Every cadence over two years of mentions whose counts are known, daylight-saving days, time zones and
channel filters; then the unattended promises (first run, catch-up, send time, never twice, retry)
against a real SMTP server, with "now" under the test's control."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from digest import periods, pipeline
from digest.analysis import summarize
from digest.config import Config, smtp_settings
from digest.mailer import SmtpMailer
from digest.periods import PERIODS, Period
from digest.render import Templates
from digest.store import Store
from digest.store.schema import deliveries, meta

from .conftest import PG_AVAILABLE, PG_REQUIRED, PG_URL, SmtpServer, free_port, pg_schema_url, run_cli
from .helpers_cadence import (
    ALL,
    NY,
    RECIPIENTS,
    TOKYO,
    Generated,
    expected,
    fill,
    generate,
    write_config,
    write_exports,
)

TEMPLATES = Templates()
DATE = "2026-04-15"  # a Wednesday, after the spring change: March holds a 23-hour day


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


def tokyo(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


@dataclass
class History:
    url: str
    store: Store
    directory: Path
    config: Config


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def history(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    """Two years and four months of generated mentions (New York days), once per backend."""
    directory = tmp_path_factory.mktemp("history")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{directory / 'store.sqlite3'}"
        else:
            if not PG_AVAILABLE:
                if PG_REQUIRED:
                    pytest.fail(f"PostgreSQL is required in CI but {PG_URL} does not answer")
                pytest.skip(f"no PostgreSQL at {PG_URL}")
            url = stack.enter_context(pg_schema_url())
        store = Store.open(url)
        stack.callback(store.close)
        fill(store)
        assert store.count_mentions() == len(ALL)
        yield History(url, store, directory, write_config(directory))


@pytest.fixture
def ledger(history: History) -> History:
    """The history with an empty delivery ledger and no installation date: a new installation."""
    with history.store.engine.begin() as conn:
        conn.execute(sa.delete(deliveries))
        conn.execute(sa.delete(meta))
    return history


# -- the five periods, as of 2026-04-15 in New York -------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    label: str
    start: datetime
    end: datetime
    previous_start: datetime  # the previous window ends at `start`
    year_ago: tuple[datetime, datetime] | None
    grain: str
    bucket_starts: list[datetime]


def _days(first: date, last: date) -> list[datetime]:
    n = (last - first).days
    return [ny(d.year, d.month, d.day) for d in (first + timedelta(days=i) for i in range(n + 1))]


WINDOWS: dict[Period, Expect] = {
    "daily": Expect("Tue 14 Apr 2026", ny(2026, 4, 14), ny(2026, 4, 15), ny(2026, 4, 13), None, "hour",
                    [ny(2026, 4, 14).astimezone(UTC) + timedelta(hours=h) for h in range(24)]),
    "weekly": Expect("Week 15 (6–12 Apr 2026)", ny(2026, 4, 6), ny(2026, 4, 13), ny(2026, 3, 30), None, "day",
                     _days(date(2026, 4, 6), date(2026, 4, 12))),
    "monthly": Expect("March 2026", ny(2026, 3, 1), ny(2026, 4, 1), ny(2026, 2, 1), None, "day",
                      _days(date(2026, 3, 1), date(2026, 3, 31))),
    "quarterly": Expect("Q1 2026", ny(2026, 1, 1), ny(2026, 4, 1), ny(2025, 10, 1), (ny(2025, 1, 1), ny(2025, 4, 1)),
                        "week", [ny(2026, 1, 1)] + [ny(2026, 1, 5) + timedelta(weeks=k) for k in range(13)]),
    "annual": Expect("2025", ny(2025, 1, 1), ny(2026, 1, 1), ny(2024, 1, 1), (ny(2024, 1, 1), ny(2025, 1, 1)),
                     "month", [ny(2025, m, 1) for m in range(1, 13)]),
}
COMPARED = {"daily": "Compared with Mon 13 Apr 2026", "weekly": "Compared with Week 14 (30 Mar – 5 Apr 2026)",
            "monthly": "Compared with February 2026", "quarterly": "Compared with Q4 2025 and Q1 2025",
            "annual": "Compared with 2024"}  # a year ago is the year before
BUCKETS = {"daily": 24, "weekly": 7, "monthly": 31, "quarterly": 14, "annual": 12}


def _key_figure(text: str, label: str = "Mentions") -> tuple[int, int | None]:
    """(value, previous value) of a KEY FIGURES line of the plain-text digest."""
    m = re.search(rf"^  {label}\s+([\d,]+)  (?:.*?\(was ([\d,]+)\))?", text, re.M)
    assert m, text[:800]
    return int(m[1].replace(",", "")), int(m[2].replace(",", "")) if m[2] else None


@pytest.mark.parametrize("period", PERIODS)
def test_preview_of_every_period_counts_the_window_and_the_one_before(
        history: History, period: Period, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "digest.txt"
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", period, "--date", DATE,
                "--out", str(out))
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    e = WINDOWS[period]
    head = text.splitlines()[:3]
    assert head[1] == e.label
    current, before = expected(e.start, e.end), expected(e.previous_start, e.start)
    assert current != before  # the data tells the two windows apart
    assert _key_figure(text) == (current, before)
    assert head[2].startswith(COMPARED[period])


def _generated(start: datetime, end: datetime, channels: Sequence[str] | None = None) -> list[Generated]:
    return [g for g in ALL if start <= g.published < end and (channels is None or g.channel in channels)]


@pytest.mark.parametrize("period", PERIODS)
def test_json_preview_gives_the_figures_of_every_period(
        history: History, period: Period, capsys: pytest.CaptureFixture[str]) -> None:
    """`preview --format json`: counts, shares (fractions), channels and window, against the generator."""
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", period, "--date", DATE,
                "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    e = WINDOWS[period]
    assert (doc["period"], doc["label"], doc["timezone"]) == (period, e.label, "America/New_York")
    assert (doc["start"], doc["end"]) == (e.start.isoformat(), e.end.isoformat())
    cur = _generated(e.start, e.end)
    by = Counter(g.sentiment for g in cur)
    scored = len(cur) - by["unscored"]  # shares are over scored mentions
    assert doc["kpis"] == {
        "mentions": len(cur), "negative_share": round(by["negative"] / scored, 4),
        "net_sentiment": round(100 * (by["positive"] - by["negative"]) / scored, 1),
        "complaints": by["negative"], "negative": by["negative"], "neutral": by["neutral"],
        "positive": by["positive"]}
    assert doc["unscored"] == by["unscored"] > 0
    assert doc["languages"] == {"en": scored, "ja": by["unscored"]}
    assert doc["changes"]["mentions"]["vs_previous"]["previous"] == expected(e.previous_start, e.start)
    channels = {c["channel"]: (c["mentions"], c["negative_share"]) for c in doc["channels"]}
    for channel in ("twitter", "reddit", "call_center"):
        mine = [g for g in cur if g.channel == channel]
        neg = sum(1 for g in mine if g.sentiment == "negative")
        scored_here = sum(1 for g in mine if g.sentiment != "unscored")
        assert channels[channel] == (len(mine), round(neg / scored_here, 4))


def test_json_preview_follows_the_recipient_and_writes_files(
        history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "weekly.json"
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", "weekly", "--date", DATE,
                "--recipient", "Service@Acme.example", "--out", str(out))
    assert r.code == 0, r.err
    doc = json.loads(out.read_text(encoding="utf-8"))
    e = WINDOWS["weekly"]
    assert doc["channels_filter"] == ["call_center", "twitter"]
    assert doc["kpis"]["mentions"] == expected(e.start, e.end, ["call_center", "twitter"])
    assert {c["channel"] for c in doc["channels"]} == {"call_center", "twitter"}


@pytest.mark.parametrize(("args", "message"), [
    (["--out", "{tmp}/missing/x.json"], "folder"),
    (["--out", "{tmp}/x.pdf"], "unknown suffix '.pdf'"),
    (["--out", "{tmp}/x.html", "--format", "json"], "is a html file but --format is json"),
    (["--recipient", "nobody@acme.example"], "nobody@acme.example is not in recipients.yaml"),
    (["--format", "json", "--open"], "--open shows HTML only"),
])
def test_preview_refuses_what_it_cannot_do(history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           args: list[str], message: str) -> None:
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", "weekly", "--date", DATE,
                *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.code == 2 and message in r.err and "Traceback" not in r.err, r.err
    assert not (tmp_path / "missing").exists() and not (tmp_path / "x.pdf").exists()


@pytest.mark.parametrize("period", PERIODS)
def test_summary_of_every_period_year_ago_and_trend_grain(history: History, period: Period) -> None:
    e = WINDOWS[period]
    w = periods.last_complete(period, periods.parse_date(DATE, NY), NY)
    assert (w.start, w.end, w.label) == (e.start, e.end, e.label)
    prev = periods.previous(w)
    assert (prev.start, prev.end) == (e.previous_start, e.start)
    ago = ago_w = None
    if e.year_ago:
        ago_w = periods.year_before(w)
        assert (ago_w.start, ago_w.end) == e.year_ago
        ago = history.store.mentions(ago_w.start_utc, ago_w.end_utc)
    s = summarize(history.store.mentions(w.start_utc, w.end_utc), history.store.mentions(prev.start_utc, prev.end_utc),
                  w, prev, year_ago=ago, year_ago_window=ago_w, brand="Acme Air", now=ny(2026, 4, 15, 7))
    assert s.volume.value == expected(e.start, e.end)
    assert s.volume.vs_previous is not None and s.volume.vs_previous.previous == expected(e.previous_start, e.start)
    if e.year_ago:
        assert s.volume.vs_year_ago is not None and s.volume.vs_year_ago.previous == expected(*e.year_ago)
        assert s.year_ago_label == ago_w.label if ago_w else False
    else:
        assert s.volume.vs_year_ago is None and s.year_ago_label is None
    assert s.trend.grain == e.grain and len(s.trend.buckets) == BUCKETS[period]
    assert [b.start for b in s.trend.buckets] == e.bucket_starts
    edges = e.bucket_starts + [e.end]
    assert [b.total for b in s.trend.buckets] == [expected(a, b) for a, b in pairwise(edges)]
    assert (s.negative, s.neutral, s.positive) == tuple(
        sum(1 for g in ALL if e.start <= g.published < e.end and g.sentiment == x)
        for x in ("negative", "neutral", "positive"))
    assert s.unscored == sum(1 for g in ALL if e.start <= g.published < e.end and g.sentiment == "unscored")


def test_channel_filter_changes_the_counts(history: History, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    e = WINDOWS["weekly"]
    out = tmp_path / "service.txt"
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", "weekly", "--date", DATE,
                "--recipient", "service@acme.example", "--out", str(out))
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    wanted = ["call_center", "twitter"]
    filtered = expected(e.start, e.end, wanted), expected(e.previous_start, e.start, wanted)
    assert filtered[0] < expected(e.start, e.end)
    assert _key_figure(text) == filtered
    assert "Filtered to: Call center, Twitter" in text and "Reddit" not in text.split("BY CHANNEL")[1][:300]


@pytest.mark.parametrize(("period", "start", "end"), [
    ("weekly", tokyo(2026, 4, 6), tokyo(2026, 4, 13)),
    ("monthly", tokyo(2026, 3, 1), tokyo(2026, 4, 1)),
])
def test_recipient_in_tokyo_gets_windows_cut_in_tokyo(history: History, period: Period, start: datetime,
                                                      end: datetime, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "apac.txt"
    r = run_cli(capsys, "--config", str(history.directory), "--db", history.url, "preview", period, "--date", DATE,
                "--recipient", "apac@acme.example", "--out", str(out))
    assert r.code == 0, r.err
    text = out.read_text(encoding="utf-8")
    ny_cut = WINDOWS[period]
    assert expected(start, end) != expected(ny_cut.start, ny_cut.end)  # the zone makes a difference here
    assert _key_figure(text)[0] == expected(start, end)
    assert "Asia/Tokyo" in text or "JST" in text


# -- daylight-saving days -----------------------------------------------------------------------------------

def _local_hours(day: date) -> list[datetime]:
    """The wall-clock hours that exist on `day` in New York, each at :30, in order (both 01:30s in the fall)."""
    out: list[datetime] = []
    for h in range(24):
        for fold in (0, 1):
            t = datetime(day.year, day.month, day.day, h, 30, tzinfo=NY, fold=fold)
            back = t.astimezone(UTC).astimezone(NY)
            if (back.hour, back.minute) == (h, 30) and t.astimezone(UTC) not in [o.astimezone(UTC) for o in out]:
                out.append(t)
    return out


@pytest.mark.parametrize(("day", "labels", "zones"), [
    (date(2026, 3, 8), ["00", "01"] + [f"{h:02d}" for h in range(3, 24)], ["EST", "EST"] + ["EDT"] * 21),
    (date(2026, 11, 1), ["00", "01", "01"] + [f"{h:02d}" for h in range(2, 24)], ["EDT", "EDT"] + ["EST"] * 23),
], ids=["spring-forward", "fall-back"])
def test_daily_digest_on_a_dst_day_has_a_bucket_per_real_hour(db_url: str, tmp_path: Path, day: date,
                                                              labels: list[str], zones: list[str]) -> None:
    hours = _local_hours(day)
    assert len(hours) == len(labels)
    items = [Generated(t.astimezone(UTC), "twitter", "neutral", day) for i, t in enumerate(hours) for _ in range(i + 1)]
    midnight = datetime(day.year, day.month, day.day, tzinfo=NY)
    nxt = day + timedelta(days=1)
    items += [
        Generated(midnight.astimezone(UTC), "reddit", "negative", day),  # the first instant belongs to the day
        Generated((midnight - timedelta(seconds=1)).astimezone(UTC), "reddit", "negative", day),  # the day before
        Generated(datetime(nxt.year, nxt.month, nxt.day, tzinfo=NY).astimezone(UTC), "reddit", "negative", nxt),
    ]
    store = Store.open(db_url)
    try:
        fill(store, items)
        config = write_config(tmp_path)
        w = periods.last_complete("daily", periods.parse_date(nxt.isoformat(), NY), NY)
        assert w.start == midnight and w.label_short == day.isoformat()
        prev = periods.previous(w)
        s = summarize(store.mentions(w.start_utc, w.end_utc), store.mentions(prev.start_utc, prev.end_utc), w, prev,
                      brand="Acme Air", now=midnight + timedelta(days=2))
        assert [b.label for b in s.trend.buckets] == labels
        assert [b.title.rsplit(" ", 1)[1] for b in s.trend.buckets] == zones
        assert [b.total for b in s.trend.buckets] == [i + 1 + (i == 0) for i in range(len(labels))]
        assert s.volume.value == sum(range(1, len(labels) + 1)) + 1
        assert s.volume.vs_previous is not None and s.volume.vs_previous.previous == 1
        rendered = pipeline.build_digest(config, store, pipeline.adhoc_recipient("x@acme.example"), w,
                                         now=midnight + timedelta(days=2), templates=TEMPLATES)
        hour_line = re.compile(rf"  {w.start:%a} {day.day} {w.start:%b} \d\d:00 ")
        hour_lines = [ln for ln in rendered.text.splitlines() if hour_line.match(ln)]
        assert len(hour_lines) == len(labels)
    finally:
        store.close()


# -- unattended: first run, catch-up, send time, never twice, retry ------------------------------------------

def _mailer(smtp: SmtpServer) -> SmtpMailer:
    settings = smtp_settings(smtp.env())
    assert settings is not None
    return SmtpMailer(settings)


def _send(h: History, smtp: SmtpServer, now: datetime, *, config: Config | None = None, period: Period | None = None,
          only: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """send_due at `now`; (recipient, window key, status) in the order sent."""
    cfg = config or h.config
    who = [r for r in cfg.recipients.recipients if only is None or r.email in only]
    out = pipeline.send_due(cfg, h.store, _mailer(smtp), now=now, templates=TEMPLATES, period=period, only=who)
    return [(d.recipient, d.window.key, d.status) for d in out]


def _sent(rows: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    assert all(status == "sent" for _, _, status in rows), rows
    return [(r, k) for r, k, _ in rows]


def _plain(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _keys(mapping: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(who, k) for who, keys in mapping.items() for k in keys}


FIRST_RUNS = {
    "wed-10:00": (ny(2026, 4, 15, 10, 0), {
        "ceo@acme.example": ["daily:2026-04-14", "weekly:2026-W15", "monthly:2026-03", "quarterly:2026-Q1",
                             "annual:2025"],
        "service@acme.example": ["daily:2026-04-14", "weekly:2026-W15"],
        "apac@acme.example": ["weekly:2026-W15", "monthly:2026-03"]}),
    "monday-06:59": (ny(2026, 4, 13, 6, 59), {  # 06:30 for service has passed, 07:00 not yet
        "ceo@acme.example": ["daily:2026-04-11", "weekly:2026-W14", "monthly:2026-03", "quarterly:2026-Q1",
                             "annual:2025"],
        "service@acme.example": ["daily:2026-04-12", "weekly:2026-W15"],
        "apac@acme.example": ["weekly:2026-W15", "monthly:2026-03"]}),  # 19:59 in Tokyo
    "quarter-day-06:59": (ny(2026, 4, 1, 6, 59), {
        "ceo@acme.example": ["daily:2026-03-30", "weekly:2026-W13", "monthly:2026-02", "quarterly:2025-Q4",
                             "annual:2025"],
        "service@acme.example": ["daily:2026-03-31", "weekly:2026-W13"],
        "apac@acme.example": ["weekly:2026-W13", "monthly:2026-03"]}),
    "new-year-07:00": (ny(2026, 1, 1, 7, 0), {
        "ceo@acme.example": ["daily:2025-12-31", "weekly:2025-W52", "monthly:2025-12", "quarterly:2025-Q4",
                             "annual:2025"],
        "service@acme.example": ["daily:2025-12-31", "weekly:2025-W52"],
        "apac@acme.example": ["weekly:2025-W52", "monthly:2025-12"]}),
    "new-year-06:59": (ny(2026, 1, 1, 6, 59), {
        "ceo@acme.example": ["daily:2025-12-30", "weekly:2025-W52", "monthly:2025-11", "quarterly:2025-Q3",
                             "annual:2024"],
        "service@acme.example": ["daily:2025-12-31", "weekly:2025-W52"],
        "apac@acme.example": ["weekly:2025-W52", "monthly:2025-12"]}),
    "tokyo-1st-08:00": (tokyo(2026, 4, 1, 8, 0), {  # 19:00 on 31 March in New York
        "ceo@acme.example": ["daily:2026-03-30", "weekly:2026-W13", "monthly:2026-02", "quarterly:2025-Q4",
                             "annual:2025"],
        "service@acme.example": ["daily:2026-03-30", "weekly:2026-W13"],
        "apac@acme.example": ["weekly:2026-W13", "monthly:2026-03"]}),
}


@pytest.mark.parametrize("case", FIRST_RUNS)
def test_first_run_is_due_only_the_newest_window_of_each_period(ledger: History, case: str) -> None:
    now, want = FIRST_RUNS[case]
    got = {(r.email, w.key) for r in ledger.config.recipients.recipients for p in r.digests
           for w in pipeline.due_windows(ledger.config, ledger.store, r, p, now=now)}
    assert got == _keys(want)


def test_first_run_sends_the_newest_digests_once_over_smtp(ledger: History, smtp_server: SmtpServer) -> None:
    now, want = FIRST_RUNS["wed-10:00"]
    first = _sent(_send(ledger, smtp_server, now))
    assert sorted(first) == sorted(_keys(want))
    assert Counter(rcpt for _, [rcpt] in smtp_server.envelopes) == Counter(r for r, _ in first)
    # the service head's digest reflects her channel filter; Tokyo's week is cut in Tokyo
    by = {(m["To"].addresses[0].addr_spec, m["List-Id"].split()[2]): m for m in smtp_server.messages}
    service = _plain(by["service@acme.example", "weekly"])
    e = WINDOWS["weekly"]
    assert _key_figure(service)[0] == expected(e.start, e.end, ["call_center", "twitter"])
    apac = _plain(by["apac@acme.example", "weekly"])
    assert _key_figure(apac)[0] == expected(tokyo(2026, 4, 6), tokyo(2026, 4, 13))
    # again, and an hour later: nothing new
    assert _send(ledger, smtp_server, now) == []
    assert _send(ledger, smtp_server, now + timedelta(hours=1)) == []
    assert len(smtp_server.messages) == len(first)
    assert {d["status"] for d in ledger.store.deliveries()} == {"sent"}


def test_no_digest_for_a_period_without_data(db_url: str, tmp_path: Path) -> None:
    store = Store.open(db_url)
    try:
        fill(store, generate(date(2026, 4, 5), date(2026, 5, 20)))
        config = write_config(tmp_path)
        ceo = config.recipients.recipients[0]

        def due(now: datetime) -> list[str]:
            return [w.key for p in ceo.digests for w in pipeline.due_windows(config, store, ceo, p, now=now)]

        assert due(ny(2026, 4, 15, 10)) == ["daily:2026-04-14", "weekly:2026-W15"]
        # once a month with data has ended, its digest is due (but still no quarter or year without data)
        assert due(ny(2026, 5, 1, 7)) == ["daily:2026-04-30", "weekly:2026-W17", "monthly:2026-04"]
        empty = Store.open(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
        try:
            assert [w for p in ceo.digests
                    for w in pipeline.due_windows(config, empty, ceo, p, now=ny(2026, 4, 15, 10))] == []
        finally:
            empty.close()
    finally:
        store.close()


def test_downtime_is_caught_up_oldest_first_at_most_max_catch_up(ledger: History, smtp_server: SmtpServer) -> None:
    assert pipeline.MAX_CATCH_UP == 3
    daily = ["ceo@acme.example", "service@acme.example"]
    _sent(_send(ledger, smtp_server, ny(2026, 4, 10, 8)))  # installation
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 11, 8))) == [(r, "daily:2026-04-10") for r in daily]
    # down for a day: the two missed dailies, oldest first, and the week that ended meanwhile
    got = _sent(_send(ledger, smtp_server, ny(2026, 4, 13, 8)))
    assert got == [("ceo@acme.example", "daily:2026-04-11"), ("ceo@acme.example", "daily:2026-04-12"),
                   ("ceo@acme.example", "weekly:2026-W15"), ("service@acme.example", "daily:2026-04-11"),
                   ("service@acme.example", "daily:2026-04-12"), ("service@acme.example", "weekly:2026-W15"),
                   ("apac@acme.example", "weekly:2026-W15")]
    # down for five days: the newest MAX_CATCH_UP dailies, oldest first; 13 and 14 April are not mailed late
    got = _sent(_send(ledger, smtp_server, ny(2026, 4, 18, 8)))
    assert got == [(r, f"daily:2026-04-{d}") for r in daily for d in (15, 16, 17)]
    assert _send(ledger, smtp_server, ny(2026, 4, 18, 9)) == []
    keys = [(d["recipient"], d["window_key"]) for d in ledger.store.deliveries()]
    assert len(keys) == len(set(keys)) == len(smtp_server.messages)


@pytest.mark.parametrize(("who", "period", "before", "not_yet", "due", "key"), [
    ("ceo@acme.example", "daily", ny(2026, 4, 14, 7, 30), ny(2026, 4, 15, 6, 59), ny(2026, 4, 15, 7),
     "daily:2026-04-14"),
    ("service@acme.example", "daily", ny(2026, 4, 14, 7), ny(2026, 4, 15, 6, 29), ny(2026, 4, 15, 6, 30),
     "daily:2026-04-14"),
    ("apac@acme.example", "weekly", tokyo(2026, 4, 8, 12), tokyo(2026, 4, 13, 7, 59), tokyo(2026, 4, 13, 8),
     "weekly:2026-W15"),
    # 07:00 on the spring-forward day is 11:00 UTC (EDT); on the fall-back day 12:00 UTC (EST)
    ("ceo@acme.example", "daily", ny(2026, 3, 7, 8), datetime(2026, 3, 8, 10, 59, tzinfo=UTC),
     datetime(2026, 3, 8, 11, tzinfo=UTC), "daily:2026-03-07"),
    ("ceo@acme.example", "daily", ny(2026, 10, 31, 8), datetime(2026, 11, 1, 11, 59, tzinfo=UTC),
     datetime(2026, 11, 1, 12, tzinfo=UTC), "daily:2026-10-31"),
], ids=["ny-07:00", "ny-06:30", "tokyo-08:00", "spring-forward", "fall-back"])
def test_local_send_time_is_honoured(ledger: History, smtp_server: SmtpServer, who: str, period: Period,
                                     before: datetime, not_yet: datetime, due: datetime, key: str) -> None:
    assert len(_sent(_send(ledger, smtp_server, before, period=period, only=[who]))) == 1
    assert _send(ledger, smtp_server, not_yet, period=period, only=[who]) == []
    assert _sent(_send(ledger, smtp_server, due, period=period, only=[who])) == [(who, key)]


def test_new_recipient_gets_no_history(ledger: History, smtp_server: SmtpServer, tmp_path: Path) -> None:
    ceo_only = write_config(tmp_path / "before", recipients=RECIPIENTS[:1])
    _sent(_send(ledger, smtp_server, ny(2026, 4, 10, 8), config=ceo_only))
    _sent(_send(ledger, smtp_server, ny(2026, 4, 11, 8), config=ceo_only))
    newbie: dict[str, Any] = {"name": "New Person", "email": "new@acme.example", "digests": list(PERIODS)}
    both = write_config(tmp_path / "after", recipients=[RECIPIENTS[0], newbie])
    got = _sent(_send(ledger, smtp_server, ny(2026, 4, 15, 8), config=both))
    assert [k for r, k in got if r == "new@acme.example"] == [
        "daily:2026-04-14", "weekly:2026-W15", "monthly:2026-03", "quarterly:2026-Q1", "annual:2025"]
    assert [k for r, k in got if r == "ceo@acme.example"] == [
        "daily:2026-04-12", "daily:2026-04-13", "daily:2026-04-14", "weekly:2026-W15"]


def test_a_failed_send_is_retried_on_the_next_run(ledger: History, smtp_server: SmtpServer) -> None:
    ceo = ["ceo@acme.example"]
    smtp_server.fail_with = "451 4.3.0 try again later"
    failed = _send(ledger, smtp_server, ny(2026, 4, 15, 8), period="daily", only=ceo)
    assert failed == [("ceo@acme.example", "daily:2026-04-14", "failed")]
    assert ledger.store.delivery_status("ceo@acme.example", "daily:2026-04-14") == "failed"
    smtp_server.fail_with = None
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 15, 8, 15), period="daily", only=ceo)) == [
        ("ceo@acme.example", "daily:2026-04-14")]
    # a failure after earlier successes
    smtp_server.fail_with = "451 4.3.0 try again later"
    assert _send(ledger, smtp_server, ny(2026, 4, 16, 8), period="daily", only=ceo)[0][2] == "failed"
    smtp_server.fail_with = None
    assert _send(ledger, smtp_server, ny(2026, 4, 16, 8, 15), period="daily", only=ceo) == [
        ("ceo@acme.example", "daily:2026-04-15", "sent")]
    assert len(smtp_server.messages) == 2


@pytest.mark.parametrize("failure", ["4xx", "connection refused"])
def test_a_failed_first_send_is_not_lost_when_the_next_run_is_a_day_later(ledger: History, smtp_server: SmtpServer,
                                                                          failure: str) -> None:
    ceo = ["ceo@acme.example"]
    if failure == "4xx":
        smtp_server.fail_with = "451 4.3.0 try again later"
        assert _send(ledger, smtp_server, ny(2026, 4, 15, 8), period="daily", only=ceo)[0][2] == "failed"
        smtp_server.fail_with = None
    else:
        nobody = SmtpServer("127.0.0.1", free_port())
        assert _send(ledger, nobody, ny(2026, 4, 15, 8), period="daily", only=ceo) == [
            ("ceo@acme.example", "daily:2026-04-14", "failed")]
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 16, 8), period="daily", only=ceo)) == [
        ("ceo@acme.example", "daily:2026-04-14"), ("ceo@acme.example", "daily:2026-04-15")]


def _send_now(h: History, smtp: SmtpServer, period: Period, at: datetime, to: str) -> list[tuple[str, str, str]]:
    """`digest send PERIOD --date AT --to TO`: the last complete window before `at`, whatever the ledger says."""
    out = pipeline.send_period(h.config, h.store, _mailer(smtp), period, at=at, templates=TEMPLATES, to=to)
    return [(d.recipient, d.window.key, d.status) for d in out]


def test_a_failed_digest_is_not_retried_once_a_later_one_has_gone_out(ledger: History, smtp_server: SmtpServer,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    ceo = "ceo@acme.example"
    smtp_server.fail_with = "451 4.3.0 try again later"
    assert _send(ledger, smtp_server, ny(2026, 4, 6, 8), period="weekly", only=[ceo]) == [
        (ceo, "weekly:2026-W14", "failed")]
    smtp_server.fail_with = None
    # a week later ops fixed the server and sent this week's digest by hand: last week's is stale news now
    assert _sent(_send_now(ledger, smtp_server, "weekly", ny(2026, 4, 13, 8), ceo)) == [(ceo, "weekly:2026-W15")]
    with caplog.at_level("WARNING", logger="digest.pipeline"):
        assert _send(ledger, smtp_server, ny(2026, 4, 13, 8, 15), period="weekly", only=[ceo]) == []
    assert caplog.messages == [f"{ceo}: weekly:2026-W14 not retried (failed): weekly:2026-W15 has gone out since"]
    assert ledger.store.delivery_status(ceo, "weekly:2026-W14") == "failed"
    assert [m["Subject"] for m in smtp_server.messages] == [smtp_server.messages[0]["Subject"]]
    assert "Week 15" in str(smtp_server.messages[0]["Subject"])


def test_a_failed_digest_is_retried_beside_the_next_one_until_that_has_gone_out(ledger: History,
                                                                                 smtp_server: SmtpServer) -> None:
    ceo = "ceo@acme.example"
    smtp_server.fail_with = "451 4.3.0 try again later"
    assert _send(ledger, smtp_server, ny(2026, 4, 6, 8), period="weekly", only=[ceo])[0][2] == "failed"
    assert _send(ledger, smtp_server, ny(2026, 4, 13, 8), period="weekly", only=[ceo]) == [
        (ceo, "weekly:2026-W14", "failed"), (ceo, "weekly:2026-W15", "failed")]
    smtp_server.fail_with = None
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 13, 9), period="weekly", only=[ceo])) == [
        (ceo, "weekly:2026-W14"), (ceo, "weekly:2026-W15")]


def test_runs_after_a_manual_send_start_from_the_installation(ledger: History, smtp_server: SmtpServer) -> None:
    """A digest sent by hand before the first `digest run` does not make that run catch up everything since."""
    ceo = "ceo@acme.example"
    assert _sent(_send_now(ledger, smtp_server, "daily", ny(2026, 4, 2, 8), ceo)) == [(ceo, "daily:2026-04-01")]
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 15, 10), period="daily", only=[ceo])) == [
        (ceo, "daily:2026-04-14")]
    # from then on, what fell due after the installation is caught up: the 15th and 16th, not the 13th
    assert _sent(_send(ledger, smtp_server, ny(2026, 4, 17, 8), period="daily", only=[ceo])) == [
        (ceo, "daily:2026-04-15"), (ceo, "daily:2026-04-16")]


# -- overlapping `digest run` processes ------------------------------------------------------------------------

@pytest.mark.slow
def test_overlapping_digest_runs_never_send_twice(tmp_path: Path, smtp_server: SmtpServer) -> None:
    now = datetime.now(UTC)
    # send times three hours behind the clock in each zone: nothing falls due while the test runs
    recipients = []
    for r in RECIPIENTS:
        tz = ZoneInfo(r.get("timezone", "America/New_York"))
        recipients.append({**r, "send_at": f"{(now - timedelta(hours=3)).astimezone(tz):%H:%M}"})
    write_config(tmp_path, recipients=recipients)
    write_exports(tmp_path, now - timedelta(hours=1))
    store = Store.open(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    try:  # a mention a week for two years: every period has data, and history is long
        fill(store, [Generated(now - timedelta(days=7 * k, hours=5), "twitter", "negative", date.today())
                     for k in range(110)])
    finally:
        store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(smtp_server.env())
    cmd = [sys.executable, "-m", "digest", "--config", str(tmp_path), "run"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    got = Counter(rcpt for _, [rcpt] in smtp_server.envelopes)
    assert got == {r["email"]: len(r["digests"]) for r in RECIPIENTS}
    store = Store.open(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    try:
        rows = store.deliveries()
    finally:
        store.close()
    assert sorted(d["status"] for d in rows) == ["sent"] * sum(got.values())
    summaries = [re.search(r"(\d+) digests? sent, (\d+) already sent, 0 failed", out) for out, _ in outs]
    assert all(summaries) and sum(int(m[1]) for m in summaries if m) == sum(got.values())
