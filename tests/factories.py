"""Build mentions DataFrames with the exact columns of `Store.mentions()` (docs/INTERFACES.md).

Two builders:
- `mentions(n, start, end, ...)`: a block of n mentions that all share the given attributes (or cycle
  through a sequence of them), spread evenly over [start, end). Concatenate blocks with `concat` to
  get a frame whose counts a test knows exactly.
- `random_mentions(n, start, end, seed=...)`: a large, realistic, reproducible frame for volume and
  size tests, optionally salted with hostile text and URLs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

COLUMNS: tuple[str, ...] = (
    "id", "source", "channel", "external_id", "url", "title", "text", "author", "published",
    "influence", "polarity", "sentiment", "complaint", "topics", "score",
)

# polarity and score for each sentiment when a test does not care
DEFAULT_POLARITY = {"negative": -0.5, "neutral": 0.0, "positive": 0.5}
DEFAULT_SCORE = {"negative": -0.6, "neutral": 0.0, "positive": 0.6}

# Text and links a feed could carry to attack the email: none of it may become markup or a link.
HOSTILE_TEXTS: tuple[str, ...] = (
    "<script>alert('x')</script> your airline lost my bag",
    '<img src=x onerror="alert(1)"> delayed again',
    "\"><a href='javascript:alert(1)'>click</a> refund please",
    "Subject: injected\r\nBcc: victim@example.com\r\n\r\nbody",
    "{{ summary.brand }} {% raw %}jinja{% endraw %} ${7*7} &amp; &lt;b&gt;",
    "<style>body{display:none}</style> hidden? no",
)
HOSTILE_URLS: tuple[str | None, ...] = (
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    'https://evil.example/"><script>alert(1)</script>',
    "https://evil.example/\r\nX-Injected: 1",
    "//evil.example/protocol-relative",
    "/relative/path",
    "",
    None,
)
HOSTILE_AUTHORS: tuple[str, ...] = (
    "<b onmouseover=alert(1)>bob</b>",
    "eve\r\nBcc: victim@example.com",
    "mallory\u202e\u2066",
)


def empty() -> pd.DataFrame:
    """A frame with no rows and the store's columns and dtypes."""
    return mentions(0, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))


def _cycle(value: Any, n: int) -> list[Any]:
    """`value` repeated n times, or a sequence (not a str) cycled to length n."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("empty sequence")
        return list(itertools.islice(itertools.cycle(value), n))
    return [value] * n


def mentions(
    n: int,
    start: datetime,
    end: datetime,
    *,
    channel: str | Sequence[str] = "twitter",
    source: str | Sequence[str] | None = None,
    sentiment: str | Sequence[str] = "neutral",
    complaint: bool | Sequence[bool] | None = None,
    topics: Sequence[str] | Sequence[Sequence[str]] = (),
    text: str | Sequence[str] | None = None,
    title: str | Sequence[str] = "",
    author: str | Sequence[str] = "someone",
    url: str | None | Sequence[str | None] = "auto",
    influence: float | Sequence[float] = 0.0,
    polarity: float | Sequence[float] | None = None,
    score: float | Sequence[float] | None = None,
    at: datetime | None = None,
    id_start: int = 1,
) -> pd.DataFrame:
    """n mentions sharing these attributes (a list or tuple value is cycled), spread over [start, end).

    complaint defaults to sentiment == "negative"; url "auto" gives each an https URL; `topics` is either
    one list of topics for every row (("Baggage",)) or one list per row ([["Baggage"], []]); `at` puts
    every mention at that instant instead of spreading them.
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("naive datetime")
    sentiments = _cycle(sentiment, n)
    channels = _cycle(channel, n)
    if at is not None:
        published = [at.astimezone(UTC)] * n
    else:
        span = (end - start) / max(n, 1)
        # the middle of each slice, so nothing lands exactly on a window boundary
        published = [(start + span * i + span / 2).astimezone(UTC) for i in range(n)]
    if topics and not isinstance(topics[0], str):
        topic_lists = [list(t) for t in _cycle(list(topics), n)]
    else:
        topic_lists = [list(topics) for _ in range(n)]
    if text is not None:
        texts = _cycle(text, n)
    else:
        pairs = enumerate(zip(sentiments, channels, strict=True))
        texts = [f"{s} mention {id_start + i} on {c}" for i, (s, c) in pairs]
    if url == "auto":
        urls: list[str | None] = [f"https://{c}.example/post/{id_start + i}" for i, c in enumerate(channels)]
    else:
        urls = _cycle(url, n)
    data: dict[str, Any] = {
        "id": np.arange(id_start, id_start + n, dtype="int64"),
        "source": _cycle(source, n) if source is not None else [f"{c} source" for c in channels],
        "channel": channels,
        "external_id": [f"x{id_start + i}" for i in range(n)],
        "url": pd.Series(urls, dtype=object),
        "title": _cycle(title, n),
        "text": texts,
        "author": _cycle(author, n),
        "published": pd.Series(pd.to_datetime(published, utc=True), dtype="datetime64[ns, UTC]"),
        "influence": np.array(_cycle(influence, n), dtype="float64"),
        "polarity": np.array(
            _cycle(polarity, n) if polarity is not None else [DEFAULT_POLARITY[s] for s in sentiments],
            dtype="float64"),
        "sentiment": sentiments,
        "complaint": np.array(_cycle(complaint, n) if complaint is not None else
                              [s == "negative" for s in sentiments], dtype=bool),
        "topics": pd.Series(topic_lists, dtype=object),
        "score": np.array(_cycle(score, n) if score is not None else
                          [DEFAULT_SCORE[s] for s in sentiments], dtype="float64"),
    }
    return _typed(pd.DataFrame(data, index=pd.RangeIndex(n)))


