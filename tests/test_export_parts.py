"""Issue 19: a large export is read in parts, each stored before the next is read, so that an ingest holds one
part of it, one killed in the middle of a file loses nothing stored and the next run goes on from there, and a
re-export stores only its new rows. (How much memory that saves is measured by bench/bench_export_memory.py.)"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from digest import pipeline
from digest.errors import SourceError
from digest.models import SourceResult
from digest.sources import exports, stream_source
from digest.store import Store
from tests.helpers_http import NOW, make_config, make_ctx

PART = exports.CHUNK_ROWS
FIELDS = {"id": "ticket_id", "text": "notes", "published": "created_at"}


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def write_calls(path: Path, rows: int, *, at: datetime = NOW, bad: dict[int, str] | None = None) -> None:
    """`rows` tickets T00001... with notes that span lines; `bad`: row number -> its created_at instead."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket_id", "created_at", "notes"])
        for i in range(1, rows + 1):
            when = (bad or {}).get(i, (at - timedelta(minutes=i)).isoformat())
            w.writerow([f"T{i:05d}", when, f"Call {i}: bag {i} lost on flight {i % 97}.\nCalled back, no news."])


def spec_of(tmp_path: Path) -> Any:
    config = make_config(tmp_path, [{"name": "calls", "kind": "csv", "path": "exports/calls-*.csv",
                                     "channel": "call_center", "brand_filter": False, "fields": FIELDS}])
    return config, config.sources.sources[0]


def parts(tmp_path: Path, session: requests.Session, state: dict[str, str] | None = None) -> list[SourceResult]:
    config, spec = spec_of(tmp_path)
    return list(stream_source(spec, make_ctx(config, session, state=state)))


def ids(result: SourceResult) -> list[str]:
    return [m.external_id for m in result.mentions]


def test_an_export_is_read_in_parts_each_with_the_state_to_keep(tmp_path: Path, session: requests.Session) -> None:
    write_calls(tmp_path / "exports" / "calls-1.csv", 2 * PART + 7)
    *middle, last = parts(tmp_path, session)
    assert [(p.partial, len(p.mentions), p.items_seen) for p in middle] == [(True, PART, PART), (True, PART, 2 * PART)]
    assert ids(middle[0])[0] == "T00001" and ids(middle[1])[0] == f"T{PART + 1:05d}"
    # each part's state says how far the file was read; the result's is the file's, as before
    rows = [json.loads(p.state["files"])["exports/calls-1.csv"].get("rows") for p in (*middle, last)]
    assert rows == [PART, 2 * PART, None]
    assert (last.partial, last.status, len(last.mentions), last.items_seen, last.about_brand) == (
        False, "ok", 7, 2 * PART + 7, 2 * PART + 7)
    # read whole (fetch_source, digest check...), the same mentions in one result
    config, spec = spec_of(tmp_path)
    whole = exports.fetch(spec, make_ctx(config, session))
    assert ids(whole) == [i for p in (*middle, last) for i in ids(p)] and whole.state == last.state


