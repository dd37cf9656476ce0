"""One store over SQLAlchemy: SQLite file by default, PostgreSQL by URL.

Mentions are stored once (deduplicated by source id, URL and normalized text) and kept. The delivery
ledger makes a digest go out at most once per recipient and window, even with concurrent runs: a
send first *claims* its ledger row (insert, or compare-and-swap on a failed/stale row) and only the
claimant sends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from .errors import StoreError
from .models import Classification, Mention, SourceHealth, SourceResult
from .text import normalize, text_key

log = logging.getLogger(__name__)

DEFAULT_DB_NAME = "digest.sqlite3"
# A claim older than this is taken to belong to a process that died mid-send.
STALE_CLAIM = timedelta(minutes=15)


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
    sa.Index("ix_mentions_published", "published"),
    sa.Index("ix_mentions_channel_published", "channel", "published"),
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
    keys = [f"id:{_digest(m.source + chr(0) + m.external_id)}"]
    if m.url:
        keys.append(f"url:{_digest(_normalize_url(m.url))}")
    # very short texts ("thanks!") are too common to identify a post
    if by_text and len(normalize(m.text).split()) >= 6:
        keys.append(f"text:{text_key(m.channel + chr(0) + m.text)}")
    return list(dict.fromkeys(keys))


class Store:
    """The product's persistent state. Create with `Store.open(url)`; close with `close()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.is_sqlite = engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to `url` and create missing tables; raise StoreError with the reason."""
        try:
            kwargs: dict[str, Any] = {"future": True}
            if url.startswith("postgresql://"):  # psycopg 3 is the driver we ship
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            if url.startswith("sqlite"):
                kwargs["connect_args"] = {"timeout": 30}
                db = sa.engine.make_url(url).database
                if db and db != ":memory:":
                    Path(db).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, **kwargs)
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            metadata.create_all(engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"cannot open the store {_safe(url)}: {_reason(exc)}") from None
        return cls(engine)

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
        key = int.from_bytes(name.encode()[:8].ljust(8, b"\0"), "big", signed=True)
        with self.engine.connect() as conn:
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
                     by_text: bool = True) -> int:
        """Store the mentions not seen before; return how many were new."""
        if not items:
            return 0
        try:
            with self.engine.begin() as conn:
                return self._add(conn, items, fetched, by_text)
        except IntegrityError:
            # another instance stored some of them between our look-up and insert: one at a time
            added = 0
            for item in items:
                try:
                    with self.engine.begin() as conn:
                        added += self._add(conn, [item], fetched, by_text)
                except IntegrityError:
                    continue
            return added
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store mentions in {_safe(str(self.url))}: {_reason(exc)}") from None

    def _add(self, conn: Connection, items: Sequence[tuple[Mention, Classification]], fetched: datetime,
             by_text: bool) -> int:
        keyed = [(m, c, mention_keys_of(m, by_text=by_text)) for m, c in items]
        all_keys = {k for _, _, ks in keyed for k in ks}
        known: set[str] = set()
        for chunk in _chunks(sorted(all_keys), 500):
            known.update(conn.execute(sa.select(mention_keys.c.key).where(mention_keys.c.key.in_(chunk))).scalars())
        added = 0
        for m, c, ks in keyed:
            if known.intersection(ks):
                continue
            row = {
                "source": m.source, "channel": m.channel, "external_id": m.external_id[:1024],
                "url": m.url, "title": m.title, "text": m.text, "author": m.author[:300],
                "published": m.published, "fetched": fetched, "influence": m.influence,
                "polarity": c.polarity, "sentiment": c.sentiment, "complaint": c.complaint,
                "topics": json.dumps(list(c.topics)), "score": c.score,
            }
            mid = conn.execute(sa.insert(mentions).values(**row).returning(mentions.c.id)).scalar_one()
            conn.execute(sa.insert(mention_keys), [{"key": k, "mention_id": mid} for k in ks])
            known.update(ks)
            added += 1
        return added

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
        """Mentions published in [start, end) as the DataFrame documented in docs/INTERFACES.md."""
        q = sa.select(
            mentions.c.id, mentions.c.source, mentions.c.channel, mentions.c.external_id, mentions.c.url,
            mentions.c.title, mentions.c.text, mentions.c.author, mentions.c.published, mentions.c.influence,
            mentions.c.polarity, mentions.c.sentiment, mentions.c.complaint, mentions.c.topics, mentions.c.score,
        ).where(mentions.c.published >= start, mentions.c.published < end).order_by(mentions.c.published)
        if channels is not None:
            q = q.where(mentions.c.channel.in_(list(channels)))
        try:
            with self.engine.connect() as conn:
                df = pd.read_sql(q, conn)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read mentions: {_reason(exc)}") from None
        df["published"] = pd.to_datetime(df["published"], utc=True)
        df["topics"] = [json.loads(t) if t else [] for t in df["topics"]]
        df["complaint"] = df["complaint"].astype(bool)
        for col in ("influence", "polarity", "score"):
            df[col] = df[col].astype(float)
        return df

    # -- sources -------------------------------------------------------------------------------------

    def source_state(self, name: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            raw = conn.execute(sa.select(sources.c.state).where(sources.c.name == name)).scalar_one_or_none()
        return dict(json.loads(raw)) if raw else {}

    def record_source(self, result: SourceResult, *, at: datetime) -> None:
        """Update the source's health (and fetch state on success) after one attempt."""
        ok = result.status != "error"
        with self.engine.begin() as conn:
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
        """How many mentions (of `sentiment`, if given) were published in [start, end)."""
        q = sa.select(sa.func.count()).select_from(mentions).where(mentions.c.published >= start,
                                                                   mentions.c.published < end)
        if sentiment is not None:
            q = q.where(mentions.c.sentiment == sentiment)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

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


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the digest read while an ingest writes; busy_timeout waits out a short lock instead of failing
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _chunks(items: Sequence[str], n: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _safe(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without its credentials part
        return url.split("@")[-1]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OperationalError):
        return str(exc.orig).splitlines()[0] if exc.orig else str(exc).splitlines()[0]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
