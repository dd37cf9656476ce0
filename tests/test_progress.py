"""Issue 19: a progress display during an ingest on a terminal only -- nothing extra when piped, in cron or -q.

The command runs in a real pseudo-terminal (pty), as a person at a shell sees it, and through pipes, as cron
runs it."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.sources.exports import CHUNK_ROWS

from .helpers_cadence import write_config, write_exports


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return env


def _on_a_terminal(args: list[str]) -> tuple[int, str]:
    """Run `python -m digest ARGS` with stdout and stderr on a pty; its exit code and everything it drew."""
    master, slave = pty.openpty()
    # a terminal 120 columns wide, as a person's is (a fresh pty is 0 x 0, where nothing fits)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "digest", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=_env(), close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=30), out.decode("utf-8", "replace")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_config(tmp_path)
    write_exports(tmp_path, datetime.now(UTC) - timedelta(hours=1))
    return tmp_path


def test_a_terminal_sees_the_sources_counted_and_the_bar_cleared(project: Path) -> None:
    code, drawn = _on_a_terminal(["--config", str(project), "ingest"])
    assert code == 0, drawn
    assert "ingest:" in drawn and "0/3" in drawn and "source" in drawn, drawn  # the bar over the 3 sources
    assert "3 sources: 3 ok" in drawn
    # the bar is redrawn in place (carriage returns) and cleared before the summary line
    assert "\r" in drawn.split("3 sources: 3 ok")[0]
    assert "Traceback" not in drawn


def test_quiet_on_a_terminal_draws_no_bar(project: Path) -> None:
    code, drawn = _on_a_terminal(["-q", "--config", str(project), "ingest"])
    assert code == 0, drawn
    assert "ingest:" not in drawn and "0/3" not in drawn
    assert "3 sources: 3 ok" in drawn


def test_piped_output_has_no_bar(project: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "digest", "--config", str(project), "ingest"], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 sources: 3 ok" in r.stdout
    assert "ingest:" not in r.stderr and "\r" not in r.stdout + r.stderr and "0/3" not in r.stderr


@pytest.fixture
def big_export(tmp_path: Path) -> Path:
    """One export of 2.5 parts (sources.exports.CHUNK_ROWS rows each); the same text, so it is classified once."""
    write_config(tmp_path, sources=[{"name": "calls", "kind": "csv", "path": "exports/calls-*.csv",
                                     "channel": "call_center", "brand_filter": False,
                                     "fields": {"id": "id", "text": "text", "published": "published"}}],
                 recipients=[{"name": "Dana", "email": "dana@acme.example", "digests": ["daily"]}])
    at = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    rows = "".join(f"c{i},the flight was fine,{at}\n" for i in range(CHUNK_ROWS * 5 // 2))
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "calls-1.csv").write_text("id,text,published\n" + rows, encoding="utf-8")
    return tmp_path


def test_a_terminal_sees_the_rows_read_of_a_large_export(big_export: Path) -> None:
    code, drawn = _on_a_terminal(["--config", str(big_export), "ingest"])
    assert code == 0, drawn
    assert f"calls · {CHUNK_ROWS:,} rows read" in drawn and f"calls · {2 * CHUNK_ROWS:,} rows read" in drawn, drawn
    assert "1 source: 1 ok" in drawn and "Traceback" not in drawn


def test_piped_output_has_no_rows_read(big_export: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "digest", "--config", str(big_export), "ingest"], env=_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == [f"  calls [call_center]: ok · {CHUNK_ROWS * 5 // 2} items, "
                                     f"{CHUNK_ROWS * 5 // 2} about the brand",
                                     f"1 source: 1 ok, 0 not modified, 0 failed · {CHUNK_ROWS * 5 // 2} new mentions"]
    assert r.stderr == ""
