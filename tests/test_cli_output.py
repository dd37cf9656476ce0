"""What the commands print: -q keeps only problems and one summary line (what cron appends to its log)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli
from .helpers_faults import complaints, feed_source, feed_xml, write_project


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("DIGEST_SMTP_HOST", "DIGEST_DB", "DIGEST_CONFIG", "DIGEST_DB_BUSY_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DIGEST_OUTBOX", str(tmp_path / "outbox"))
    (tmp_path / "p").mkdir()
    for name in ("a", "b"):
        (tmp_path / "p" / f"{name}.xml").write_bytes(feed_xml(complaints(name, 4)))
    return write_project(tmp_path / "p", [feed_source("A", "a.xml"), feed_source("B", "b.xml"),
                                          feed_source("Gone", "missing.xml")])


def test_quiet_run_prints_only_problems_and_one_summary_line(project: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    loud = run_cli(capsys, "--config", str(project), "run")
    assert loud.code == 3, loud.out + loud.err
    assert "  A [twitter]: ok" in loud.out and len(loud.out.splitlines()) > 5
    quiet = run_cli(capsys, "--config", str(project), "-q", "run")
    assert quiet.code == 3, quiet.out + quiet.err
    problem, summary = quiet.out.splitlines()
    assert problem.startswith("  Gone [twitter]: error · ")
    assert summary.startswith("3 sources: 0 ok, 2 not modified, 1 failed · 0 new mentions · 0 digests sent, ")
    assert " · alerts: 0 sent, 0 failed" in summary
    assert quiet.err == ""


def test_quiet_with_nothing_wrong_is_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "missing.xml").write_bytes(feed_xml(complaints("c", 2)))
    first = run_cli(capsys, "--config", str(project), "-q", "run")
    assert first.code == 0, first.out + first.err
    [line] = first.out.splitlines()
    assert line.startswith("3 sources: 3 ok, 0 not modified, 0 failed · 10 new mentions · ")
    [ingest_line] = run_cli(capsys, "--config", str(project), "-q", "ingest").out.splitlines()
    assert ingest_line == "3 sources: 0 ok, 3 not modified, 0 failed · 0 new mentions"


HEAVY = ("pandas", "numpy", "sqlalchemy", "textblob", "jinja2", "feedparser", "apscheduler")
PROBE = """
import json, sys
from digest.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["run", "--help"], ["check"]])
def test_help_and_check_do_not_import_the_heavy_libraries(args: list[str]) -> None:
    import json
    import os
    import subprocess
    import sys

    from .conftest import ROOT

    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    done = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), "--config", str(ROOT), *args], env=env,
                          capture_output=True, text=True, timeout=60)
    report = json.loads(done.stderr.splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, done.stderr
