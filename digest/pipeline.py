"""The one place that wires gather -> store -> analyze -> render -> send; cron, the CLI and the scheduler call it."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from itertools import chain
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from . import periods
from .analysis import PHRASE_SAMPLE, Responses, Summary, quiet_responses, response_section, summarize_facts
from .classify import Classifier
from .config import Config, Recipient, SourceSpec
from .errors import DeliveryError, DigestError, UsageError
from .mailer import Mailer, build_message
from .models import (
    BRAND,
    Classification,
    IngestReport,
    Mention,
    RenderedDigest,
    ResponseCounts,
    SourceHealth,
    SourceResult,
)
from .parallel import ClassifierPool, classified_text, fetch_one, stream_one
from .periods import Period, Window
from .render import Templates, personalize, render_digest, render_shared_digest
from .sources import STREAMED
from .sources.http import Sessions
from .sources.replies import answers_visible, orgs_of
from .store import STALE_CLAIM, Store

log = logging.getLogger(__name__)

INSTALLED_AT = "installed_at"
# How many missed windows of one period a recipient is sent after downtime (the newest ones).
MAX_CATCH_UP = 3
USER_AGENT = "CustomerVoiceDigest/0.1 (+https://github.com/customer-voice-digest)"
# An ingest classifies and stores the mentions of its sources in batches: when this many are waiting, and
# at least every this many seconds.
STORE_BATCH = 2000
STORE_SECONDS = 5.0
# Phrases emerge against the average of this many periods before the digest's (a week against the four before)
BASELINE_PERIODS = 4
# Delivery.detail of a digest skipped because another run holds its claim
IN_PROGRESS = "being sent by another run"


def installed_at(store: Store, now: datetime) -> datetime:
    """When this store was first used (recorded as `now` by the first run that asks)."""
    return datetime.fromisoformat(store.setdefault_meta(INSTALLED_AT, now.isoformat()))


def make_classifier(config: Config) -> Classifier:
    return Classifier(config.sources.topics, config.sources.praise_topics)


def ingest(config: Config, store: Store, *, now: datetime, only: str | None = None,
           classifier: Classifier | None = None, lock_wait: float = 600.0,
           sessions: Sessions | None = None,
           workers: int | None = None, progress: Progress | None = None) -> IngestReport:
    """Fetch every enabled source (or the one named `only`) concurrently, store new mentions.

    One source failing never stops the others: each gives a SourceResult. Raises DigestError if
    another ingest holds the store's lock for longer than `lock_wait` seconds. Sources are fetched and
    parsed, and large batches classified, in worker processes (parallel.ClassifierPool; each worker fetches
    with threads), while this process stores: an ingest uses every core (`workers` processes; default one
    per core; 1: this process only, fetching with threads). Exports are read in this process, a part at a
    time (sources.STREAMED), each part stored before the next is read. Already stored entries are not
    classified. `progress` hears of each source as its result arrives (name, entries), of each part of an
    export read (name, rows so far) and of each batch stored.
    """
    specs = [s for s in config.sources.sources if (s.name == only if only else s.enabled)]
    if only and not specs:
        known = ", ".join(s.name for s in config.sources.sources)
        raise UsageError(f"sources.yaml has no source named {only!r} (sources: {known})")
    classifier = classifier or make_classifier(config)
    # the environment's proxy and CA settings read once, connections kept open from source to source
    own_sessions = sessions is None
    http = sessions or Sessions(USER_AGENT)
    try:
        return _ingest(config, store, specs, classifier, http, now=now, lock_wait=lock_wait, workers=workers,
                       progress=progress or _SILENT)
    finally:
        if own_sessions:
            http.close()


class Progress(Protocol):
    """What an ingest tells a progress display (the command line's, on a terminal only)."""

    def start(self, sources: int) -> None: ...
    def reading(self, name: str, rows: int) -> None: ...  # an export read in parts: `rows` read of it so far
    def fetched(self, name: str, entries: int) -> None: ...
    def stored(self, new: int) -> None: ...


class _Silent:
    def start(self, sources: int) -> None:
        pass

    def reading(self, name: str, rows: int) -> None:
        pass

    def fetched(self, name: str, entries: int) -> None:
        pass

    def stored(self, new: int) -> None:
        pass


_SILENT: Final = _Silent()


def _ingest(config: Config, store: Store, specs: list[SourceSpec], classifier: Classifier, sessions: Sessions, *,
            now: datetime, lock_wait: float, workers: int | None, progress: Progress) -> IngestReport:
    """`ingest` of `specs`, fetched with `sessions`."""
    with store.lock("ingest", wait=lock_wait) as got:
        if not got:
            raise DigestError(f"another ingest is still running on this store after {lock_wait:.0f} s")
        installed = installed_at(store, now)
        # a competitor added later is counted from now on: the digest says so rather than compare shares with a
        # period it was not counted in
        store.track_competitors([c.name for c in config.sources.competitors], now=now, installed=installed)
        states = store.source_states()  # read once: the fetching threads and workers need no database
        # a post several sources deliver is credited to the first of them in sources.yaml, whichever is stored first
        rank = {s.name: i for i, s in enumerate(config.sources.sources)}

        def one(spec: SourceSpec) -> SourceResult:
            return fetch_one(spec, config=config, state=states.get(spec.name, {}), now=now,
                             sessions=sessions)

        results: list[SourceResult] = []
        new = 0
        # the worker processes start first, while this process has one thread
        with ClassifierPool(classifier, workers, fetching=(config, sessions)) as classifying, \
                ThreadPoolExecutor(max_workers=max(1, min(8, len(specs)))) as pool:
            # Results are classified and stored in batches (STORE_BATCH mentions, or every STORE_SECONDS):
            # one pool round and one transaction for many small feeds. A source's state is recorded only
            # after its mentions are stored, so a crash loses nothing: the next run fetches it again.
            # The workers classify one batch while this process stores the one before (in order); mentions
            # the fetching workers classified already (the new ones of feeds: parallel.fetch_all) go as they are.
            waiting: list[tuple[Mention, bool, Classification | None]] = []  # (mention, by_text, classified)
            done: list[SourceResult] = []
            since = time.monotonic()
            classifying_batches: list[tuple[list[tuple[Mention, bool, Classification | None]],
                                            Callable[[], list[Classification]], list[SourceResult]]] = []

            def store_classified() -> None:
                nonlocal new
                fresh, scores, finished = classifying_batches.pop(0)
                # the organisations' own posts (answers) first: a follow-up naming nobody that answers one is
                # then stored about its organisation at once, not moved there afterwards (store/replies.py)
                answers = store.add_posts([p for r in finished for p in r.posts], fetched=now)
                if answers:
                    log.info("%d new answer%s by the brand's accounts", answers, "s" if answers != 1 else "")
                if fresh:
                    new += store.add_mentions([(m, c) for (m, _, _), c in zip(fresh, scores(), strict=True)],
                                              fetched=now, by_text=[by_text for _, by_text, _ in fresh], rank=rank)
                    progress.stored(new)
                store.record_sources(finished, at=now)

            def store_batch() -> None:
                nonlocal since
                # entries stored before (a changed feed serves mostly those) are not classified again
                seen = store.seen([(m, by_text) for m, by_text, _ in waiting])
                fresh = [item for item, known in zip(waiting, seen, strict=True) if not known]
                store.seen_again([(m, by_text) for (m, by_text, _), known in zip(waiting, seen, strict=True) if known],
                                 rank=rank)
                todo = classifying.submit([classified_text(m) for m, _, c in fresh if c is None])

                def scores() -> list[Classification]:
                    found = iter(todo())
                    return [c if c is not None else next(found) for _, _, c in fresh]

                classifying_batches.append((fresh, scores, list(done)))
                waiting.clear()
                done.clear()
                since = time.monotonic()
                while len(classifying_batches) > 1:
                    store_classified()

            # the workers fetch and parse too when there are any (parsing is CPU bound); else these threads do.
            # Exports are read here, after the others, a part at a time (sources.STREAMED): a part is stored,
            # and the export's state with it, before the next is read, so that an ingest holds one part of a
            # large export and one killed in the middle of a file goes on after the last part stored.
            whole = [i for i, s in enumerate(specs) if s.kind not in STREAMED]
            others = [specs[i] for i in whole]
            if classifying.fetches and others:
                fetched = classifying.fetch_all(others, states, now, first=store.never_fetched(s.name for s in others))
            else:
                fetched = ([found] for found in enumerate(pool.map(one, others)))

            def in_parts() -> Iterator[list[tuple[int, SourceResult]]]:
                for i, spec in enumerate(specs):
                    if spec.kind in STREAMED:
                        for part in stream_one(spec, config=config, state=states.get(spec.name, {}), now=now,
                                               sessions=sessions):
                            yield [(i, part)]

            arriving = chain(([(whole[j], r) for j, r in group] for group in fetched), in_parts())
            by_index: dict[int, SourceResult] = {}
            progress.start(len(specs))
            for group in arriving:
                for i, result in group:
                    if result.status == "ok":
                        scored = result.classified or (None,) * len(result.mentions)
                        waiting.extend((m, specs[i].kind == "feed", c)
                                       for m, c in zip(result.mentions, scored, strict=True))
                    done.append(result)
                    if result.partial:
                        progress.reading(result.name, result.items_seen)
                        continue
                    by_index[i] = result
                    progress.fetched(result.name, result.about_brand)
                    log.info("%s: %s%s%s", result.name, result.status, f" ({result.error})" if result.error else "",
                             "".join(f"; problem: {p}" for p in result.problems))
                if len(waiting) >= STORE_BATCH or time.monotonic() - since >= STORE_SECONDS:
                    store_batch()
            store_batch()
            while classifying_batches:
                store_classified()
            results = [by_index[i] for i in range(len(specs))]
    return IngestReport(tuple(results), new)


# -- digests -----------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Delivery:
    """The outcome of one digest for one recipient."""

    recipient: str
    period: Period
    window: Window
    status: str  # sent | skipped | failed | dry-run
    detail: str = ""


def recipient_tz(config: Config, r: Recipient) -> ZoneInfo:
    return config.recipient_tz(r)


def adhoc_recipient(email: str) -> Recipient:
    """A recipient not in recipients.yaml (for `send --to` / `preview --recipient` tests)."""
    return Recipient(name=email.split("@")[0], email=email, digests=list(periods.PERIODS))


def source_health(config: Config, store: Store) -> list[SourceHealth]:
    """Health of every enabled source; one never fetched yet still carries its channel from sources.yaml."""
    enabled = {s.name: s.channel for s in config.sources.sources if s.enabled}
    return [h if h.channel else dataclasses.replace(h, channel=enabled[h.name]) for h in store.health(enabled)]


def summarize_window(config: Config, store: Store, window: Window, channels: Sequence[str] | None, *,
                     now: datetime) -> Summary:
    """The Summary of `window` (of `channels` only, if given), from the store's rollups: its cost grows
    with the days of the window, not with its mentions."""
    prev = periods.previous(window)
    year_ago_window = periods.year_before(window) if window.period in ("quarterly", "annual") else None
    # what phrases emerge against: the BASELINE_PERIODS periods before this one, those that can hold mentions
    first = store.first_published()
    back = BASELINE_PERIODS
    while back > 1 and first is not None and periods.previous(window, back).end <= first:
        back -= 1
    baseline_window = periods.Window(window.period, periods.previous(window, back).start, window.start)
    # the windows are read side by side: the database does most of the work, on as many cores as there are
    with ThreadPoolExecutor(max_workers=4) as pool:
        reading = pool.submit(store.facts, window, channels, sample=PHRASE_SAMPLE)
        reading_prev = pool.submit(store.facts, prev, channels, trend=False, ranked=False, sample=PHRASE_SAMPLE)
        # a year before an annual window is the previous window
        reading_ago = pool.submit(store.facts, year_ago_window, channels, trend=False, ranked=False) \
            if year_ago_window is not None and year_ago_window != prev else None
        reading_base = pool.submit(store.facts, baseline_window, channels, trend=False, ranked=False,
                                   sample=PHRASE_SAMPLE)
        competitors = [c.name for c in config.sources.competitors]
        # share of voice: the competitors' counts, read as the brand's are (days times organisations)
        voices = [pool.submit(store.voice, w, channels) for w in (window, prev)] if competitors else []
        current, previous, baseline = reading.result(), reading_prev.result(), reading_base.result()
        year_ago = reading_ago.result() if reading_ago is not None else previous if year_ago_window else None
        voice, previous_voice = (voices[0].result(), voices[1].result()) if voices else (None, None)
    installed = store.get_meta(INSTALLED_AT)
    # competitors listed after the install: counted since the ingest that first listed them
    added = {name: since for name, since in store.tracked_since(competitors).items()
             if installed is not None and since > datetime.fromisoformat(installed)} if competitors else {}
    return summarize_facts(current, previous, window, prev, year_ago=year_ago, year_ago_window=year_ago_window,
                           baseline=baseline, baseline_window=baseline_window,
                           health=source_health(config, store), topics=config.sources.topics,
                           praise_topics=config.sources.praise_topics,
                           brand=config.sources.brand.name, channels=channels, now=now,
                           responses=window_responses(config, store, window, prev, channels, now=now),
                           competitors=competitors, voice=voice, previous_voice=previous_voice, added=added,
                           voice_responses=organisation_responses(config, store, window, channels, now=now)
                           if competitors else None)


def window_responses(config: Config, store: Store, window: Window, prev: Window, channels: Sequence[str] | None,
                     *, now: datetime) -> Responses:
    """The brand's "Did we answer?" figures for `window` against `prev`, counting answers up to `now`."""
    if not answers_visible(config.sources):
        return quiet_responses(now.astimezone(window.tz))
    cur = store.response_facts(BRAND, window.start, window.end, as_of=now, channels=channels)
    before = store.response_facts(BRAND, prev.start, prev.end, as_of=now, channels=channels, shown=0)
    return response_section(cur, before, prev.label, window.tz, can_show=True)


def organisation_responses(config: Config, store: Store, window: Window, channels: Sequence[str] | None, *,
                           now: datetime) -> dict[str, ResponseCounts]:
    """Each organisation's answers to the mentions of `window` addressed to it (by name; only those with
    accounts), as of `now`: the response rates and waits share of voice shows beside each other."""
    names = {BRAND: config.sources.brand.name}
    out = {}
    for org in orgs_of(config.sources):
        facts = store.response_facts(org, window.start_utc, window.end_utc, as_of=now, channels=channels, shown=0)
        out[names.get(org, org)] = facts.total
    return out


def build_digest(config: Config, store: Store, recipient: Recipient, window: Window, *, now: datetime,
                 templates: Templates) -> RenderedDigest:
    """Summarize and render `window` for `recipient` (their channel filter applied)."""
    summary = summarize_window(config, store, window, recipient.channels, now=now)
    return render_digest(summary, recipient_name=recipient.name, templates=templates)


def send_one(config: Config, store: Store, mailer_session: object, recipient: Recipient, window: Window, *,
             now: datetime, templates: Templates, resend: bool = False, dry_run: bool = False,
             cache: dict[tuple[str, tuple[str, ...] | None], RenderedDigest] | None = None) -> Delivery:
    """Claim, render, send and record one digest; never raises for a delivery problem."""
    period = window.period
    if dry_run:
        return Delivery(recipient.email, period, window, "dry-run", "not sent (--dry-run)")
    token = store.claim_delivery(recipient.email, window.key, now=now, resend=resend)
    if token is None:
        if store.delivery_status(recipient.email, window.key) == "claimed":
            # another run is sending it, or one was killed while sending: its claim is taken over once
            # it is STALE_CLAIM old (the message may then go out twice, with the same Message-ID)
            minutes = STALE_CLAIM.total_seconds() / 60
            return Delivery(recipient.email, period, window, "skipped",
                            f"{IN_PROGRESS} (a claim older than {minutes:g} min is taken over)")
        return Delivery(recipient.email, period, window, "skipped", "already sent")
    try:
        # recipients of the same window, zone and channels get the same digest but for their name: it is
        # rendered once (NAME_SLOT for the name) and personalized per recipient
        key = (window.key + str(window.tz), tuple(recipient.channels) if recipient.channels else None)
        shared = cache.get(key) if cache is not None else None
        if shared is None:
            shared = render_shared_digest(summarize_window(config, store, window, recipient.channels, now=now),
                                          templates=templates)
            if cache is not None:
                cache[key] = shared
        rendered = personalize(shared, recipient.name) or build_digest(config, store, recipient, window, now=now,
                                                                       templates=templates)
        msg = build_message(rendered, sender=config.recipients.sender, to_name=recipient.name,
                            to_addr=recipient.email, now=now,
                            list_id=f"{config.sources.brand.name} {period} digest", kind=f"{period}-digest",
                            same_id_for=None if resend else f"{window.key} {window.tz}")
        mailer_session.send(msg)  # type: ignore[attr-defined]
    except DigestError as exc:
        store.finish_delivery(recipient.email, window.key, token, now=now, error=str(exc))
        return Delivery(recipient.email, period, window, "failed", str(exc))
    except Exception as exc:
        # keep the ledger honest whatever went wrong, then let the caller see the bug
        store.finish_delivery(recipient.email, window.key, token, now=now, error=repr(exc))
        raise
    store.finish_delivery(recipient.email, window.key, token, now=now, message_id=str(msg["Message-ID"]))
    return Delivery(recipient.email, period, window, "sent")


def select_recipients(config: Config, period: Period | None, to: str | None) -> list[Recipient]:
    """Recipients who take `period` (any period if None), or just `to` (configured or ad hoc)."""
    if to:
        return [config.find_recipient(to) or adhoc_recipient(to)]
    return [r for r in config.recipients.recipients if period is None or period in r.digests]


def instant(at: datetime | date, tz: ZoneInfo) -> datetime:
    """`at` itself, or for a bare day its start in `tz` (so a day means the recipient's own day)."""
    if isinstance(at, datetime):
        return at
    return datetime(at.year, at.month, at.day, tzinfo=tz)


def send_period(config: Config, store: Store, mailer: Mailer, period: Period, *, at: datetime | date,
                templates: Templates, to: str | None = None, resend: bool = False,
                dry_run: bool = False, now: datetime | None = None) -> list[Delivery]:
    """Send the last complete `period` before `at` to every recipient who takes it (or to `to`).

    Raises UsageError, sending nothing, when `at` is so late that a window has not ended by `now` (a
    --date in the future): a digest of a period still going on would be partial, and the real one would
    later look sent. `dry_run` sends and records nothing, so it may look ahead.
    """
    now = now or datetime.now(UTC)
    jobs = []
    for r in select_recipients(config, period, to):
        tz = recipient_tz(config, r)
        jobs.append((r, periods.last_complete(period, instant(at, tz), tz)))
    if not dry_run:
        refuse_unfinished(jobs, now)
    return _deliver(config, store, mailer, jobs, now=now, templates=templates, resend=resend, dry_run=dry_run)


def refuse_unfinished(jobs: Sequence[tuple[Recipient, Window]], now: datetime) -> None:
    """UsageError naming the first window of `jobs` that has not ended by `now`, and when it ends."""
    for r, w in jobs:
        if w.end_utc > now:
            ends = w.end.strftime("%Y-%m-%d %H:%M")
            raise UsageError(f"{w.period} {w.label_short} has not ended yet (it ends {ends} {w.tz.key}, "
                             f"for {r.email}): nothing sent; `digest preview` with the same --date shows it so far")


def _deliver(config: Config, store: Store, mailer: Mailer, jobs: Sequence[tuple[Recipient, Window]], *,
             now: datetime, templates: Templates, resend: bool = False, dry_run: bool = False) -> list[Delivery]:
    out: list[Delivery] = []
    if not jobs:
        return out
    cache: dict[tuple[str, tuple[str, ...] | None], RenderedDigest] = {}
    if dry_run:
        return [send_one(config, store, None, r, w, now=now, templates=templates, dry_run=True) for r, w in jobs]
    try:
        with mailer.session() as session:
            for r, w in jobs:
                out.append(send_one(config, store, session, r, w, now=now, templates=templates, resend=resend,
                                    cache=cache))
    except DeliveryError as exc:
        # the connection itself failed: everything not yet attempted is failed for this run
        done = {(d.recipient, d.window.key) for d in out}
        for r, w in jobs:
            if (r.email, w.key) not in done:
                out.append(Delivery(r.email, w.period, w, "failed", str(exc)))
    return out


def send_time(window: Window, send_at: str, tz: ZoneInfo) -> datetime:
    """When a window's digest falls due: the recipient's local send time on the day after it ends."""
    hh, mm = (int(x) for x in send_at.split(":"))
    day = window.end.astimezone(tz).date()
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=tz)