def test_a_csv_file_of_any_size_is_read_and_a_json_one_over_the_limit_is_refused(
        tmp_path: Path, session: requests.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    write_calls(tmp_path / "exports" / "calls-1.csv", 50)
    size = (tmp_path / "exports" / "calls-1.csv").stat().st_size
    monkeypatch.setattr(exports, "MAX_JSON_BYTES", size // 2)  # the CSV is twice the JSON limit
    config, spec = spec_of(tmp_path)
    result = exports.fetch(spec, make_ctx(config, session))
    assert (result.status, len(result.mentions)) == ("ok", 50), result.error
    items = [{"ticket_id": f"J{i}", "created_at": NOW.isoformat(), "notes": "bag lost " * 20} for i in range(50)]
    (tmp_path / "exports" / "calls-2.json").write_text(json.dumps(items), encoding="utf-8")
    config = make_config(tmp_path, [{"name": "calls", "kind": "json", "path": "exports/calls-*.json",
                                     "channel": "call_center", "brand_filter": False, "fields": FIELDS}])
    with pytest.raises(SourceError, match=r"calls-2\.json: larger than .*export as CSV"):
        exports.fetch(config.sources.sources[0], make_ctx(config, session))


def test_a_file_read_in_part_goes_on_after_the_rows_stored(tmp_path: Path, session: requests.Session) -> None:
    path = tmp_path / "exports" / "calls-1.csv"
    write_calls(path, 2 * PART + 7)
    first, *_ = parts(tmp_path, session)
    resumed = parts(tmp_path, session, state=first.state)  # killed once the first part was stored
    assert ids(resumed[0])[0] == f"T{PART + 1:05d}"
    assert sum(len(p.mentions) for p in resumed) == PART + 7 and resumed[-1].items_seen == PART + 7
    assert "rows" not in json.loads(resumed[-1].state["files"])["exports/calls-1.csv"]
    # the file changed since that part was read (exported again): read from its start, the store dedupes
    write_calls(path, 2 * PART + 8)
    again = parts(tmp_path, session, state=first.state)
    assert ids(again[0])[0] == "T00001" and again[-1].items_seen == 2 * PART + 8


def test_rows_lost_in_any_part_are_counted_and_named_on_the_result(tmp_path: Path,
                                                                   session: requests.Session) -> None:
    far = "2100-01-01T00:00:00Z"
    write_calls(tmp_path / "exports" / "calls-1.csv", 2 * PART + 7, bad={3: far, PART + 5: "31/31/2024"})
    *middle, last = parts(tmp_path, session)
    assert all(not p.problems and not p.dropped for p in middle)
    assert last.problems == (f"1 row skipped (calls-1.csv line {2 * (PART + 5)}: bad date '31/31/2024')",
                             "1 item skipped for their date (id 'T00003': date 2100-01-01 is more than a day "
                             "after the fetch (2024-03-20))")
    assert last.dropped == 2 and last.about_brand == 2 * PART + 5
    assert sum(len(p.mentions) for p in (*middle, last)) == 2 * PART + 5


def test_replies_kept_for_their_threads_are_counted_over_every_part(tmp_path: Path,
                                                                     session: requests.Session) -> None:
    """The ingest line's "N about the brand, M replies kept for their threads" counts every part, not the last."""
    path = tmp_path / "exports" / "care-1.csv"
    path.parent.mkdir(parents=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ticket_id", "created_at", "author", "reply_to", "notes"])
        for i in range(1, 2 * PART + 8):
            when = (NOW - timedelta(minutes=i)).isoformat()
            if i % 1000 == 0:  # a follow-up naming nobody: kept, about no one, for its thread
                w.writerow([f"T{i:05d}", when, "cust", f"T{i - 1:05d}", "still waiting, any news?"])
            elif i % 1000 == 1:  # names nobody and answers nothing: not kept
                w.writerow([f"T{i:05d}", when, "cust", "", "nothing to see here"])
            else:
                w.writerow([f"T{i:05d}", when, "cust", "", f"Acme Air lost bag {i}"])
    config = make_config(tmp_path, [{"name": "care", "kind": "csv", "path": "exports/care-*.csv",
                                     "channel": "twitter", "fields": {**FIELDS, "author": "author",
                                                                      "reply_to": "reply_to"}}],
                         brand={"name": "Acme Air", "keywords": ["acme"], "accounts": ["AcmeAirHelp"]})
    *middle, last = list(stream_source(config.sources.sources[0], make_ctx(config, session)))
    assert len(middle) == 2 and last.thread_replies == 4  # T01000 and T02000 in the first part, two in the second
    assert last.about_brand == 2 * PART + 7 - 4 - 5
    assert sum(len(p.mentions) for p in (*middle, last)) == last.about_brand + last.thread_replies


class Recorder:
    """pipeline.Progress that notes what it hears, and how many mentions the store held when it did."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.heard: list[tuple[str, int, int]] = []

    def start(self, sources: int) -> None:
        pass

    def reading(self, name: str, rows: int) -> None:
        self.heard.append(("reading", rows, self.store.count_mentions()))

    def fetched(self, name: str, entries: int) -> None:
        self.heard.append(("fetched", entries, self.store.count_mentions()))

    def stored(self, new: int) -> None:
        self.heard.append(("stored", new, self.store.count_mentions()))


def test_an_ingest_stores_each_part_before_reading_on_and_a_reexport_only_its_new_row(
        tmp_path: Path, db_url: str) -> None:
    path = tmp_path / "exports" / "calls-1.csv"
    write_calls(path, 2 * PART + 7)
    config, _ = spec_of(tmp_path)
    store = Store.open(db_url)
    try:
        heard = Recorder(store)
        report = pipeline.ingest(config, store, now=NOW, workers=1, progress=heard)
        assert report.new_mentions == 2 * PART + 7 and report.results[0].about_brand == 2 * PART + 7
        # the parts as they were read; the store held the first before the end of the file was reached
        assert [rows for what, rows, _ in heard.heard if what == "reading"] == [PART, 2 * PART]
        (at_end,) = [held for what, _, held in heard.heard if what == "fetched"]
        assert at_end >= PART
        state = json.loads(store.source_state("calls")["files"])["exports/calls-1.csv"]
        assert "rows" not in state and state["sha256"]

        write_calls(path, 2 * PART + 8)  # exported again, with one new ticket at the end
        again = pipeline.ingest(config, store, now=NOW, workers=1)
        assert again.new_mentions == 1 and store.count_mentions() == 2 * PART + 8
        (result,) = again.results
        assert (result.status, result.items_seen, result.about_brand, result.problems) == (
            "ok", 2 * PART + 8, 2 * PART + 8, ())
        health = {h.name: h for h in store.health()}["calls"]
        assert health.last_items == 2 * PART + 8 and health.consecutive_failures == 0
    finally:
        store.close()


def _count(db: Path) -> int:
    """Mentions in the SQLite store now (0 before it exists)."""
    return int(_query(db, "select count(*) from mentions") or 0)


def _rows_read(db: Path) -> int | None:
    """How far the calls export was read, by the state the store holds; None when not in the middle of it."""
    raw = _query(db, "select state from sources where name = 'calls'")
    entry = json.loads(json.loads(raw or "{}").get("files", "{}")).get("exports/calls-1.csv", {})
    return entry.get("rows")


def _query(db: Path, sql: str) -> Any:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(sql).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    return row[0] if row else None


def test_an_ingest_killed_in_the_middle_of_a_file_keeps_what_it_stored_and_goes_on(tmp_path: Path) -> None:
    rows = 3 * PART + 11
    write_calls(tmp_path / "exports" / "calls-1.csv", rows, at=datetime.now(UTC) - timedelta(hours=1))
    write_project(tmp_path)
    db = tmp_path / "store.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    cmd = [sys.executable, "-m", "digest", "--config", str(tmp_path), "--db", f"sqlite:///{db}", "ingest"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _rows_read(db) is None and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # as the OOM killer or a systemd timeout would
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest ended before it was killed"
    kept, at = _count(db), _rows_read(db)
    assert at is not None and 0 < at <= kept < rows  # killed in the middle of the file; what it stored is kept
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _count(db) == rows  # each ticket once
    last = done.stdout.strip().splitlines()[-1]
    assert last == f"1 source: 1 ok, 0 not modified, 0 failed · {rows - kept} new mentions"
    # it went on after the rows its state says were read and stored
    (line,) = [x for x in done.stdout.splitlines() if x.strip().startswith("calls [")]
    assert line.endswith(f"ok · {rows - at} items, {rows - at} about the brand")
    assert _rows_read(db) is None


def write_project(directory: Path) -> None:
    """sources.yaml (the calls export) and recipients.yaml for the command line."""
    (directory / "sources.yaml").write_text(
        "brand:\n  name: Acme Air\ntimezone: America/New_York\nsources:\n"
        "  - name: calls\n    kind: csv\n    path: exports/calls-*.csv\n    channel: call_center\n"
        "    brand_filter: false\n    fields: {id: ticket_id, text: notes, published: created_at}\n",
        encoding="utf-8")
    (directory / "recipients.yaml").write_text(
        'sender: "Digest <digest@acme.example>"\ntimezone: America/New_York\nrecipients:\n'
        "  - name: Dana\n    email: dana@acme.example\n    digests: [daily]\n", encoding="utf-8")
