"""Plain data passed between the stages: gather -> store -> analyze -> render -> send."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

# "unscored": written in a language the classifier cannot score (digest/classify/language.py SCORED); such a
# mention counts in volume and channel totals, never in sentiment shares or complaint counts
Sentiment = Literal["negative", "neutral", "positive", "unscored"]
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive")
UNSCORED: Sentiment = "unscored"


@dataclasses.dataclass(frozen=True)
class Mention:
    """One thing a customer said, as gathered from a source (text is plain, already de-HTMLed)."""

    source: str
    channel: str
    external_id: str
    url: str | None
    title: str
    text: str
    author: str
    published: datetime  # aware, UTC
    influence: float = 0.0  # reach where the source tells it (followers, score, views); else 0
    # threads (digest/sources/replies.py, digest/store/replies.py):
    reply_to: str = ""  # the id of the post this one answers, if any
    scope: str = ""  # where ids and reply_to are unique: the source's name for exports, "" (global) for feeds
    addressed_to: tuple[str, ...] = ()  # the organisations (BRAND, ...) whose accounts it names
    answered: bool | None = None  # a ticket's own word (first response, resolution, status); None: not a ticket
    responded: datetime | None = None  # a ticket's first response (or resolution) time, aware UTC
    # whom it is about (digest/organisations.py): the brand, and the competitors it names, by name
    about_brand: bool = True
    competitors: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Classification:
    """What the pipeline decides about one text."""

    sentiment: Sentiment
    polarity: float  # TextBlob polarity, -1..1
    complaint: bool
    topics: tuple[str, ...]
    score: float = 0.0  # signed confidence, negative = negative sentiment
    language: str = "en"  # ISO 639-1 code, "und" when the text is too short to tell (classify/language.py)

    def as_dict(self) -> dict[str, object]:
        """The JSON object `digest classify` prints."""
        return {
            "sentiment": self.sentiment,
            "polarity": round(self.polarity, 4),
            "complaint": self.complaint,
            "topics": list(self.topics),
            "score": round(self.score, 4),
            "language": self.language,
        }


BRAND = "brand"  # the organisation key of the brand's own accounts (competitors have their own)


@dataclasses.dataclass(frozen=True)
class OrgPost:
    """A post by one of an organisation's own accounts: an answer, never a mention."""

    org: str
    post: Mention


SourceStatus = Literal["ok", "not_modified", "error"]


@dataclasses.dataclass(frozen=True)
class SourceResult:
    """The outcome of fetching one source once."""

    name: str
    channel: str
    status: SourceStatus
    mentions: tuple[Mention, ...] = ()
    error: str | None = None
    items_seen: int = 0  # entries in the feed/export before brand filtering
    state: dict[str, str] = dataclasses.field(default_factory=dict)  # ETag, Last-Modified, files seen
    # its mentions are entries the source did not serve before (it remembers what it served): new, but
    # for a post that came by another source too
    unseen: bool = False
    classified: tuple[Classification, ...] | None = None  # of `mentions`, when the fetching worker did it
    # what the source lost, each named ("2 rows skipped (calls.csv line 14: bad date '31/31/2024')"): an ok
    # source with problems is partial (exit 3, a line in the digest's data health), not failed
    problems: tuple[str, ...] = ()
    dropped: int = 0  # rows or items skipped, counted in `problems`
    posts: tuple[OrgPost, ...] = ()  # the brand's (and others') own posts: stored as answers, not mentions
    # one part of a source read in parts (a large export, sources.exports.stream): more of it follows; only
    # its mentions, posts and `state` (where to go on from once they are stored) count, `items_seen` is the
    # entries read so far
    partial: bool = False
    # the last part of a source read in parts: its mentions over every part (`mentions` holds this part's), and
    # how many of them are replies kept only for their threads
    mentions_total: int | None = None
    threads_total: int | None = None

    @property
    def thread_replies(self) -> int:
        """Replies that name nobody, kept for their threads (organisations.tag): about no one yet."""
        if self.threads_total is not None:
            return self.threads_total
        return threads_in(self.mentions)

    @property
    def about_brand(self) -> int:
        """How many mentions the source gave about someone (every part's, when it was read in parts)."""
        return (len(self.mentions) if self.mentions_total is None else self.mentions_total) - self.thread_replies


def threads_in(mentions: Sequence[Mention]) -> int:
    """How many of `mentions` are replies kept only for their threads (about no organisation)."""
    return sum(1 for m in mentions if not m.about_brand and not m.competitors)


@dataclasses.dataclass(frozen=True)
class SourceHealth:
    """What the store knows about a source across runs (shown in the digest's data-health section)."""

    name: str
    channel: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    consecutive_failures: int
    last_items: int
    last_problem: str | None = None  # what the last fetch that read anything lost (SourceResult.problems)


@dataclasses.dataclass(frozen=True)
class IngestReport:
    """The outcome of one ingest over every source."""

    results: tuple[SourceResult, ...]
    new_mentions: int

    @property
    def failed(self) -> tuple[SourceResult, ...]:
        return tuple(r for r in self.results if r.status == "error")

    @property
    def partial(self) -> tuple[SourceResult, ...]:
        """Sources that worked but lost something on the way (rows skipped, a file unreadable)."""
        return tuple(r for r in self.results if r.status != "error" and r.problems)

    def summary_line(self) -> str:
        """One line: `3 sources: 2 ok (1 with problems), 1 not modified, 0 failed · 12 new mentions`."""
        ok = sum(1 for r in self.results if r.status == "ok")
        problems = f" ({len(self.partial)} with problems)" if self.partial else ""
        nm = sum(1 for r in self.results if r.status == "not_modified")
        n = len(self.results)
        return (
            f"{n} source{'s' if n != 1 else ''}: {ok} ok{problems}, {nm} not modified, {len(self.failed)} failed"
            f" · {self.new_mentions} new mention{'s' if self.new_mentions != 1 else ''}"
        )


@dataclasses.dataclass(frozen=True)
class RenderedDigest:
    """A digest ready to be put in a message."""

    subject: str
    html: str
    text: str
    preheader: str = ""
    attachments: tuple[tuple[str, str, bytes], ...] = ()  # (content-id, mime type, data) inline images


@dataclasses.dataclass(frozen=True)
class ResponseCounts:
    """An organisation's answers to the mentions of one window, in one channel or all (store.response_facts)."""

    channel: str | None  # None: every channel asked for
    addressed: int
    answered: int
    median_wait_minutes: float | None  # of the answered ones whose first answer has a time
    complaints_addressed: int
    complaints_answered: int
    complaints_median_wait_minutes: float | None


@dataclasses.dataclass(frozen=True)
class Unanswered:
    """An addressed complaint with no answer yet (as of the figures' time)."""

    id: int
    channel: str
    url: str | None
    author: str
    title: str
    text: str
    published: datetime  # aware UTC
    influence: float


@dataclasses.dataclass(frozen=True)
class ResponseFacts:
    """What the store knows of one organisation's answers to one window's mentions, as of a time."""

    org: str
    as_of: datetime
    total: ResponseCounts
    channels: tuple[ResponseCounts, ...]
    unanswered: tuple[Unanswered, ...]  # most influential, then longest waiting, first
    unanswered_total: int
