"""The store's engine: opening a SQLite file or a PostgreSQL database, its locks, and one StoreError for
every database-level failure. The parts (mentions, rollups, sources, ledger, meta) all stand on StoreBase.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from ..errors import StoreError

DEFAULT_DB_NAME = "digest.sqlite3"
# Seconds a SQLite write waits for another process's lock (env DIGEST_DB_BUSY_TIMEOUT in the CLI).
BUSY_TIMEOUT = 30.0


def default_url(config_dir: Path) -> str:
    """The embedded default: a SQLite file beside the configuration."""
    return f"sqlite:///{config_dir / DEFAULT_DB_NAME}"



class StoreBase:
    """What every part of the store shares: the engine, and locks across processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.url = engine.url
        self.is_sqlite = engine.dialect.name == "sqlite"


    def close(self) -> None:
        self.engine.dispose()

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


def connect(url: str, *, busy_timeout: float = BUSY_TIMEOUT) -> Engine:
    """An engine for `url` (SQLite with WAL and a busy timeout; PostgreSQL through psycopg 3).

    Raises SQLAlchemyError, OSError or ValueError: Store.open turns them into one StoreError.
    """
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
        sa.event.listen(engine, "connect", functools.partial(sqlite_pragmas, busy_ms=int(busy_timeout * 1000)))
    return engine


def sqlite_pragmas(dbapi_conn: Any, _record: Any, *, busy_ms: int) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the digest read while an ingest writes; busy_timeout waits out a short lock instead of failing
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")
    # in WAL mode NORMAL stays consistent through a crash or power loss and skips an fsync per commit (a
    # steady-state ingest commits once per source); only the last commits before a power loss may be lost
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def chunks(items: Sequence[Any], n: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]



def utc_at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def shown_url(url: str) -> str:
    """The URL with any password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown without its credentials part
        return url.split("@")[-1]


def reason(exc: BaseException, busy_timeout: float | None = None) -> str:
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


def store_error(ctx: sa.engine.ExceptionContext, *, url: str, busy_timeout: float) -> None:
    """SQLAlchemy `handle_error` hook: a database-level failure becomes one StoreError naming the store.

    Constraint violations (IntegrityError) and programming errors pass through: callers rely on the first
    (the delivery ledger's claims), and the second are bugs that deserve their traceback.
    """
    exc = ctx.sqlalchemy_exception
    if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
        raise StoreError(f"store {url}: {reason(exc, busy_timeout)}") from None


def insert_missing(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows`, skipping those whose primary key is stored already."""
    if not rows:
        return
    insert = sqlite_dialect.insert(table) if conn.dialect.name == "sqlite" else pg_dialect.insert(table)
    conn.execute(insert.on_conflict_do_nothing(), list(rows))
