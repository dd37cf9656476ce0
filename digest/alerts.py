"""Spike alerts: negative volume in a recent window tested against its own history."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from .analysis import Spike, channel_label, to_quotes
from .analysis.phrases import Phrase, top_phrases
from .analysis.quotes import distinct
from .analysis.responses import overdue_alert
from .config import Config
from .errors import DigestError
from .formatting import plural
from .mailer import Mailer, build_message
from .models import BRAND, Unanswered
from .render import Templates, render_alert, render_unanswered
from .store import Store

log = logging.getLogger(__name__)

EPISODE_KEY = "alert_episode_last_seen"
UNANSWERED_KEY = "unanswered:"  # + mention id: the ledger key of a complaint sent to a recipient
# Baseline negative texts sampled for phrase comparison (enough for rates, cheap to read).
BASELINE_SAMPLE = 5000
# A phrase the spike's negative mentions use this many times as often as the usual negative ones do (as a share
# of each) is what the spike is about; one they use about as often ("flight", "agent") says what every
# complaint says, and is left out.
SPIKE_SHARE_GROWTH = 2.0


@dataclasses.dataclass(frozen=True)
class AlertOutcome:
    spike: Spike | None
    sent: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    note: str = ""
    # the "still unanswered" alert: (recipient, complaint) pairs due this check, recipients sent to, failures
    overdue: tuple[tuple[str, Unanswered], ...] = ()
    unanswered_sent: tuple[str, ...] = ()
    unanswered_failed: tuple[str, ...] = ()


def detect_spike(config: Config, store: Store, *, now: datetime) -> Spike | None:
    """A Spike if negative mentions in the last `window_minutes` far exceed their usual rate, else None.

    Usual rate: negatives per hour over the `baseline_days` before the window (or over the history the
    store has, if shorter). The window must hold at least `min_negative` negatives, `ratio` times the
    expected count, and three standard deviations above it (Poisson), so that quiet brands do not page
    someone for three tweets.
    """
    rules = config.sources.alerts
    if rules is None:
        return None
    start = now - timedelta(minutes=rules.window_minutes)
    base_start = now - timedelta(days=rules.baseline_days)
    first = store.first_published()
    if first is not None and first > base_start:
        base_start = min(first, start)
    base_hours = max((start - base_start).total_seconds() / 3600, 0.0)
    base_neg = store.count_mentions_between(base_start, start, sentiment="negative") if base_hours else 0
    per_hour = base_neg / base_hours if base_hours else 0.0
    current = store.mentions(start, now)
    neg = current[current["sentiment"] == "negative"]
    expected = per_hour * rules.window_minutes / 60
    threshold = max(rules.min_negative, rules.ratio * expected, expected + 3 * math.sqrt(expected))
    if len(neg) < threshold:
        log.info("no spike: %d negative in %d min (expected %.1f, threshold %.1f)", len(neg),
                 rules.window_minutes, expected, threshold)
        return None
    # the latest negative texts only: the baseline may span weeks of a busy brand
    baseline_texts = store.recent_texts(base_start, start, sentiment="negative", limit=BASELINE_SAMPLE)
    scale = (rules.window_minutes / 60) / base_hours if base_hours else 1.0
    # what the spike says that the usual negatives do not: what grew first, then what the rest of the window's
    # mentions do not say as well (the same finder as the digest's phrases)
    # (scored ones: a text in a language the classifier cannot score may be a complaint as well)
    others = current[current["sentiment"].isin(["neutral", "positive"])]["text"].tolist()
    found = top_phrases(neg["text"].tolist(), baseline_texts, limit=10, baseline_scale=scale,
                        exclude=[config.sources.brand.name, *config.sources.brand.keywords], background=others)
    phrases = spike_phrases(found, len(neg), len(baseline_texts))
    # three examples, never two copies of one text
    worst = distinct(neg.sort_values(["score", "influence"], ascending=[True, False]), 3)
    channels = neg["channel"].value_counts()
    # the window in the brand's zone, as the examples' times are
    return Spike(brand=config.sources.brand.name, start=start.astimezone(config.tz), end=now.astimezone(config.tz),
                 negative=len(neg),
                 baseline_per_hour=per_hour, phrases=tuple(phrases),
                 examples=to_quotes(worst, config.tz), channels=tuple(channel_label(c) for c in channels.index),
                 generated_at=now.astimezone(config.tz))


def check_alerts(config: Config, store: Store, mailer: Mailer, *, now: datetime, templates: Templates,
                 dry_run: bool = False) -> AlertOutcome:
    """Detect a spike and alert `alerts.recipients` once per spike (an episode ends when the rate is normal);
    and, when `alerts.unanswered_after_hours` is set, send each recipient the influential complaints newly
    overdue for them (each complaint once)."""
    rules = config.sources.alerts
    if rules is None or not rules.recipients:
        return AlertOutcome(None, note="no alerts configured (sources.yaml: alerts.recipients)")
    outcome = _check_spike(config, store, mailer, now=now, templates=templates, dry_run=dry_run)
    if rules.unanswered_after_hours is None:
        return outcome
    overdue, sent, failed = _check_unanswered(config, store, mailer, now=now, templates=templates,
                                              dry_run=dry_run)
    if dry_run:
        n, who = len({u.id for _, u in overdue}), len({addr for addr, _ in overdue})
        note = (f"{outcome.note}; {plural(n, 'unanswered complaint')} would go to {plural(who, 'recipient')}"
                ) if overdue else \
            f"{outcome.note}; no unanswered complaint would go"
    else:
        note = outcome.note
    return dataclasses.replace(outcome, note=note, overdue=overdue, unanswered_sent=sent, unanswered_failed=failed)


def _check_unanswered(config: Config, store: Store, mailer: Mailer, *, now: datetime, templates: Templates,
                      dry_run: bool) -> tuple[tuple[tuple[str, Unanswered], ...], tuple[str, ...], tuple[str, ...]]:
    """Each recipient's complaints overdue and not yet sent to them: one email each, through the ledger
    (key `unanswered:<mention id>` per recipient and complaint: sent once, a failed send retried next check).
    Returns the (recipient, complaint) pairs due, the recipients sent to and the failures."""
    rules = config.sources.alerts
    assert rules is not None and rules.unanswered_after_hours is not None
    found = store.overdue_complaints(BRAND, now=now, after_hours=rules.unanswered_after_hours,
                                     min_reach=rules.unanswered_min_reach)
    due: list[tuple[str, Unanswered]] = []
    sent: list[str] = []
    failed: list[str] = []
    if not found:
        return (), (), ()
    if dry_run:
        for addr in rules.recipients:  # one ledger read a recipient
            states = store.delivery_states(addr, UNANSWERED_KEY)
            due.extend((addr, u) for u in found if states.get(f"{UNANSWERED_KEY}{u.id}") != "sent")
        return tuple(due), (), ()
    try:
        with mailer.session() as session:
            for addr in rules.recipients:
                claims = [(u, token) for u in found
                          if (token := store.claim_delivery(addr, f"{UNANSWERED_KEY}{u.id}", now=now)) is not None]
                if not claims:
                    continue
                due.extend((addr, u) for u, _ in claims)
                try:
                    alert = overdue_alert(config.sources.brand.name, rules.unanswered_after_hours,
                                          tuple(u for u, _ in claims), now=now, tz=config.tz)
                    rendered = render_unanswered(alert, templates=templates)
                    msg = build_message(rendered, sender=config.recipients.sender, to_name=addr.split("@")[0],
                                        to_addr=addr, now=now, list_id=f"{config.sources.brand.name} alerts",
                                        kind="alert")
                    session.send(msg)
                except DigestError as exc:
                    for u, token in claims:
                        store.finish_delivery(addr, f"{UNANSWERED_KEY}{u.id}", token, now=now, error=str(exc))
                    failed.append(f"{addr}: {exc}")
                    continue
                for u, token in claims:
                    store.finish_delivery(addr, f"{UNANSWERED_KEY}{u.id}", token, now=now,
                                          message_id=str(msg["Message-ID"]))
                sent.append(addr)
    except DigestError as exc:  # no SMTP session: the claims are left stale and retried later
        failed.append(str(exc))
    return tuple(due), tuple(sent), tuple(failed)


def _check_spike(config: Config, store: Store, mailer: Mailer, *, now: datetime, templates: Templates,
                 dry_run: bool) -> AlertOutcome:
    rules = config.sources.alerts
    assert rules is not None
    spike = detect_spike(config, store, now=now)
    raw = store.get_meta(EPISODE_KEY)
    episode: dict[str, str] | None = json.loads(raw) if raw else None
    if spike is None:
        if episode:
            store.set_meta(EPISODE_KEY, None)  # back to normal: the next spike is a new episode
        return AlertOutcome(None, note="no spike")
    if dry_run:
        return AlertOutcome(spike, note="dry run: nothing sent")
    window = timedelta(minutes=rules.window_minutes)
    if episode is None or datetime.fromisoformat(episode["last_seen"]) < now - 2 * window:
        # one key per window-sized slot: two runs racing on a new spike claim the same ledger rows
        slot = int(now.timestamp() // window.total_seconds()) * window.total_seconds()
        episode = {"key": f"alert:{datetime.fromtimestamp(slot, UTC):%Y-%m-%dT%H:%MZ}"}
    episode["last_seen"] = now.isoformat()
    store.set_meta(EPISODE_KEY, json.dumps(episode))
    key = episode["key"]
    # every check during the episode tries each recipient; the ledger sends once and retries failures
    rendered = None
    sent: list[str] = []
    failed: list[str] = []
    try:
        with mailer.session() as session:
            for addr in rules.recipients:
                token = store.claim_delivery(addr, key, now=now)
                if token is None:
                    continue
                try:
                    rendered = rendered or render_alert(spike, templates=templates)
                    msg = build_message(rendered, sender=config.recipients.sender, to_name=addr.split("@")[0],
                                        to_addr=addr, now=now, list_id=f"{config.sources.brand.name} alerts",
                                        kind="alert")
                    session.send(msg)
                except DigestError as exc:
                    store.finish_delivery(addr, key, token, now=now, error=str(exc))
                    failed.append(f"{addr}: {exc}")
                    continue
                store.finish_delivery(addr, key, token, now=now, message_id=str(msg["Message-ID"]))
                sent.append(addr)
    except DigestError as exc:
        failed.append(str(exc))
    note = "" if sent or failed else "spike still running; already alerted"
    return AlertOutcome(spike, tuple(sent), tuple(failed), note)


def spike_phrases(found: Sequence[Phrase], n_spike: int, n_baseline: int, limit: int = 5) -> list[str]:
    """The spike's own phrases among `found` (top_phrases of its `n_spike` negative texts against `n_baseline`
    usual ones): new, or SPIKE_SHARE_GROWTH times as common a share as before; the emerging ones first, then
    in the finder's order."""
    own = [p for p in found
           if not n_baseline or p.count * n_baseline >= SPIKE_SHARE_GROWTH * p.baseline_count * n_spike]
    return [p.text for p in sorted(own, key=lambda p: not p.emerging)[:limit]]
