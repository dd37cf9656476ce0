"""The csv and json kinds: call-center exports on disk, dates and zones, skipped rows, per-file state."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from digest.models import SourceResult
from digest.sources import fetch_source
from digest.sources.fields import parse_date
from tests.helpers_http import NOW, make_config, make_ctx

NY = ZoneInfo("America/New_York")
FIELDS = {"id": "ticket_id", "text": "notes", "published": "created_at", "title": "category",
          "author": "agent"}
HEADER = "ticket_id,created_at,agent,category,notes\n"
CALLS = (
    "ticket_id,created_at,agent,category,notes\r\n"
    'CC-1,2024-03-18T14:05:00Z,Ana,Baggage,"Bag missing after flight 417.\r\nSecond call about it."\r\n'
    "CC-2,2024-03-18 09:30,Ben,Refunds,Refund requested (naive time: New York)\r\n"
    "CC-3,2024/3/18,Cy,Billing,Charged twice for a seat\r\n"
    "CC-4,03/18/2024 14:05,Di,Delays,Flight delayed three hours\r\n"
    "CC-5,31/31/2024,Ed,Delays,This row has an impossible date\r\n"
    "CC-6,2024-03-18T10:00:00+01:00,Fa,Compliment,\r\n"
    ",2024-03-19T08:00:00Z,Gus,Complaint,No ticket id: the id is a hash of text and time\r\n"
    "\r\n"
)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def run(tmp_path: Path, session: requests.Session, state: dict[str, str] | None = None,
        **source: Any) -> SourceResult:
    spec = {"name": "calls", "kind": "csv", "path": "exports/calls-*.csv", "channel": "call_center",
            "brand_filter": False, "fields": FIELDS, **source}
    config = make_config(tmp_path, [spec])
    return fetch_source(config.sources.sources[0], make_ctx(config, session, state=state))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "exports" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def test_csv_rows_become_mentions(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-2024-03.csv", CALLS)
    result = run(tmp_path, session)
    assert result.status == "ok"
    assert result.items_seen == 7  # the blank line is not a row
    by_id = {m.external_id: m for m in result.mentions}
    assert set(by_id) >= {"CC-1", "CC-2", "CC-3", "CC-4"} and "CC-5" not in by_id and "CC-6" not in by_id
    assert by_id["CC-1"].text == "Bag missing after flight 417.\nSecond call about it."  # one quoted field
    assert by_id["CC-1"].published == datetime(2024, 3, 18, 14, 5, tzinfo=UTC)
    assert by_id["CC-2"].published == datetime(2024, 3, 18, 13, 30, tzinfo=UTC)  # 09:30 EDT
    assert by_id["CC-3"].published == datetime(2024, 3, 18, 4, 0, tzinfo=UTC)  # midnight EDT
    assert by_id["CC-4"].published == datetime(2024, 3, 18, 18, 5, tzinfo=UTC)
    cc1 = by_id["CC-1"]
    assert (cc1.title, cc1.author, cc1.channel) == ("Baggage", "Ana", "call_center")
    hashed = [m for m in result.mentions if m.external_id.startswith("h:")]
    assert len(hashed) == 1 and hashed[0].text.startswith("No ticket id")
    # rows lost are counted and named, an empty text too (issue 19)
    assert result.problems == ("2 rows skipped (calls-2024-03.csv line 7: bad date '31/31/2024'; "
                               "calls-2024-03.csv line 8: no text in 'notes')",)
    assert (result.error, result.dropped) == (None, 2)


def test_export_timezone_and_date_format(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", HEADER + "X,18.03.2024 23:30,a,b,late night\n")
    result = run(tmp_path, session, date_format="%d.%m.%Y %H:%M", timezone="Asia/Tokyo")
    assert result.mentions[0].published == datetime(2024, 3, 18, 14, 30, tzinfo=UTC)


def test_unchanged_files_are_not_read_again(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-2024-03.csv", CALLS)
    first = run(tmp_path, session)
    again = run(tmp_path, session, state=first.state)
    assert again.status == "not_modified" and again.state == first.state
    # touched but identical bytes (copied again by the export job): still nothing to read
    path = tmp_path / "exports" / "calls-2024-03.csv"
    os.utime(path, ns=(1, 1))
    assert run(tmp_path, session, state=first.state).status == "not_modified"


def test_grown_file_is_read_again_with_the_same_ids(tmp_path: Path, session: requests.Session) -> None:
    path = write(tmp_path, "calls-2024-03.csv", CALLS)
    first = run(tmp_path, session)
    with path.open("a", encoding="utf-8") as f:
        f.write("CC-8,2024-03-20T10:00:00Z,Hal,Baggage,New call\r\n")
    grown = run(tmp_path, session, state=first.state)
    assert grown.status == "ok"
    assert {m.external_id for m in grown.mentions} == {m.external_id for m in first.mentions} | {"CC-8"}


def test_reexported_file_gives_the_same_ids(tmp_path: Path, session: requests.Session) -> None:
    """A second export of the same tickets under another name: the store dedupes by external_id."""
    write(tmp_path, "calls-2024-03.csv", CALLS)
    first = run(tmp_path, session)
    (tmp_path / "exports" / "calls-2024-03.csv").unlink()
    write(tmp_path, "calls-2024-03-rerun.csv", CALLS.replace("\r\n", "\n"))
    again = run(tmp_path, session, state=first.state)
    assert again.status == "ok"
    assert [m.external_id for m in again.mentions] == [m.external_id for m in first.mentions]
    assert list(json.loads(again.state["files"])) == ["exports/calls-2024-03-rerun.csv"]


def test_missing_column_fails_the_file_naming_it(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", "id,when,text\n1,2024-03-18,hello\n")
    result = run(tmp_path, session)
    assert result.status == "error"
    assert result.error == ("calls-1.csv: no column 'notes', 'ticket_id', 'created_at', 'category', 'agent' "
                            "(columns: id, when, text)")


def test_one_bad_file_does_not_hide_the_good_ones(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", CALLS)
    write(tmp_path, "calls-2.csv", HEADER + "Z,2024-03-18,a,b,caf\xe9\n", "cp1252")
    result = run(tmp_path, session)
    assert result.status == "ok" and len(result.mentions) == 5
    assert result.problems[-1] == ("calls-2.csv: not valid utf-8 at byte 62 (set `encoding:` for this source, "
                                   "e.g. cp1252)")
    assert "exports/calls-2.csv" not in json.loads(result.state["files"])  # retried next time


def test_encoding_and_delimiter(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", HEADER.replace(",", ";") + "Z;2024-03-18;a;b;caf\xe9 cr\xe8me\n", "cp1252")
    result = run(tmp_path, session, encoding="cp1252", delimiter=";")
    assert [m.text for m in result.mentions] == ["café crème"]


def test_utf8_bom_and_padded_headers(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", "\ufeff ticket_id , created_at,agent,category, notes \n"
                                   "Z,2024-03-18,a,b,hi\n")
    assert [m.external_id for m in run(tmp_path, session).mentions] == ["Z"]


def test_a_missing_folder_or_no_matching_file_is_an_error(tmp_path: Path, session: requests.Session) -> None:
    missing = run(tmp_path, session)
    assert missing.status == "error"
    assert missing.error == f"folder not found: {tmp_path / 'exports'} (from path 'exports/calls-*.csv')"
    (tmp_path / "exports").mkdir()
    empty = run(tmp_path, session)  # a source that delivers nothing must not say "ok" (issue 19)
    assert (empty.status, empty.mentions) == ("error", ())
    assert empty.error == f"no file matches 'exports/calls-*.csv' in {tmp_path / 'exports'}"


def test_brand_filter_applies_to_exports_when_on(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", HEADER + "1,2024-03-18,a,b,Acme Air lost it\n"
                                            "2,2024-03-18,a,b,Nothing about us\n")
    assert [m.external_id for m in run(tmp_path, session, brand_filter=True).mentions] == ["1"]


def test_oversized_field_skips_only_that_row(tmp_path: Path, session: requests.Session) -> None:
    big = "x" * 200_000
    write(tmp_path, "calls-1.csv", HEADER + f'1,2024-03-18,a,b,"{big}"\n'
                                   "2,2024-03-18,a,b,fine\n")
    result = run(tmp_path, session)
    assert [m.external_id for m in result.mentions] == ["2"]
    assert result.problems[0].startswith("1 row skipped (calls-1.csv line 2: unreadable row")


# -- JSON exports ----------------------------------------------------------------------------------------

TICKETS = {"meta": {"count": 3}, "data": {"tickets": [
    {"id": 101, "opened": "2024-03-18T09:00:00", "body": "Bag lost", "customer": {"name": "Pat"},
     "link": "https://crm.example/t/101", "reach": "1,200"},
    {"id": 102, "opened": 1710770400, "body": "Refund late <b>again</b>", "customer": {"name": "Lee\r\nX"},
     "link": "javascript:alert(1)"},
    "not an object",
    {"id": 104, "opened": "2024-03-18T09:00:00", "body": ""},
]}}


def run_json(tmp_path: Path, session: requests.Session, data: Any, **source: Any) -> SourceResult:
    (tmp_path / "tickets.json").write_text(json.dumps(data))
    spec = {"name": "tickets", "kind": "json", "path": "tickets.json", "channel": "call_center",
            "brand_filter": False, "items_path": "data.tickets",
            "fields": {"id": "id", "text": "body", "published": "opened", "author": "customer.name",
                       "url": "link", "influence": "reach"}, **source}
    config = make_config(tmp_path, [spec])
    return fetch_source(config.sources.sources[0], make_ctx(config, session))


def test_json_export_with_items_path(tmp_path: Path, session: requests.Session) -> None:
    result = run_json(tmp_path, session, TICKETS)
    assert result.status == "ok" and result.items_seen == 4
    first, second = result.mentions
    assert (first.external_id, first.author, first.url, first.influence) == ("101", "Pat", "https://crm.example/t/101",
                                                                             1200.0)
    assert first.published == datetime(2024, 3, 18, 13, 0, tzinfo=UTC)  # naive: the brand's zone
    assert (second.text, second.author, second.url) == ("Refund late again", "Lee X", None)
    assert second.published == datetime(2024, 3, 18, 14, 0, tzinfo=UTC)  # epoch seconds
    assert result.problems == ("2 rows skipped (tickets.json item 3: not an object; tickets.json item 4: "
                               "no text in 'body')",)


@pytest.mark.parametrize(("data", "items_path", "reason"), [
    ({"data": {}}, "data.tickets", "tickets.json: nothing at items_path 'data.tickets'"),
    ({"data": {"tickets": {"a": 1}}}, "data.tickets", "tickets.json: items are not a list (found an object)"),
    ({"a": 1}, None,
     "tickets.json: items are not a list (found an object) (set items_path to the list inside it)"),
])
def test_json_export_without_a_list(data: Any, items_path: str | None, reason: str, tmp_path: Path,
                                    session: requests.Session) -> None:
    result = run_json(tmp_path, session, data, items_path=items_path)
    assert (result.status, result.error) == ("error", reason)


def test_invalid_json_export(tmp_path: Path, session: requests.Session) -> None:
    (tmp_path / "tickets.json").write_text("[1, 2,")
    config = make_config(tmp_path, [{"name": "t", "kind": "json", "path": "tickets.json",
                                     "channel": "call_center", "fields": {"text": "body"}}])
    result = fetch_source(config.sources.sources[0], make_ctx(config, session))
    assert result.error == "tickets.json: invalid JSON (Expecting value: line 1 column 7 (char 6))"


# -- dates -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ("2020-03-18T14:05:00Z", datetime(2020, 3, 18, 14, 5, tzinfo=UTC)),
    ("2020-03-18T14:05:00-04:00", datetime(2020, 3, 18, 18, 5, tzinfo=UTC)),
    ("2020-03-18 14:05", datetime(2020, 3, 18, 18, 5, tzinfo=UTC)),  # naive: New York, EDT
    ("2020-01-18 14:05", datetime(2020, 1, 18, 19, 5, tzinfo=UTC)),  # naive: New York, EST
    ("2020/3/18", datetime(2020, 3, 18, 4, 0, tzinfo=UTC)),
    ("03/18/2020 14:05", datetime(2020, 3, 18, 18, 5, tzinfo=UTC)),
    ("3/18/2020 2:05 PM", datetime(2020, 3, 18, 18, 5, tzinfo=UTC)),
    ("18 Mar 2020", datetime(2020, 3, 18, 4, 0, tzinfo=UTC)),
    ("Mar 18, 2020 14:05", datetime(2020, 3, 18, 18, 5, tzinfo=UTC)),
    ("Wed, 18 Mar 2020 14:05:00 +0000", datetime(2020, 3, 18, 14, 5, tzinfo=UTC)),
    ("1584540300", datetime(2020, 3, 18, 14, 5, tzinfo=UTC)),
    (1584540300000, datetime(2020, 3, 18, 14, 5, tzinfo=UTC)),
])
def test_parse_date(value: object, expected: datetime) -> None:
    assert parse_date(value, None, NY) == expected


@pytest.mark.parametrize("value", ["", "yesterday", "31/31/2024", "2020-13-01", True, None, 1e30])
def test_parse_date_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_date(value, None, NY)


def test_parse_date_with_a_format() -> None:
    assert parse_date("18/03/2020", "%d/%m/%Y", UTC) == datetime(2020, 3, 18, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_date("2020-03-18", "%d/%m/%Y", UTC)


def test_now_is_used_when_no_date_column_is_mapped(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", HEADER + "1,x,a,b,text\n")
    result = run(tmp_path, session, fields={"text": "notes"})
    assert [(m.published, m.external_id[:2]) for m in result.mentions] == [(NOW, "h:")]


def test_future_dates_are_treated_alike_in_exports_and_feeds(tmp_path: Path, session: requests.Session) -> None:
    """A clock a few hours ahead is clamped to the fetch time; a date beyond a day ahead is skipped and named."""
    soon, far = (NOW + timedelta(hours=6)).isoformat(), "2100-01-01T00:00:00Z"
    write(tmp_path, "calls-1.csv", HEADER + f"A-1,{soon},Ana,Baggage,Bag missing\nA-2,{far},Ben,Refunds,Refund late\n")
    feed = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f'<item><guid>F-1</guid><title>Bag missing</title><pubDate>{format_datetime(NOW + timedelta(hours=6))}'
            '</pubDate></item><item><guid>F-2</guid><title>Refund late</title>'
            '<pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item></channel></rss>')
    (tmp_path / "feed.xml").write_text(feed, encoding="utf-8")
    config = make_config(tmp_path, [
        {"name": "calls", "kind": "csv", "path": "exports/calls-*.csv", "channel": "call_center",
         "brand_filter": False, "fields": FIELDS},
        {"name": "blog", "kind": "feed", "url": "feed.xml", "channel": "blogs", "brand_filter": False}])
    for spec, near, beyond in zip(config.sources.sources, ("A-1", "F-1"), ("A-2", "F-2"), strict=True):
        result = fetch_source(spec, make_ctx(config, session))
        assert {m.external_id: m.published for m in result.mentions} == {near: NOW}, spec.name
        assert result.dropped == 1 and len(result.problems) == 1, spec.name
        assert f"id '{beyond}': date 2100-01-01 is more than a day after the fetch" in result.problems[0]


# -- sources that deliver nothing, rows that lose data (issue 19 item 3) -----------------------------------


def test_a_glob_differing_in_case_names_the_file_it_missed(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", CALLS)
    result = run(tmp_path, session, path="exports/calls-*.CSV")
    assert result.status == "error"
    assert result.error == (f"no file matches 'exports/calls-*.CSV' in {tmp_path / 'exports'} "
                            "('calls-1.csv' differs only in letter case)")
    nested = run(tmp_path, session, path="exports/**/CALLS-*.csv")
    assert nested.error is not None and nested.error.endswith("('calls-1.csv' differs only in letter case)")


def test_a_path_that_is_a_folder_says_so(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", CALLS)
    result = run(tmp_path, session, path="exports")
    assert (result.status, result.error) == (
        "error", "path 'exports' is a folder, not files: name them with a glob, e.g. 'exports/*.csv'")


def test_short_rows_and_extra_cells_are_counted_and_named(tmp_path: Path, session: requests.Session) -> None:
    write(tmp_path, "calls-1.csv", HEADER + "1,2024-03-18,a,b,fine\n"
                                   "2,2024-03-18,a,b\n"  # short: the notes are gone
                                   "3,2024-03-18,a,b,late, then cancelled\n"  # an unquoted comma shifts cells
                                   "4,2024-03-18,a,b,trailing empty cells are harmless,,\n")
    result = run(tmp_path, session)
    assert [m.external_id for m in result.mentions] == ["1", "4"]
    assert result.problems == ("2 rows skipped (calls-1.csv line 3: short row: 4 cells for 5 columns; "
                               "calls-1.csv line 4: extra cells (an unquoted delimiter in a field?): 6 cells for "
                               "5 columns)",)
    assert result.dropped == 2