def concat(*frames: pd.DataFrame) -> pd.DataFrame:
    """The frames one after the other, ids renumbered 1..n so that they stay unique."""
    if not frames:
        return empty()
    out = pd.concat(frames, ignore_index=True)
    out["id"] = np.arange(1, len(out) + 1, dtype="int64")
    return _typed(out)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Columns in the store's order with the store's dtypes (url stays object: str or None)."""
    df = df.loc[:, list(COLUMNS)].copy()
    for col in ("source", "channel", "external_id", "title", "text", "author", "sentiment"):
        df[col] = df[col].astype("str")
    df["published"] = df["published"].astype("datetime64[ns, UTC]")
    df["complaint"] = df["complaint"].astype(bool)
    return df


_WORDS = ("flight", "bag", "crew", "seat", "app", "gate", "refund", "delay", "service", "lounge", "meal",
          "wifi")
_NEG = ("lost my bag again", "on hold for two hours", "cancelled without notice", "charged twice for seat",
        "rude gate agent", "app crashed at checkin", "no refund after six weeks", "delayed three hours")
_POS = ("crew was wonderful", "smooth boarding", "great lounge", "on time and friendly", "loved the meal")


def random_mentions(
    n: int,
    start: datetime,
    end: datetime,
    *,
    seed: int = 0,
    channels: Sequence[str] = ("twitter", "reddit", "news", "reviews", "call_center"),
    sentiment_weights: tuple[float, float, float] = (0.4, 0.35, 0.25),
    complaint_rate: float = 0.8,
    topics: Sequence[str] = ("Baggage", "Delays", "Billing", "Staff", "App"),
    hostile_share: float = 0.0,
    text_chars: int = 200,
) -> pd.DataFrame:
    """n reproducible, varied mentions over [start, end): the volume/size workhorse.

    Negative mentions are complaints with probability complaint_rate and get 0-2 topics; a share of
    hostile_share of rows carry HOSTILE_TEXTS / HOSTILE_URLS / HOSTILE_AUTHORS.
    """
    rng = np.random.default_rng(seed)
    lo = int(pd.Timestamp(start).value)
    hi = int(pd.Timestamp(end).value)
    published = pd.Series(np.sort(rng.integers(lo, hi, size=n)), dtype="int64").astype("datetime64[ns, UTC]")
    sent_idx = rng.choice(3, size=n, p=list(sentiment_weights))
    sentiments = np.array(["negative", "neutral", "positive"], dtype=object)[sent_idx]
    strength = rng.uniform(0.05, 1, n)
    polarity = np.where(sent_idx == 0, -strength, np.where(sent_idx == 2, strength, 0.0))
    score = polarity * rng.uniform(0.5, 1.0, n)
    complaint = (sent_idx == 0) & (rng.random(n) < complaint_rate)
    chan = np.array(list(channels), dtype=object)[rng.integers(0, len(channels), n)]
    n_topics = rng.integers(0, 3, n) * complaint
    topic_arr = np.array(list(topics), dtype=object)
    first = rng.integers(0, len(topics), n)
    second = rng.integers(0, len(topics), n)
    topic_lists = [
        [] if k == 0 else ([topic_arr[a]] if k == 1 or a == b else [topic_arr[a], topic_arr[b]])
        for k, a, b in zip(n_topics.tolist(), first.tolist(), second.tolist(), strict=True)
    ]
    phrase_idx = rng.integers(0, len(_NEG), n)
    pos_idx = rng.integers(0, len(_POS), n)
    words = np.array(_WORDS, dtype=object)
    filler = [" ".join(words[rng.integers(0, len(words), 12)]) for _ in range(64)]
    texts = []
    for i, s in enumerate(sent_idx.tolist()):
        core = _NEG[phrase_idx[i]] if s == 0 else _POS[pos_idx[i]] if s == 2 else "saw the news about"
        texts.append(f"{core} {filler[i % 64]} {filler[(i * 7) % 64]} #{i}"[:text_chars])
    urls: list[str | None] = [
        None if c == "call_center" else f"https://{c}.example/p/{i}" for i, c in enumerate(chan.tolist())
    ]
    authors = [f"user{i % 997}" for i in range(n)]
    titles = [""] * n
    if hostile_share > 0:
        for i in np.flatnonzero(rng.random(n) < hostile_share).tolist():
            texts[i] = HOSTILE_TEXTS[i % len(HOSTILE_TEXTS)]
            urls[i] = HOSTILE_URLS[i % len(HOSTILE_URLS)]
            authors[i] = HOSTILE_AUTHORS[i % len(HOSTILE_AUTHORS)]
            titles[i] = HOSTILE_TEXTS[(i + 1) % len(HOSTILE_TEXTS)]
    df = pd.DataFrame({
        "id": np.arange(1, n + 1, dtype="int64"),
        "source": [f"{c} source" for c in chan.tolist()],
        "channel": chan,
        "external_id": [f"r{i}" for i in range(n)],
        "url": pd.Series(urls, dtype=object),
        "title": titles,
        "text": texts,
        "author": authors,
        "published": published,
        "influence": np.round(rng.pareto(1.5, n) * 100, 1),
        "polarity": polarity,
        "sentiment": sentiments,
        "complaint": complaint,
        "topics": pd.Series(topic_lists, dtype=object),
        "score": score,
    })
    return _typed(df)


def hours(n: float) -> timedelta:
    """Shorthand for tests that place mentions relative to a window start."""
    return timedelta(hours=n)
