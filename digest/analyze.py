"""Pure analysis: mentions (DataFrames, or the store's rollups) -> a `Summary` of every figure a digest shows.

Everything here is computed, formatted and capped up front so that templates only lay it out: a
user-edited template cannot get a figure wrong, and the HTML stays under Gmail's clipping size
whatever the volume. The DataFrames are the ones `Store.mentions()` returns (docs/INTERFACES.md).

Two entries give the same Summary: `summarize` takes DataFrames of every mention of the windows;
`summarize_facts` takes `rollups.Facts` (counts, topic counts, quote candidates, a complaint sample),
which the store answers from its rollups at any volume. `summarize` reduces its frames to Facts
first, so both share every step after that.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from . import periods
from .models import SourceHealth
from .periods import Period, Window
from .rollups import KEEP, Facts, bucket_edges, count_frame, topic_frame
from .text import safe_url

__all__ = [
    "Capped", "Change", "ChannelRow", "Health", "HealthRow", "Kpi", "PhraseRow", "Praise", "Quote",
    "Spike", "Summary", "TopicCount", "TopicRow", "Trend", "TrendBucket", "channel_label", "facts_from_frame",
    "plain_line", "summarize", "summarize_facts", "to_quotes",
]

# Caps: what an executive reads in 30 seconds, and what keeps the HTML far below Gmail's 102 KB clip.
MAX_CHANNELS = 10
MAX_TOPICS = 8
MAX_PHRASES = 6
MAX_EMERGING = 5
MAX_QUOTES = 5
MAX_PRAISE_QUOTES = 3
MAX_PRAISE_TOPICS = 6
MAX_HEALTH_ROWS = 8
QUOTE_CHARS = 240
# Phrase mining is the one step that is not vectorised; beyond this many complaint texts a fixed-seed
# sample is as good an estimate and keeps a 100k-mention summary fast.
PHRASE_SAMPLE = 2000
# the store keeps KEEP quote candidates per list and day: enough for every list a digest shows
assert max(MAX_QUOTES, MAX_PRAISE_QUOTES, MAX_TOPICS) <= KEEP
# A source with no successful fetch for this long is reported as stale.
STALE_AFTER = timedelta(hours=24)
CHART_HEIGHT = 80  # px of the tallest trend bar

Direction = Literal["up", "down", "flat"]
Tone = Literal["good", "bad", "neutral"]
T = TypeVar("T")

# line breaks, controls, bidi overrides, lone surrogates and non-characters: none may reach a subject line,
# and lxml (premailer) refuses the last two outright
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
                      r"\ud800-\udfff\ufffe\uffff]")
_CHANNEL_NAMES = {
    "call_center": "Call center", "twitter": "Twitter", "x": "X", "reddit": "Reddit", "youtube": "YouTube",
    "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn", "tiktok": "TikTok",
    "news": "News", "blog": "Blogs", "blogs": "Blogs", "reviews": "Reviews", "review": "Reviews",
    "mastodon": "Mastodon", "trustpilot": "Trustpilot", "google_alerts": "Google Alerts",
}
_GRAIN_LABEL = {"hour": "by hour", "day": "by day", "week": "by week", "month": "by month"}


# -- the Summary ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Capped(Generic[T]):
    """The first rows of a longer list, and how long the list was ("and N more")."""

    rows: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        """How many rows were left out."""
        return self.total - len(self.rows)

    def __iter__(self) -> Iterator[T]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclasses.dataclass(frozen=True)
class Change:
    """A figure compared with the same figure in an earlier window."""

    against: str  # the earlier window's label
    previous: float
    previous_display: str
    delta: float  # absolute; in points for shares
    pct: float | None  # relative change in %; None when the earlier figure was 0
    direction: Direction
    tone: Tone  # whether the move is good news, bad news or neither
    display: str  # "+38%", "+6 pts", "new", "no change"

    @property
    def arrow(self) -> str:
        """▲, ▼ or = (text, so that it survives blocked images and plain text)."""
        return {"up": "▲", "down": "▼", "flat": "="}[self.direction]


@dataclasses.dataclass(frozen=True)
class Kpi:
    """One headline figure with its comparisons."""

    key: str  # volume | negative_share | net_sentiment | complaints
    label: str
    value: float
    display: str
    vs_previous: Change | None  # None: the previous window had no mentions
    vs_year_ago: Change | None  # only when a year-ago frame was given and it had mentions


@dataclasses.dataclass(frozen=True)
class TrendBucket:
    """Mentions in one bar of the trend chart."""

    start: datetime  # local, aware
    label: str  # short tick label: "06h", "17", "W47", "Jan"
    title: str  # full label: "Tue 17 Nov 06:00"
    negative: int
    neutral: int
    positive: int
    tick: bool  # whether the chart prints the label (every bar would crowd a 31-day month)
    negative_px: int
    neutral_px: int
    positive_px: int

    @property
    def total(self) -> int:
        """All mentions in the bucket."""
        return self.negative + self.neutral + self.positive


@dataclasses.dataclass(frozen=True)
class Trend:
    """The period's mentions at its grain (periods.TREND_GRAIN)."""

    grain: str  # hour | day | week | month
    grain_label: str  # "by day"
    buckets: tuple[TrendBucket, ...]
    peak: TrendBucket | None  # the busiest bucket, None when there were no mentions
    height: int = CHART_HEIGHT

    @property
    def ticks(self) -> tuple[tuple[str, int], ...]:
        """(label, number of bars it spans) for the axis row: each label stands over its group of bars."""
        out: list[tuple[str, int]] = []
        for b in self.buckets:
            if b.tick or not out:
                out.append((b.label if b.tick else "", 1))
            else:
                out[-1] = (out[-1][0], out[-1][1] + 1)
        return tuple(out)

    @property
    def bar_width(self) -> str:
        """Each bar's share of the chart width, as an HTML width attribute value."""
        return f"{100 / len(self.buckets):.2f}%" if self.buckets else "100%"


