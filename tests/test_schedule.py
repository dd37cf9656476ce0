"""`digest serve`: APScheduler 3.x jobs, triggers and defaults; one ingest at a time; catch-up after downtime
exactly once; and a real process that stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from digest import schedule
from digest.config import smtp_settings
from digest.mailer import SmtpMailer
from digest.render import Templates
from digest.store import Store

from .conftest import SmtpServer
from .helpers_cadence import NY, RECIPIENTS, TOKYO, Generated, fill, generate, write_config, write_exports
from .helpers_http import send, serving

TEMPLATES = Templates()


class Clock:
    """The jobs' idea of now, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _mailer(smtp: SmtpServer) -> SmtpMailer:
    settings = smtp_settings(smtp.env())
    assert settings is not None
    return SmtpMailer(settings)


@pytest.fixture
def stopping() -> Iterator[list[BackgroundScheduler]]:
    """Schedulers a test starts; shut down whatever happens."""
    started: list[BackgroundScheduler] = []
    yield started
    for s in started:
        if s.running:
            s.shutdown(wait=True)


def _run(sched: BackgroundScheduler, job_id: str) -> None:
    """Run a job's function now, in this thread, as the scheduler would."""
    job = sched.get_job(job_id)
    assert job is not None, job_id
    job.func(*job.args, **job.kwargs)


def test_jobs_triggers_and_defaults(tmp_path: Path, stopping: list[BackgroundScheduler]) -> None:
    config = write_config(tmp_path, ingest_every_minutes=10,
                          alerts={"recipients": ["oncall@acme.example"], "window_minutes": 60})
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        sched = schedule.build_scheduler(config, store, _mailer(SmtpServer("127.0.0.1", 1)), templates=TEMPLATES,
                                         clock=Clock(datetime(2026, 4, 15, tzinfo=UTC)))
        before = datetime.now(UTC)
        sched.start(paused=True)  # jobs get their defaults and next run times; nothing runs
        stopping.append(sched)
        jobs = {j.id: j for j in sched.get_jobs()}
        assert set(jobs) == {"ingest", "alerts", "catch-up", "send America/New_York 06:30",
                             "send America/New_York 07:00", "send Asia/Tokyo 08:00"}
        for job in jobs.values():
            # APScheduler's defaults (1 s grace, no coalescing) would drop or repeat runs after downtime
            assert (job.misfire_grace_time, job.coalesce, job.max_instances) == (schedule.MISFIRE_GRACE, True, 1)
        assert schedule.MISFIRE_GRACE >= 3600
        ingest = jobs["ingest"].trigger
        assert isinstance(ingest, IntervalTrigger) and ingest.interval == timedelta(minutes=10)
        alerts = jobs["alerts"].trigger
        assert isinstance(alerts, IntervalTrigger) and alerts.interval == timedelta(minutes=15)
        # ingest and catch-up run as soon as the service starts, on the real clock
        for job_id in ("ingest", "catch-up"):
            assert before - timedelta(seconds=1) <= jobs[job_id].next_run_time <= datetime.now(UTC)
        assert jobs["catch-up"].args == ()
        # one cron job per (zone, send time), each at the local send time, across daylight-saving changes
        expect: dict[str, tuple[ZoneInfo, frozenset[str], list[tuple[datetime, datetime]]]] = {
            "send America/New_York 07:00": (NY, frozenset({"ceo@acme.example"}), [
                (datetime(2026, 3, 7, 13, tzinfo=UTC), datetime(2026, 3, 8, 11, tzinfo=UTC)),   # 07:00 EDT
                (datetime(2026, 10, 31, 12, tzinfo=UTC), datetime(2026, 11, 1, 12, tzinfo=UTC)),  # 07:00 EST
                (datetime(2026, 11, 23, 11, 59, tzinfo=UTC), datetime(2026, 11, 23, 12, tzinfo=UTC))]),
            "send America/New_York 06:30": (NY, frozenset({"service@acme.example"}), [
                (datetime(2026, 4, 15, 10, 31, tzinfo=UTC), datetime(2026, 4, 16, 10, 30, tzinfo=UTC))]),
            "send Asia/Tokyo 08:00": (TOKYO, frozenset({"apac@acme.example"}), [
                (datetime(2026, 4, 12, 22, 0, tzinfo=UTC), datetime(2026, 4, 12, 23, 0, tzinfo=UTC))]),
        }
        for job_id, (tz, emails, fires) in expect.items():
            trigger = jobs[job_id].trigger
            assert isinstance(trigger, CronTrigger) and trigger.timezone == tz
            assert jobs[job_id].args == (emails,)
            for after, fire in fires:
                assert trigger.get_next_fire_time(None, after) == fire
    finally:
        store.close()


