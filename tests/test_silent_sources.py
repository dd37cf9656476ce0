"""Issue 19 item 3: a source that delivers nothing, or loses rows, never reports "ok" silently: each case is
named on the ingest line, exits 3, and stands in the digest's data health."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from digest.models import SourceResult
from digest.store import Store

from .conftest import run_cli
from .helpers_faults import NOW, write_project

WHEN = (NOW - timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
HEADER = "id,created,notes\n"
FIELDS = {"id": "id", "text": "notes", "published": "created"}


def export(name: str, path: str) -> dict[str, object]:
    return {"name": name, "kind": "csv", "path": path, "channel": "call_center", "fields": FIELDS}


def line_of(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.strip().startswith(f"{name} ["))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    ex = tmp_path / "exports"
    ex.mkdir()
    (ex / "calls-1.csv").write_text(HEADER + f"c1,{WHEN},Acme Air lost my bag\n", encoding="utf-8")
    (ex / "care-1.csv").write_text(HEADER + f"k1,{WHEN},Acme Air refund late\n", encoding="utf-8")
    (ex / "care-2.csv").write_bytes((HEADER + f"k2,{WHEN},Acme Air caf\xe9 cold\n").encode("cp1252"))
    (ex / "rows-1.csv").write_text(HEADER + f"r1,{WHEN},Acme Air fine row\nr2,{WHEN}\nr3,{WHEN},\n"
                                   f"r4,{WHEN},Acme Air late, then cancelled\n", encoding="utf-8")
    return write_project(tmp_path, [
        export("Case", "exports/calls-*.CSV"),
        export("Folder", "exports"),
        export("Care", "exports/care-*.csv"),
        export("Rows", "exports/rows-*.csv"),
        export("Good", "exports/calls-*.csv"),
    ])


def test_sources_that_deliver_nothing_or_lose_rows_are_named_and_exit_3(project: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "--config", str(project), "ingest")
    assert r.code == 3, r.out + r.err
    ex = project / "exports"
    assert line_of(r.out, "Case").endswith(f"error · no file matches 'exports/calls-*.CSV' in {ex} "
                                           "('calls-1.csv' differs only in letter case)")
    assert line_of(r.out, "Folder").endswith("error · path 'exports' is a folder, not files: name them with a "
                                             "glob, e.g. 'exports/*.csv'")
    care = line_of(r.out, "Care")
    assert "ok · 1 items, 1 about the brand · problem: care-2.csv: not valid utf-8 at byte " in care
    assert care.endswith(" (set `encoding:` for this source, e.g. cp1252)")
    assert line_of(r.out, "Rows").endswith(
        "ok · 4 items, 1 about the brand · problem: 3 rows skipped (rows-1.csv line 3: short row: 2 cells for 3 "
        "columns; rows-1.csv line 4: no text in 'notes'; rows-1.csv line 5: extra cells (an unquoted delimiter "
        "in a field?): 4 cells for 3 columns)")
    assert line_of(r.out, "Good").endswith("ok · 1 items, 1 about the brand")
    assert r.out.splitlines()[-1].startswith("5 sources: 3 ok (2 with problems), 0 not modified, 2 failed")

    preview = run_cli(capsys, "--config", str(project), "preview", "daily", "--format", "json")
    assert preview.code == 0, preview.err
    health = json.loads(preview.out)["health"]
    assert (health["sources"], health["ok"], health["complete"]) == (5, 1, False)
    by_name = {row["source"]: row for row in health["problems"]}
    assert set(by_name) == {"Case", "Folder", "Care", "Rows"}
    assert by_name["Rows"]["status"] == "partial"
    assert by_name["Rows"]["detail"].startswith("fetched with problems: 3 rows skipped (rows-1.csv line 3: short")
    assert "care-2.csv: not valid utf-8" in by_name["Care"]["detail"]
    assert by_name["Case"]["status"] == "failed" and "no file matches" in by_name["Case"]["detail"]
    text = run_cli(capsys, "--config", str(project), "preview", "daily", "--format", "text").out
    assert "fetched with problems: 3 rows skipped" in text


def test_a_store_from_before_last_problem_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    Store.open(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as conn:  # the schema of the version before: no sources.last_problem
        conn.execute("ALTER TABLE sources DROP COLUMN last_problem")
        conn.execute("DELETE FROM meta WHERE key = 'source_problems_version'")
    store = Store.open(f"sqlite:///{path}")
    try:
        store.record_source(SourceResult("s", "twitter", "ok", items_seen=3, problems=("1 row skipped (x)",)),
                            at=NOW)
        [h] = store.health(["s"])
        assert h.last_problem == "1 row skipped (x)"
        store.record_source(SourceResult("s", "twitter", "not_modified"), at=NOW)  # still missing that row
        assert store.health(["s"])[0].last_problem == "1 row skipped (x)"
        store.record_source(SourceResult("s", "twitter", "ok", items_seen=3), at=NOW)  # read cleanly
        assert store.health(["s"])[0].last_problem is None
    finally:
        store.close()


def test_check_warns_of_what_the_next_ingest_would_meet(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "feed.xml").write_text("<rss/>", encoding="utf-8")
    write_project(project, [
        export("Case", "exports/calls-*.CSV"),
        {**export("Latin", "exports/calls-*.csv"), "encoding": "latin-9x"},
        {"name": "Gopher", "kind": "feed", "url": "gopher://example.org/feed", "channel": "news"},
        {"name": "Gone", "kind": "feed", "url": "missing.xml", "channel": "news"},
        {"name": "Local", "kind": "feed", "url": "feed.xml", "channel": "news"},
        export("Good", "exports/calls-*.csv"),
    ])
    r = run_cli(capsys, "--config", str(project), "check")
    assert r.code == 0, r.err
    ex = project / "exports"
    text = (project / "sources.yaml").read_text(encoding="utf-8").splitlines()

    def at(needle: str) -> int:  # the line each warning must point at: the field's own
        return next(i for i, line in enumerate(text, 1) if needle in line)
    assert r.err.splitlines() == [
        f"sources.yaml:{at('exports/calls-*.CSV')}: warning: sources[0].path: no file matches "
        f"'exports/calls-*.CSV' in {ex} ('calls-1.csv' differs only in letter case)",
        f"sources.yaml:{at('latin-9x')}: warning: sources[1].encoding: unknown encoding 'latin-9x' "
        "(e.g. utf-8, cp1252, latin-1, utf-16)",
        f"sources.yaml:{at('gopher:')}: warning: sources[2].url: unsupported URL scheme 'gopher': use http(s), "
        "a file: URL or a local path",
        f"sources.yaml:{at('missing.xml')}: warning: sources[3].url: file not found: {project / 'missing.xml'}",
    ]
    assert r.out.rstrip().endswith("; 4 warnings")