@dataclasses.dataclass(frozen=True)
class Quote:
    """A mention as a digest quotes it: plain one-line text, a checked link, who and where."""

    id: int
    text: str  # plain, one line, at most QUOTE_CHARS
    url: str | None  # http(s)/mailto only
    channel: str
    channel_label: str
    author: str
    title: str
    published: datetime  # local, aware
    when: str  # "Tue 17 Nov 14:05"
    sentiment: str
    score: float
    influence: float
    influence_display: str  # "12.3k reach" or ""


@dataclasses.dataclass(frozen=True)
class ChannelRow:
    """One line of the per-channel table."""

    channel: str
    label: str
    volume: int
    volume_display: str
    negative: int
    negative_share: float  # 0..100
    negative_share_display: str
    change: Change | None  # volume against the previous window


@dataclasses.dataclass(frozen=True)
class TopicRow:
    """A configured complaint topic: how many complaints, their trend and a representative quote."""

    name: str
    count: int
    count_display: str
    share: float  # of all complaints, 0..100
    share_display: str
    change: Change | None
    quote: Quote | None


@dataclasses.dataclass(frozen=True)
class PhraseRow:
    """A phrase that complaints use, found by digest.phrases."""

    text: str
    count: int  # estimated over all complaints when they were sampled
    count_display: str  # "≈1,200" when estimated
    baseline_count: int
    baseline_per_period: float  # the earlier window's count scaled to this window's length
    emerging: bool
    growth: str  # "new", "up 3.2×" (against the previous period's rate) or ""
    quote: Quote | None


@dataclasses.dataclass(frozen=True)
class TopicCount:
    """A praise topic and how many positive mentions name it."""

    name: str
    count: int
    count_display: str


@dataclasses.dataclass(frozen=True)
class Praise:
    """What customers liked."""

    count: int
    count_display: str
    share_display: str  # of all mentions
    change: Change | None
    topics: Capped[TopicCount]
    quotes: Capped[Quote]


@dataclasses.dataclass(frozen=True)
class HealthRow:
    """A source with a problem."""

    name: str
    channel_label: str
    status: Literal["failed", "stale"]
    detail: str


@dataclasses.dataclass(frozen=True)
class Health:
    """Which sources fed this digest and which had problems."""

    total: int
    ok: int
    problems: Capped[HealthRow]
    sentence: str
    complete: bool  # there are sources and every one fetched normally


@dataclasses.dataclass(frozen=True)
class Summary:
    """Everything a digest shows, computed, formatted and capped (see module docstring)."""

    brand: str
    period: Period
    window: Window
    window_label: str
    previous_label: str
    year_ago_label: str | None
    generated_at: datetime  # local, aware
    generated_label: str
    timezone: str
    channels_filter: tuple[str, ...]  # channel keys a recipient asked for; () = every channel
    filter_note: str  # "Filtered to: Twitter, Call center" or ""
    headline: str
    has_previous: bool
    volume: Kpi
    negative_share: Kpi
    net_sentiment: Kpi
    complaints: Kpi
    negative: int
    neutral: int
    positive: int
    trend: Trend
    channels: Capped[ChannelRow]
    topics: Capped[TopicRow]
    uncategorized_complaints: int
    phrases: Capped[PhraseRow]
    emerging: Capped[PhraseRow]
    phrases_note: str  # "" or "from a sample of 4,000 of 41,234 complaints"
    most_negative: Capped[Quote]
    most_influential: Capped[Quote]
    praise: Praise
    health: Health

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        """The four headline figures in display order."""
        return (self.volume, self.negative_share, self.net_sentiment, self.complaints)

    @property
    def empty(self) -> bool:
        """No mentions in the window."""
        return self.volume.value == 0


