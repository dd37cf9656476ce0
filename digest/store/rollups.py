"""The rollup tables (the SQL side of digest/rollups.py): written with each batch of mentions, read by digests.

A digest of any window reads counts by hour and day and a few candidate quotes (`facts`), never every mention.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..periods import Window
from ..rollups import (
    DAY,
    HOUR,
    KEEP,
    SAMPLE_BUCKETS,
    Deltas,
    Facts,
    bucket_edges,
    candidates,
    count_frame,
    deltas,
    distinct_topics,
    empty_counts,
    empty_language_counts,
    empty_topic_counts,
    language_frame,
    topic_frame,
)
from ..voice import voice_deltas
from .base import StoreBase, chunks, reason, utc_at
from .schema import (
    _DROP_CANDIDATE,
    FRAME_COLUMNS,
    ROLLUP_COLUMNS,
    day_rollups,
    language_rollups,
    mention_rollups,
    mentions,
    mentions_frame,
    org_rollups,
    org_topic_rollups,
    quote_candidates,
    topic_rollups,
)

log = logging.getLogger(__name__)


class Rollups(StoreBase):
    """Reading the rollups for a digest."""

    def facts(self, window: Window, channels: Iterable[str] | None = None, *, trend: bool = True,
              ranked: bool = True, sample: int = 0) -> Facts:
        """What a digest needs of `window` (rollups.Facts), read from the rollups.

        Whole UTC days come from the rollup tables; the parts of days at the window's edges (local
        midnight is rarely UTC midnight) and any hour that a half-hour time zone splits are read from the
        mentions themselves, so that the figures are exact in every zone. The cost grows with the days of
        the window, not with its mentions. `trend`: counts per trend bucket; `ranked`: quote candidates;
        `sample`: read up to this many complaints (an even sample) for phrase mining.
        """
        wanted = list(channels) if channels is not None else None
        edges = bucket_edges(window, trend)
        start, end = int(window.start_utc.timestamp()), int(window.end_utc.timestamp())
        day0, day1 = -(-start // DAY), end // DAY  # the whole UTC days inside [start, end)
        if day0 < day1:
            partial = [(a, b) for a, b in ((start, day0 * DAY), (day1 * DAY, end)) if a < b]
        else:
            day0 = day1 = 0
            partial = [(start, end)]
        split = sorted({e // HOUR for e in edges[1:] if e % HOUR and day0 * DAY <= e < day1 * DAY})
        try:
            with self.engine.connect() as conn:
                raw = self._rollup_rows(conn, [*partial, *((h * HOUR, h * HOUR + HOUR) for h in split)], wanted)
                seconds = pd.DatetimeIndex(raw["published"]).as_unit("ns").asi8 // 1_000_000_000
                in_partial = np.zeros(len(raw), dtype=bool)
                for a, b in partial:
                    in_partial |= (seconds >= a) & (seconds < b)
                at_edges = raw[in_partial]
                counts = _merge(
                    [self._hour_counts(conn, day0, day1, split, edges, wanted), count_frame(raw, edges)],
                    ["bucket", "channel", "sentiment", "complaint"], ["n", "influential"], empty_counts())
                topic_counts = _merge([self._day_topics(conn, day0, day1, wanted), topic_frame(at_edges)],
                                      ["channel", "sentiment", "complaint", "topics"], ["n"], empty_topic_counts())
                language_counts = _merge([self._day_languages(conn, day0, day1, wanted), language_frame(at_edges)],
                                         ["channel", "language", "sentiment"], ["n"], empty_language_counts())
                frame = mentions_frame(conn, sa.select(*(mentions.c[c] for c in FRAME_COLUMNS)).where(sa.false()))
                if ranked:
                    names = ["negative", "influential", "praise"] + sorted(
                        {f"topic:{t}" for ts in topic_counts.loc[topic_counts["complaint"], "topics"] for t in ts})
                    ids = self._candidates(conn, names, day0, day1, wanted) | _best(at_edges)
                    frame = self._by_ids(conn, sorted(ids))
                complaints = int(counts.loc[counts["complaint"], "n"].sum())
                picked = frame.iloc[0:0]
                other: pd.DataFrame | None = None
                if sample and complaints:
                    picked = self._complaint_sample(conn, window, wanted, complaints, sample)
                    rest = int(counts["n"].sum()) - complaints
                    other = self._complaint_sample(conn, window, wanted, rest, sample, complaint=False) \
                        if rest else frame.iloc[0:0]
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the rollups: {reason(exc)}") from None
        return Facts(counts, topic_counts, frame.reset_index(drop=True), picked.reset_index(drop=True),
                     other_sample=other.reset_index(drop=True) if other is not None else None,
                     language_counts=language_counts)

    def _rollup_rows(self, conn: Connection, ranges: Sequence[tuple[int, int]],
                     wanted: list[str] | None, *, brand: bool = True) -> pd.DataFrame:
        """The columns rollups need of the mentions published in `ranges` (epoch seconds): those about the
        brand, or (`brand` False) those about a competitor."""
        q = sa.select(*(mentions.c[c] for c in ROLLUP_COLUMNS)).where(sa.or_(sa.false(), *(
            sa.and_(mentions.c.published >= utc_at(a), mentions.c.published < utc_at(b)) for a, b in ranges)))
        q = q.where(mentions.c.about_brand == sa.true()) if brand else q.where(mentions.c.competitors != "[]")
        if wanted is not None:
            q = q.where(mentions.c.channel.in_(wanted))
        rows = conn.execute(q).all() if ranges else []
        df = pd.DataFrame(rows, columns=list(ROLLUP_COLUMNS))
        df["published"] = pd.to_datetime(df["published"], utc=True)
        df["complaint"] = df["complaint"].astype(bool)
        for col in ("influence", "polarity", "score"):
            df[col] = df[col].astype(float)
        return df

    def _hour_counts(self, conn: Connection, day0: int, day1: int, split: Sequence[int], edges: Sequence[int],
                     wanted: list[str] | None) -> pd.DataFrame:
        """Counts by trend bucket of the whole hours of days [day0, day1), but the `split` hours.

        A day that a bucket edge or a split hour falls inside is read by the hour; the others by the day.
        """
        if day0 >= day1:
            return empty_counts()
        by_hour = sorted({e // DAY for e in edges[1:] if e % DAY and day0 * DAY <= e < day1 * DAY}
                         | {h // 24 for h in split})
        keys = ["bucket", "channel", "sentiment", "complaint"]
        frames = []
        d = day_rollups.c
        days = sa.select(_bucket(d.day, DAY, edges), d.channel, d.sentiment, d.complaint, d.n, d.influential).where(
            d.day >= day0, d.day < day1)
        if by_hour:
            days = days.where(d.day.not_in(by_hour))
        if wanted is not None:
            days = days.where(d.channel.in_(wanted))
        frames.append(self._bucket_sums(conn, days.subquery()))
        if by_hour:
            r = mention_rollups.c
            hours = sa.select(_bucket(r.hour, HOUR, edges), r.channel, r.sentiment, r.complaint, r.n,
                              r.influential).where(sa.or_(*(sa.and_(r.hour >= day * 24, r.hour < day * 24 + 24)
                                                             for day in by_hour)))
            if split:
                hours = hours.where(r.hour.not_in(list(split)))
            if wanted is not None:
                hours = hours.where(r.channel.in_(wanted))
            frames.append(self._bucket_sums(conn, hours.subquery()))
        return _merge(frames, keys, ["n", "influential"], empty_counts())

    @staticmethod
    def _bucket_sums(conn: Connection, sub: sa.Subquery) -> pd.DataFrame:
        keys = (sub.c.bucket, sub.c.channel, sub.c.sentiment, sub.c.complaint)
        q = sa.select(*keys, sa.func.sum(sub.c.n), sa.func.sum(sub.c.influential)).group_by(*keys)
        return pd.DataFrame([tuple(row) for row in conn.execute(q)], columns=list(empty_counts().columns))

    def _day_topics(self, conn: Connection, day0: int, day1: int, wanted: list[str] | None) -> pd.DataFrame:
        """Topic counts of the days [day0, day1)."""
        if day0 >= day1:
            return empty_topic_counts()
        t = topic_rollups.c
        keys = (t.channel, t.sentiment, t.complaint, t.topics)
        q = sa.select(*keys, sa.func.sum(t.n)).where(t.day >= day0, t.day < day1).group_by(*keys)
        if wanted is not None:
            q = q.where(t.channel.in_(wanted))
        rows = [(c, s, k, distinct_topics(ts), n) for c, s, k, ts, n in conn.execute(q).all()]
        return pd.DataFrame(rows, columns=list(empty_topic_counts().columns))

    def _day_languages(self, conn: Connection, day0: int, day1: int, wanted: list[str] | None) -> pd.DataFrame:
        """Language counts of the days [day0, day1)."""
        if day0 >= day1:
            return empty_language_counts()
        g = language_rollups.c
        keys = (g.channel, g.language, g.sentiment)
        q = sa.select(*keys, sa.func.sum(g.n)).where(g.day >= day0, g.day < day1).group_by(*keys)
        if wanted is not None:
            q = q.where(g.channel.in_(wanted))
        return pd.DataFrame([tuple(r) for r in conn.execute(q)], columns=list(empty_language_counts().columns))

    def _candidates(self, conn: Connection, names: Sequence[str], day0: int, day1: int,
                    wanted: list[str] | None) -> set[int]:
        """Ids of the best KEEP mentions of each quote list over the days [day0, day1)."""
        if day0 >= day1:
            return set()
        q = quote_candidates.c
        ids: set[int] = set()
        for name in names:
            sel = sa.select(q.mention_id).where(q.list == name, q.day >= day0, q.day < day1)
            if wanted is not None:
                sel = sel.where(q.channel.in_(wanted))
            sel = sel.order_by(q.r1, q.r2, q.r3, q.published, q.mention_id).limit(KEEP)
            ids.update(int(i) for i in conn.execute(sel).scalars())
        return ids

    def _by_ids(self, conn: Connection, ids: Sequence[int]) -> pd.DataFrame:
        frames = [mentions_frame(conn, sa.select(*(mentions.c[c] for c in FRAME_COLUMNS)).where(
            mentions.c.id.in_(list(chunk)))) for chunk in chunks(ids, 500)]
        if not frames:
            return mentions_frame(conn, sa.select(*(mentions.c[c] for c in FRAME_COLUMNS)).where(sa.false()))
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return df.sort_values(["published", "id"], kind="stable")

    def _complaint_sample(self, conn: Connection, window: Window, wanted: list[str] | None, complaints: int,
                          size: int, *, complaint: bool = True) -> pd.DataFrame:
        """Up to `size` complaints (or, not `complaint`, other mentions: `complaints` counts them) of the
        window: all of them, or an even sample read through an index."""
        buckets = SAMPLE_BUCKETS
        if complaints > size:  # a little more than needed, then the lowest sample numbers
            buckets = min(SAMPLE_BUCKETS, math.ceil(SAMPLE_BUCKETS * size * 1.25 / complaints))
        q = sa.select(*(mentions.c[c] for c in FRAME_COLUMNS)).where(
            mentions.c.complaint == (sa.true() if complaint else sa.false()), mentions.c.about_brand == sa.true(),
            mentions.c.sample.in_(list(range(buckets))),
            mentions.c.published >= window.start_utc, mentions.c.published < window.end_utc)
        if wanted is not None:
            q = q.where(mentions.c.channel.in_(wanted))
        if complaints <= size:
            return mentions_frame(conn, q)
        sub = q.with_only_columns(mentions.c.id).order_by(mentions.c.sample, mentions.c.id).limit(size)
        chosen = [int(i) for i in conn.execute(sub).scalars()]
        return self._by_ids(conn, chosen)


def add_rollups(conn: Connection, rows: pd.DataFrame) -> None:
    """Count stored mentions (a frame of ROLLUP_COLUMNS, ids included) into the rollups, in `conn`'s
    transaction.

    Counts are upserts (n = n + new), so concurrent writers never lose one; each (list, day, channel)
    of quote candidates touched keeps its best KEEP of the stored and the new ones.
    """
    d = _count(conn, rows, sign=1)
    if d is not None:
        _keep_best(conn, d.candidates)


def remove_rollups(conn: Connection, rows: pd.DataFrame) -> None:
    """Take stored mentions (a frame of ROLLUP_COLUMNS) out of the rollups, in `conn`'s transaction: the
    counts add_rollups added are subtracted, and the mentions leave the quote candidates (a group may hold
    fewer than KEEP until new mentions arrive)."""
    if _count(conn, rows, sign=-1) is None:
        return
    ids = [int(i) for i in _countable(rows)["id"]]
    for chunk in chunks(ids, 500):
        conn.execute(sa.delete(quote_candidates).where(quote_candidates.c.mention_id.in_(list(chunk))))


def _count(conn: Connection, rows: pd.DataFrame, *, sign: int) -> Deltas | None:
    """Add (`sign` 1) or subtract (-1) the mentions' counts in every count table; their Deltas, None when
    none of them counts for the brand."""
    rows = _countable(rows)  # what is left out here was never counted, either way
    if rows.empty:
        return None
    _add_voice(conn, rows, sign=sign)
    if "about_brand" in rows.columns:  # the brand's own figures count only mentions about the brand
        rows = rows[rows["about_brand"].astype(bool).to_numpy()]
        if rows.empty:
            return None
    d = deltas(rows)
    counts = d.counts.assign(n=d.counts["n"] * sign, influential=d.counts["influential"] * sign)
    _upsert(conn, mention_rollups, _records(counts), ("hour", "channel", "sentiment", "complaint"),
            ("n", "influential"))
    by_day = counts.assign(day=counts["hour"] // 24).groupby(
        ["day", "channel", "sentiment", "complaint"], as_index=False)[["n", "influential"]].sum()
    _upsert(conn, day_rollups, _records(by_day), ("day", "channel", "sentiment", "complaint"), ("n", "influential"))
    _upsert(conn, topic_rollups, _records(d.topics.assign(n=d.topics["n"] * sign)),
            ("day", "channel", "sentiment", "complaint", "topics"), ("n",))
    languages = language_frame(rows, by_day=True)
    _upsert(conn, language_rollups, _records(languages.assign(n=languages["n"] * sign)),
            ("day", "channel", "language", "sentiment"), ("n",))
    return d


def _countable(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows pandas can count: a date outside its nanosecond range (1677..2262), stored by a version
    before digest.dates or by hand, is left out (and logged) rather than failing every rebuild."""
    if rows.empty:
        return rows
    stamps = pd.to_datetime(rows["published"], utc=True)
    ok = ((stamps >= pd.Timestamp.min.tz_localize("UTC")) & (stamps <= pd.Timestamp.max.tz_localize("UTC"))).to_numpy()
    if ok.all():
        return rows
    log.warning("%d stored mention%s not counted: dated outside 1677..2262 (ids %s)", (~ok).sum(),
                "s" if (~ok).sum() != 1 else "", ", ".join(str(i) for i in rows["id"][~ok][:5]))
    return rows[ok]


