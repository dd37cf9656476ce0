"""Faults end to end, with real parts: an SMTP server that refuses, answers 4xx/5xx or drops the connection
mid-message; `digest` processes killed with SIGKILL while ingesting and while sending; the SQLite file locked
by another process; a full disk under the store and under the outbox.

After each fault a normal run completes: every mention stored before is still there and every due digest
is delivered exactly once -- except in the documented at-least-once window (a process killed after the
server took the message but before the ledger recorded it), where it goes out once more after STALE_CLAIM
with the same Message-ID.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from digest.store import STALE_CLAIM, Store

from .conftest import Result, SmtpServer, free_port, run_cli
from .helpers_faults import (
    NOW,
    WEEKLY,
    Item,
    age_claims,
    complaints,
    db_path,
    digest_process,
    feed_source,
    feed_xml,
    integrity,
    ledger,
    mention_ids,
    raw_smtp,
    write_project,
)
from .helpers_http import send, serving

A = feed_source("A", "a.xml")


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose one source is a local feed of 40 complaints from the last 12 days."""
    for var in ("DIGEST_SMTP_HOST", "DIGEST_SMTP_USER", "DIGEST_SMTP_PASSWORD", "DIGEST_DB", "DIGEST_CONFIG",
                "DIGEST_OUTBOX", "DIGEST_DB_BUSY_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.xml").write_bytes(feed_xml(complaints("a", 40)))
    return write_project(project, [A])