@dataclasses.dataclass(frozen=True)
class Spike:
    """Negative mentions running well above their usual rate (the input of an alert email)."""

    brand: str
    start: datetime  # aware; the window in which the spike was measured
    end: datetime
    negative: int  # negative mentions in [start, end)
    baseline_per_hour: float  # usual negative mentions per hour, from history
    phrases: tuple[str, ...] = ()  # what the spiking mentions say most
    examples: tuple[Quote, ...] = ()
    channels: tuple[str, ...] = ()  # channel labels, loudest first
    generated_at: datetime | None = None

    @property
    def hours(self) -> float:
        """Length of the window in hours."""
        return (self.end - self.start).total_seconds() / 3600

    @property
    def expected(self) -> float:
        """Negative mentions the baseline predicts for a window this long."""
        return self.baseline_per_hour * self.hours

    @property
    def ratio(self) -> float:
        """How many times the usual rate (inf when there is no baseline)."""
        return self.negative / self.expected if self.expected > 0 else math.inf

    @property
    def ratio_display(self) -> str:
        """ "4.2×", or "new" when there was no baseline."""
        return f"{self.ratio:.1f}×" if math.isfinite(self.ratio) else "new"

    @property
    def window_label(self) -> str:
        """`Tue 24 Nov 14:00–15:00 EST` (times as given, so pass them in the brand's zone)."""
        s, e = self.start, self.end
        end = f"{e:%H:%M %Z}" if e.date() == s.date() else f"{e:%a} {e.day} {e:%b %H:%M %Z}"
        return f"{s:%a} {s.day} {s:%b %H:%M}–{end}".strip()

    @property
    def duration_label(self) -> str:
        """`1 h`, `30 min`, `2 days`."""
        minutes = round((self.end - self.start).total_seconds() / 60)
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes / 60:g} h"
        return f"{minutes / 1440:g} days"

    @property
    def summary_line(self) -> str:
        """`84 negative mentions in 1 h, 4.2× the usual 20 (Tue 24 Nov 14:00–15:00 EST).`"""
        if math.isfinite(self.ratio):
            usual = f", {self.ratio_display} the usual {self.expected:.0f}"
        else:
            usual = ", where there are usually none"
        count = _plural(self.negative, "negative mention")
        return f"{count} in {self.duration_label}{usual} ({self.window_label})."


# -- formatting ------------------------------------------------------------------------------------------


def _n(value: float) -> str:
    """1234 -> "1,234"."""
    return f"{round(value):,}"


def _pct(value: float) -> str:
    """A 0..100 share as "38%" (one decimal below 1%, so a small share is not shown as 0%)."""
    if 0 < value < 1:
        return f"{value:.1f}%"
    return f"{round(value)}%"


def _signed(value: float) -> str:
    """+12 / -8 / 0."""
    r = round(value)
    return f"{r:+d}" if r else "0"


def _compact(value: float) -> str:
    """12345 -> "12.3k"."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{round(value)}"


def _plural(n: int, word: str) -> str:
    return f"{_n(n)} {word if n == 1 else word + 's'}"


def plain_line(value: object, limit: int) -> str:
    """Untrusted text on one line (no CR/LF, controls or bidi overrides), cut on a word at `limit`."""
    if not isinstance(value, str):
        return ""
    text = " ".join(_CONTROL.sub(" ", value).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:  # keep whole words unless one word is very long
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def channel_label(channel: str) -> str:
    """Display name of a channel key: call_center -> "Call center"."""
    if channel in _CHANNEL_NAMES:
        return _CHANNEL_NAMES[channel]
    words = plain_line(re.sub(r"[_\-]+", " ", channel), 40)
    return words[:1].upper() + words[1:]


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{max(1, round(hours))} h"
    return f"{round(hours / 24)} days"


# -- changes ---------------------------------------------------------------------------------------------


def _count_change(now: float, before: float, against: str, *, up: Tone) -> Change:
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
    return Change(against, before, _n(before), delta, pct, direction, _tone(direction, up), display)


def _points_change(now: float, before: float, against: str, *, up: Tone, display_before: str) -> Change:
    """Change of a share or score in points; under half a point reads as no change."""
    delta = now - before
    direction: Direction = "flat" if abs(delta) < 0.5 else "up" if delta > 0 else "down"
    display = "no change" if direction == "flat" else f"{_signed(delta)} pts"
    tone = _tone(direction, up)
    return Change(against, before, display_before, round(delta, 2), None, direction, tone, display)


def _tone(direction: Direction, up: Tone) -> Tone:
    if direction == "flat" or up == "neutral":
        return "neutral"
    if direction == "up":
        return up
    return "good" if up == "bad" else "bad"


# -- frame helpers ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Counts:
    """The basic figures of one frame."""

    volume: int
    negative: int
    neutral: int
    positive: int
    complaints: int

    @property
    def negative_share(self) -> float:
        return self.negative / self.volume * 100 if self.volume else 0.0

    @property
    def net(self) -> float:
        return (self.positive - self.negative) / self.volume * 100 if self.volume else 0.0


def _counts(facts: Facts) -> _Counts:
    c = facts.counts
    n = c["n"]
    sentiment = c["sentiment"]
    volume = int(n.sum())
    neg = int(n[sentiment == "negative"].sum())
    pos = int(n[sentiment == "positive"].sum())
    return _Counts(volume, neg, volume - neg - pos, pos, int(n[c["complaint"].astype(bool)].sum()))


def _only(df: pd.DataFrame, channels: Sequence[str] | None) -> pd.DataFrame:
    """Rows of the recipient's channels (the caller usually filtered already; this makes sure)."""
    if channels is None or df.empty:
        return df
    return df[df["channel"].isin(list(channels))]


