"""Source health and fetch state: one row per source, updated after every attempt."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..models import SourceHealth, SourceResult
from .base import StoreBase, chunks
from .schema import sources


class Sources(StoreBase):
    """What each source last did, and what it keeps between runs (ETags, file fingerprints)."""

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
            for chunk in chunks(sorted(r.name for r in results), 500):
                known.update(conn.execute(sa.select(sources.c.name).where(sources.c.name.in_(chunk))).scalars())
            fresh = [{"name": r.name, "channel": r.channel, "state": "{}", "consecutive_failures": 0,
                      "last_items": 0} for r in results if r.name not in known]
            if fresh:
                conn.execute(sa.insert(sources), fresh)
            shapes: dict[tuple[bool, tuple[str, ...]], list[dict[str, Any]]] = {}
            for r in results:
                values = _outcome(r, at)
                shapes.setdefault((r.status == "error", tuple(sorted(values))), []).append({**values, "b_name": r.name})
            for (failed, columns), rows in shapes.items():
                sets: dict[str, Any] = {c: sa.bindparam(c) for c in columns}
                if failed:
                    sets["consecutive_failures"] = sources.c.consecutive_failures + 1
                conn.execute(sa.update(sources).where(sources.c.name == sa.bindparam("b_name")).values(sets), rows)

    def _record_source(self, conn: Connection, result: SourceResult, at: datetime) -> None:
        row = conn.execute(sa.select(sources).where(sources.c.name == result.name)).mappings().first()
        values = _outcome(result, at)
        if result.status == "error":
            values["consecutive_failures"] = (row["consecutive_failures"] if row else 0) + 1
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
                                        r["consecutive_failures"], r["last_items"], r["last_problem"]))
        return out


def _outcome(result: SourceResult, at: datetime) -> dict[str, Any]:
    """The columns one attempt sets (a failure's count of consecutive failures is the caller's)."""
    if result.partial:  # a part of a source read in parts: where the next run goes on from, nothing else yet
        return {"channel": result.channel, "state": json.dumps(result.state)}
    values: dict[str, Any] = {"channel": result.channel, "last_attempt": at}
    if result.status != "error":
        values.update(last_success=at, last_error=None, consecutive_failures=0)
        if result.status == "ok":  # an unchanged feed says nothing new about its size, or its losses
            values["last_items"] = result.items_seen
            values["last_problem"] = "; ".join(result.problems)[:2000] or None
        if result.state:
            values["state"] = json.dumps(result.state)
    else:
        values["last_error"] = result.error or "failed"
    return values
