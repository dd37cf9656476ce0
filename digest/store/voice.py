"""Share of voice (the SQL side of digest/voice.py): the competitors' mentions of a window, by organisation.

Whole UTC days come from org_rollups and org_topic_rollups, the parts of days at the window's edges from the
mentions themselves (as `facts` reads the brand's), so the figures are exact in every time zone and their cost
grows with days times organisations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..periods import Window
from ..rollups import DAY
from ..voice import COUNT_KEYS, TOPIC_KEYS, VoiceFacts, empty_voice_counts, empty_voice_topics, voice_from_frame
from .base import reason
from .meta import Meta
from .rollups import Rollups
from .schema import meta, org_rollups, org_topic_rollups

TRACKED_KEY = "tracked:"  # + a competitor's name: when the first ingest that listed it ran (meta)


def _tracked_key(name: str) -> str:
    key = TRACKED_KEY + name
    return key if len(key) <= 64 else TRACKED_KEY + hashlib.sha256(name.encode()).hexdigest()[:40]


class Voice(Rollups, Meta):
    """Reading the competitors' counts for share of voice."""

    def track_competitors(self, names: Sequence[str], *, now: datetime, installed: datetime) -> None:
        """Record, once for each of `names`, since when it is counted: `now`, the ingest that first lists it --
        or `installed` for one the store already counts (it was listed before this was recorded)."""
        keys = {name: _tracked_key(name) for name in names}
        try:
            with self.engine.connect() as conn:
                known = set(conn.execute(sa.select(meta.c.key).where(meta.c.key.in_(keys.values()))).scalars())
                new = [name for name, key in keys.items() if key not in known]
                counted = set(conn.execute(sa.select(org_rollups.c.org).where(org_rollups.c.org.in_(new))
                                           .distinct()).scalars()) if new else set()
            for name in new:
                self.setdefault_meta(keys[name], (installed if name in counted else now).isoformat())
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot record the competitors tracked: {reason(exc)}") from None

    def tracked_since(self, names: Sequence[str]) -> dict[str, datetime]:
        """Since when each of `names` is counted (those recorded: see track_competitors)."""
        keys = {_tracked_key(name): name for name in names}
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(sa.select(meta.c.key, meta.c.value).where(meta.c.key.in_(keys))).all()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read since when the competitors are counted: {reason(exc)}") from None
        return {keys[key]: datetime.fromisoformat(value) for key, value in rows}

    def voice(self, window: Window, channels: Iterable[str] | None = None) -> VoiceFacts:
        """The competitors' counts of `window` (of `channels`, if given); raises StoreError."""
        wanted = list(channels) if channels is not None else None
        start, end = int(window.start_utc.timestamp()), int(window.end_utc.timestamp())
        day0, day1 = -(-start // DAY), end // DAY
        if day0 < day1:
            partial = [(a, b) for a, b in ((start, day0 * DAY), (day1 * DAY, end)) if a < b]
        else:
            day0 = day1 = 0
            partial = [(start, end)]
        o, t = org_rollups.c, org_topic_rollups.c
        counts = sa.select(o.org, o.channel, o.sentiment, o.complaint, sa.func.sum(o.n)).where(
            o.day >= day0, o.day < day1).group_by(o.org, o.channel, o.sentiment, o.complaint)
        topics = sa.select(t.org, t.channel, t.topic, sa.func.sum(t.n)).where(
            t.day >= day0, t.day < day1).group_by(t.org, t.channel, t.topic)
        if wanted is not None:
            counts, topics = counts.where(o.channel.in_(wanted)), topics.where(t.channel.in_(wanted))
        try:
            with self.engine.connect() as conn:
                days = VoiceFacts(
                    pd.DataFrame([tuple(r) for r in conn.execute(counts)], columns=list(empty_voice_counts().columns)),
                    pd.DataFrame([tuple(r) for r in conn.execute(topics)], columns=list(empty_voice_topics().columns)))
                edges = voice_from_frame(self._rollup_rows(conn, partial, wanted, brand=False))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot read the share-of-voice counts: {reason(exc)}") from None
        return VoiceFacts(_sum([days.counts, edges.counts], list(COUNT_KEYS), empty_voice_counts()),
                          _sum([days.topics, edges.topics], list(TOPIC_KEYS), empty_voice_topics()))


def _sum(frames: list[pd.DataFrame], keys: list[str], empty: pd.DataFrame) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return empty
    both = pd.concat(frames, ignore_index=True)
    if "complaint" in both.columns:
        both["complaint"] = both["complaint"].astype(bool)
    out = both.groupby(keys, as_index=False, sort=True)[["n"]].sum()
    out["n"] = out["n"].astype("int64")
    return out
