"""One store over SQLAlchemy: SQLite file by default, PostgreSQL by URL.

Mentions are stored once (deduplicated by source id, URL and normalized text) and kept. The delivery
ledger makes a digest go out at most once per recipient and window, even with concurrent runs: a
send first *claims* its ledger row (insert, or compare-and-swap on a failed/stale row) and only the
claimant sends.

Rollups (digest/rollups.py) are kept in the transaction that adds mentions, so that a digest of any
window reads counts by hour and day and a few candidate quotes (`facts`), never every mention.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import math
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from .errors import StoreError
from .models import Classification, Mention, SourceHealth, SourceResult
from .periods import Window
from .rollups import (
    DAY,
    HOUR,
    KEEP,
    SAMPLE_BUCKETS,
    Facts,
    bucket_edges,
    candidates,
    count_frame,
    deltas,
    distinct_topics,
    empty_counts,
    empty_topic_counts,
    sample_of,
    topic_frame,
)
from .text import normalize, text_key

log = logging.getLogger(__name__)

DEFAULT_DB_NAME = "digest.sqlite3"
# A claim older than this is taken to belong to a process that died mid-send.
STALE_CLAIM = timedelta(minutes=15)
# Seconds a SQLite write waits for another process's lock (env DIGEST_DB_BUSY_TIMEOUT in the CLI).
BUSY_TIMEOUT = 30.0


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC in the column (SQLite has no zones)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

mentions = sa.Table(
    "mentions", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(1024), nullable=False),
    sa.Column("url", sa.String(2048)),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author", sa.String(300), nullable=False),
    sa.Column("published", UTCDateTime, nullable=False),
    sa.Column("fetched", UTCDateTime, nullable=False),
    sa.Column("influence", sa.Float, nullable=False, default=0.0),
    sa.Column("polarity", sa.Float, nullable=False),
    sa.Column("sentiment", sa.String(8), nullable=False),
    sa.Column("complaint", sa.Boolean, nullable=False),
    sa.Column("topics", sa.Text, nullable=False, default="[]"),  # JSON list of topic names
    sa.Column("score", sa.Float, nullable=False, default=0.0),
    # in [0, SAMPLE_BUCKETS), spread by a hash: an even sample of complaints is one index look-up
    sa.Column("sample", sa.Integer, nullable=False, default=0),
    sa.Index("ix_mentions_published", "published"),
    sa.Index("ix_mentions_channel_published", "channel", "published"),
    sa.Index("ix_mentions_complaint_sample", "complaint", "sample", "published"),
)

# Every identity a mention is known by; a new mention sharing any key with a stored one is a duplicate.
mention_keys = sa.Table(
    "mention_keys", metadata,
    sa.Column("key", sa.String(96), primary_key=True),
    sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), nullable=False),
)

sources = sa.Table(
    "sources", metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("state", sa.Text, nullable=False, default="{}"),
    sa.Column("last_attempt", UTCDateTime),
    sa.Column("last_success", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_items", sa.Integer, nullable=False, default=0),
)

deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("window_key", sa.String(64), nullable=False),  # e.g. weekly:2026-W47, alert:2026-11-23T10:00
    sa.Column("status", sa.String(16), nullable=False),  # claimed | sent | failed
    sa.Column("claim", sa.String(32), nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    sa.Column("message_id", sa.String(300)),
    sa.UniqueConstraint("recipient", "window_key", name="uq_delivery"),
)

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# Rollups (digest/rollups.py): mentions counted by UTC hour (hours since the epoch) ...
mention_rollups = sa.Table(
    "mention_rollups", metadata,
    sa.Column("hour", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("sentiment", sa.String(8), primary_key=True),
    sa.Column("complaint", sa.Boolean, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("influential", sa.Integer, nullable=False),  # of them with influence > 0
    sqlite_with_rowid=False,
)
# ... the same counts by UTC day (a long window reads 24 times fewer rows) ...
day_rollups = sa.Table(
    "day_rollups", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("sentiment", sa.String(8), primary_key=True),
    sa.Column("complaint", sa.Boolean, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("influential", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
# ... complaints and praise by UTC day and the set of topics they name (a JSON list) ...
topic_rollups = sa.Table(
    "topic_rollups", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("sentiment", sa.String(8), primary_key=True),
    sa.Column("complaint", sa.Boolean, primary_key=True),
    sa.Column("topics", sa.Text, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
# ... and the best KEEP quotes of each list (rollups.candidates) per UTC day and channel, ranks ascending.
quote_candidates = sa.Table(
    "quote_candidates", metadata,
    sa.Column("list", sa.String(300), primary_key=True),  # negative | influential | praise | topic:<name>
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
    sa.Column("r1", sa.Float, nullable=False),
    sa.Column("r2", sa.Float, nullable=False),
    sa.Column("r3", sa.Float, nullable=False),
    sa.Column("published", UTCDateTime, nullable=False),
    sqlite_with_rowid=False,
)
ROLLUPS_META = "rollups_version"
ROLLUPS_VERSION = "2"  # 2: day_rollups
# the columns rollups.deltas reads
_ROLLUP_COLUMNS = ("id", "channel", "published", "sentiment", "complaint", "topics", "score", "polarity",
                   "influence")
_FRAME_COLUMNS = ("id", "source", "channel", "external_id", "url", "title", "text", "author", "published",
                  "influence", "polarity", "sentiment", "complaint", "topics", "score")
_DROP_CANDIDATE = sa.text("DELETE FROM quote_candidates WHERE list = :list AND day = :day AND channel = :channel "
                          "AND mention_id = :mention_id")


def default_url(config_dir: Path) -> str:
    """The embedded default: a SQLite file beside the configuration."""
    return f"sqlite:///{config_dir / DEFAULT_DB_NAME}"


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


class Store:
    """The product's persistent state. Create with `Store.open(url)`; close with `close()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Connect to `url` and create missing tables; raise StoreError with the reason.

        `busy_timeout`: seconds a SQLite write waits for another process's lock before giving up.
        """
        try:
            kwargs: dict[str, Any] = {"future": True}
            if url.startswith("postgresql://"):  # psycopg 3 is the driver we ship
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": busy_timeout}
                db = sa.engine.make_url(url).database
                if db and db != ":memory:":
                    Path(db).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, **kwargs)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_ms=int(busy_timeout * 1000)))
            _create_schema(engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"cannot open the store {_safe(url)}: {_reason(exc, busy_timeout)}") from None
        # from here on, a locked database, a full disk or a lost server is one StoreError naming the store,
        # whichever method met it (a traceback would tell ops nothing more)
        sa.event.listen(engine, "handle_error", functools.partial(_store_error, url=_safe(url),
                                                                  busy_timeout=busy_timeout))
        store = cls(engine)
        store.migrate()
        return store

    def close(self) -> None:
        self.engine.dispose()

    # -- locks ---------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name: str, *, wait: float = 0.0) -> Iterator[bool]:
        """Hold an exclusive lock named `name` across processes (and instances on PostgreSQL).

        Yields True if acquired, False if another holder kept it for `wait` seconds.
        """
        if self.is_sqlite:
            db = self.engine.url.database
            path = Path(db) if db and db != ":memory:" else Path.cwd() / "digest-memory"
            fl = FileLock(str(path) + f".{name}.lock")
            try:
                fl.acquire(timeout=wait)
            except Timeout:
                yield False
                return
            try:
                yield True
            finally:
                fl.release()
            return
        with self.engine.connect() as conn:
            # advisory locks are server-wide: key them by database and schema too, so two installations
            # sharing a server (or two test schemas) do not block each other
            where = conn.execute(sa.text("SELECT current_database() || '/' || current_schema()")).scalar()
            key = int.from_bytes(hashlib.sha256(f"{where}/{name}".encode()).digest()[:8], "big", signed=True)
            deadline = datetime.now(UTC) + timedelta(seconds=wait)
            got = False
            while True:
                got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
                conn.commit()
                if got or datetime.now(UTC) >= deadline:
                    break
                import time
                time.sleep(0.2)
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()

    # -- mentions ------------------------------------------------------------------------------------

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
            raise StoreError(f"cannot store mentions in {_safe(str(self.url))}: {_reason(exc)}") from None

    def _add(self, conn: Connection, items: Sequence[tuple[Mention, Classification]], fetched: datetime,
             by_text: Sequence[bool]) -> int:
        keyed = [(m, c, mention_keys_of(m, by_text=flag)) for (m, c), flag in zip(items, by_text, strict=True)]
        all_keys = {k for _, _, ks in keyed for k in ks}
        known: set[str] = set()
        for chunk in _chunks(sorted(all_keys), 500):
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
        added = pd.DataFrame([{c: row[c] for c in _ROLLUP_COLUMNS if c != "id"} for row in rows])
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
            for chunk in _chunks(sorted({k for ks in keyed for k in ks}), 500):
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
        q = sa.select(*(mentions.c[c] for c in _FRAME_COLUMNS)).where(
            mentions.c.published >= start, mentions.c.published < end)
        if channels is not None:
            q = q.where(mentions.c.channel.in_(list(channels)))
        with self.engine.connect() as conn:
            return self._frame(conn, q)

    def _frame(self, conn: Connection, q: sa.Select[Any]) -> pd.DataFrame:
        """The mentions frame of docs/INTERFACES.md from a select of _FRAME_COLUMNS, in published order."""
        try:
            df = pd.read_sql(q.order_by(mentions.c.published, mentions.c.id), conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read mentions: {_reason(exc)}") from None
        df["published"] = pd.to_datetime(df["published"], utc=True)
        df["topics"] = [json.loads(t) if t else [] for t in df["topics"]]
        df["complaint"] = df["complaint"].astype(bool)
        for col in ("influence", "polarity", "score"):
            df[col] = df[col].astype(float)
        return df

    def recent_texts(self, start: datetime, end: datetime, *, sentiment: str, limit: int) -> list[str]:
        """Texts of the latest `limit` mentions of `sentiment` published in [start, end), oldest first."""
        q = (sa.select(mentions.c.text)
             .where(mentions.c.published >= start, mentions.c.published < end, mentions.c.sentiment == sentiment)
             .order_by(mentions.c.published.desc(), mentions.c.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            texts = list(conn.execute(q).scalars())
        return texts[::-1]

    # -- rollups -------------------------------------------------------------------------------------

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
                frame = self._frame(conn, sa.select(*(mentions.c[c] for c in _FRAME_COLUMNS)).where(sa.false()))
                if ranked:
                    names = ["negative", "influential", "praise"] + sorted(
                        {f"topic:{t}" for ts in topic_counts.loc[topic_counts["complaint"], "topics"] for t in ts})
                    ids = self._candidates(conn, names, day0, day1, wanted) | _best(at_edges)
                    frame = self._by_ids(conn, sorted(ids))
                complaints = int(counts.loc[counts["complaint"], "n"].sum())
                picked = frame.iloc[0:0]
                if sample and complaints:
                    picked = self._complaint_sample(conn, window, wanted, complaints, sample)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the rollups: {_reason(exc)}") from None
        return Facts(counts, topic_counts, frame.reset_index(drop=True), picked.reset_index(drop=True))

    def _rollup_rows(self, conn: Connection, ranges: Sequence[tuple[int, int]],
                     wanted: list[str] | None) -> pd.DataFrame:
        """The columns rollups need of the mentions published in `ranges` (epoch seconds)."""
        q = sa.select(*(mentions.c[c] for c in _ROLLUP_COLUMNS)).where(sa.or_(sa.false(), *(
            sa.and_(mentions.c.published >= _at(a), mentions.c.published < _at(b)) for a, b in ranges)))
        if wanted is not None:
            q = q.where(mentions.c.channel.in_(wanted))
        rows = conn.execute(q).all() if ranges else []
        df = pd.DataFrame(rows, columns=list(_ROLLUP_COLUMNS))
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
        frames = [self._frame(conn, sa.select(*(mentions.c[c] for c in _FRAME_COLUMNS)).where(
            mentions.c.id.in_(list(chunk)))) for chunk in _chunks(ids, 500)]
        if not frames:
            return self._frame(conn, sa.select(*(mentions.c[c] for c in _FRAME_COLUMNS)).where(sa.false()))
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        return df.sort_values(["published", "id"], kind="stable")

    def _complaint_sample(self, conn: Connection, window: Window, wanted: list[str] | None, complaints: int,
                          size: int) -> pd.DataFrame:
        """Up to `size` complaints of the window: all of them, or an even sample read through an index."""
        buckets = SAMPLE_BUCKETS
        if complaints > size:  # a little more than needed, then the lowest sample numbers
            buckets = min(SAMPLE_BUCKETS, math.ceil(SAMPLE_BUCKETS * size * 1.25 / complaints))
        q = sa.select(*(mentions.c[c] for c in _FRAME_COLUMNS)).where(
            mentions.c.complaint == sa.true(), mentions.c.sample.in_(list(range(buckets))),
            mentions.c.published >= window.start_utc, mentions.c.published < window.end_utc)
        if wanted is not None:
            q = q.where(mentions.c.channel.in_(wanted))
        if complaints <= size:
            return self._frame(conn, q)
        sub = q.with_only_columns(mentions.c.id).order_by(mentions.c.sample, mentions.c.id).limit(size)
        chosen = [int(i) for i in conn.execute(sub).scalars()]
        return self._by_ids(conn, chosen)

    def migrate(self) -> None:
        """Bring a store written by an earlier version up to date (the sample column, the rollups).

        Runs once per store; later opens only read one meta row. Raises StoreError if another process
        holds the migration lock for an hour.
        """
        if self.get_meta(ROLLUPS_META) == ROLLUPS_VERSION:
            return
        columns = {c["name"] for c in sa.inspect(self.engine).get_columns("mentions")}
        with self.engine.connect() as conn:
            empty = conn.execute(sa.select(mentions.c.id).limit(1)).first() is None
        if empty and "sample" in columns:  # a new store: nothing to roll up
            self.setdefault_meta(ROLLUPS_META, ROLLUPS_VERSION)
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {_safe(str(self.url))}")
            found = self.get_meta(ROLLUPS_META)
            if found == ROLLUPS_VERSION:
                return
            if found == "1":  # the hourly counts are there: the daily ones are their sums
                with self.engine.begin() as conn:  # (Store.open created the table)
                    conn.execute(sa.delete(day_rollups))
                    r = mention_rollups.c
                    day = (r.hour // 24).label("day")
                    conn.execute(sa.insert(day_rollups).from_select(
                        ["day", "channel", "sentiment", "complaint", "n", "influential"],
                        sa.select(day, r.channel, r.sentiment, r.complaint, sa.func.sum(r.n),
                                  sa.func.sum(r.influential)).group_by(day, r.channel, r.sentiment, r.complaint)))
                    conn.execute(sa.update(meta).where(meta.c.key == ROLLUPS_META).values(value=ROLLUPS_VERSION))
                log.info("added the daily counts to the rollups")
                return
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns("mentions")}
            with self.engine.begin() as conn:
                if "sample" not in columns:
                    conn.execute(sa.text("ALTER TABLE mentions ADD COLUMN sample INTEGER NOT NULL DEFAULT 0"))
                    # any even spread will do for rows stored before the column existed
                    conn.execute(sa.text("UPDATE mentions SET sample = (id * 40503) % :buckets"),
                                 {"buckets": SAMPLE_BUCKETS})
                for index in mentions.indexes:
                    index.create(conn, checkfirst=True)
                for table in (quote_candidates, topic_rollups, mention_rollups, day_rollups):
                    conn.execute(sa.delete(table))
                last, added = 0, 0
                while True:
                    chunk = conn.execute(sa.select(*(mentions.c[c] for c in _ROLLUP_COLUMNS)).where(
                        mentions.c.id > last).order_by(mentions.c.id).limit(100_000)).all()
                    if not chunk:
                        break
                    add_rollups(conn, pd.DataFrame(chunk, columns=list(_ROLLUP_COLUMNS)))
                    last, added = int(chunk[-1][0]), added + len(chunk)
                conn.execute(sa.delete(meta).where(meta.c.key == ROLLUPS_META))
                conn.execute(sa.insert(meta).values(key=ROLLUPS_META, value=ROLLUPS_VERSION))
            if added:
                log.info("counted %d stored mentions into the rollups", added)

    # -- sources -------------------------------------------------------------------------------------

    def source_state(self, name: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            raw = conn.execute(sa.select(sources.c.state).where(sources.c.name == name)).scalar_one_or_none()
        return dict(json.loads(raw)) if raw else {}

    def source_states(self) -> dict[str, dict[str, str]]:
        """Every known source's state (what `source_state` gives one at a time), in one query."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sources.c.name, sources.c.state)).all()
        return {name: dict(json.loads(raw)) if raw else {} for name, raw in rows}

    def never_fetched(self, names: Iterable[str]) -> frozenset[str]:
        """Those of `names` never fetched successfully: what they give is new, but for cross-source copies."""
        with self.engine.connect() as conn:
            fetched = set(conn.execute(sa.select(sources.c.name).where(sources.c.last_success.is_not(None))).scalars())
        return frozenset(n for n in names if n not in fetched)

    def record_source(self, result: SourceResult, *, at: datetime) -> None:
        """Update the source's health (and fetch state on success) after one attempt."""
        self.record_sources([result], at=at)

    def record_sources(self, results: Sequence[SourceResult], *, at: datetime) -> None:
        """`record_source` for several results in one transaction and a few statements (a steady-state
        ingest records hundreds of sources that were not modified)."""
        if not results:
            return
        with self.engine.begin() as conn:
            if len({r.name for r in results}) < len(results):  # the same source twice: in order, one by one
                for result in results:
                    self._record_source(conn, result, at)
                return
            known: set[str] = set()
            for chunk in _chunks(sorted(r.name for r in results), 500):
                known.update(conn.execute(sa.select(sources.c.name).where(sources.c.name.in_(chunk))).scalars())
            fresh = [{"name": r.name, "channel": r.channel, "state": "{}", "consecutive_failures": 0,
                      "last_items": 0} for r in results if r.name not in known]
            if fresh:
                conn.execute(sa.insert(sources), fresh)
            shapes: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
            for r in results:
                values: dict[str, Any] = {"channel": r.channel, "last_attempt": at}
                if r.status != "error":
                    values.update(last_success=at, last_error=None, consecutive_failures=0)
                    if r.status == "ok":  # an unchanged feed says nothing new about its size
                        values["last_items"] = r.items_seen
                    if r.state:
                        values["state"] = json.dumps(r.state)
                else:
                    values["last_error"] = r.error or "failed"
                shapes.setdefault((r.status == "error", tuple(sorted(values))), []).append({**values, "b_name": r.name})
            for (failed, columns), rows in shapes.items():
                sets: dict[str, Any] = {c: sa.bindparam(c) for c in columns}
                if failed:
                    sets["consecutive_failures"] = sources.c.consecutive_failures + 1
                conn.execute(sa.update(sources).where(sources.c.name == sa.bindparam("b_name")).values(sets), rows)

    def _record_source(self, conn: Connection, result: SourceResult, at: datetime) -> None:
        ok = result.status != "error"
        row = conn.execute(sa.select(sources).where(sources.c.name == result.name)).mappings().first()
        values: dict[str, Any] = {"channel": result.channel, "last_attempt": at}
        if ok:
            values.update(last_success=at, last_error=None, consecutive_failures=0)
            if result.status == "ok":  # an unchanged feed says nothing new about its size
                values["last_items"] = result.items_seen
            if result.state:
                values["state"] = json.dumps(result.state)
        else:
            values.update(last_error=result.error or "failed",
                          consecutive_failures=(row["consecutive_failures"] if row else 0) + 1)
        if row is None:
            conn.execute(sa.insert(sources).values(name=result.name, **values))
        else:
            conn.execute(sa.update(sources).where(sources.c.name == result.name).values(**values))

    def health(self, names: Iterable[str] | None = None) -> list[SourceHealth]:
        """Health of every known source (or of `names`, those never attempted included)."""
        with self.engine.connect() as conn:
            rows = {r["name"]: r for r in conn.execute(sa.select(sources)).mappings()}
        wanted = list(names) if names is not None else sorted(rows)
        out = []
        for name in wanted:
            r = rows.get(name)
            if r is None:
                out.append(SourceHealth(name, "", None, None, None, 0, 0))
            else:
                out.append(SourceHealth(name, r["channel"], r["last_attempt"], r["last_success"], r["last_error"],
                                        r["consecutive_failures"], r["last_items"]))
        return out

    # -- delivery ledger -----------------------------------------------------------------------------

    def claim_delivery(self, recipient: str, window_key: str, *, now: datetime, resend: bool = False) -> str | None:
        """Claim the right to send `window_key` to `recipient`; return a claim token, or None if it is
        already sent (and not `resend`) or being sent by another live process."""
        token = secrets.token_hex(8)
        recipient = recipient.lower()
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(deliveries).values(recipient=recipient, window_key=window_key,
                                                          status="claimed", claim=token, claimed_at=now,
                                                          attempts=0))
            return token
        except IntegrityError:
            pass
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.recipient == recipient,
                                                           deliveries.c.window_key == window_key)).mappings().one()
            takeable = (
                row["status"] == "failed"
                or (row["status"] == "claimed" and row["claimed_at"] < now - STALE_CLAIM)
                or (row["status"] == "sent" and resend)
            )
            if not takeable:
                return None
            # compare-and-swap: only one of several racing processes sees rowcount 1
            done = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == row["id"], deliveries.c.claim == row["claim"],
                       deliveries.c.status == row["status"])
                .values(status="claimed", claim=token, claimed_at=now)
            )
            return token if done.rowcount == 1 else None

    def finish_delivery(self, recipient: str, window_key: str, token: str, *, now: datetime,
                        error: str | None = None, message_id: str | None = None) -> None:
        """Mark a claimed delivery sent (error None) or failed (retried on the next run)."""
        values: dict[str, Any] = {"attempts": deliveries.c.attempts + 1}
        if error is None:
            values.update(status="sent", sent_at=now, error=None, message_id=message_id)
        else:
            values.update(status="failed", error=error[:2000])
        with self.engine.begin() as conn:
            conn.execute(sa.update(deliveries).where(deliveries.c.recipient == recipient.lower(),
                                                     deliveries.c.window_key == window_key,
                                                     deliveries.c.claim == token).values(**values))

    def delivery_status(self, recipient: str, window_key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(deliveries.c.status).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.window_key == window_key)).scalar()

    def deliveries(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.select(deliveries).order_by(deliveries.c.id)).mappings()]

    def last_sent_key(self, recipient: str, prefix: str) -> str | None:
        """The latest window key starting with `prefix` (e.g. `weekly:`) sent to `recipient`."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.max(deliveries.c.window_key)).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.status == "sent",
                deliveries.c.window_key.startswith(prefix))).scalar()

    def delivery_states(self, recipient: str, prefix: str) -> dict[str, str]:
        """Window key -> ledger status (claimed | sent | failed) of every key starting with `prefix`
        (e.g. `daily:`) recorded for `recipient`."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(deliveries.c.window_key, deliveries.c.status).where(
                deliveries.c.recipient == recipient.lower(), deliveries.c.window_key.startswith(prefix)))
            return {str(k): str(s) for k, s in rows}

    # -- meta ----------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, delete) `key`."""
        with self.engine.begin() as conn:
            conn.execute(sa.delete(meta).where(meta.c.key == key))
            if value is not None:
                conn.execute(sa.insert(meta).values(key=key, value=value))

    def count_mentions_between(self, start: datetime, end: datetime, *, sentiment: str | None = None) -> int:
        """How many mentions (of `sentiment`, if given) were published in [start, end).

        Whole UTC hours are counted from the rollups, the parts of hours at either end from the mentions.
        """
        first, last = -(-int(start.timestamp()) // HOUR), int(end.timestamp()) // HOUR
        if first >= last:  # less than a whole hour: count the mentions
            ranges = [(start, end)]
        else:
            ranges = [(a, b) for a, b in ((start, _at(first * HOUR)), (_at(last * HOUR), end)) if a < b]
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

    def setdefault_meta(self, key: str, value: str) -> str:
        """Set `key` once (first writer wins) and return the stored value."""
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(meta).values(key=key, value=value))
        except IntegrityError:
            pass
        stored = self.get_meta(key)
        assert stored is not None
        return stored