def _topic_lists(df: pd.DataFrame) -> pd.Series:
    """The topics column exploded to one row per (mention, topic), indexed like `df`."""
    exploded = df["topics"].explode()
    return exploded[exploded.map(lambda t: isinstance(t, str) and t != "")]


def to_quotes(df: pd.DataFrame, tz: ZoneInfo | None = None) -> tuple[Quote, ...]:
    """Rows of a mentions frame as Quotes, in the frame's order, with times shown in `tz` (default UTC)."""
    out = []
    for row in df.to_dict("records"):
        published = pd.Timestamp(row["published"]).to_pydatetime(warn=False)  # ns -> us is fine here
        if tz is not None:
            published = published.astimezone(tz)
        influence = _number(row["influence"])
        url = row["url"]
        out.append(Quote(
            id=int(row["id"]),
            text=plain_line(row["text"], QUOTE_CHARS) or plain_line(row["title"], QUOTE_CHARS),
            url=safe_url(url if isinstance(url, str) else None),
            channel=str(row["channel"]),
            channel_label=channel_label(str(row["channel"])),
            author=plain_line(row["author"], 60),
            title=plain_line(row["title"], 120),
            published=published,
            when=f"{published:%a} {published.day} {published:%b %H:%M}",
            sentiment=str(row["sentiment"]),
            score=_number(row["score"]),
            influence=influence,
            influence_display=f"{_compact(influence)} reach" if influence > 0 else "",
        ))
    return tuple(out)


def _number(value: object) -> float:
    """A float column's value, 0.0 for missing (NaN or None)."""
    if isinstance(value, numbers.Real) and not math.isnan(value):
        return float(value)
    return 0.0


_COLUMNS = ("id", "source", "channel", "external_id", "url", "title", "text", "author", "published",
            "influence", "polarity", "sentiment", "complaint", "topics", "score")
_EMPTY_DTYPES = {"id": "int64", "published": "datetime64[ns, UTC]", "complaint": "bool",
                 "influence": "float64", "polarity": "float64", "score": "float64"}


def _prepare(df: pd.DataFrame, window: Window, channels: Sequence[str] | None) -> pd.DataFrame:
    """The rows of `window` and the recipient's channels, positionally indexed."""
    if df.empty and not set(_COLUMNS) <= set(df.columns):  # a bare pd.DataFrame() means "no mentions"
        df = pd.DataFrame({c: pd.Series(dtype=_EMPTY_DTYPES.get(c, "object")) for c in _COLUMNS})
    if not df.empty:
        published = df["published"]
        df = df[(published >= window.start_utc) & (published < window.end_utc)]
    return _only(df, channels).reset_index(drop=True)


def _sentiment_codes(df: pd.DataFrame) -> np.ndarray:
    """0 negative, 1 neutral (anything unrecognised), 2 positive."""
    s = df["sentiment"].to_numpy()
    return np.where(s == "negative", 0, np.where(s == "positive", 2, 1))


def facts_from_frame(df: pd.DataFrame, window: Window, *, trend: bool = True) -> Facts:
    """The Facts of a frame of every mention of `window` (and the recipient's channels, see _prepare)."""
    comp = df[df["complaint"].astype(bool)]
    # phrase mining is the one step that is not vectorised: a fixed-seed sample on large volumes
    sample = comp.sample(n=PHRASE_SAMPLE, random_state=0) if len(comp) > PHRASE_SAMPLE else comp
    return Facts(count_frame(df, bucket_edges(window, trend)), topic_frame(df), df, sample, exhaustive=True)


# -- sections --------------------------------------------------------------------------------------------


