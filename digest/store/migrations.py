"""Migrations: bring a store written by an earlier version up to date, once."""

from __future__ import annotations

import logging

import pandas as pd
import sqlalchemy as sa

from ..classify.language import SCORED
from ..errors import StoreError
from ..models import UNSCORED
from ..rollups import (
    SAMPLE_BUCKETS,
)
from .base import shown_url
from .languages import LanguageColumn
from .rollups import add_rollups
from .schema import (
    ROLLUP_COLUMNS,
    ROLLUPS_META,
    ROLLUPS_VERSION,
    SOURCE_PROBLEMS_META,
    THREADS_META,
    day_rollups,
    language_rollups,
    mention_rollups,
    mentions,
    meta,
    org_rollups,
    org_topic_rollups,
    quote_candidates,
    topic_rollups,
)

log = logging.getLogger(__name__)
UNSCORED_META = "unscored_version"  # 1: stored mentions in languages that cannot be scored are "unscored"

class Migrations(LanguageColumn):
    """Schema and rollup upgrades (the sample column, the daily rollups, columns added since)."""

    def add_columns(self) -> None:
        """Add the columns of schema.py an existing table lacks (each has a default for the rows stored
        before: `server_default`, or NULL), under the migration lock. Raises StoreError as `migrate` does."""
        if not self._missing_columns():
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            missing = self._missing_columns()  # another process may have added them meanwhile
            with self.engine.begin() as conn:
                for table, column in missing:
                    ddl = sa.schema.CreateColumn(column).compile(dialect=self.engine.dialect)
                    conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {ddl}"))
                    log.info("added the column %s.%s", table.name, column.name)

    def _missing_columns(self) -> list[tuple[sa.Table, sa.Column[object]]]:
        inspector = sa.inspect(self.engine)
        out = []
        for table in (mentions,):
            have = {c["name"] for c in inspector.get_columns(table.name)}
            out += [(table, c) for c in table.columns
                    if c.name not in have and (c.server_default is not None or c.nullable)]
        return out

    def migrate(self) -> None:
        """Bring a store written by an earlier version up to date (the sample column, the rollups).

        Runs once per store; later opens only read one meta row. Raises StoreError if another process
        holds the migration lock for an hour.
        """
        self.add_language_column()  # first: rebuilding the rollups reads it
        self._migrate_threads()
        self._migrate_source_problems()
        self.add_columns()
        self._migrate_unscored()  # before the rollups: it asks for their rebuild when it changed a mention
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
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            found = self.get_meta(ROLLUPS_META)
            if found == ROLLUPS_VERSION:
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
                for table in (quote_candidates, topic_rollups, mention_rollups, day_rollups, org_rollups,
                              org_topic_rollups, language_rollups):
                    conn.execute(sa.delete(table))
                last, added = 0, 0
                while True:
                    chunk = conn.execute(sa.select(*(mentions.c[c] for c in ROLLUP_COLUMNS)).where(
                        mentions.c.id > last).order_by(mentions.c.id).limit(100_000)).all()
                    if not chunk:
                        break
                    add_rollups(conn, pd.DataFrame(chunk, columns=list(ROLLUP_COLUMNS)))
                    last, added = int(chunk[-1][0]), added + len(chunk)
                conn.execute(sa.delete(meta).where(meta.c.key == ROLLUPS_META))
                conn.execute(sa.insert(meta).values(key=ROLLUPS_META, value=ROLLUPS_VERSION))
            if added:
                log.info("counted %d stored mentions into the rollups", added)

    def _migrate_unscored(self) -> None:
        """Mentions stored before "unscored" existed (issue 18) in a language the classifier cannot score were
        scored as English (mostly "neutral"): they become what the classifier now says of them, "unscored",
        no complaint, no topics, score and polarity 0, and the rollups are rebuilt from the mentions, once.
        Mentions without a detected language ("": stored before detection) stay as they were."""
        if self.get_meta(UNSCORED_META) == "1":
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            if self.get_meta(UNSCORED_META) == "1":
                return
            m = mentions.c
            with self.engine.begin() as conn:
                changed = conn.execute(sa.update(mentions).where(
                    m.language != "", m.language.not_in(sorted(SCORED)), m.sentiment != UNSCORED).values(
                    sentiment=UNSCORED, complaint=False, topics="[]", score=0.0, polarity=0.0)).rowcount
                if changed:  # the counts, topics and quote candidates of those mentions are stale
                    conn.execute(sa.delete(meta).where(meta.c.key == ROLLUPS_META))
                conn.execute(sa.delete(meta).where(meta.c.key == UNSCORED_META))
                conn.execute(sa.insert(meta).values(key=UNSCORED_META, value="1"))
            if changed:
                log.info("%d stored mentions in languages that cannot be scored are now unscored", changed)

    def _migrate_source_problems(self) -> None:
        """Stores written before sources.last_problem (issue 19) get the column, once (empty: no problem known)."""
        if self.get_meta(SOURCE_PROBLEMS_META) == "1":
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            with self.engine.begin() as conn:
                if "last_problem" not in {c["name"] for c in sa.inspect(conn).get_columns("sources")}:
                    conn.execute(sa.text("ALTER TABLE sources ADD COLUMN last_problem TEXT"))
            self.setdefault_meta(SOURCE_PROBLEMS_META, "1")

    def _migrate_threads(self) -> None:
        """Stores written before threads (issue 16) get mentions.post_key and reply_key, once.

        Mentions stored before have no key: answers to them are stored but not matched with them.
        """
        if self.get_meta(THREADS_META) == "1":
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            with self.engine.begin() as conn:
                columns = {c["name"] for c in sa.inspect(conn).get_columns("mentions")}
                for name in ("post_key", "reply_key"):
                    if name not in columns:
                        conn.execute(sa.text(f"ALTER TABLE mentions ADD COLUMN {name} VARCHAR(32)"))
                for index in mentions.indexes:
                    if index.name in ("ix_mentions_post_key", "ix_mentions_reply_key"):
                        index.create(conn, checkfirst=True)
            self.setdefault_meta(THREADS_META, "1")
