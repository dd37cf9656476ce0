"""A store of two years of mentions whose counts per window a test can compute on its own.

The generator places `per_day(d)` mentions on every New York calendar day `d`, spread evenly over the
first 23 hours of elapsed time after local midnight (so every mention lies inside its day even on the
23-hour spring-forward day); channels cycle twitter, reddit, call_center and sentiments cycle too.
`expected()` counts the generated instants in a UTC range by brute force: it shares no code with
digest.periods, the store or the analysis, so it is an independent oracle for them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from digest.config import Config, load_config
from digest.models import Classification, Mention, Sentiment
from digest.store import Store

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
CHANNELS = ("twitter", "reddit", "call_center")
# "unscored": a mention in a language the classifier cannot score (Japanese here), in volume, not in the shares
SENTIMENTS: tuple[Sentiment, ...] = ("negative", "neutral", "positive", "unscored")
FIRST_DAY = date(2024, 1, 1)
LAST_DAY = date(2026, 4, 30)  # inclusive; later than every --date the tests use, so cut-offs matter


def per_day(d: date) -> int:
    """How many mentions day `d` holds: 1..13, different from day to day, week to week and year to year."""
    return 1 + d.toordinal() % 11 + (d.year - 2024)


@dataclass(frozen=True)
class Generated:
    published: datetime  # aware UTC
    channel: str
    sentiment: Sentiment
    day: date


def generate(first: date = FIRST_DAY, last: date = LAST_DAY) -> Iterator[Generated]:
    d = first
    while d <= last:
        midnight = datetime(d.year, d.month, d.day, tzinfo=NY).astimezone(UTC)
        n = per_day(d)
        for i in range(n):
            yield Generated(midnight + timedelta(hours=23) * (2 * i + 1) / (2 * n), CHANNELS[i % 3],
                            SENTIMENTS[(i + d.toordinal()) % len(SENTIMENTS)], d)
        d += timedelta(days=1)


ALL = list(generate())


def expected(start: datetime, end: datetime, channels: Sequence[str] | None = None) -> int:
    """Generated mentions published in [start, end) (aware datetimes), optionally on `channels` only."""
    return sum(1 for g in ALL if start <= g.published < end and (channels is None or g.channel in channels))


def as_rows(items: Iterable[Generated]) -> list[tuple[Mention, Classification]]:
    rows = []
    for n, g in enumerate(items):
        polarity = {"negative": -0.5, "neutral": 0.0, "positive": 0.5, "unscored": 0.0}[g.sentiment]
        text = f"アクメエアの便について、番号 {n}" if g.sentiment == "unscored" else \
            f"{g.sentiment} words about the flight, number {n}"
        m = Mention(source=f"gen {g.channel}", channel=g.channel, external_id=f"g{n}", url=None, title="",
                    text=text, author="someone", published=g.published)
        rows.append((m, Classification(g.sentiment, polarity, g.sentiment == "negative", (), polarity,
                                       "ja" if g.sentiment == "unscored" else "en")))
    return rows


def fill(store: Store, items: Iterable[Generated] = ALL) -> None:
    store.add_mentions(as_rows(items), fetched=datetime(2026, 5, 1, tzinfo=UTC), by_text=False)


RECIPIENTS: list[dict[str, Any]] = [
    {"name": "Dana Chief", "email": "ceo@acme.example", "digests": ["daily", "weekly", "monthly", "quarterly",
                                                                     "annual"]},
    {"name": "Sam Ortiz", "email": "service@acme.example", "digests": ["daily", "weekly"],
     "channels": ["call_center", "twitter"], "send_at": "06:30"},
    {"name": "Kenji Sato", "email": "apac@acme.example", "digests": ["weekly", "monthly"],
     "timezone": "Asia/Tokyo", "send_at": "08:00"},
]


def write_config(directory: Path, *, recipients: list[dict[str, Any]] | None = None,
                 sources: list[dict[str, Any]] | None = None, **extra: Any) -> Config:
    """sources.yaml + recipients.yaml in `directory` (channels twitter, reddit, call_center); the Config."""
    directory.mkdir(parents=True, exist_ok=True)
    srcs = sources if sources is not None else [
        {"name": f"gen {c}", "kind": "csv", "path": f"exports/{c}-*.csv", "channel": c, "brand_filter": False,
         "fields": {"id": "id", "text": "text", "published": "published"}} for c in CHANNELS]
    (directory / "sources.yaml").write_text(yaml.safe_dump({
        "brand": {"name": "Acme Air"}, "timezone": "America/New_York", "sources": srcs, **extra}))
    (directory / "recipients.yaml").write_text(yaml.safe_dump({
        "sender": "Customer Voice <digest@acme.example>", "timezone": "America/New_York", "send_at": "07:00",
        "recipients": recipients if recipients is not None else RECIPIENTS}))
    return load_config(directory)


def write_exports(directory: Path, at: datetime) -> None:
    """One row in each channel's export (published at `at`): an ingest of write_config's sources succeeds."""
    exports = directory / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    for c in CHANNELS:
        with (exports / f"{c}-1.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["id", "text", "published"])
            w.writerow([f"{c}-1", f"the {c} export says the flight was fine", at.isoformat()])
