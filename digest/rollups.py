"""What a digest needs from a window's mentions, in a form whose size grows with time, not volume.

A digest shows totals, a trend, a per-channel table, topic counts, a handful of quotes and phrases
mined from a sample of complaints. None of that needs every mention of the window in memory:

* counts by UTC hour, channel, sentiment and complaint (`mention_rollups`);
* counts of topic sets by UTC day, channel, sentiment and complaint (`topic_rollups`);
* for each day, channel and quote list ("negative", "influential", "praise", "topic:<name>") the
  KEEP best candidates (`quote_candidates`): the best k of a window are among the best k of its days;
* a hash-spread `sample` number on every mention, so that a few thousand complaints of a year can be
  read through an index.

The store keeps these up to date in the transaction that adds mentions (`deltas` says what to add) and
answers a window with `Facts`; `digest.analyze.summarize_facts` turns Facts into a Summary. A
DataFrame of mentions gives the same Facts (`digest.analyze.facts_from_frame`), which is what keeps the
two paths equal (tests/test_rollups.py).
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from . import periods
from .periods import Window

__all__ = [
    "DAY", "HOUR", "KEEP", "SAMPLE_BUCKETS", "Candidate", "Deltas", "Facts", "bucket_edges", "count_frame",
    "deltas", "distinct_topics", "empty_counts", "empty_topic_counts", "rank_lists", "sample_of",
    "topic_frame",
]

HOUR = 3600
DAY = 86400
# Candidates kept per quote list, day and channel: as many as a digest shows of any list (MAX_TOPICS
# topics each pick a quote not already used by an earlier one, so a topic list needs that many).
KEEP = 8
# `mentions.sample` is in [0, SAMPLE_BUCKETS): reading buckets 0..b-1 reads about b/SAMPLE_BUCKETS of them.
SAMPLE_BUCKETS = 1024

COUNT_KEYS = ("bucket", "channel", "sentiment", "complaint")
TOPIC_KEYS = ("channel", "sentiment", "complaint", "topics")

Candidate = tuple[float, float, float, datetime, int]  # sort key: ranks, then published and id


@dataclasses.dataclass(frozen=True)
class Facts:
    """What a summary needs from one window's mentions (of the recipient's channels).

    counts: one row per (bucket, channel, sentiment, complaint) with `n` mentions and `influential`
        (influence > 0) among them; `bucket` indexes `periods.buckets(window)` (0 without a trend).
    topic_counts: one row per (channel, sentiment, complaint, topics) with `n`, for mentions with topics;
        `topics` is a tuple of distinct names.
    ranked: mention rows (the columns of `Store.mentions()`, in published order) that hold at least the
        best KEEP of every quote list; every mention of the window when `exhaustive`.
    complaint_sample: complaints (same columns), all of them or an even sample.
    exhaustive: `ranked` is every mention of the window, so that text can be searched (praise keywords).
    """

    counts: pd.DataFrame
    topic_counts: pd.DataFrame
    ranked: pd.DataFrame
    complaint_sample: pd.DataFrame
    exhaustive: bool = False


def empty_counts() -> pd.DataFrame:
    return pd.DataFrame({"bucket": pd.Series(dtype="int64"), "channel": pd.Series(dtype="object"),
                         "sentiment": pd.Series(dtype="object"), "complaint": pd.Series(dtype="bool"),
                         "n": pd.Series(dtype="int64"), "influential": pd.Series(dtype="int64")})


def empty_topic_counts() -> pd.DataFrame:
    return pd.DataFrame({"channel": pd.Series(dtype="object"), "sentiment": pd.Series(dtype="object"),
                         "complaint": pd.Series(dtype="bool"), "topics": pd.Series(dtype="object"),
                         "n": pd.Series(dtype="int64")})


def distinct_topics(value: object) -> tuple[str, ...]:
    """The topic names of a mention (a list, tuple, array or JSON list), each once, in their order."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value else []
        except ValueError:
            return ()
    if not isinstance(value, (list, tuple, np.ndarray)):
        return ()
    return tuple(dict.fromkeys(t for t in value if isinstance(t, str) and t))


def bucket_edges(window: Window, trend: bool) -> list[int]:
    """UTC epoch seconds where each trend bucket of `window` starts (just the start without a trend)."""
    starts = periods.buckets(window) if trend else [window.start]
    return [int(s.timestamp()) for s in starts]


def count_frame(df: pd.DataFrame, edges: Sequence[int]) -> pd.DataFrame:
    """Counts (see Facts.counts) of a mentions frame whose rows all fall in the window of `edges`."""
    if df.empty:
        return empty_counts()
    seconds = pd.DatetimeIndex(df["published"]).as_unit("ns").asi8 // 1_000_000_000
    bucket = np.searchsorted(np.asarray(edges, dtype="int64"), seconds, side="right") - 1
    frame = pd.DataFrame({
        "bucket": np.maximum(bucket, 0).astype("int64"),
        "channel": df["channel"].astype(str).to_numpy(dtype=object),
        "sentiment": df["sentiment"].astype(str).to_numpy(dtype=object),
        "complaint": df["complaint"].astype(bool).to_numpy(),
        "n": np.ones(len(df), dtype="int64"),
        "influential": (df["influence"].astype(float) > 0).to_numpy(dtype="int64"),
    })
    return frame.groupby(list(COUNT_KEYS), as_index=False, sort=True)[["n", "influential"]].sum()


