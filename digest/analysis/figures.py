"""The headline figures: KPIs and their changes, the trend chart, channels, the headline sentence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd

from .. import periods
from ..formatting import channel_label, number, percent, plural, signed
from ..models import UNSCORED
from ..periods import Period, Window
from ..rollups import Facts
from .frames import Counts, sentiment_codes
from .summary import CHART_HEIGHT, MAX_CHANNELS, Capped, Change, ChannelRow, Direction, Health, Tone, Trend, TrendBucket

_GRAIN_LABEL = {"hour": "by hour", "day": "by day", "week": "by week", "month": "by month"}


def count_change(now: float, before: float, against: str, *, up: Tone) -> Change:
    """Change of a count; `up` says whether a rise is good, bad or neutral news."""
    delta = now - before
    pct = delta / before * 100 if before else None
    direction: Direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
    if direction == "flat":
        display = "no change"
    elif pct is None:
        display = "new"
    elif abs(pct) < 1:
        display = f"{pct:+.1f}%"
    else:
        display = f"{pct:+.0f}%"
    return Change(against, before, number(before), delta, pct, direction, tone_of(direction, up), display)


def points_change(now: float, before: float, against: str, *, up: Tone, display_before: str) -> Change:
    """Change of a share or score in points; under half a point reads as no change."""
    delta = now - before
    direction: Direction = "flat" if abs(delta) < 0.5 else "up" if delta > 0 else "down"
    # half a point rounds away from zero: round() rounds half to even and would show a rise of 0.5 as "0 pts"
    shown = math.copysign(math.floor(abs(delta) + 0.5), delta)
    display = "no change" if direction == "flat" else f"{signed(shown)} pts"
    tone = tone_of(direction, up)
    return Change(against, before, display_before, round(delta, 2), None, direction, tone, display)


def tone_of(direction: Direction, up: Tone) -> Tone:
    if direction == "flat" or up == "neutral":
        return "neutral"
    if direction == "up":
        return up
    return "good" if up == "bad" else "bad"


def trend_section(facts: Facts, window: Window) -> Trend:
    grain = periods.TREND_GRAIN[window.period]
    starts = periods.buckets(window)
    n = len(starts)
    counts = np.zeros((n, 4), dtype="int64")
    c = facts.counts
    if not c.empty:
        np.add.at(counts, (c["bucket"].to_numpy(dtype="int64"), sentiment_codes(c)), c["n"].to_numpy(dtype="int64"))
    top = int(counts.sum(axis=1).max()) if n else 0

    def px(value: int) -> int:
        return round(value / top * CHART_HEIGHT) if top else 0

    out = []
    for i, start in enumerate(starts):
        neg, neu, pos, uns = (int(x) for x in counts[i])
        # cumulative rounding keeps the stacked bar as tall as its total; a non-empty segment shows >= 1 px
        neg_px = px(neg)
        mid_px = px(neg + neu) - neg_px
        pos_px = px(neg + neu + pos) - neg_px - mid_px
        uns_px = px(neg + neu + pos + uns) - neg_px - mid_px - pos_px
        label, title, tick = _bucket_label(grain, window.period, start, i)
        out.append(TrendBucket(
            start=start, label=label, title=title, negative=neg, neutral=neu, positive=pos, tick=tick,
            negative_px=max(neg_px, 1 if neg else 0), neutral_px=max(mid_px, 1 if neu else 0),
            positive_px=max(pos_px, 1 if pos else 0), unscored=uns, unscored_px=max(uns_px, 1 if uns else 0),
        ))
    peak = max(out, key=lambda b: b.total) if top else None
    return Trend(grain, _GRAIN_LABEL[grain], tuple(out), peak)


def _bucket_label(grain: str, period: Period, start: datetime, i: int) -> tuple[str, str, bool]:
    """(tick label, full label, whether to print the tick) of a trend bucket."""
    day = f"{start:%a} {start.day} {start:%b}"
    if grain == "hour":
        return f"{start:%H}", f"{day} {start:%H:%M %Z}", start.hour % 6 == 0
    if grain == "day":
        if period == "weekly":
            return f"{start:%a}", day, True
        return str(start.day), day, (start.day - 1) % 7 == 0
    if grain == "week":
        return f"{start.day} {start:%b}", f"Week of {day}", i % 2 == 0
    return f"{start:%b}", f"{start:%B %Y}", True


def channel_section(cur: Facts, prev: Facts | None, against: str,
              wanted: Sequence[str] | None) -> Capped[ChannelRow]:
    def by_channel(facts: Facts) -> dict[str, tuple[int, int, int]]:
        """Mentions, negative ones and scored ones per channel (unscored count in the total only)."""
        c = facts.counts
        if c.empty:
            return {}
        sizes = pd.DataFrame({"size": c["n"], "negative": c["n"].where(c["sentiment"] == "negative", 0),
                              "scored": c["n"].where(c["sentiment"] != UNSCORED, 0)})
        g = sizes.groupby(c["channel"].astype(str), sort=False).sum()
        return {str(k): (int(v["size"]), int(v["negative"]), int(v["scored"])) for k, v in g.iterrows()
                if v["size"] > 0}

    now = by_channel(cur)
    before = by_channel(prev) if prev is not None else {}
    keys = set(now) | set(before) | set(wanted or ())
    rows = []
    for key in keys:
        volume, negative, scored = now.get(key, (0, 0, 0))
        share = negative / scored * 100 if scored else 0.0
        change = None
        if prev is not None:
            change = count_change(volume, before.get(key, (0, 0, 0))[0], against, up="neutral")
        rows.append(ChannelRow(key, channel_label(key), volume, number(volume), negative, share,
                               percent(share) if scored else "–", change))
    rows.sort(key=lambda r: (-r.volume, -(r.change.previous if r.change else 0), r.label, r.channel))
    return Capped(tuple(rows[:MAX_CHANNELS]), len(rows))


def kpi_changes(cur: Counts, prev: Counts | None, against: str) -> tuple[Change | None, ...]:
    """Changes of volume, negative share, net sentiment and complaints (None: no earlier data)."""
    if prev is None or prev.volume == 0:
        return (None, None, None, None)
    return (
        count_change(cur.volume, prev.volume, against, up="neutral"),
        points_change(cur.negative_share, prev.negative_share, against, up="bad",
                       display_before=percent(prev.negative_share)),
        points_change(cur.net, prev.net, against, up="good", display_before=signed(prev.net)),
        count_change(cur.complaints, prev.complaints, against, up="bad"),
    )


def headline_of(label: str, previous_label: str, cur: Counts, prev: Counts, topic_deltas: Mapping[str, int],
              channels: Sequence[ChannelRow], health: Health) -> str:
    """One sentence that says what changed most (deterministic; handles empty windows)."""
    if cur.volume == 0:
        text = f"No mentions were collected for {label}"
        if prev.volume:
            text += f" (after {plural(prev.volume, 'mention')} in {previous_label})"
        if health.problems.total:
            text += f"; {number(health.problems.total)} of {plural(health.total, 'source')} had problems"
        return text + "."
    share = f"negative share {percent(cur.negative_share)}"
    if prev.volume == 0:
        return (f"{plural(cur.volume, 'mention')} in {label}, {percent(cur.negative_share)} negative, "
                f"{plural(cur.complaints, 'complaint')}; no mentions in {previous_label} to compare with.")
    share_change = points_change(cur.negative_share, prev.negative_share, "", up="bad", display_before="")
    share += f" ({share_change.display})"
    candidates = []
    if prev.complaints:
        candidates.append(("Complaints", cur.complaints, prev.complaints))
    candidates.append(("Mentions", cur.volume, prev.volume))
    # the metric that moved most (relative); complaints win a tie because they are what executives act on
    name, now, before = max(candidates, key=lambda c: abs(c[1] - c[2]) / c[2])
    pct = (now - before) / before * 100
    if abs(pct) < 5:  # nothing moved much: the volume and its own change, as its tile shows it
        volume = count_change(cur.volume, prev.volume, previous_label, up="neutral")
        return f"Mentions steady at {number(cur.volume)} ({volume.display} on {previous_label}); {share}."
    verb = "rose" if pct > 0 else "fell"
    lead = f"{name} {verb} {abs(pct):.0f}% to {number(now)}"
    sign = 1 if pct > 0 else -1
    if name == "Complaints":
        drivers = sorted((-d * sign, t) for t, d in topic_deltas.items() if d * sign > 0)
        if drivers:
            lead += f", driven by {drivers[0][1]}" if sign > 0 else f", most of all in {drivers[0][1]}"
    else:
        moved = sorted((-r.change.delta * sign, r.label) for r in channels
                       if r.change and r.change.delta * sign > 0)
        if moved and len(channels) > 1:
            lead += f", mostly on {moved[0][1]}"
    return f"{lead}; {share}."