def _store(tmp_path: Path, name: str = "store.sqlite3") -> Store:
    store = Store.open(f"sqlite:///{tmp_path / name}")
    fill(store, generate(date(2026, 3, 20), date(2026, 4, 20)))
    return store


def test_cron_job_sends_its_group_and_a_restart_catches_up_once(
        tmp_path: Path, smtp_server: SmtpServer, stopping: list[BackgroundScheduler]) -> None:
    config = write_config(tmp_path)
    write_exports(tmp_path, datetime(2026, 4, 14, 12, tzinfo=UTC))
    store = _store(tmp_path)
    mailer = _mailer(smtp_server)
    clock = Clock(datetime(2026, 4, 10, 8, tzinfo=NY))
    try:
        first = schedule.build_scheduler(config, store, mailer, templates=TEMPLATES, clock=clock)
        _run(first, "catch-up")  # a new installation: each recipient's newest digests (no 2025: no data)
        assert len(smtp_server.messages) == 4 + 2 + 2
        clock.now = datetime(2026, 4, 11, 7, tzinfo=NY)
        _run(first, "send America/New_York 07:00")  # the CEO's group only
        assert [rcpt for _, [rcpt] in smtp_server.envelopes[8:]] == ["ceo@acme.example"]
        # down from 11 to 15 April; the restarted service catches up at once, on its own
        smtp_server.messages.clear()
        smtp_server.envelopes.clear()
        clock.now = datetime(2026, 4, 15, 8, tzinfo=NY)
        restarted = schedule.build_scheduler(config, store, mailer, templates=TEMPLATES, clock=clock)
        done = threading.Event()
        errors: list[BaseException] = []

        def listen(event: JobExecutionEvent) -> None:
            if event.exception is not None:
                errors.append(event.exception)
            if event.job_id == "catch-up":
                done.set()

        restarted.add_listener(listen, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        jobs = {j.id: j for j in restarted.get_jobs()}  # the one-off catch-up is forgotten once it has run
        restarted.start()
        stopping.append(restarted)
        assert done.wait(60), "the catch-up job did not run at start"
        restarted.shutdown(wait=True)
        assert errors == []
        got = Counter(rcpt for _, [rcpt] in smtp_server.envelopes)
        # CEO: dailies 12, 13, 14 April + week 15; service: the newest 3 dailies + week 15; APAC: week 15
        assert got == {"ceo@acme.example": 4, "service@acme.example": 4, "apac@acme.example": 1}
        assert store.count_mentions_between(datetime(2026, 4, 14, 12, tzinfo=UTC),
                                            datetime(2026, 4, 14, 12, 0, 1, tzinfo=UTC)) == 3  # it ingested
        # the catch-up again, and the 07:00 tick of the same morning: nothing twice
        for job_id in ("catch-up", "send America/New_York 07:00"):
            jobs[job_id].func(*jobs[job_id].args)
        assert sum(got.values()) == len(smtp_server.messages)
        keys = [(d["recipient"], d["window_key"]) for d in store.deliveries()]
        assert len(keys) == len(set(keys)) == 8 + 1 + 9
    finally:
        store.close()


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://x.example/</link>
<item><title>Acme Air</title><link>https://x.example/1</link><guid>1</guid>
<pubDate>Tue, 14 Apr 2026 12:00:00 GMT</pubDate><description>Acme Air lost my bag again</description></item>
</channel></rss>"""


def test_ingest_never_runs_twice_at_once(db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def slow(h: Any) -> None:
        release.wait(30)
        send(h, 200, RSS, "application/rss+xml")

    with serving() as server:
        url = server.route("/slow.xml", slow)
        config = write_config(tmp_path, recipients=RECIPIENTS[:1], sources=[
            {"name": "Slow feed", "kind": "feed", "url": url, "channel": "twitter"}])
        store = Store.open(db_url)
        other_store = Store.open(db_url)  # as a second `digest serve` on the same database would
        try:
            clock = Clock(datetime(2026, 4, 15, 8, tzinfo=UTC))
            mailer = _mailer(SmtpServer("127.0.0.1", 1))
            sched = schedule.build_scheduler(config, store, mailer, templates=TEMPLATES, clock=clock)
            other = schedule.build_scheduler(config, other_store, mailer, templates=TEMPLATES, clock=clock)
            first = threading.Thread(target=_run, args=(sched, "ingest"))
            first.start()
            _wait_for(lambda: len(server.seen) == 1, "the first ingest to reach the source")
            with caplog.at_level(logging.INFO, logger="digest"):
                t0 = time.monotonic()
                _run(sched, "ingest")   # the same service, a tick while the last ingest still runs
                _run(other, "ingest")   # another service on the same store
                assert time.monotonic() - t0 < 30  # neither waited for the running ingest (blocked until released)
            release.set()
            first.join(30)
            assert not first.is_alive()
            assert len(server.seen) == 1
            messages = [r.getMessage() for r in caplog.records]
            assert "ingest still running; skipping this tick" in messages
            assert any(m.startswith("ingest: another ingest is still running") for m in messages), messages
            assert store.count_mentions() == 1
            # the lock is released: the next tick ingests again (and finds nothing new)
            _run(other, "ingest")
            assert len(server.seen) == 2 and store.count_mentions() == 1
        finally:
            release.set()
            store.close()
            other_store.close()


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.slow

@contextlib.contextmanager
def _serve(config_dir: Path, outbox: Path, *, memory_limit: int | None = None
           ) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`digest -v serve` in a process of its own, its stderr lines collected as they come; killed if still
    running when the block ends (the block stops it with SIGTERM). `memory_limit` (bytes of address space)
    keeps a runaway from taking the machine with it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env["DIGEST_OUTBOX"] = str(outbox)

    def limit() -> None:
        if memory_limit is not None:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    proc = subprocess.Popen([sys.executable, "-m", "digest", "-v", "--config", str(config_dir), "serve"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=limit)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr or ()), daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(5)
        if proc.stderr is not None:
            proc.stderr.close()


def test_serve_sends_at_start_and_stops_on_sigterm(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    write_config(tmp_path, ingest_every_minutes=1)
    write_exports(tmp_path, now - timedelta(hours=1))
    store = Store.open(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    try:  # a mention a week for two years: every period has data
        fill(store, [Generated(now - timedelta(days=7 * k, hours=5), "twitter", "negative", date.today())
                     for k in range(110)])
    finally:
        store.close()
    outbox = tmp_path / "outbox"
    with _serve(tmp_path, outbox) as (proc, lines):
        digests = sum(len(r["digests"]) for r in RECIPIENTS)
        _wait_for(lambda: len(list(outbox.glob("*.eml"))) >= digests or proc.poll() is not None,
                  "the catch-up digests in the outbox", timeout=90)
        _wait_for(lambda: any("3 sources: 3 ok" in ln for ln in lines) or proc.poll() is not None,
                  "the first ingest", timeout=30)
        assert proc.poll() is None, "".join(lines)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        stopped_in = time.monotonic() - t0
    log = "".join(lines)
    assert proc.returncode == 0, log
    assert stopped_in < 10
    assert "digest serve: ingest every 1 min" in log
    assert "signal 15: stopping after the running jobs" in log
    assert "Traceback" not in log
    assert len(list(outbox.glob("*.eml"))) == digests
    to = [message_from_bytes(p.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
          for p in outbox.glob("*.eml")]
    assert Counter(to) == {r["email"]: len(r["digests"]) for r in RECIPIENTS}


def test_sighup_rereads_the_configuration_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    write_config(tmp_path, ingest_every_minutes=7)
    write_exports(tmp_path, datetime.now(UTC) - timedelta(hours=1))
    with _serve(tmp_path, tmp_path / "outbox") as (proc, lines):

        def seen(text: str) -> bool:
            return any(text in ln for ln in list(lines)) or proc.poll() is not None

        _wait_for(lambda: seen("3 sources: 3 ok"), "the first ingest", timeout=60)
        # an ops edit with a typo: refused, named by file and line, and the service keeps its configuration
        good = (tmp_path / "sources.yaml").read_text()
        (tmp_path / "sources.yaml").write_text(good.replace("ingest_every_minutes: 7", "ingest_evry_minutes: 5"))
        proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: seen("reload: configuration not changed"), "the refused reload", timeout=30)
        assert proc.poll() is None, "".join(lines)
        # the fixed edit takes effect
        (tmp_path / "sources.yaml").write_text(good.replace("ingest_every_minutes: 7", "ingest_every_minutes: 5"))
        proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: seen("digest serve: ingest every 5 min"), "the reload", timeout=60)
        assert proc.poll() is None, "".join(lines)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    log = "".join(lines)
    assert proc.returncode == 0, log
    assert "digest serve: ingest every 7 min" in log
    refused = [ln for ln in lines if "reload: sources.yaml:" in ln]
    assert refused and "ingest_evry_minutes" in refused[0], log
    assert "Traceback" not in log


def test_sighup_with_an_alias_bomb_keeps_the_configuration_and_sigterm_still_stops(tmp_path: Path) -> None:
    write_config(tmp_path, ingest_every_minutes=7)
    write_exports(tmp_path, datetime.now(UTC) - timedelta(hours=1))
    with _serve(tmp_path, tmp_path / "outbox", memory_limit=4 << 30) as (proc, lines):

        def seen(text: str) -> bool:
            return any(text in ln for ln in list(lines)) or proc.poll() is not None

        _wait_for(lambda: seen("3 sources: 3 ok"), "the first ingest", timeout=60)
        good = (tmp_path / "recipients.yaml").read_text()
        bomb = [f"l0: &l0 [{', '.join(['lol'] * 9)}]"] + [
            f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 9)}]" for k in range(1, 9)]
        (tmp_path / "recipients.yaml").write_text(good + "\n".join(bomb) + "\nloop: &r [a, *r]\n")
        proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: seen("reload: configuration not changed"), "the refused reload", timeout=30)
        assert proc.poll() is None, "".join(lines)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        stopped_in = time.monotonic() - t0
    log = "".join(lines)
    assert proc.returncode == 0, log
    assert stopped_in < 30
    refused = [ln for ln in lines if "reload: recipients.yaml:" in ln]
    assert len(refused) == 1 and "YAML refused: aliases expand to more than 100,000 values" in refused[0], log
    assert "Traceback" not in log and "MemoryError" not in log


def test_sigterm_during_an_ingest_lets_it_finish_and_store_then_exits(tmp_path: Path) -> None:
    """The signal arrives while the ingest waits for a slow source: the job finishes (its mention is stored,
    its source's status recorded), no new job starts, and the process exits 0 -- not killed mid-write."""
    reached = threading.Event()
    release = threading.Event()
    published = (datetime.now(UTC) - timedelta(hours=2)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    rss = RSS.replace(b"Tue, 14 Apr 2026 12:00:00 GMT", published.encode())

    def slow(h: Any) -> None:
        reached.set()
        release.wait(30)
        send(h, 200, rss, "application/rss+xml")

    with serving() as server:
        url = server.route("/slow.xml", slow)
        write_config(tmp_path, recipients=RECIPIENTS[:1], ingest_every_minutes=1, sources=[
            {"name": "Slow feed", "kind": "feed", "url": url, "channel": "twitter", "timeout": 60}])
        with _serve(tmp_path, tmp_path / "outbox") as (proc, lines):
            assert reached.wait(60), "".join(lines)
            proc.send_signal(signal.SIGTERM)  # mid-fetch: the ingest job is running
            time.sleep(1.0)
            assert proc.poll() is None, "".join(lines)  # it waits for the running job
            release.set()
            proc.wait(timeout=60)
    log = "".join(lines)
    assert proc.returncode == 0, log
    assert "signal 15: stopping after the running jobs" in log
    assert "Traceback" not in log
    store = Store.open(f"sqlite:///{tmp_path / 'digest.sqlite3'}")
    try:
        assert store.count_mentions() == 1
        [health] = [h for h in store.health() if h.name == "Slow feed"]
        assert health.last_error is None
    finally:
        store.close()
