"""Mentions: stored once (deduplicated by source id, URL and normalized text), kept, and read back.

Each batch of new mentions is counted into the rollups (rollups.add_rollups) in the same transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import StoreError
from ..models import Classification, Mention
from ..rollups import (
    HOUR,
    sample_of,
)
from ..text import normalize, text_key
from .base import StoreBase, chunks, reason, shown_url, utc_at
from .rollups import add_rollups
from .schema import FRAME_COLUMNS, ROLLUP_COLUMNS, UTCDateTime, mention_keys, mention_rollups, mentions, mentions_frame


def _normalize_url(url: str) -> str:
    """URL identity: scheme/host case, default ports, fragments and tracking parameters ignored."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    query = "&".join(p for p in parts.query.split("&") if p and not p.lower().startswith(("utm_", "fbclid=",
                                                                                          "gclid=")))
    return urlunsplit(("", host, parts.path.rstrip("/"), query, ""))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def mention_keys_of(m: Mention, *, by_text: bool = True) -> list[str]:
    """The identities of a mention: its source id, its URL, and its normalized text when long enough.

    `by_text` is off for exports of records (call-center tickets): two calls with the same canned
    note are two calls, while the same text posted twice on a channel is a repost.
    """
    return list(_keys_of(m, by_text))


@functools.lru_cache(maxsize=16384)
def _keys_of(m: Mention, by_text: bool) -> tuple[str, ...]:
    # cached: an ingest asks for a mention's keys before classifying it (Store.seen) and again to store it
    keys = [f"id:{_digest(m.source + chr(0) + m.external_id)}"]
    if m.url:
        keys.append(f"url:{_digest(_normalize_url(m.url))}")
    # very short texts ("thanks!") are too common to identify a post
    if by_text and len(normalize(m.text).split()) >= 6:
        keys.append(f"text:{text_key(m.channel + chr(0) + m.text)}")
    return tuple(dict.fromkeys(keys))