# pg_advisory_xact_lock key that serializes creating the tables (any constant of our own)
_SCHEMA_LOCK = 0x6469676573745f31


def _create_schema(engine: Engine) -> None:
    """Create the missing tables; two processes opening a new store at once must not trip over each other
    (PostgreSQL refuses a second CREATE TABLE of the same type in flight)."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
            metadata.create_all(conn)
        return
    try:
        metadata.create_all(engine)
    except OperationalError as exc:
        if "already exists" not in str(exc):
            raise
        metadata.create_all(engine)  # another process created one between our look and our CREATE


def _sqlite_pragmas(dbapi_conn: Any, _record: Any, *, busy_ms: int) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the digest read while an ingest writes; busy_timeout waits out a short lock instead of failing
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")
    # in WAL mode NORMAL stays consistent through a crash or power loss and skips an fsync per commit (a
    # steady-state ingest commits once per source); only the last commits before a power loss may be lost
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def add_rollups(conn: Connection, rows: pd.DataFrame) -> None:
    """Count stored mentions (a frame of _ROLLUP_COLUMNS, ids included) into the rollups, in `conn`'s
    transaction.

    Counts are upserts (n = n + new), so concurrent writers never lose one; each (list, day, channel)
    of quote candidates touched keeps its best KEEP of the stored and the new ones.
    """
    if rows.empty:
        return
    d = deltas(rows)
    _upsert(conn, mention_rollups, _records(d.counts), ("hour", "channel", "sentiment", "complaint"),
            ("n", "influential"))
    by_day = d.counts.assign(day=d.counts["hour"] // 24).groupby(
        ["day", "channel", "sentiment", "complaint"], as_index=False)[["n", "influential"]].sum()
    _upsert(conn, day_rollups, _records(by_day), ("day", "channel", "sentiment", "complaint"), ("n", "influential"))
    _upsert(conn, topic_rollups, _records(d.topics), ("day", "channel", "sentiment", "complaint", "topics"),
            ("n",))
    _keep_best(conn, d.candidates)


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
    for chunk in _chunks(groups, 300):
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
    both["complaint"] = both["complaint"].astype(bool)
    out = both.groupby(keys, as_index=False, sort=True)[sums].sum()
    for col in sums:
        out[col] = out[col].astype("int64")
    return out


def _best(rows: pd.DataFrame) -> set[int]:
    """Ids of the best KEEP mentions of each quote list (per day and channel) among `rows`."""
    return {int(i) for i in candidates(rows)["mention_id"]}


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _safe(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without its credentials part
        return url.split("@")[-1]


def _reason(exc: BaseException, busy_timeout: float | None = None) -> str:
    if isinstance(exc, DBAPIError):
        text = str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    else:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if "database is locked" in low or "database table is locked" in low:
        waited = f"; gave up after {busy_timeout:g} s, see DIGEST_DB_BUSY_TIMEOUT" if busy_timeout is not None else ""
        return f"{text} (another process holds a write lock{waited})"
    if "disk i/o error" in low:
        return f"{text} (is the disk full or failing?)"
    return text


def _store_error(ctx: sa.engine.ExceptionContext, *, url: str, busy_timeout: float) -> None:
    """SQLAlchemy `handle_error` hook: a database-level failure becomes one StoreError naming the store.

    Constraint violations (IntegrityError) and programming errors pass through: callers rely on the first
    (the delivery ledger's claims), and the second are bugs that deserve their traceback.
    """
    exc = ctx.sqlalchemy_exception
    if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
        raise StoreError(f"store {url}: {_reason(exc, busy_timeout)}") from None
