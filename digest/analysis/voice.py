"""Share of voice: each organisation's mentions next to the brand's, and one sentence on what moved.

The brand's row comes from the brand's own Facts (mentions about the brand), each competitor's from
VoiceFacts (digest/voice.py). A mention about several organisations counts for each, so the shares are
of all organisations' mentions added up, and they add up to 100%.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from ..formatting import number, percent, possessive, signed
from ..models import ResponseCounts
from ..periods import Window
from ..rollups import Facts
from ..voice import VoiceFacts
from .figures import count_change, points_change
from .frames import Counts, counts_by_sentiment, counts_of
from .summary import ShareOfVoice, VoiceRow


def _counts(voice: VoiceFacts, org: str) -> Counts:
    c = voice.counts[voice.counts["org"] == org]
    return counts_by_sentiment(c["n"], c["sentiment"], c["complaint"])


def _brand_topics(facts: Facts) -> dict[str, int]:
    """Complaints per topic of the brand (a complaint naming two topics counts for each)."""
    out: dict[str, int] = {}
    t = facts.topic_counts
    for topics, n in zip(t.loc[t["complaint"].astype(bool), "topics"], t.loc[t["complaint"].astype(bool), "n"],
                         strict=True):
        for name in topics:
            out[name] = out.get(name, 0) + int(n)
    return out


def _voice_topics(voice: VoiceFacts, org: str) -> dict[str, int]:
    t = voice.topics[voice.topics["org"] == org]
    return {str(k): int(v) for k, v in t.groupby("topic")["n"].sum().items()}


def _top(topics: dict[str, int]) -> str | None:
    """The topic named by most complaints (ties: alphabetical), None without any."""
    return min(topics, key=lambda k: (-topics[k], k)) if topics else None


def voice_section(brand: str, competitors: Sequence[str], cur: Facts, prev: Facts | None, voice: VoiceFacts,
                  previous_voice: VoiceFacts | None, against: str,
                  responses: Mapping[str, ResponseCounts] | None = None, *,
                  added: Mapping[str, datetime] | None = None, window: Window | None = None,
                  previous_window: Window | None = None) -> ShareOfVoice:
    """The share-of-voice table: the brand first, then the competitors by mentions (`prev` None: no
    comparison). `responses`: each organisation's answers (by name), for those with accounts.

    `added`: competitors listed after the install, with since when they are counted. One counted only since a
    time after `previous_window` started has too few mentions there: no share is compared with it (each
    share depends on every organisation's count); one counted since after `window` started says so in its row.
    """
    late = {c: t for c, t in (added or {}).items() if c in competitors and previous_window is not None
            and t > previous_window.start_utc}
    now = {brand: counts_of(cur), **{c: _counts(voice, c) for c in competitors}}
    topics = {brand: _brand_topics(cur), **{c: _voice_topics(voice, c) for c in competitors}}
    before: dict[str, Counts] = {}
    if prev is not None and previous_voice is not None and not late:
        before = {brand: counts_of(prev), **{c: _counts(previous_voice, c) for c in competitors}}
    total = sum(c.volume for c in now.values())
    total_before = sum(c.volume for c in before.values())
    order = [brand, *sorted(competitors, key=lambda c: (-now[c].volume, c))]
    rows = []
    for name in order:
        c = now[name]
        share = c.volume / total * 100 if total else 0.0
        share_change = mentions_change = None
        if total_before:
            b = before[name]
            was = b.volume / total_before * 100
            share_change = points_change(share, was, against, up="good" if name == brand else "neutral",
                                         display_before=percent(was))
            mentions_change = count_change(c.volume, b.volume, against, up="neutral")
        rows.append(VoiceRow(
            name=name, brand=name == brand, mentions=c.volume, mentions_display=number(c.volume),
            share=share, share_display=percent(share) if total else "–",
            negative_share=c.negative_share, negative_share_display=percent(c.negative_share) if c.scored else "–",
            net_sentiment=c.net, net_sentiment_display=signed(c.net) if c.scored else "–",
            complaints=c.complaints, complaints_display=number(c.complaints),
            share_change=share_change, mentions_change=mentions_change, top_complaint=_top(topics[name]),
            counted_since=(since := _since_in(late.get(name), window)),
            counted_since_display=_day(since, window) if since is not None else ""))
    answers = responses or {}
    rows = [_with_responses(r, answers[r.name]) if r.name in answers else r for r in rows]
    note = _late_note(late, window, against) if late and window is not None else ""
    return ShareOfVoice(tuple(rows), _sentence(rows, total, against), responses=bool(answers), note=note)


def _since_in(since: datetime | None, window: Window | None) -> datetime | None:
    """`since` if it falls after `window` started (the organisation is counted for part of it), else None."""
    return since if since is not None and window is not None and since > window.start_utc else None


def _day(since: datetime, window: Window | None) -> str:
    local = since.astimezone(window.tz) if window is not None else since
    return f"since {local:%a} {local.day} {local:%b}"


def _late_note(late: Mapping[str, datetime], window: Window, against: str) -> str:
    """Why shares are not compared: who is counted since when (in the window's zone)."""
    parts = []
    for name, since in sorted(late.items(), key=lambda x: (x[1], x[0])):
        local = since.astimezone(window.tz)
        parts.append(f"{name} since {local:%a} {local.day} {local:%b %Y %H:%M}")
    within = any(t > window.start_utc for t in late.values())
    return (f"Added to sources.yaml later: {', '.join(parts)}; before then only the mentions the sources still "
            f"held are counted{' (part of this period)' if within else ''}, so shares are not compared with "
            f"{against}.")


def _with_responses(row: VoiceRow, c: ResponseCounts) -> VoiceRow:
    """The row with the organisation's response rate and median wait to first answer."""
    rate = c.answered / c.addressed * 100 if c.addressed else None
    wait = c.median_wait_minutes
    shown = percent(rate) if rate is not None else "–"
    return dataclasses.replace(row, response_rate=rate, response_rate_display=shown, median_wait_minutes=wait,
                               median_wait_display=_minutes(wait))


def _minutes(value: float | None) -> str:
    """A wait as people say it: "9 min", "3.5 h", "2.1 days"."""
    if value is None:
        return "–"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


def _sentence(rows: Sequence[VoiceRow], total: int, against: str) -> str:
    """What moved: the organisation whose share changed most, and what its customers complain about most."""
    if not total:
        return "No mentions of any organisation this period."
    moved = [r for r in rows if r.share_change is not None]
    if moved:
        top = max(moved, key=lambda r: (abs(r.share_change.delta) if r.share_change else 0.0, r.brand))
        assert top.share_change is not None
        points = abs(top.share_change.delta)
        if top.share_change.direction == "flat":
            leader = max(rows, key=lambda r: (r.mentions, r.brand))
            text = f"Shares held steady on {against}; {leader.name} leads with {leader.share_display}"
            return text + _about(leader) + "."
        verb = "rose" if top.share_change.direction == "up" else "fell"
        shown = max(1, round(points))
        text = f"{possessive(top.name)} share {verb} {shown} point{'s' if shown != 1 else ''} to {top.share_display}"
        return text + _about(top) + "."
    leader = max(rows, key=lambda r: (r.mentions, r.brand))
    return f"{leader.name} has the largest share of voice ({leader.share_display})" + _about(leader) + "."


def _about(row: VoiceRow) -> str:
    if row.top_complaint is None:
        return ""
    whose = "our" if row.brand else "its"
    return f"; {whose} customers complain most about {row.top_complaint.lower()}"
