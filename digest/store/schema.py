"""The tables, and the mentions frame every reader of the mentions table returns.

Adding a table: define it here (create_all adds it to existing stores on the next open); a change to an
existing table needs a step in migrations.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..errors import StoreError
from .base import reason


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
    # threads (store/replies.py): the post's own key and the key of the post it answers (thread_key)
    sa.Column("post_key", sa.String(32)),
    sa.Column("reply_key", sa.String(32)),
    # ISO 639-1 code ("und": too short to tell; "": stored before languages were detected)
    sa.Column("language", sa.String(16), nullable=False, default="", server_default=""),
    # whom it is about (digest/organisations.py): the brand's own figures read only about_brand rows;
    # competitors is a JSON list of competitor names (share of voice). Rows from before: the brand's.
    sa.Column("about_brand", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("competitors", sa.Text, nullable=False, server_default="[]"),
    sa.Index("ix_mentions_published", "published"),
    sa.Index("ix_mentions_channel_published", "channel", "published"),
    sa.Index("ix_mentions_complaint_sample", "complaint", "sample", "published"),
    sa.Index("ix_mentions_post_key", "post_key"),
    sa.Index("ix_mentions_reply_key", "reply_key"),
)

# Every identity a mention is known by; a new mention sharing any key with a stored one is a duplicate.
mention_keys = sa.Table(
    "mention_keys", metadata,
    sa.Column("key", sa.String(96), primary_key=True),
    sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), nullable=False),
)

# Every source a mention was seen in; the mention's own `source` is the one it is credited to: the first in
# sources.yaml of those that delivered it (Mentions.add_mentions), whichever was stored first.
mention_sources = sa.Table(
    "mention_sources", metadata,
    sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
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
    sa.Column("last_problem", sa.Text),  # what its last fetch that read anything lost (rows skipped, a file)
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
# Posts by an organisation's own accounts (the brand's answers): never mentions, kept to match threads.
org_posts = sa.Table(
    "org_posts", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("org", sa.String(200), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("external_id", sa.String(1024), nullable=False),
    sa.Column("post_key", sa.String(32), nullable=False, unique=True),
    sa.Column("reply_key", sa.String(32)),
    sa.Column("url", sa.String(2048)),
    sa.Column("author", sa.String(300), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("published", UTCDateTime, nullable=False),
    sa.Column("fetched", UTCDateTime, nullable=False),
    sa.Index("ix_org_posts_reply_key", "reply_key"),
)
# A mention addressed to or answered by an organisation: one row per (mention, organisation), with the
# mention's time, channel, complaint and influence copied so that a period's figures are one indexed scan.
responses = sa.Table(
    "responses", metadata,
    sa.Column("mention_id", sa.Integer, sa.ForeignKey("mentions.id"), primary_key=True),
    sa.Column("org", sa.String(200), primary_key=True),
    sa.Column("published", UTCDateTime, nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("complaint", sa.Boolean, nullable=False),
    sa.Column("influence", sa.Float, nullable=False, default=0.0),
    sa.Column("addressed", sa.Boolean, nullable=False, default=False),
    sa.Column("answered", sa.Boolean, nullable=False, default=False),  # a ticket said so, or a reply came
    sa.Column("responded", UTCDateTime),  # the first answer in its thread (the earliest, whenever fetched)
    sa.Column("wait_minutes", sa.Float),  # from the mention to `responded`, at least 0
    sa.Index("ix_responses_org_published", "org", "addressed", "published"),
)
THREADS_META = "threads_version"  # 1: mentions.post_key and reply_key
SOURCE_PROBLEMS_META = "source_problems_version"  # 1: sources.last_problem
# Share of voice (digest/voice.py): the competitors' mentions by UTC day, organisation, channel, sentiment
# and complaint (the brand's are the rollups above) ...
org_rollups = sa.Table(
    "org_rollups", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("org", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("sentiment", sa.String(8), primary_key=True),
    sa.Column("complaint", sa.Boolean, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
# ... and their complaints by day, organisation, channel and topic (what its customers complain about).
org_topic_rollups = sa.Table(
    "org_topic_rollups", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("org", sa.String(200), primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("topic", sa.String(200), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
# The brand's mentions by UTC day, channel, detected language and sentiment (issue 18: the languages table).
language_rollups = sa.Table(
    "language_rollups", metadata,
    sa.Column("day", sa.Integer, primary_key=True),
    sa.Column("channel", sa.String(64), primary_key=True),
    sa.Column("language", sa.String(16), primary_key=True),
    sa.Column("sentiment", sa.String(8), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
ROLLUPS_META = "rollups_version"
# 2: day_rollups; 3: topic quote candidates rank single-topic complaints first; 4: language_rollups
ROLLUPS_VERSION = "4"
# the columns rollups.deltas reads
ROLLUP_COLUMNS = ("id", "channel", "published", "sentiment", "complaint", "topics", "score", "polarity",
                   "influence", "about_brand", "competitors", "language")
FRAME_COLUMNS = ("id", "source", "channel", "external_id", "url", "title", "text", "author", "published",
                  "influence", "polarity", "sentiment", "complaint", "topics", "score", "language")
_DROP_CANDIDATE = sa.text("DELETE FROM quote_candidates WHERE list = :list AND day = :day AND channel = :channel "
                          "AND mention_id = :mention_id")



# pg_advisory_xact_lock key that serializes creating the tables (any constant of our own)
_SCHEMA_LOCK = 0x6469676573745f31


def create_schema(engine: Engine) -> None:
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



def mentions_frame(conn: Connection, q: sa.Select[Any]) -> pd.DataFrame:
    """The mentions frame of docs/INTERFACES.md from a select of FRAME_COLUMNS, in published order."""
    try:
        df = pd.read_sql(q.order_by(mentions.c.published, mentions.c.id), conn)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read mentions: {reason(exc)}") from None
    df["published"] = pd.to_datetime(df["published"], utc=True)
    df["topics"] = [json.loads(t) if t else [] for t in df["topics"]]
    df["complaint"] = df["complaint"].astype(bool)
    for col in ("influence", "polarity", "score"):
        df[col] = df[col].astype(float)
    return df