def due_windows(config: Config, store: Store, recipient: Recipient, period: Period, *,
                now: datetime) -> list[Window]:
    """Windows of `period` due for `recipient` at `now` and not yet sent, oldest first.

    After downtime the missed windows since the last one sent are caught up (at most MAX_CATCH_UP,
    the newest); a new installation or a new recipient starts with the latest due window only,
    never with all of history. A window whose send failed (or was interrupted) is retried while it is
    among the newest MAX_CATCH_UP and no later window of the period has been sent (then it is logged and
    skipped: the later digest already told the reader more), even on a first run.
    """
    tz = recipient_tz(config, recipient)
    installed = installed_at(store, now)
    send_at = config.recipient_send_at(recipient)
    window = periods.last_complete(period, now, tz)
    while send_time(window, send_at, tz) > now:
        window = periods.previous(window)
    newest = [window]  # newest first
    while len(newest) < MAX_CATCH_UP:
        newest.append(periods.previous(newest[-1]))
    # new windows are caught up back to the one the installation started in, not before
    since_install = [w for i, w in enumerate(newest) if i == 0 or newest[i - 1].start > installed]
    states = store.delivery_states(recipient.email, f"{period}:")
    # the newest window sent up to the newest one due: one sent ahead of time (by hand, or a --date in the
    # future before that was refused) must not hide the windows that fall due before it
    last_sent = max((k for k, s in states.items() if s == "sent" and k <= window.key), default=None)
    if last_sent is None:
        # first digest of this kind for this recipient: the newest only, and only if there is data
        first = store.first_published()
        fresh = [w for w in newest[:1] if first is not None and first < w.end_utc]
    else:
        fresh = [w for w in since_install if w.key > last_sent]
    # attempted but not sent (failed, or a claim the ledger will hand over once it is stale): retried until a
    # later digest of the kind has gone out, after which it is stale news and the later one replaced it
    unsent = [w for w in newest if states.get(w.key, "sent") != "sent"]
    retry = [w for w in unsent if last_sent is None or w.key > last_sent]
    for w in unsent:
        if w not in retry:
            log.warning("%s: %s not retried (%s): %s has gone out since", recipient.email, w.key, states[w.key],
                     last_sent)
    due = {w.key: w for w in fresh + retry if states.get(w.key) != "sent"}
    return sorted(due.values(), key=lambda w: w.start)


def send_due(config: Config, store: Store, mailer: Mailer, *, now: datetime, templates: Templates,
             period: Period | None = None, only: Iterable[Recipient] | None = None) -> list[Delivery]:
    """Send every digest that is due and not yet sent (what cron and the scheduler call)."""
    jobs: list[tuple[Recipient, Window]] = []
    for r in only if only is not None else config.recipients.recipients:
        for p in r.digests:
            if period is None or p == period:
                jobs.extend((r, w) for w in due_windows(config, store, r, p, now=now))
    out = _deliver(config, store, mailer, jobs, now=now, templates=templates)
    for d in out:
        if d.status == "failed" and store.delivery_status(d.recipient, d.window.key) is None:
            # the mail server could not be reached before this one was tried: put it in the ledger as
            # failed, so that the next run retries it even if it is no longer the newest window
            token = store.claim_delivery(d.recipient, d.window.key, now=now)
            if token is not None:
                store.finish_delivery(d.recipient, d.window.key, token, now=now, error=d.detail)
    return out
