"""The language of each mention (issue 18): the column, and its migration for stores written before it.

Mentions stored before detection existed keep language "" (not detected): they were scored as English
and stay as they were; only new mentions are detected.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..errors import StoreError
from .base import shown_url
from .meta import Meta

log = logging.getLogger(__name__)

LANGUAGE_META = "language_column"
LANGUAGE_VERSION = "1"


class LanguageColumn(Meta):
    """Adds mentions.language to a store written by an earlier version, once."""

    def add_language_column(self) -> None:
        """Add the column (default "") if the store lacks it; later opens read one meta row.

        Raises StoreError if another process holds the migration lock for an hour.
        """
        if self.get_meta(LANGUAGE_META) == LANGUAGE_VERSION:
            return
        with self.lock("migrate", wait=3600) as got:
            if not got:
                raise StoreError(f"another process is still migrating {shown_url(str(self.url))}")
            columns = {c["name"] for c in sa.inspect(self.engine).get_columns("mentions")}
            if "language" not in columns:
                with self.engine.begin() as conn:
                    conn.execute(sa.text("ALTER TABLE mentions ADD COLUMN language VARCHAR(16) NOT NULL DEFAULT ''"))
                log.info("added the language column to the mentions")
            self.set_meta(LANGUAGE_META, LANGUAGE_VERSION)
