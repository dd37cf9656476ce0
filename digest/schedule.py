"""APScheduler 3.x wiring only: ingest every N minutes, digests at each recipient's local send time."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from . import alerts, pipeline
from .config import Config
from .errors import DigestError
from .mailer import Mailer
from .render import Templates
from .store import Store

log = logging.getLogger(__name__)

# A job that could not run on time (busy, suspended laptop) still runs within this many seconds;
# APScheduler's default of 1 s would silently drop it.
MISFIRE_GRACE = 6 * 3600


def build_scheduler(config: Config, store: Store, mailer: Mailer, *, templates: Templates,
                    clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> BackgroundScheduler:
    """A scheduler with the ingest job and one send job per distinct (time zone, send time)."""
    sched = BackgroundScheduler(timezone=UTC, job_defaults={
        "coalesce": True,            # after downtime, run once, not once per missed tick
        "max_instances": 1,          # never two ingests (or sends) at once
        "misfire_grace_time": MISFIRE_GRACE,
    })
    ingest_lock = threading.Lock()

    def ingest_job() -> None:
        if not ingest_lock.acquire(blocking=False):
            log.warning("ingest still running; skipping this tick")
            return
        try:
            report = pipeline.ingest(config, store, now=clock(), lock_wait=0)
            log.info("%s", report.summary_line())
        except DigestError as exc:
            log.error("ingest: %s", exc)
        finally:
            ingest_lock.release()

    def send_job(emails: frozenset[str] | None = None) -> None:
        who = [r for r in config.recipients.recipients if emails is None or r.email in emails]
        try:
            for d in pipeline.send_due(config, store, mailer, now=clock(), templates=templates, only=who):
                log.info("%s %s → %s: %s %s", d.period, d.window.label_short, d.recipient, d.status, d.detail)
        except DigestError as exc:
            log.error("send: %s", exc)

    def alert_job() -> None:
        try:
            outcome = alerts.check_alerts(config, store, mailer, now=clock(), templates=templates)
            if outcome.spike is not None:
                log.warning("spike: %d negative mentions; alerts sent to %s", outcome.spike.negative,
                            ", ".join(outcome.sent) or "nobody new")
            if outcome.unanswered_sent:
                log.warning("unanswered complaints: alerts sent to %s", ", ".join(outcome.unanswered_sent))
            for line in (*outcome.failed, *outcome.unanswered_failed):
                log.error("alert failed: %s", line)
        except DigestError as exc:
            log.error("alert: %s", exc)

    if config.sources.alerts and config.sources.alerts.recipients:
        every = max(1, min(15, config.sources.alerts.window_minutes // 4))
        sched.add_job(alert_job, IntervalTrigger(minutes=every, timezone=UTC), id="alerts")
    # APScheduler fires on the real clock; `clock` is only the jobs' idea of now (tests control it)
    started = datetime.now(UTC)
    sched.add_job(ingest_job, IntervalTrigger(minutes=config.sources.ingest_every_minutes, timezone=UTC),
                  id="ingest", next_run_time=started)
    groups: dict[tuple[str, str], set[str]] = {}
    for r in config.recipients.recipients:
        groups.setdefault((str(config.recipient_tz(r)), config.recipient_send_at(r)), set()).add(r.email)
    for (tz, at), emails in sorted(groups.items()):
        hh, mm = at.split(":")
        sched.add_job(send_job, CronTrigger(hour=int(hh), minute=int(mm), timezone=tz), args=[frozenset(emails)],
                      id=f"send {tz} {at}")
    # catch up what fell due while the service was down (the ledger makes this safe to repeat)
    sched.add_job(send_job, id="catch-up", next_run_time=started)
    return sched


def serve(config: Config, store: Store, mailer: Mailer, *, templates: Templates,
          reload: Callable[[], Config] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then finish the running job and stop.

    SIGHUP reads the configuration again (`reload`): if it is valid, the running jobs finish and the
    scheduler restarts with it (an ingest and a catch-up of due digests run at once, as at start); if it
    is not, each problem is logged and the service carries on with the configuration it has.
    """
    def start(config: Config) -> BackgroundScheduler:
        sched = build_scheduler(config, store, mailer, templates=templates)
        sched.start()
        log.info("digest serve: ingest every %d min; %d jobs", config.sources.ingest_every_minutes,
                 len(sched.get_jobs()))
        return sched

    stop = threading.Event()
    wake = threading.Event()
    reload_asked = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the running jobs", signum)
        stop.set()
        wake.set()

    def on_hangup(signum: int, frame: FrameType | None) -> None:
        reload_asked.set()
        wake.set()

    signals: dict[int, Callable[[int, FrameType | None], None]] = {
        signal.SIGTERM: on_signal, signal.SIGINT: on_signal}
    if reload is not None and hasattr(signal, "SIGHUP"):
        signals[signal.SIGHUP] = on_hangup
    previous: dict[int, Any] = {s: signal.signal(s, h) for s, h in signals.items()}
    sched = start(config)
    try:
        while not stop.is_set():
            wake.wait(1.0)
            wake.clear()
            if reload_asked.is_set() and not stop.is_set() and reload is not None:
                reload_asked.clear()
                try:
                    fresh = reload()
                except DigestError as exc:
                    problems = getattr(exc, "problems", None) or [str(exc)]
                    for line in problems:
                        log.error("reload: %s", line)
                    log.error("reload: configuration not changed; still running the one read before")
                    continue
                log.info("reload: configuration read; restarting the scheduler after the running jobs")
                sched.shutdown(wait=True)
                sched = start(fresh)
    finally:
        sched.shutdown(wait=True)
        for s, h in previous.items():
            signal.signal(s, h)
