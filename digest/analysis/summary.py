"""The Summary: every figure, list and note a digest shows, computed and capped before any template sees it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from ..periods import Period, Window
from ..rollups import KEEP

if TYPE_CHECKING:  # responses.py builds on this module
    from .languages import LanguageRow
    from .responses import Responses

# Caps: what an executive reads in 30 seconds, and what keeps the HTML far below Gmail's 102 KB clip.
MAX_CHANNELS = 10


MAX_TOPICS = 8


MAX_PHRASES = 6


MAX_EMERGING = 5


MAX_QUOTES = 5


MAX_PRAISE_QUOTES = 3


MAX_PRAISE_TOPICS = 6


MAX_HEALTH_ROWS = 8


MAX_LANGUAGES = 8  # rows of the "Languages" table (the JSON has every language)


QUOTE_CHARS = 240


# Phrase mining is the one step that is not vectorised; beyond this many complaint texts a fixed-seed
# sample is as good an estimate and keeps a 100k-mention summary fast.
PHRASE_SAMPLE = 2000


# the store keeps KEEP quote candidates per list and day: enough for every list a digest shows
assert max(MAX_QUOTES, MAX_PRAISE_QUOTES, MAX_TOPICS) <= KEEP


CHART_HEIGHT = 80  # px of the tallest trend bar


Direction = Literal["up", "down", "flat"]


Tone = Literal["good", "bad", "neutral"]


T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Capped(Generic[T]):
    """The first rows of a longer list, and how long the list was ("and N more")."""

    rows: tuple[T, ...]
    total: int
    folded: int = 0  # rows not shown on their own but counted in a shown one ("and 2 more like it")

    @property
    def more(self) -> int:
        """How many rows were left out."""
        return self.total - len(self.rows) - self.folded

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
    unscored: int = 0  # in a language the classifier cannot score
    unscored_px: int = 0

    @property
    def total(self) -> int:
        """All mentions in the bucket."""
        return self.negative + self.neutral + self.positive + self.unscored


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
    """A phrase that complaints use, found by digest.analysis.phrases."""

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
    status: Literal["failed", "stale", "partial"]
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
class VoiceRow:
    """One organisation in the share-of-voice table."""

    name: str
    brand: bool
    mentions: int
    mentions_display: str
    share: float  # of all organisations' mentions, 0..100
    share_display: str
    negative_share: float  # 0..100
    negative_share_display: str
    net_sentiment: float  # -100..100
    net_sentiment_display: str
    complaints: int
    complaints_display: str
    share_change: Change | None  # in points, against the previous window; None: it had no mentions
    mentions_change: Change | None
    top_complaint: str | None  # the topic its complaints name most
    # its answers to the mentions addressed to its accounts (issue 16); None: no accounts configured
    response_rate: float | None = None  # 0..100
    response_rate_display: str = ""
    median_wait_minutes: float | None = None
    median_wait_display: str = ""
    counted_since: datetime | None = None  # a competitor added during this window: counted only since then
    counted_since_display: str = ""  # "since Thu 26 Nov"


@dataclasses.dataclass(frozen=True)
class ShareOfVoice:
    """The brand's mentions next to its competitors' (sources.yaml `competitors:`), the brand first."""

    rows: tuple[VoiceRow, ...]
    sentence: str  # what moved: "Globex Air's share rose 6 points to 31%; its customers complain most about baggage."
    responses: bool = False  # some organisation has accounts: the table shows response rate and median wait
    note: str = ""  # a competitor counted only since a recent time: who, since when, and no shares compared


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
    responses: Responses | None = None  # "Did we answer?" (analysis/responses.py); None: not asked for
    share_of_voice: ShareOfVoice | None = None  # None: no competitors configured
    unscored: int = 0  # mentions in a language the classifier cannot score (in volume, not in the shares)
    languages: tuple[LanguageRow, ...] = ()  # every language of the period, most mentions first
    show_languages: bool = False  # the "Languages" table: more than one language was written in
    unscored_note: str = ""  # data health: "212 mentions in Japanese and Korean could not be scored." or ""

    @property
    def kpis(self) -> tuple[Kpi, ...]:
        """The four headline figures in display order."""
        return (self.volume, self.negative_share, self.net_sentiment, self.complaints)

    @property
    def empty(self) -> bool:
        """No mentions in the window."""
        return self.volume.value == 0
