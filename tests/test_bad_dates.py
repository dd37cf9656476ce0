"""Issue 19 item 1: a date no digest can hold (year 0001 placeholders, 9999, huge epochs) costs its entry,
named on the ingest line, never the run: every source kind, through the real CLI, then the next runs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.dates import date_problem
from digest.models import Classification, Mention
from digest.store import Store

from .conftest import run_cli
from .helpers_faults import NOW, complaints, db_path, feed_xml, mention_ids, write_project
from .helpers_http import LocalServer, serving

# eight days back: the last complete week has data whatever the weekday, so the first run sends the weeklies
GOOD = (NOW - timedelta(days=8)).strftime("%m/%d/%Y %H:%M")
CSV = ("ticket_id,created_at,notes\n"
       f"T-1,{GOOD},Acme Air lost my bag and nobody calls back\n"
       "T-2,01/01/0001 00:00,Acme Air placeholder date from the ticketing system\n"
       f"T-3,{GOOD},Acme Air refund still missing after six weeks\n")
EPOCH_GOOD = int((NOW - timedelta(days=1)).timestamp())
JSON_ITEMS = [
    {"id": "J-1", "at": EPOCH_GOOD, "body": "Acme Air agent was rude on the phone"},
    {"id": "J-2", "at": -62135596800, "body": "Acme Air epoch of year one"},  # 0001-01-01T00:00:00Z
    {"id": "J-3", "at": 99_999_999_999, "body": "Acme Air epoch of 5138-11-16"},
    {"id": "J-4", "at": EPOCH_GOOD * 1000, "body": "Acme Air milliseconds are fine"},
]
API_ITEMS = [
    {"id": "A-1", "created": (NOW - timedelta(hours=5)).isoformat(), "body": "Acme Air app crashed at checkout"},
    {"id": "A-2", "created": "0001-01-01T00:00:00Z", "body": "Acme Air API placeholder"},
    {"id": "A-3", "created": "1900-01-01T00:00:00Z", "body": "Acme Air SQL Server's empty date"},
]
OLD_FEED_ITEM = ("<item><guid>f-old</guid><title>Acme Air old</title>"
                 "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate><description>Acme Air year one</description></item>")


@pytest.fixture
def api() -> Iterator[LocalServer]:
    with serving() as server:
        server.static("/tickets", json.dumps({"items": API_ITEMS}).encode(), "application/json")
        yield server


def write_bad_dates_project(directory: Path, api: LocalServer, *, tz: str = "UTC") -> Path:
    """A project whose every source kind carries good entries and entries dated where no digest can be."""
    (directory / "exports").mkdir(parents=True)
    (directory / "exports" / "calls-1.csv").write_text(CSV, encoding="utf-8")
    (directory / "exports" / "tickets-1.json").write_text(json.dumps(JSON_ITEMS), encoding="utf-8")
    feed = feed_xml(complaints("f", 3, days=3)).replace(b"</channel>", OLD_FEED_ITEM.encode() + b"</channel>")
    (directory / "feed.xml").write_bytes(feed)
    return write_project(directory, [
        {"name": "Calls", "kind": "csv", "path": "exports/calls-*.csv", "channel": "call_center",
         "timezone": tz, "fields": {"id": "ticket_id", "text": "notes", "published": "created_at"}},
        {"name": "Tickets", "kind": "json", "path": "exports/tickets-*.json", "channel": "call_center",
         "fields": {"id": "id", "text": "body", "published": "at"}},
        {"name": "Blog", "kind": "feed", "url": "feed.xml", "channel": "blogs"},
        {"name": "API", "kind": "http_json", "url": api.url("/tickets"), "items_path": "items",
         "channel": "reviews", "fields": {"id": "id", "text": "body", "published": "created"}},
    ])


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(f"{name} ["))


def test_every_kind_skips_only_the_entries_with_impossible_dates(tmp_path: Path, api: LocalServer,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    project = write_bad_dates_project(tmp_path / "p", api)
    r = run_cli(capsys, "--config", str(project), "ingest")
    assert "Traceback" not in r.err and "OutOfBounds" not in r.out + r.err
    assert r.code == 3, r.out + r.err  # partial: entries were lost, each named
    calls = line_of(r.out, "Calls")
    assert "problem: 1 item skipped for their date (id 'T-2': date 0001-01-01 is before 1970)" in calls
    tickets = line_of(r.out, "Tickets")
    assert "2 items skipped for their date" in tickets
    assert "id 'J-2': date 0001-01-01 is before 1970" in tickets
    assert "id 'J-3': date 5138-11-16 is more than a day after the fetch" in tickets
    assert "id 'f-old': date 0001-01-01 is before 1970" in line_of(r.out, "Blog")
    api_line = line_of(r.out, "API")
    assert "2 items skipped for their date" in api_line and "date 1900-01-01 is before 1970" in api_line
    assert "4 sources: 4 ok (4 with problems)" in r.out
    stored = {ext for _, ext in mention_ids(db_path(project))}
    assert stored == {"T-1", "T-3", "J-1", "J-4", "f0", "f1", "f2", "A-1"}

    # the next run works: nothing changed (files, feed and API unchanged), so nothing more was lost
    again = run_cli(capsys, "--config", str(project), "run")
    assert again.code == 0, again.out + again.err
    assert "4 sources: 0 ok, 4 not modified, 0 failed" in again.out
    assert "4 digests sent, 0 already sent, 0 failed" in again.out
    preview = run_cli(capsys, "--config", str(project), "preview", "weekly", "--format", "json")
    assert preview.code == 0, preview.err
    assert json.loads(preview.out)["kpis"]["mentions"] > 0


def test_a_year_one_date_in_a_zone_ahead_of_utc_is_a_bad_row_not_a_failed_source(
        tmp_path: Path, api: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    # 0001-01-01 00:00 in Tokyo is 0000-12-31 15:00 UTC, before any datetime: it overflowed in the parser
    project = write_bad_dates_project(tmp_path / "p", api, tz="Asia/Tokyo")
    r = run_cli(capsys, "--config", str(project), "ingest", "--source", "Calls")
    assert r.code == 3, r.out + r.err
    assert "1 row skipped (calls-1.csv line 3: bad date '01/01/0001 00:00')" in line_of(r.out, "Calls")
    assert {ext for _, ext in mention_ids(db_path(project))} == {"T-1", "T-3"}


def mention(ext: str, published: datetime) -> tuple[Mention, Classification]:
    m = Mention("s", "twitter", ext, None, "", f"Acme Air text {ext} about a lost bag and no refund", "",
                published)
    return m, Classification("negative", -0.5, True, ("Baggage",))


def test_the_store_keeps_out_a_date_it_cannot_count_and_goes_on(db_url: str) -> None:
    """A caller that did not check dates (the sources do) must not poison every later ingest and digest."""
    store = Store.open(db_url)
    try:
        added = store.add_mentions([mention("ok-1", NOW - timedelta(hours=1)),
                                    mention("year-1", datetime(1, 1, 1, tzinfo=UTC)),
                                    mention("year-9999", datetime(9999, 12, 31, tzinfo=UTC))], fetched=NOW)
        assert added == 1
        assert store.add_mentions([mention("ok-2", NOW - timedelta(hours=2))], fetched=NOW) == 1
        # the store's bound is what it can count, not the sources' policy: a backfill may be fetched "before"
        assert store.add_mentions([mention("later", NOW + timedelta(days=30))], fetched=NOW - timedelta(days=300)) == 1
        assert store.count_mentions() == 3
        assert store.first_published() == NOW - timedelta(hours=2)
        day = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC)
        assert store.count_mentions_between(day - timedelta(days=1), day + timedelta(days=40)) == 3
    finally:
        store.close()


def test_a_stored_mention_pandas_cannot_count_does_not_stop_the_rollup_rebuild(tmp_path: Path) -> None:
    """One written into the table by hand (or by an earlier version) is left out of the counts, logged."""
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    store = Store.open(url)
    store.add_mentions([mention("ok-1", NOW - timedelta(hours=1))], fetched=NOW)
    store.close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as conn:
        conn.execute("INSERT INTO mentions (source, channel, external_id, url, title, text, author, published, "
                     "fetched, influence, polarity, sentiment, complaint, topics, score, sample) SELECT source, "
                     "channel, 'old', url, title, text || ' again', author, '0001-01-01 00:00:00.000000', "
                     "fetched, influence, polarity, sentiment, complaint, topics, score, sample FROM mentions")
        conn.execute("DELETE FROM meta WHERE key = 'rollups_version'")
    store = Store.open(url)  # rebuilds the rollups from every stored mention
    try:
        day = datetime(NOW.year, NOW.month, NOW.day, tzinfo=UTC) - timedelta(days=1)
        assert store.count_mentions_between(day, day + timedelta(days=3)) == 1
    finally:
        store.close()


@pytest.mark.parametrize(("at", "problem"), [
    (datetime(1, 1, 1, tzinfo=UTC), "date 0001-01-01 is before 1970"),
    (datetime(1969, 12, 31, 23, 59, tzinfo=UTC), "date 1969-12-31 is before 1970"),
    (datetime(1970, 1, 1, tzinfo=UTC), None),
    (NOW + timedelta(hours=23), None),
    (NOW + timedelta(days=2), f"date {(NOW + timedelta(days=2)):%Y-%m-%d} is more than a day after the fetch"),
    (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "date 9999-12-31 is more than a day after the fetch"),
])
def test_the_accepted_range(at: datetime, problem: str | None) -> None:
    found = date_problem(at, NOW)
    assert found == problem if problem is None else (found or "").startswith(problem)