def cli(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> Result:
    return run_cli(capsys, "--config", str(project), *args)


def ingested(capsys: pytest.CaptureFixture[str], project: Path, db: Path | None = None) -> set[tuple[str, str]]:
    r = cli(capsys, project, "ingest")
    assert r.code == 0, r.out + r.err
    ids = mention_ids(db or db_path(project))
    assert ids
    return ids


def ids_of(source: str, prefix: str, n: int) -> set[tuple[str, str]]:
    return {(source, f"{prefix}{i}") for i in range(n)}


def setenv(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)


def lines_for(out: str, email: str) -> list[str]:
    return [line for line in out.splitlines() if f"→ {email}:" in line]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start `digest` child processes; any still running at the end of the test is killed."""
    procs: list[subprocess.Popen[str]] = []

    def start(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        procs.append(digest_process(project, *args, env=env))
        return procs[-1]

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def sigkill(proc: subprocess.Popen[str]) -> None:
    assert proc.poll() is None, f"the process ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


# -- SMTP --------------------------------------------------------------------------------------------------


def test_connection_dropped_mid_message(small: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ingested(capsys, small)
    with raw_smtp() as smtp:
        setenv(monkeypatch, smtp.env())
        smtp.plan = ["drop"]
        first = cli(capsys, small, "send", "weekly")
        assert first.code == 1, first.out + first.err
        assert smtp.dropped == 1 and "Traceback" not in first.err
        [line] = lines_for(first.out, "ceo@acme.example")
        assert f": failed: SMTP 127.0.0.1:{smtp.port} (none): " in line
        # the session connected again for the rest of the batch instead of failing it all
        assert smtp.to() == WEEKLY[1:]
        assert "2 digests sent, 0 already sent, 1 failed" in first.out
        second = cli(capsys, small, "send", "weekly")
        assert second.code == 0 and "1 digest sent, 2 already sent, 0 failed" in second.out
        assert sorted(smtp.to()) == WEEKLY
    assert set(ledger(db_path(small)).values()) == {"sent"}


def test_recipient_greylisted_then_delivered(small: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ingested(capsys, small)
    with raw_smtp() as smtp:
        setenv(monkeypatch, smtp.env())
        smtp.rcpt_reply = "450 4.2.0 greylisted, come back later"
        first = cli(capsys, small, "send", "weekly")
        assert first.code == 1 and "0 digests sent, 0 already sent, 3 failed" in first.out
        for email in WEEKLY:
            [line] = lines_for(first.out, email)
            assert line.endswith(f": recipients refused: {email} (450 4.2.0 greylisted, come back later)"), line
        smtp.rcpt_reply = None
        second = cli(capsys, small, "send", "weekly")
        assert second.code == 0 and "3 digests sent, 0 already sent, 0 failed" in second.out
        assert sorted(smtp.to()) == WEEKLY


@pytest.mark.parametrize("fault", ["down", "451 4.3.0 try again later", "554 5.7.1 relay access denied"])
def test_refused_then_delivered_once_on_the_next_run(fault: str, small: Path, smtp_server: SmtpServer,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ingested(capsys, small)
    setenv(monkeypatch, smtp_server.env())
    if fault == "down":
        monkeypatch.setenv("DIGEST_SMTP_PORT", str(free_port()))
    else:
        smtp_server.fail_with = fault
    first = cli(capsys, small, "send", "weekly")
    assert first.code == 1 and "Traceback" not in first.err
    assert "0 digests sent, 0 already sent, 3 failed" in first.out
    reason = "connection refused" if fault == "down" else fault
    for email in WEEKLY:
        [line] = lines_for(first.out, email)
        assert line.endswith(reason), line
    # no connection: nothing was claimed; a refusal: each claim is marked failed, to be retried
    assert set(ledger(db_path(small)).values()) == (set() if fault == "down" else {"failed"})
    # a permanent (5xx) refusal is retried too: it is usually a server setting that ops then fix
    smtp_server.fail_with = None
    setenv(monkeypatch, smtp_server.env())
    second = cli(capsys, small, "send", "weekly")
    assert second.code == 0 and "3 digests sent, 0 already sent, 0 failed" in second.out
    third = cli(capsys, small, "send", "weekly")
    assert third.code == 0 and "0 digests sent, 3 already sent, 0 failed" in third.out
    assert sorted(rcpt for _, [rcpt] in smtp_server.envelopes) == WEEKLY


# -- processes killed --------------------------------------------------------------------------------------


def recorded(db: Path, source: str) -> bool:
    """Whether `source`'s state (what the next run compares against) has been recorded."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return conn.execute("SELECT 1 FROM sources WHERE name = ?", (source,)).fetchone() is not None


def check_after_kill(db: Path, before: set[tuple[str, str]], batches: dict[str, set[tuple[str, str]]]) -> None:
    """What a SIGKILL must leave: a sound store, nothing stored before lost, each source's batch stored whole
    or not at all, and no source recorded as fetched whose mentions are not stored (the next run would find
    it unchanged and never store them), and no ingest lock held."""
    assert integrity(db) == "ok"
    now = mention_ids(db)
    assert before <= now
    for source, ids in batches.items():
        stored = now & ids
        assert stored in (set(), ids), f"{source}: {len(stored)} of {len(ids)} stored"
        assert stored == ids or not recorded(db, source), f"{source} recorded as fetched, its mentions lost"
    # the ingest lock is a file lock: it died with the process (sigkill waited for its workers too)
    store = Store.open(f"sqlite:///{db}")
    try:
        with store.lock("ingest") as got:
            assert got
    finally:
        store.close()


def test_killed_while_fetching(small: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn) -> None:
    db = db_path(small)
    before = ingested(capsys, small)
    (small / "c.xml").write_bytes(feed_xml(complaints("c", 30)))
    gate = threading.Event()

    def slow(h: BaseHTTPRequestHandler) -> None:
        gate.wait(30)
        send(h, 200, feed_xml(complaints("s", 5)))

    with serving() as server:
        server.route("/slow", slow)
        # A is unchanged, C is fetched at once, S hangs until the process is killed
        write_project(small, [A, feed_source("C", "c.xml"), feed_source("S", server.url("/slow"), timeout=60)])
        proc = spawn(small, "ingest")
        wait_for(lambda: bool(server.seen), "S requested")
        time.sleep(0.5)  # C is long done
        sigkill(proc)
        check_after_kill(db, before, {"C": ids_of("C", "c", 30), "S": ids_of("S", "s", 5)})
        gate.set()
        again = cli(capsys, small, "ingest")
    assert again.code == 0, again.out + again.err
    assert mention_ids(db) == before | ids_of("C", "c", 30) | ids_of("S", "s", 5)


class Probe:
    """A look at a SQLite store from outside: is a write transaction open, how far has it got."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.conn = sqlite3.connect(db, timeout=0, isolation_level=None)

    def writing(self) -> bool:
        """Whether some process holds the write lock right now."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        self.conn.execute("ROLLBACK")
        return False

    def wal_bytes(self) -> int:
        """Size of the write-ahead log: pages a big transaction spills there before it commits."""
        wal = Path(f"{self.db}-wal")
        return wal.stat().st_size if wal.exists() else 0

    def committed(self, source: str) -> int:
        return int(self.conn.execute("SELECT count(*) FROM mentions WHERE source = ?", (source,)).fetchone()[0])

    def close(self) -> None:
        self.conn.close()


def test_killed_while_storing(small: Path, capsys: pytest.CaptureFixture[str], spawn: Spawn) -> None:
    db = db_path(small)
    before = ingested(capsys, small)
    # 1500 mentions of about 2 KB each (long links cost nothing to classify): more than SQLite's page
    # cache, so the transaction that stores them spills pages into the WAL before it commits
    big = [Item(f"big{i}", f"Acme Air lost my bag {i}", f"Acme Air lost my bag on flight {i}, no refund",
                link=f"https://social.example/big/{i}?ref=" + "x" * 1900, published=NOW - timedelta(hours=i % 100))
           for i in range(1500)]
    (small / "big.xml").write_bytes(feed_xml(big))
    write_project(small, [A, feed_source("Big", "big.xml")])
    probe = Probe(db)
    proc = spawn(small, "ingest")
    # Freeze the process while it holds the write lock with a megabyte of Big's pages in the WAL and none
    # of Big's mentions committed: it is inside the transaction that stores them. Kill it there.
    inside = False
    while not inside and proc.poll() is None:
        if probe.wal_bytes() > 1024 * 1024 and probe.writing():
            proc.send_signal(signal.SIGSTOP)
            inside = probe.writing() and probe.committed("Big") == 0
            if not inside:
                proc.send_signal(signal.SIGCONT)
        time.sleep(0.005)
    probe.close()
    assert inside, "the ingest was never seen inside the transaction storing the batch"
    sigkill(proc)
    check_after_kill(db, before, {"Big": ids_of("Big", "big", 1500)})
    assert mention_ids(db) == before  # the transaction was rolled back as a whole
    again = cli(capsys, small, "ingest")
    assert again.code == 0, again.out + again.err
    assert mention_ids(db) == before | ids_of("Big", "big", 1500)


def test_killed_while_sending(small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                              spawn: Spawn) -> None:
    db = db_path(small)
    ingested(capsys, small)
    with raw_smtp() as smtp:
        # the server takes the first message whole, then holds back its "250": the process is killed
        # after the message was handed over and before the ledger could record it
        smtp.plan = ["hold"]
        proc = spawn(small, "send", "weekly", env=smtp.env())
        assert smtp.arrived.wait(60), proc.communicate(timeout=30)
        sigkill(proc)
        smtp.release.set()
        assert ledger(db) == {("ceo@acme.example", key): "claimed" for (_, key) in ledger(db)}
        setenv(monkeypatch, smtp.env())
        second = cli(capsys, small, "send", "weekly")
        assert second.code == 0, second.out + second.err
        [line] = lines_for(second.out, "ceo@acme.example")
        assert line.endswith(": skipped: being sent by another run (a claim older than 15 min is taken over)")
        assert "2 digests sent, 0 already sent, 0 failed, 1 being sent by another run" in second.out
        # fifteen minutes later the dead run's claim is taken over and that digest goes out again
        assert age_claims(db, STALE_CLAIM + timedelta(minutes=1)) == 1
        third = cli(capsys, small, "send", "weekly")
        assert third.code == 0 and "1 digest sent, 2 already sent, 0 failed" in third.out
        fourth = cli(capsys, small, "send", "weekly")
        assert fourth.code == 0 and "0 digests sent, 3 already sent, 0 failed" in fourth.out
        assert Counter(smtp.to()) == {"ceo@acme.example": 2, "cmo@acme.example": 1, "service@acme.example": 1}
        # ... as the same message: mail systems that deduplicate by Message-ID show it once
        first_copy, second_copy = (m for m in smtp.messages if m["To"].addresses[0].addr_spec == "ceo@acme.example")
        assert first_copy["Message-ID"] == second_copy["Message-ID"]
        assert len({m["Message-ID"] for m in smtp.messages}) == 3
    assert set(ledger(db).values()) == {"sent"}


# -- the database locked by another process ---------------------------------------------------------------

HOLDER = """\
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextlib.contextmanager
def locked(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding an exclusive transaction on `db` until its stdin is closed."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline() == "locked\n"
        yield holder
    finally:
        with contextlib.suppress(OSError, ValueError):
            holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()


def test_locked_database(small: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = db_path(small)
    before = ingested(capsys, small)
    (small / "c.xml").write_bytes(feed_xml(complaints("c", 10)))
    write_project(small, [A, feed_source("C", "c.xml")])
    monkeypatch.setenv("DIGEST_DB_BUSY_TIMEOUT", "1")
    with locked(db):
        for command in (["ingest"], ["send", "weekly"], ["run"]):
            started = time.monotonic()
            r = cli(capsys, small, *command)
            assert r.code == 1, (command, r.out, r.err)
            assert r.err == (f"digest: store sqlite:///{db}: database is locked (another process holds a write "
                             "lock; gave up after 1 s, see DIGEST_DB_BUSY_TIMEOUT)\n"), command
            assert time.monotonic() - started < 10
    assert mention_ids(db) == before and ledger(db) == {}
    assert not (small / "outbox").exists() or not list((small / "outbox").iterdir())
    # a lock held for a moment is waited out (the ingest's first write comes within milliseconds, and
    # the lock goes a second later)
    monkeypatch.setenv("DIGEST_DB_BUSY_TIMEOUT", "20")
    with locked(db) as holder:
        assert holder.stdin is not None
        threading.Timer(1.0, holder.stdin.close).start()
        started = time.monotonic()
        r = cli(capsys, small, "ingest")
        assert time.monotonic() - started >= 0.9
    assert r.code == 0, r.out + r.err
    assert mention_ids(db) == before | ids_of("C", "c", 10)
    sent = cli(capsys, small, "send", "weekly")
    assert sent.code == 0 and "3 digests sent" in sent.out
    assert sorted(recipients_in(small / "outbox")) == WEEKLY


def test_bad_busy_timeout_is_a_usage_error(small: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_DB_BUSY_TIMEOUT", "soon")
    r = cli(capsys, small, "ingest")
    assert (r.code, r.err) == (2, "digest: DIGEST_DB_BUSY_TIMEOUT: 'soon' must be a number of seconds from 0 "
                                  "to 3600\n")


# -- a full disk -------------------------------------------------------------------------------------------


@dataclass
class SmallDisk:
    """A folder on a tiny tmpfs (as root), else an ordinary folder whose files RLIMIT_FSIZE stops growing."""

    path: Path
    tmpfs: bool

    @contextlib.contextmanager
    def full(self, spare: int) -> Iterator[None]:
        """The disk full but for `spare` bytes (tmpfs); or no file may grow `spare` bytes past the largest."""
        if not self.tmpfs:
            largest = max((p.stat().st_size for p in self.path.rglob("*") if p.is_file()), default=0)
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG instead of killing us
            resource.setrlimit(resource.RLIMIT_FSIZE, (largest + spare, hard))
            try:
                yield
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            return
        filler = self.path / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - spare))
        try:
            yield
        finally:
            filler.unlink()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    path = tmp_path / "disk"
    path.mkdir()
    mounted = os.geteuid() == 0 and shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path)], capture_output=True, check=False).returncode == 0
    try:
        yield SmallDisk(path, mounted)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def test_disk_full_under_the_store(small: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = small_disk.path / "digest.sqlite3"
    monkeypatch.setenv("DIGEST_DB", f"sqlite:///{db}")
    before = ingested(capsys, small, db)
    (small / "big.xml").write_bytes(feed_xml(complaints("big", 1500, days=6)))
    write_project(small, [A, feed_source("Big", "big.xml")])
    with small_disk.full(spare=96 * 1024):
        r = cli(capsys, small, "ingest")
    assert r.code == 1 and "Traceback" not in r.err and r.err.count("\n") == 1, r.err
    # a full tmpfs gives SQLite ENOSPC; RLIMIT_FSIZE's EFBIG reaches it as an I/O error
    reason = "database or disk is full" if small_disk.tmpfs else "disk I/O error (is the disk full or failing?)"
    assert r.err == f"digest: store sqlite:///{db}: {reason}\n", r.err
    assert mention_ids(db) == before and integrity(db) == "ok"
    again = cli(capsys, small, "ingest")
    assert again.code == 0, again.out + again.err
    assert mention_ids(db) == before | ids_of("Big", "big", 1500)


def recipients_in(outbox: Path) -> list[str]:
    out = []
    for path in outbox.glob("*.eml"):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        out.append(msg["To"].addresses[0].addr_spec)  # type: ignore[union-attr]
    return out


def test_disk_full_under_the_outbox(small: Path, small_disk: SmallDisk, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not small_disk.tmpfs:
        pytest.skip("needs a tmpfs (mounting one needs root): RLIMIT_FSIZE would stop the store's files too")
    ingested(capsys, small)
    outbox = small_disk.path / "outbox"
    outbox.mkdir()
    monkeypatch.setenv("DIGEST_OUTBOX", str(outbox))
    with small_disk.full(spare=4096):
        r = cli(capsys, small, "send", "weekly")
    assert r.code == 1 and "0 digests sent, 0 already sent, 3 failed" in r.out, r.out + r.err
    for email in WEEKLY:
        [line] = lines_for(r.out, email)
        assert f": failed: cannot write {outbox}/" in line
        assert line.endswith("No space left on device"), line
    assert list(outbox.iterdir()) == []  # no half-written message, no temporary file
    again = cli(capsys, small, "send", "weekly")
    assert again.code == 0 and "3 digests sent, 0 already sent, 0 failed" in again.out
    assert sorted(recipients_in(outbox)) == WEEKLY
