"""Mentions: stored once (deduplicated by source id, URL and normalized text), kept, and read back.

Each batch of new mentions is counted into the rollups (rollups.add_rollups) in the same transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..dates import storage_problem
from ..errors import StoreError
from ..models import Classification, Mention
from ..rollups import (
    HOUR,
    sample_of,
)
from ..text import normalize, text_key
from ..voice import as_json, competitor_names
from .base import StoreBase, chunks, insert_missing, reason, shown_url, utc_at
from .replies import about_whom_they_answer, link_mentions, mention_thread_keys, relink_seen
from .rollups import add_rollups, remove_rollups
from .schema import (
    FRAME_COLUMNS,
    ROLLUP_COLUMNS,
    UTCDateTime,
    mention_keys,
    mention_rollups,
    mention_sources,
    mentions,
    mentions_frame,
    responses,
)

log = logging.getLogger(__name__)


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



def _dated(items: Sequence[tuple[Mention, Classification]],
           flags: Sequence[bool]) -> tuple[list[tuple[Mention, Classification]], list[bool]]:
    """The items whose date the store can hold and count (sources skip the others before; a caller that
    did not must not make every later ingest and digest fail on one of them)."""
    kept: list[tuple[Mention, Classification]] = []
    kept_flags: list[bool] = []
    for item, flag in zip(items, flags, strict=True):
        problem = storage_problem(item[0].published)
        if problem is None:
            kept.append(item)
            kept_flags.append(flag)
        else:
            log.warning("%s: mention %r not stored: %s", item[0].source, item[0].external_id[:80], problem)
    return kept, kept_flags


class Mentions(StoreBase):
    """Adding and reading mentions."""

    def add_mentions(self, items: Sequence[tuple[Mention, Classification]], *, fetched: datetime,
                     by_text: bool | Sequence[bool] = True, rank: Mapping[str, int] | None = None) -> int:
        """Store the mentions not seen before; return how many were new.

        `by_text` (see mention_keys_of): one flag for every item, or one per item. `rank`: source name ->
        its place in sources.yaml. A post that several sources deliver is stored once, credited to the
        first of them in that order (not to whichever worker stored it first), and keeps every source it
        was seen in (`sources_of`); without `rank`, the copy stored first keeps the credit.
        """
        flags = [by_text] * len(items) if isinstance(by_text, bool) else list(by_text)
        items, flags = _dated(items, flags)
        if not items:
            return 0
        try:
            with self.engine.begin() as conn:
                return self._add(conn, items, fetched, flags, rank)
        except IntegrityError:
            # another instance stored some of them between our look-up and insert: one at a time
            added = 0
            for item, flag in zip(items, flags, strict=True):
                try:
                    with self.engine.begin() as conn:
                        added += self._add(conn, [item], fetched, [flag], rank)
                except IntegrityError:
                    continue
            return added
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store mentions in {shown_url(str(self.url))}: {reason(exc)}") from None

    def seen_again(self, items: Sequence[tuple[Mention, bool]], *, rank: Mapping[str, int] | None = None) -> None:
        """Record the sources of mentions already stored (`seen` said so), and move the credit for each to
        the first of its sources in `rank` (see add_mentions)."""
        if not items:
            return
        with self.engine.begin() as conn:
            _seen_again(conn, [(m, mention_keys_of(m, by_text=flag)) for m, flag in items], _key_ids(
                conn, {k for m, flag in items for k in mention_keys_of(m, by_text=flag)}), rank)

    def sources_of(self, ids: Iterable[int]) -> dict[int, list[str]]:
        """Mention id -> every source it was seen in, the one it is credited to first."""
        wanted = sorted(set(ids))
        out: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for chunk in chunks(wanted, 500):
                for mid, source in conn.execute(sa.select(mentions.c.id, mentions.c.source).where(
                        mentions.c.id.in_(list(chunk)))):
                    out[int(mid)] = [str(source)]
                for mid, source in conn.execute(sa.select(mention_sources.c.mention_id, mention_sources.c.source)
                                                .where(mention_sources.c.mention_id.in_(list(chunk)))
                                                .order_by(mention_sources.c.mention_id, mention_sources.c.source)):
                    if str(source) not in out.setdefault(int(mid), []):
                        out[int(mid)].append(str(source))
        return out

    def _add(self, conn: Connection, items: Sequence[tuple[Mention, Classification]], fetched: datetime,
             by_text: Sequence[bool], rank: Mapping[str, int] | None) -> int:
        items = about_whom_they_answer(conn, items)
        keyed = [(m, c, mention_keys_of(m, by_text=flag)) for (m, c), flag in zip(items, by_text, strict=True)]
        if rank is not None:  # of copies of one post in this batch, the first source's is the one stored
            keyed.sort(key=lambda item: rank.get(item[0].source, len(rank)))
        known = _key_ids(conn, {k for _, _, ks in keyed for k in ks})
        rows: list[dict[str, Any]] = []
        row_keys: list[list[str]] = []
        again: list[tuple[Mention, list[str]]] = []
        batch: set[str] = set()
        stored: list[tuple[Mention, Classification]] = []
        for m, c, ks in keyed:
            if batch.intersection(ks) or not known.keys().isdisjoint(ks):
                again.append((m, ks))  # stored before, or earlier in this batch
                continue
            rows.append({
                "source": m.source, "channel": m.channel, "external_id": m.external_id[:1024],
                "url": m.url, "title": m.title, "text": m.text, "author": m.author[:300],
                "published": m.published, "fetched": fetched, "influence": m.influence,
                "polarity": c.polarity, "sentiment": c.sentiment, "complaint": c.complaint,
                "topics": json.dumps(list(c.topics)), "score": c.score, "sample": sample_of(ks[0]),
                **dict(zip(("post_key", "reply_key"), mention_thread_keys(m), strict=True)),
                "language": c.language,
                "about_brand": m.about_brand, "competitors": as_json(m.competitors),
            })
            row_keys.append(ks)
            stored.append((m, c))
            batch.update(ks)  # the same post twice in one batch is stored once
        if rows:
            # one statement for the batch; ids come back in the order of the rows
            ids = conn.execute(sa.insert(mentions).returning(mentions.c.id, sort_by_parameter_order=True),
                               rows).scalars().all()
            conn.execute(sa.insert(mention_keys),
                         [{"key": k, "mention_id": mid} for mid, ks in zip(ids, row_keys, strict=True) for k in ks])
            conn.execute(sa.insert(mention_sources), [{"mention_id": mid, "source": row["source"]}
                                                      for mid, row in zip(ids, rows, strict=True)])
            added = pd.DataFrame([{c: row[c] for c in ROLLUP_COLUMNS if c != "id"} for row in rows])
            added["id"] = ids
            add_rollups(conn, added)
            link_mentions(conn, [(mid, m, c) for mid, (m, c) in zip(ids, stored, strict=True)])
            known.update((k, int(mid)) for mid, ks in zip(ids, row_keys, strict=True) for k in ks)
        _seen_again(conn, again, known, rank)
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

    def mentions(self, start: datetime, end: datetime, channels: Iterable[str] | None = None, *,
                 every_organisation: bool = False) -> pd.DataFrame:
        """Mentions about the brand published in [start, end) as the DataFrame documented in
        docs/INTERFACES.md; `every_organisation`: those about competitors too, with two more columns,
        `about_brand` (bool) and `competitors` (a list of names).

        Every row of the window is read: for digests at volume use `facts`.
        """
        columns = [mentions.c[c] for c in FRAME_COLUMNS]
        if every_organisation:
            columns += [mentions.c.about_brand, mentions.c.competitors]
        q = sa.select(*columns).where(mentions.c.published >= start, mentions.c.published < end)
        if not every_organisation:
            q = q.where(mentions.c.about_brand == sa.true())
        if channels is not None:
            q = q.where(mentions.c.channel.in_(list(channels)))
        with self.engine.connect() as conn:
            df = mentions_frame(conn, q)
        if every_organisation:
            df["about_brand"] = df["about_brand"].astype(bool)
            df["competitors"] = [list(competitor_names(v)) for v in df["competitors"]]
        return df

    def recent_texts(self, start: datetime, end: datetime, *, sentiment: str, limit: int) -> list[str]:
        """Texts of the latest `limit` mentions of `sentiment` published in [start, end), oldest first."""
        q = (sa.select(mentions.c.text)
             .where(mentions.c.published >= start, mentions.c.published < end, mentions.c.sentiment == sentiment,
                    mentions.c.about_brand == sa.true())
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
        q = sa.select(sa.func.count()).select_from(mentions).where(mentions.c.about_brand == sa.true(), sa.or_(
            sa.false(), *(sa.and_(mentions.c.published >= a, mentions.c.published < b) for a, b in ranges)))
        r = mention_rollups.c
        hours = sa.select(sa.func.coalesce(sa.func.sum(r.n), 0)).where(r.hour >= first, r.hour < last)
        if sentiment is not None:
            q = q.where(mentions.c.sentiment == sentiment)
            hours = hours.where(r.sentiment == sentiment)
        with self.engine.connect() as conn:
            whole = int(conn.execute(hours).scalar_one()) if first < last else 0
            return whole + (int(conn.execute(q).scalar_one()) if ranges else 0)


def _key_ids(conn: Connection, keys: set[str]) -> dict[str, int]:
    """Stored key -> the id of its mention, for those of `keys` that are stored."""
    out: dict[str, int] = {}
    for chunk in chunks(sorted(keys), 500):
        out.update((str(k), int(i)) for k, i in conn.execute(
            sa.select(mention_keys.c.key, mention_keys.c.mention_id).where(mention_keys.c.key.in_(chunk))))
    return out


def _seen_again(conn: Connection, found: Sequence[tuple[Mention, Sequence[str]]], known: Mapping[str, int],
                rank: Mapping[str, int] | None) -> None:
    """Mentions already stored (their keys in `known`) seen again: remember each new source, and credit the
    mention to the first of its sources in `rank` (its channel with it: the rollups move too)."""
    copies: dict[int, list[Mention]] = {}
    for m, ks in found:
        mid = next((known[k] for k in ks if k in known), None)
        if mid is not None:
            copies.setdefault(mid, []).append(m)
    if not copies:
        return
    stored: dict[int, str] = {}
    recorded: set[tuple[int, str]] = set()
    for chunk in chunks(sorted(copies), 500):
        stored.update((int(i), str(s)) for i, s in conn.execute(
            sa.select(mentions.c.id, mentions.c.source).where(mentions.c.id.in_(list(chunk)))))
        recorded.update((int(i), str(s)) for i, s in conn.execute(
            sa.select(mention_sources.c.mention_id, mention_sources.c.source).where(
                mention_sources.c.mention_id.in_(list(chunk)))))
    # a feed serves mostly what it served before: only a source not yet recorded costs a write
    fresh = {(mid, m.source) for mid, ms in copies.items() for m in ms
             if mid in stored and (mid, m.source) not in recorded}
    fresh |= {(mid, stored[mid]) for mid, _ in fresh}  # stores written before sources were recorded
    insert_missing(conn, mention_sources, [{"mention_id": mid, "source": s} for mid, s in sorted(fresh)])
    relink_seen(conn, {mid: next((m for m in ms if m.source == stored[mid]), ms[0])
                       for mid, ms in copies.items() if mid in stored})
    if rank is None:
        return
    last = len(rank)
    moves: dict[int, Mention] = {}
    for mid, ms in copies.items():
        if mid not in stored:
            continue
        best = min(ms, key=lambda m: rank.get(m.source, last))
        if rank.get(best.source, last) < rank.get(stored[mid], last):
            moves[mid] = best
    if moves:
        _credit(conn, moves)


def _credit(conn: Connection, moves: Mapping[int, Mention]) -> None:
    """Credit each stored mention to the copy given (its source, channel, id and link), rollups included."""
    ids = sorted(moves)
    before = pd.DataFrame(
        [tuple(r) for chunk in chunks(ids, 500) for r in conn.execute(
            sa.select(*(mentions.c[c] for c in ROLLUP_COLUMNS)).where(mentions.c.id.in_(list(chunk))))],
        columns=list(ROLLUP_COLUMNS))
    remove_rollups(conn, before)
    for mid in ids:
        m = moves[mid]
        values: dict[str, Any] = {"source": m.source, "channel": m.channel, "external_id": m.external_id[:1024]}
        if m.url:
            values["url"] = m.url
        conn.execute(sa.update(mentions).where(mentions.c.id == mid).values(**values))
        # the response figures by channel follow the credit too
        conn.execute(sa.update(responses).where(responses.c.mention_id == mid).values(channel=m.channel))
    after = before.assign(channel=[moves[int(i)].channel for i in before["id"]])
    add_rollups(conn, after)