class Mentions(StoreBase):
    """Adding and reading mentions."""

    def add_mentions(self, items: Sequence[tuple[Mention, Classification]], *, fetched: datetime,
                     by_text: bool | Sequence[bool] = True) -> int:
        """Store the mentions not seen before; return how many were new.

        `by_text` (see mention_keys_of): one flag for every item, or one per item.
        """
        if not items:
            return 0
        flags = [by_text] * len(items) if isinstance(by_text, bool) else list(by_text)
        try:
            with self.engine.begin() as conn:
                return self._add(conn, items, fetched, flags)
        except IntegrityError:
            # another instance stored some of them between our look-up and insert: one at a time
            added = 0
            for item, flag in zip(items, flags, strict=True):
                try:
                    with self.engine.begin() as conn:
                        added += self._add(conn, [item], fetched, [flag])
                except IntegrityError:
                    continue
            return added
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store mentions in {shown_url(str(self.url))}: {reason(exc)}") from None

    def _add(self, conn: Connection, items: Sequence[tuple[Mention, Classification]], fetched: datetime,
             by_text: Sequence[bool]) -> int:
        keyed = [(m, c, mention_keys_of(m, by_text=flag)) for (m, c), flag in zip(items, by_text, strict=True)]
        all_keys = {k for _, _, ks in keyed for k in ks}
        known: set[str] = set()
        for chunk in chunks(sorted(all_keys), 500):
            known.update(conn.execute(sa.select(mention_keys.c.key).where(mention_keys.c.key.in_(chunk))).scalars())
        rows: list[dict[str, Any]] = []
        row_keys: list[list[str]] = []
        for m, c, ks in keyed:
            if known.intersection(ks):
                continue
            rows.append({
                "source": m.source, "channel": m.channel, "external_id": m.external_id[:1024],
                "url": m.url, "title": m.title, "text": m.text, "author": m.author[:300],
                "published": m.published, "fetched": fetched, "influence": m.influence,
                "polarity": c.polarity, "sentiment": c.sentiment, "complaint": c.complaint,
                "topics": json.dumps(list(c.topics)), "score": c.score, "sample": sample_of(ks[0]),
            })
            row_keys.append(ks)
            known.update(ks)  # the same post twice in one batch is stored once
        if not rows:
            return 0
        # one statement for the batch; ids come back in the order of the rows
        ids = conn.execute(sa.insert(mentions).returning(mentions.c.id, sort_by_parameter_order=True),
                           rows).scalars().all()
        conn.execute(sa.insert(mention_keys),
                     [{"key": k, "mention_id": mid} for mid, ks in zip(ids, row_keys, strict=True) for k in ks])
        added = pd.DataFrame([{c: row[c] for c in ROLLUP_COLUMNS if c != "id"} for row in rows])
        added["id"] = ids
        add_rollups(conn, added)
        return len(rows)

    def seen(self, items: Sequence[tuple[Mention, bool]]) -> list[bool]:
        """Whether each mention (with its `by_text` flag, see mention_keys_of) is stored already.

        An ingest asks before classifying: a feed that changed serves mostly entries stored before.
        """
        keyed = [mention_keys_of(m, by_text=flag) for m, flag in items]
        known: set[str] = set()
        with self.engine.connect() as conn:
            for chunk in chunks(sorted({k for ks in keyed for k in ks}), 500):
                known.update(conn.execute(sa.select(mention_keys.c.key).where(mention_keys.c.key.in_(chunk))).scalars())
        return [not known.isdisjoint(ks) for ks in keyed]

    def count_mentions(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(mentions)).scalar_one())

    def first_published(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(mentions.c.published))).scalar_one()
        if value is None:
            return None
        return UTCDateTime().process_result_value(value, self.engine.dialect)

    def mentions(self, start: datetime, end: datetime, channels: Iterable[str] | None = None) -> pd.DataFrame:
        """Mentions published in [start, end) as the DataFrame documented in docs/INTERFACES.md.

        Every row of the window is read: for digests at volume use `facts`.
        """
        q = sa.select(*(mentions.c[c] for c in FRAME_COLUMNS)).where(
            mentions.c.published >= start, mentions.c.published < end)
        if channels is not None:
            q = q.where(mentions.c.channel.in_(list(channels)))
        with self.engine.connect() as conn:
            return mentions_frame(conn, q)

    def recent_texts(self, start: datetime, end: datetime, *, sentiment: str, limit: int) -> list[str]:
        """Texts of the latest `limit` mentions of `sentiment` published in [start, end), oldest first."""
        q = (sa.select(mentions.c.text)
             .where(mentions.c.published >= start, mentions.c.published < end, mentions.c.sentiment == sentiment)
             .order_by(mentions.c.published.desc(), mentions.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            texts = list(conn.execute(q).scalars())
        return texts[::-1]

    def count_mentions_between(self, start: datetime, end: datetime, *, sentiment: str | None = None) -> int:
        """How many mentions (of `sentiment`, if given) were published in [start, end).

        Whole UTC hours are counted from the rollups, the parts of hours at either end from the mentions.
        """
        first, last = -(-int(start.timestamp()) // HOUR), int(end.timestamp()) // HOUR
        if first >= last:  # less than a whole hour: count the mentions
            ranges = [(start, end)]
        else:
            ranges = [(a, b) for a, b in ((start, utc_at(first * HOUR)), (utc_at(last * HOUR), end)) if a < b]
        q = sa.select(sa.func.count()).select_from(mentions).where(sa.or_(sa.false(), *(
            sa.and_(mentions.c.published >= a, mentions.c.published < b) for a, b in ranges)))
        r = mention_rollups.c
        hours = sa.select(sa.func.coalesce(sa.func.sum(r.n), 0)).where(r.hour >= first, r.hour < last)
        if sentiment is not None:
            q = q.where(mentions.c.sentiment == sentiment)
            hours = hours.where(r.sentiment == sentiment)
        with self.engine.connect() as conn:
            whole = int(conn.execute(hours).scalar_one()) if first < last else 0
            return whole + (int(conn.execute(q).scalar_one()) if ranges else 0)