def _add_voice(conn: Connection, rows: pd.DataFrame, *, sign: int = 1) -> None:
    """Count the mentions about competitors into the share-of-voice tables (digest/voice.py); `sign` -1 takes
    them out."""
    counts, topics = voice_deltas(rows)
    if sign != 1:
        counts, topics = counts.assign(n=counts["n"] * sign), topics.assign(n=topics["n"] * sign)
    _upsert(conn, org_rollups, _records(counts), ("day", "org", "channel", "sentiment", "complaint"), ("n",))
    _upsert(conn, org_topic_rollups, _records(topics), ("day", "org", "channel", "topic"), ("n",))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows for an executemany, as plain Python values."""
    names = [str(c) for c in frame.columns]
    columns = [frame[c].tolist() for c in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _keep_best(conn: Connection, new: pd.DataFrame) -> None:
    """Merge new quote candidates (rollups.candidates) into quote_candidates: each group keeps its best KEEP."""
    if new.empty:
        return
    q = quote_candidates.c
    groups = list(new[["list", "day", "channel"]].drop_duplicates().itertuples(index=False, name=None))
    stored_rows: list[tuple[Any, ...]] = []
    for chunk in chunks(groups, 300):
        sel = sa.select(q.list, q.day, q.channel, q.mention_id, q.r1, q.r2, q.r3, q.published).where(
            sa.tuple_(q.list, q.day, q.channel).in_([(str(a), int(b), str(c)) for a, b, c in chunk]))
        stored_rows.extend(tuple(r) for r in conn.execute(sel))
    stored = pd.DataFrame(stored_rows, columns=list(new.columns))
    stored["published"] = pd.to_datetime(stored["published"], utc=True)
    stored["stored"] = True
    both = pd.concat([stored, new.assign(stored=False)], ignore_index=True)
    both["ns"] = pd.DatetimeIndex(both["published"]).as_unit("ns").asi8
    both = both.sort_values(["list", "day", "channel", "r1", "r2", "r3", "ns", "mention_id"], kind="stable")
    keep = both.groupby(["list", "day", "channel"], sort=False).cumcount() < KEEP
    drop = both[~keep & both["stored"]]
    add = both[keep & ~both["stored"]]
    if not drop.empty:
        conn.execute(_DROP_CANDIDATE, _records(drop[["list", "day", "channel", "mention_id"]]))
    if not add.empty:
        rows = _records(add[["list", "day", "channel", "mention_id", "r1", "r2", "r3"]])
        for row, at in zip(rows, add["published"].dt.to_pydatetime(), strict=True):
            row["published"] = at
        conn.execute(sa.insert(quote_candidates), rows)


def _upsert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]], keys: Sequence[str],
            adds: Sequence[str]) -> None:
    """Insert `rows`, or add their `adds` columns to the row already stored under the same `keys`."""
    if not rows:
        return
    name = conn.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise StoreError(f"the store needs SQLite or PostgreSQL, not {name}")
    insert = sqlite_dialect.insert(table) if name == "sqlite" else pg_dialect.insert(table)
    stmt = insert.on_conflict_do_update(index_elements=list(keys),
                                        set_={c: table.c[c] + insert.excluded[c] for c in adds})
    conn.execute(stmt, rows)


def _bucket(unit_index: sa.ColumnElement[int], unit: int, edges: Sequence[int]) -> sa.Label[int]:
    """The trend bucket of a rollup row, as the column "bucket": `unit_index` counts hours or days since the
    epoch (`unit` their seconds), and a row belongs to the bucket its start is in (the caller reads no row
    that a bucket edge falls inside)."""
    if len(edges) == 1:
        return sa.literal(0).label("bucket")
    return sa.case(*((unit_index < -(-e // unit), i) for i, e in enumerate(edges[1:])),
                   else_=len(edges) - 1).label("bucket")


def _merge(frames: Sequence[pd.DataFrame], keys: list[str], sums: list[str], empty: pd.DataFrame) -> pd.DataFrame:
    """The frames' rows added up by `keys`."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty
    both = pd.concat(frames, ignore_index=True)
    if "complaint" in both.columns:
        both["complaint"] = both["complaint"].astype(bool)
    out = both.groupby(keys, as_index=False, sort=True)[sums].sum()
    for col in sums:
        out[col] = out[col].astype("int64")
    return out


def _best(rows: pd.DataFrame) -> set[int]:
    """Ids of the best KEEP mentions of each quote list (per day and channel) among `rows`."""
    return {int(i) for i in candidates(rows)["mention_id"]}