def _trend(facts: Facts, window: Window) -> Trend:
    grain = periods.TREND_GRAIN[window.period]
    starts = periods.buckets(window)
    n = len(starts)
    counts = np.zeros((n, 3), dtype="int64")
    c = facts.counts
    if not c.empty:
        np.add.at(counts, (c["bucket"].to_numpy(dtype="int64"), _sentiment_codes(c)), c["n"].to_numpy(dtype="int64"))
    top = int(counts.sum(axis=1).max()) if n else 0

    def px(value: int) -> int:
        return round(value / top * CHART_HEIGHT) if top else 0

    out = []
    for i, start in enumerate(starts):
        neg, neu, pos = (int(x) for x in counts[i])
        # cumulative rounding keeps the stacked bar as tall as its total; a non-empty segment shows >= 1 px
        neg_px = px(neg)
        mid_px = px(neg + neu) - neg_px
        pos_px = px(neg + neu + pos) - neg_px - mid_px
        label, title, tick = _bucket_label(grain, window.period, start, i)
        out.append(TrendBucket(
            start=start, label=label, title=title, negative=neg, neutral=neu, positive=pos, tick=tick,
            negative_px=max(neg_px, 1 if neg else 0), neutral_px=max(mid_px, 1 if neu else 0),
            positive_px=max(pos_px, 1 if pos else 0),
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


def _channels(cur: Facts, prev: Facts | None, against: str,
              wanted: Sequence[str] | None) -> Capped[ChannelRow]:
    def by_channel(facts: Facts) -> dict[str, tuple[int, int]]:
        c = facts.counts
        if c.empty:
            return {}
        sizes = pd.DataFrame({"size": c["n"], "negative": c["n"].where(c["sentiment"] == "negative", 0)})
        g = sizes.groupby(c["channel"].astype(str), sort=False).sum()
        return {str(k): (int(v["size"]), int(v["negative"])) for k, v in g.iterrows() if v["size"] > 0}

    now = by_channel(cur)
    before = by_channel(prev) if prev is not None else {}
    keys = set(now) | set(before) | set(wanted or ())
    rows = []
    for key in keys:
        volume, negative = now.get(key, (0, 0))
        share = negative / volume * 100 if volume else 0.0
        change = None
        if prev is not None:
            change = _count_change(volume, before.get(key, (0, 0))[0], against, up="neutral")
        rows.append(ChannelRow(key, channel_label(key), volume, _n(volume), negative, share,
                               _pct(share) if volume else "–", change))
    rows.sort(key=lambda r: (-r.volume, -(r.change.previous if r.change else 0), r.label, r.channel))
    return Capped(tuple(rows[:MAX_CHANNELS]), len(rows))


def _topic_pairs(complaints: pd.DataFrame, allowed: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """One row per (complaint row, topic), a topic counted once per complaint."""
    if complaints.empty:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "topic": pd.Series(dtype="str")})
    exploded = _topic_lists(complaints)
    pairs = pd.DataFrame({"row": exploded.index.to_numpy(), "topic": exploded.astype(str).to_numpy()})
    if allowed:
        pairs = pairs[pairs["topic"].isin(list(allowed))]
    return pairs.drop_duplicates()


def _topic_totals(facts: Facts, allowed: Mapping[str, Sequence[str]]) -> tuple[dict[str, int], int]:
    """Complaints per topic (a topic counted once per complaint), and complaints in at least one topic."""
    per: dict[str, int] = {}
    tagged = 0
    tc = facts.topic_counts
    comp = tc[tc["complaint"].astype(bool)]
    for names, n in zip(comp["topics"], comp["n"], strict=True):
        kept = [t for t in names if not allowed or t in allowed]
        if kept:
            tagged += int(n)
            for t in kept:
                per[t] = per.get(t, 0) + int(n)
    return per, tagged


def _topics(cur: Facts, prev: Facts | None, total: int, against: str, topics: Mapping[str, Sequence[str]],
            tz: ZoneInfo) -> tuple[Capped[TopicRow], int, dict[str, int]]:
    """Top complaint topics, complaints in no topic, and each topic's change in count."""
    comp = cur.ranked[cur.ranked["complaint"].astype(bool)]
    pairs = _topic_pairs(comp, topics)
    now, tagged = _topic_totals(cur, topics)
    before = _topic_totals(prev, topics)[0] if prev is not None else {}
    names = sorted(set(now) | set(before), key=lambda t: (-now.get(t, 0), -before.get(t, 0), t))
    deltas = {t: now.get(t, 0) - before.get(t, 0) for t in names}
    present = [t for t in names if now.get(t, 0) > 0]
    shown = present[:MAX_TOPICS]
    # representative quote: the most negative complaint of the topic, the most influential among equals,
    # and not one an earlier topic already shows (a complaint often names two topics)
    quotes: dict[str, Quote] = {}
    if shown:
        ranked = pairs[pairs["topic"].isin(shown)].join(comp[["score", "influence"]], on="row")
        ranked = ranked.sort_values(["score", "influence"], ascending=[True, False], kind="stable")
        candidates = ranked.groupby("topic", sort=False).head(len(shown))  # enough to skip every earlier pick
        by_topic = {str(t): g["row"].tolist() for t, g in candidates.groupby("topic", sort=False)}
        used: set[int] = set()
        picks: dict[str, int] = {}
        for t in shown:
            rows_of_topic = by_topic.get(t, [])
            if not rows_of_topic:
                continue
            pick = next((r for r in rows_of_topic if r not in used), rows_of_topic[0])
            used.add(pick)
            picks[t] = pick
        for t, quote in zip(picks, to_quotes(comp.loc[list(picks.values())], tz), strict=True):
            quotes[t] = quote
    rows = []
    for t in shown:
        c = now[t]
        share = c / total * 100 if total else 0.0
        change = _count_change(c, before.get(t, 0), against, up="bad") if prev is not None else None
        rows.append(TopicRow(plain_line(t, 60), c, _n(c), share, _pct(share), change, quotes.get(t)))
    return Capped(tuple(rows), len(present)), total - tagged, deltas


def _brand_words(brand: str) -> set[str]:
    return {w for w in re.split(r"[^\w]+", brand.casefold()) if w}


def _phrases(cur: Facts, prev: Facts | None, n_comp: int, n_base: int, window: Window, previous_window: Window,
             brand: str, tz: ZoneInfo) -> tuple[Capped[PhraseRow], Capped[PhraseRow], str]:
    """Frequent and emerging complaint phrases, each with an example quote.

    `n_comp` and `n_base` count every complaint of the two windows; the facts hold a sample of them.
    """
    from .phrases import top_phrases  # noqa: PLC0415 — imported here so analysis loads without NLP code

    sample = cur.complaint_sample
    empty: Capped[PhraseRow] = Capped((), 0)
    if not n_comp or sample.empty:
        return empty, empty, ""
    base_sample = prev.complaint_sample if prev is not None else sample.iloc[0:0]
    if prev is None:
        n_base = 0
    fc = len(sample) / n_comp
    fb = len(base_sample) / n_base if n_base else 1.0
    span = (window.end_utc - window.start_utc) / (previous_window.end_utc - previous_window.start_utc)
    # top_phrases compares rates as baseline_count * baseline_scale; sampling changes both counts
    scale = span * fc / fb
    found = top_phrases(sample["text"].astype(str).tolist(), base_sample["text"].astype(str).tolist(),
                        limit=MAX_PHRASES * 3, baseline_scale=scale, exclude=[brand])
    brand_words = _brand_words(brand)
    rows = []
    for p in found:
        words = _brand_words(p.text)
        if not words or words <= brand_words:  # "acme air" says nothing about the complaint
            continue
        count = round(p.count / fc)
        baseline = round(p.baseline_count / fb)
        growth = ""
        if p.emerging:
            expected = baseline * span
            growth = "new" if expected == 0 else f"up {count / expected:.1f}×"
        quote = to_quotes(sample.iloc[[p.examples[0]]], tz)[0] if p.examples else None
        rows.append(PhraseRow(plain_line(p.text, 60), count, ("≈" if fc < 1 else "") + _n(count), baseline,
                              baseline * span, p.emerging, growth, quote))
    emerging = [r for r in rows if r.emerging]
    note = f"from a sample of {_n(len(sample))} of {_n(n_comp)} complaints" if fc < 1 else ""
    top = Capped(tuple(rows[:MAX_PHRASES]), len(rows))
    return top, Capped(tuple(emerging[:MAX_EMERGING]), len(emerging)), note


def _most_negative(cur: Facts, total: int, tz: ZoneInfo) -> Capped[Quote]:
    neg = cur.ranked[cur.ranked["sentiment"] == "negative"]
    ranked = neg.sort_values(["score", "polarity", "influence"], ascending=[True, True, False], kind="stable")
    return Capped(to_quotes(ranked.head(MAX_QUOTES), tz), total)


def _most_influential(cur: Facts, tz: ZoneInfo) -> Capped[Quote]:
    loud = cur.ranked[cur.ranked["influence"] > 0]
    ranked = loud.sort_values(["influence", "score"], ascending=[False, True], kind="stable")
    return Capped(to_quotes(ranked.head(MAX_QUOTES), tz), int(cur.counts["influential"].sum()))


def _keyword_pattern(keywords: Sequence[str]) -> str:
    """A case-insensitive regex matching any keyword as whole words (handles like @x need no boundary)."""
    parts = []
    for k in keywords:
        left = r"(?<!\w)" if k[:1].isalnum() else ""
        right = r"(?!\w)" if k[-1:].isalnum() else ""
        parts.append(left + re.escape(k.casefold()) + right)
    return "(?i)(?:" + "|".join(parts) + ")"


def _praise(cur: Facts, c_cur: _Counts, c_prev: _Counts | None, against: str,
            praise_topics: Mapping[str, Sequence[str]], tz: ZoneInfo) -> Praise:
    """Praise: how much, its change, its topics and the warmest quotes.

    A praise topic counts the positive mentions tagged with it (the pipeline tags them at ingest) and,
    when every text of the window is at hand, those whose text names one of its keywords.
    """
    pos = cur.ranked[cur.ranked["sentiment"] == "positive"]
    count = c_cur.positive
    volume = c_cur.volume
    change = None
    if c_prev is not None:
        change = _count_change(count, c_prev.positive, against, up="good")
    found = []
    if not cur.exhaustive:
        tc = cur.topic_counts
        positive = tc[tc["sentiment"] == "positive"]
        for name in praise_topics:
            n = sum(int(k) for names, k in zip(positive["topics"], positive["n"], strict=True) if name in names)
            if n:
                found.append(TopicCount(plain_line(name, 60), n, _n(n)))
    elif not pos.empty:
        texts = pos["text"].astype(str)
        tagged = pos["topics"].map(lambda ts: set(ts) if isinstance(ts, (list, tuple, np.ndarray)) else set())
        for name, keywords in praise_topics.items():
            hit = tagged.map(lambda ts, name=name: name in ts).to_numpy(dtype=bool)
            if keywords:
                hit = hit | texts.str.contains(_keyword_pattern(keywords), regex=True).to_numpy(dtype=bool)
            n = int(hit.sum())
            if n:
                found.append(TopicCount(plain_line(name, 60), n, _n(n)))
    found.sort(key=lambda t: (-t.count, t.name))
    ranked = pos.sort_values(["score", "influence"], ascending=[False, False], kind="stable")
    quotes = Capped(to_quotes(ranked.head(MAX_PRAISE_QUOTES), tz), count)
    share = count / volume * 100 if volume else 0.0
    return Praise(count, _n(count), _pct(share), change, Capped(tuple(found[:MAX_PRAISE_TOPICS]), len(found)),
                  quotes)


def _health(health: Sequence[SourceHealth], channels: Sequence[str] | None, now: datetime) -> Health:
    relevant = [h for h in health if channels is None or h.channel in channels]
    rows = []
    for h in relevant:
        failed = h.consecutive_failures > 0 or (
            h.last_error is not None and (
                h.last_success is None or (h.last_attempt is not None and h.last_attempt > h.last_success)))
        stale = h.last_success is None or now - h.last_success > STALE_AFTER
        if not (failed or stale):
            continue
        since = "never fetched successfully" if h.last_success is None else \
            f"last success {_ago(now - h.last_success)} ago"
        if failed:
            runs = max(h.consecutive_failures, 1)
            error = plain_line(h.last_error or "", 140)
            detail = f"failed {'once' if runs == 1 else f'{runs} times in a row'}"
            detail += f" ({error})" if error else ""
            detail += f"; {since}"
        elif h.last_success is None:
            detail = since
        else:
            detail = f"no successful fetch for {_ago(now - h.last_success)}"
        status: Literal["failed", "stale"] = "failed" if failed else "stale"
        rows.append(HealthRow(plain_line(h.name, 80), channel_label(h.channel), status, detail))
    rows.sort(key=lambda r: (r.status != "failed", r.name))
    total = len(relevant)
    if not total:
        sentence = "No source status was recorded, so completeness is unknown."
    elif not rows:
        sentence = f"All {_plural(total, 'source')} fetched normally in the last 24 h."
    else:
        hit = sorted({r.channel_label for r in rows})
        sentence = (f"{_n(len(rows))} of {_plural(total, 'source')} had problems, so figures for "
                    f"{', '.join(hit)} may be incomplete.")
    problems = Capped(tuple(rows[:MAX_HEALTH_ROWS]), len(rows))
    return Health(total, total - len(rows), problems, sentence, complete=total > 0 and not rows)


def _kpis(cur: _Counts, prev: _Counts | None, against: str) -> tuple[Change | None, ...]:
    """Changes of volume, negative share, net sentiment and complaints (None: no earlier data)."""
    if prev is None or prev.volume == 0:
        return (None, None, None, None)
    return (
        _count_change(cur.volume, prev.volume, against, up="neutral"),
        _points_change(cur.negative_share, prev.negative_share, against, up="bad",
                       display_before=_pct(prev.negative_share)),
        _points_change(cur.net, prev.net, against, up="good", display_before=_signed(prev.net)),
        _count_change(cur.complaints, prev.complaints, against, up="bad"),
    )


def _headline(label: str, previous_label: str, cur: _Counts, prev: _Counts, topic_deltas: Mapping[str, int],
              channels: Sequence[ChannelRow], health: Health) -> str:
    """One sentence that says what changed most (deterministic; handles empty windows)."""
    if cur.volume == 0:
        text = f"No mentions were collected for {label}"
        if prev.volume:
            text += f" (after {_plural(prev.volume, 'mention')} in {previous_label})"
        if health.problems.total:
            text += f"; {_n(health.problems.total)} of {_plural(health.total, 'source')} had problems"
        return text + "."
    share = f"negative share {_pct(cur.negative_share)}"
    if prev.volume == 0:
        return (f"{_plural(cur.volume, 'mention')} in {label}, {_pct(cur.negative_share)} negative, "
                f"{_plural(cur.complaints, 'complaint')}; no mentions in {previous_label} to compare with.")
    share_change = _points_change(cur.negative_share, prev.negative_share, "", up="bad", display_before="")
    share += f" ({share_change.display})"
    candidates = []
    if prev.complaints:
        candidates.append(("Complaints", cur.complaints, prev.complaints))
    candidates.append(("Mentions", cur.volume, prev.volume))
    # the metric that moved most (relative); complaints win a tie because they are what executives act on
    name, now, before = max(candidates, key=lambda c: abs(c[1] - c[2]) / c[2])
    pct = (now - before) / before * 100
    if abs(pct) < 5:
        return f"Mentions steady at {_n(cur.volume)} ({pct:+.0f}% on {previous_label}); {share}."
    verb = "rose" if pct > 0 else "fell"
    lead = f"{name} {verb} {abs(pct):.0f}% to {_n(now)}"
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


# -- the entry point -------------------------------------------------------------------------------------


def summarize(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    window: Window,
    previous_window: Window,
    *,
    year_ago: pd.DataFrame | None = None,
    year_ago_window: Window | None = None,
    health: Sequence[SourceHealth] = (),
    topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 — read only; matches docs/INTERFACES.md
    praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    brand: str,
    channels: Sequence[str] | None = None,
    now: datetime,
) -> Summary:
    """Everything the digest of `window` shows, compared with `previous_window` (and a year ago).

    The frames hold every mention of their window (rows outside it, or of other channels, are ignored).
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    wanted = tuple(channels) if channels is not None else None
    cur = facts_from_frame(_prepare(current, window, wanted), window)
    prev = facts_from_frame(_prepare(previous, previous_window, wanted), previous_window, trend=False)
    ago = None
    if year_ago is not None and year_ago_window is not None:
        ago = facts_from_frame(_prepare(year_ago, year_ago_window, wanted), year_ago_window, trend=False)
    return summarize_facts(cur, prev, window, previous_window, year_ago=ago, year_ago_window=year_ago_window,
                           health=health, topics=topics, praise_topics=praise_topics, brand=brand,
                           channels=channels, now=now)


def summarize_facts(
    current: Facts,
    previous: Facts,
    window: Window,
    previous_window: Window,
    *,
    year_ago: Facts | None = None,
    year_ago_window: Window | None = None,
    health: Sequence[SourceHealth] = (),
    topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 — read only, like summarize's
    praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    brand: str,
    channels: Sequence[str] | None = None,
    now: datetime,
) -> Summary:
    """`summarize` from Facts (the store's rollups, or facts_from_frame) of the recipient's channels."""
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    tz = window.tz
    wanted = tuple(channels) if channels is not None else None
    cur, prev = current, previous
    ago = year_ago if year_ago_window is not None else None
    c_cur, c_prev = _counts(cur), _counts(prev)
    has_previous = c_prev.volume > 0
    against = previous_window.label
    ago_label = year_ago_window.label if year_ago_window is not None and ago is not None else None
    vs_prev = _kpis(c_cur, c_prev, against)
    vs_ago = _kpis(c_cur, _counts(ago), ago_label or "") if ago is not None else (None,) * 4
    kpis = [
        Kpi("volume", "Mentions", c_cur.volume, _n(c_cur.volume), vs_prev[0], vs_ago[0]),
        Kpi("negative_share", "Negative share", c_cur.negative_share,
            _pct(c_cur.negative_share) if c_cur.volume else "–", vs_prev[1], vs_ago[1]),
        Kpi("net_sentiment", "Net sentiment", c_cur.net,
            _signed(c_cur.net) if c_cur.volume else "–", vs_prev[2], vs_ago[2]),
        Kpi("complaints", "Complaints", c_cur.complaints, _n(c_cur.complaints), vs_prev[3], vs_ago[3]),
    ]
    prev_or_none = prev if has_previous else None
    channel_rows = _channels(cur, prev_or_none, against, wanted)
    topic_rows, uncategorized, topic_deltas = _topics(cur, prev_or_none, c_cur.complaints, against, topics, tz)
    phrases, emerging, phrases_note = _phrases(cur, prev_or_none, c_cur.complaints, c_prev.complaints, window,
                                               previous_window, brand, tz)
    data_health = _health(health, wanted, now)
    local_now = now.astimezone(tz)
    return Summary(
        brand=plain_line(brand, 80),
        period=window.period,
        window=window,
        window_label=window.label,
        previous_label=against,
        year_ago_label=ago_label,
        generated_at=local_now,
        generated_label=f"{local_now:%a} {local_now.day} {local_now:%b %Y %H:%M %Z}",
        timezone=str(tz.key),
        channels_filter=wanted or (),
        filter_note=("Filtered to: " + ", ".join(channel_label(c) for c in wanted)) if wanted else "",
        headline=_headline(window.label, against, c_cur, c_prev, topic_deltas, channel_rows.rows,
                           data_health),
        has_previous=has_previous,
        volume=kpis[0],
        negative_share=kpis[1],
        net_sentiment=kpis[2],
        complaints=kpis[3],
        negative=c_cur.negative,
        neutral=c_cur.neutral,
        positive=c_cur.positive,
        trend=_trend(cur, window),
        channels=channel_rows,
        topics=topic_rows,
        uncategorized_complaints=uncategorized,
        phrases=phrases,
        emerging=emerging,
        phrases_note=phrases_note,
        most_negative=_most_negative(cur, c_cur.negative, tz),
        most_influential=_most_influential(cur, tz),
        praise=_praise(cur, c_cur, c_prev if has_previous else None, against, praise_topics, tz),
        health=data_health,
    )
