"""One store over SQLAlchemy: SQLite file by default, PostgreSQL by URL.

Mentions are stored once (deduplicated by source id, URL and normalized text) and kept. The delivery
ledger makes a digest go out at most once per recipient and window, even with concurrent runs: a
send first *claims* its ledger row (insert, or compare-and-swap on a failed/stale row) and only the
claimant sends.

Rollups (digest/rollups.py) are kept in the transaction that adds mentions, so that a digest of any
window reads counts by hour and day and a few candidate quotes (`facts`), never every mention.

The store is one class assembled from a part per concern, all over one engine (base.py):

* schema.py: the tables; migrations.py: upgrades of stores written by earlier versions;
* mentions.py: adding mentions (deduplicated) and reading them;
* rollups.py: the rollup tables a digest reads (`facts`); voice.py: the competitors' counts (`voice`);
* replies.py: the organisations' own posts matched with their threads, and the response figures;
* sources.py: source health and fetch state;
* ledger.py: the delivery ledger;
* meta.py: small named values.

SQL stays in this package; the rest of the product calls Store's methods.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from .base import BUSY_TIMEOUT, DEFAULT_DB_NAME, connect, default_url, reason, shown_url, store_error
from .ledger import STALE_CLAIM, Ledger
from .mentions import Mentions, mention_keys_of
from .migrations import Migrations
from .replies import Replies, thread_key
from .rollups import Rollups
from .schema import create_schema
from .sources import Sources
from .voice import Voice

__all__ = ["BUSY_TIMEOUT", "DEFAULT_DB_NAME", "STALE_CLAIM", "Store", "default_url", "mention_keys_of",
           "thread_key"]


class Store(Mentions, Voice, Rollups, Replies, Sources, Ledger, Migrations):
    """The product's persistent state. Create with `Store.open(url)`; close with `close()`."""

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """Connect to `url` and create missing tables; raise StoreError with the reason.

        `busy_timeout`: seconds a SQLite write waits for another process's lock before giving up.
        """
        try:
            engine = connect(url, busy_timeout=busy_timeout)
            create_schema(engine)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            raise StoreError(f"cannot open the store {shown_url(url)}: {reason(exc, busy_timeout)}") from None
        # from here on, a locked database, a full disk or a lost server is one StoreError naming the store,
        # whichever method met it (a traceback would tell ops nothing more)
        sa.event.listen(engine, "handle_error", functools.partial(store_error, url=shown_url(url),
                                                                  busy_timeout=busy_timeout))
        store = cls(engine)
        store.migrate()
        return store