def topic_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Topic counts (see Facts.topic_counts) of a mentions frame: complaints and praise with topics."""
    if df.empty:
        return empty_topic_counts()
    topics = [distinct_topics(t) for t in df["topics"]]
    keep = np.array([bool(t) for t in topics], dtype=bool)
    keep &= df["complaint"].astype(bool).to_numpy() | (df["sentiment"] == "positive").to_numpy()
    if not keep.any():
        return empty_topic_counts()
    frame = pd.DataFrame({
        "channel": df["channel"].astype(str).to_numpy(dtype=object)[keep],
        "sentiment": df["sentiment"].astype(str).to_numpy(dtype=object)[keep],
        "complaint": df["complaint"].astype(bool).to_numpy()[keep],
        "topics": pd.Series([t for t, k in zip(topics, keep, strict=True) if k], dtype=object).to_numpy(),
        "n": np.ones(int(keep.sum()), dtype="int64"),
    })
    return frame.groupby(list(TOPIC_KEYS), as_index=False, sort=True)[["n"]].sum()


def rank_lists(sentiment: str, complaint: bool, topics: Sequence[str], score: float, polarity: float,
               influence: float) -> list[tuple[str, tuple[float, float, float]]]:
    """The quote lists a mention belongs to, each with its ascending sort key (best first).

    The orders are the ones digest.analyze sorts by: most negative (score, polarity, then the louder),
    most influential (reach, then the more negative), praise (score, then reach, both descending) and a
    complaint topic's representative (score, then the louder).
    """
    score = _num(score)
    influence = _num(influence)
    out: list[tuple[str, tuple[float, float, float]]] = []
    if sentiment == "negative":
        out.append(("negative", (score, _num(polarity), -influence)))
    if influence > 0:
        out.append(("influential", (-influence, score, 0.0)))
    if sentiment == "positive":
        out.append(("praise", (-score, -influence, 0.0)))
    if complaint:
        out.extend((f"topic:{t}", (score, -influence, 0.0)) for t in topics)
    return out


def _num(value: object) -> float:
    if isinstance(value, (int, float)) and not math.isnan(value):
        return float(value)
    return 0.0


def sample_of(key: str) -> int:
    """The `sample` number of a mention from one of its hex-digest keys (spread evenly, stable)."""
    return int(key.rpartition(":")[2][:8] or "0", 16) % SAMPLE_BUCKETS


@dataclasses.dataclass
class Deltas:
    """What adding some mentions adds to the rollup tables."""

    counts: dict[tuple[int, str, str, bool], list[int]] = dataclasses.field(default_factory=dict)
    topics: dict[tuple[int, str, str, bool, str], int] = dataclasses.field(default_factory=dict)
    candidates: dict[tuple[str, int, str], list[Candidate]] = dataclasses.field(default_factory=dict)

    def count_rows(self) -> list[dict[str, Any]]:
        """Rows for mention_rollups, in key order (a fixed order keeps concurrent upserts deadlock-free)."""
        return [{"hour": h, "channel": c, "sentiment": s, "complaint": k, "n": v[0], "influential": v[1]}
                for (h, c, s, k), v in sorted(self.counts.items())]

    def topic_rows(self) -> list[dict[str, Any]]:
        """Rows for topic_rollups, in key order."""
        return [{"day": d, "channel": c, "sentiment": s, "complaint": k, "topics": t, "n": n}
                for (d, c, s, k, t), n in sorted(self.topics.items())]

    def candidate_rows(self) -> list[dict[str, Any]]:
        """Rows for quote_candidates: the best KEEP of each (list, day, channel) of these mentions."""
        return [{"list": name, "day": day, "channel": channel, "mention_id": c[4], "r1": c[0], "r2": c[1],
                 "r3": c[2], "published": c[3]}
                for (name, day, channel), cands in sorted(self.candidates.items())
                for c in heapq.nsmallest(KEEP, cands)]


def deltas(rows: Iterable[Mapping[Any, Any]]) -> Deltas:
    """Rollup additions of stored mentions: rows with id, channel, published (aware), sentiment,
    complaint, topics, score, polarity and influence."""
    out = Deltas()
    counts, topic_counts, candidates = out.counts, out.topics, out.candidates
    for r in rows:
        published: datetime = r["published"]
        seconds = int(published.timestamp())
        hour, day = seconds // HOUR, seconds // DAY
        channel, sentiment, complaint = str(r["channel"]), str(r["sentiment"]), bool(r["complaint"])
        influence = _num(r["influence"])
        key = (hour, channel, sentiment, complaint)
        bump = counts.get(key)
        if bump is None:
            counts[key] = [1, int(influence > 0)]
        else:
            bump[0] += 1
            bump[1] += influence > 0
        topics = distinct_topics(r["topics"])
        if topics and (complaint or sentiment == "positive"):
            tkey = (day, channel, sentiment, complaint, json.dumps(list(topics)))
            topic_counts[tkey] = topic_counts.get(tkey, 0) + 1
        for name, rank in rank_lists(sentiment, complaint, topics, r["score"], r["polarity"], influence):
            candidates.setdefault((name, day, channel), []).append((*rank, published, int(r["id"])))
    return out
