"""Share of voice: the competitors' mentions counted per organisation (pure pandas; the store writes and reads it).

The brand's own figures are the rollups of digest/rollups.py (mentions about the brand only); what share of
voice adds is, per competitor, day, channel, sentiment and complaint, how many mentions are about it, and
per topic how many of its complaints name it. A mention about several organisations counts for each. The
cost of a window grows with its days times the organisations, never with the mentions.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from .rollups import DAY, distinct_topics

__all__ = ["COUNT_KEYS", "TOPIC_KEYS", "VoiceFacts", "competitor_names", "empty_voice_counts",
           "empty_voice_topics", "voice_deltas", "voice_from_frame"]

COUNT_KEYS = ("org", "channel", "sentiment", "complaint")
TOPIC_KEYS = ("org", "channel", "topic")


@dataclasses.dataclass(frozen=True)
class VoiceFacts:
    """What share of voice needs from one window's competitor mentions (of the recipient's channels).

    counts: one row per (org, channel, sentiment, complaint) with `n` mentions.
    topics: one row per (org, channel, topic) with `n` complaints naming that topic.
    """

    counts: pd.DataFrame
    topics: pd.DataFrame


def empty_voice_counts() -> pd.DataFrame:
    return pd.DataFrame({"org": pd.Series(dtype="object"), "channel": pd.Series(dtype="object"),
                         "sentiment": pd.Series(dtype="object"), "complaint": pd.Series(dtype="bool"),
                         "n": pd.Series(dtype="int64")})


def empty_voice_topics() -> pd.DataFrame:
    return pd.DataFrame({"org": pd.Series(dtype="object"), "channel": pd.Series(dtype="object"),
                         "topic": pd.Series(dtype="object"), "n": pd.Series(dtype="int64")})


def competitor_names(value: object) -> tuple[str, ...]:
    """The competitor names of a mention (a JSON list as stored, or a sequence), each once."""
    return distinct_topics(value)  # the same shape: a list of distinct non-empty names


def _exploded(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (mention, competitor it is about), with day, channel, sentiment, complaint, topics."""
    if rows.empty or "competitors" not in rows.columns:
        return pd.DataFrame(columns=["day", "org", "channel", "sentiment", "complaint", "topics"])
    raw = rows["competitors"].to_numpy(dtype=object)
    # most mentions are about the brand alone: '[]' needs no parsing
    names = [() if isinstance(v, str) and v in ("", "[]") else competitor_names(v) for v in raw]
    counts = np.fromiter((len(n) for n in names), dtype="int64", count=len(names))
    if not counts.any():
        return pd.DataFrame(columns=["day", "org", "channel", "sentiment", "complaint", "topics"])
    at = np.repeat(np.arange(len(rows)), counts)
    seconds = pd.DatetimeIndex(pd.to_datetime(rows["published"], utc=True)).as_unit("ns").asi8 // 1_000_000_000
    return pd.DataFrame({
        "day": (seconds // DAY)[at],
        "org": [n for ns in names for n in ns],
        "channel": rows["channel"].astype(str).to_numpy(dtype=object)[at],
        "sentiment": rows["sentiment"].astype(str).to_numpy(dtype=object)[at],
        "complaint": rows["complaint"].astype(bool).to_numpy()[at],
        "topics": rows["topics"].to_numpy(dtype=object)[at],
    })


def _topic_rows(each: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    comp = each[each["complaint"].astype(bool)]
    if comp.empty:
        return pd.DataFrame(columns=[*keys, "topic", "n"])
    topics = pd.Series([list(distinct_topics(t)) for t in comp["topics"]], index=comp.index).explode().dropna()
    if topics.empty:
        return pd.DataFrame(columns=[*keys, "topic", "n"])
    out = comp.loc[topics.index, keys].assign(topic=topics.to_numpy(), n=1)
    return out.groupby([*keys, "topic"], as_index=False, sort=True)[["n"]].sum()


def voice_deltas(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What stored mentions (with published, channel, sentiment, complaint, topics, competitors) add to the
    share-of-voice tables: counts by (day, org, channel, sentiment, complaint) and complaint topics by
    (day, org, channel, topic), each in key order."""
    each = _exploded(rows)
    if each.empty:
        return (pd.DataFrame(columns=["day", *COUNT_KEYS, "n"]), pd.DataFrame(columns=["day", *TOPIC_KEYS, "n"]))
    counts = each.assign(n=1).groupby(["day", *COUNT_KEYS], as_index=False, sort=True)[["n"]].sum()
    return counts, _topic_rows(each, ["day", "org", "channel"])


def voice_from_frame(df: pd.DataFrame) -> VoiceFacts:
    """The VoiceFacts of a frame of every mention of a window (with a `competitors` column)."""
    counts, topics = voice_deltas(df)
    if counts.empty:
        return VoiceFacts(empty_voice_counts(), empty_voice_topics())
    c = counts.groupby(list(COUNT_KEYS), as_index=False, sort=True)[["n"]].sum()
    t = topics.groupby(list(TOPIC_KEYS), as_index=False, sort=True)[["n"]].sum() if not topics.empty \
        else empty_voice_topics()
    return VoiceFacts(_typed(c, empty_voice_counts()), _typed(t, empty_voice_topics()))


def _typed(frame: pd.DataFrame, empty: pd.DataFrame) -> pd.DataFrame:
    out = frame[list(empty.columns)].copy()
    out["n"] = out["n"].astype("int64")
    if "complaint" in out.columns:
        out["complaint"] = out["complaint"].astype(bool)
    return out.reset_index(drop=True)


def as_json(names: tuple[str, ...]) -> str:
    """The stored form of a mention's competitor names."""
    return json.dumps(list(names), ensure_ascii=False)
