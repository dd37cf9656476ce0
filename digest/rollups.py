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
answers a window with `Facts`; `digest.analysis.summarize_facts` turns Facts into a Summary. A
DataFrame of mentions gives the same Facts (`digest.analysis.facts_from_frame`), which is what keeps the
two paths equal (tests/test_rollups.py).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import periods
from .periods import Window

__all__ = [
    "DAY", "HOUR", "KEEP", "SAMPLE_BUCKETS", "Deltas", "Facts", "bucket_edges", "candidates", "count_frame",
    "deltas", "distinct_topics", "empty_counts", "empty_language_counts", "empty_topic_counts", "language_frame",
    "sample_of", "topic_frame",
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
LANGUAGE_KEYS = ("channel", "language", "sentiment")
# the language of a mention with none recorded (stored before detection existed): counted as undetermined
NO_LANGUAGE = "und"


def empty_language_counts() -> pd.DataFrame:
    return pd.DataFrame({"channel": pd.Series(dtype="object"), "language": pd.Series(dtype="object"),
                         "sentiment": pd.Series(dtype="object"), "n": pd.Series(dtype="int64")})


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
    other_sample: the other mentions (same columns), all or an even sample: what every mention says, so that
        phrase mining can tell what is said in complaints in particular. None when not read.
    exhaustive: `ranked` is every mention of the window, so that text can be searched (praise keywords).
    language_counts: one row per (channel, language, sentiment) with `n` mentions; `language` is the
        detected ISO 639-1 code, "und" when undetermined or not detected.
    """

    counts: pd.DataFrame
    topic_counts: pd.DataFrame
    ranked: pd.DataFrame
    complaint_sample: pd.DataFrame
    exhaustive: bool = False
    other_sample: pd.DataFrame | None = None
    language_counts: pd.DataFrame = dataclasses.field(default_factory=empty_language_counts)


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


def languages_of(df: pd.DataFrame) -> np.ndarray:
    """The language code of each row of a mentions frame ("und" where none is recorded)."""
    if "language" not in df.columns:
        return np.full(len(df), NO_LANGUAGE, dtype=object)
    codes = df["language"].fillna("").astype(str).to_numpy(dtype=object)
    return np.where(codes == "", NO_LANGUAGE, codes).astype(object)


def language_frame(df: pd.DataFrame, *, by_day: bool = False) -> pd.DataFrame:
    """Language counts (see Facts.language_counts) of a mentions frame; `by_day`: also by UTC day (the
    rows of the language_rollups table)."""
    if df.empty:
        return empty_language_counts().assign(day=pd.Series(dtype="int64")) if by_day else empty_language_counts()
    frame = pd.DataFrame({
        "channel": df["channel"].astype(str).to_numpy(dtype=object),
        "language": languages_of(df),
        "sentiment": df["sentiment"].astype(str).to_numpy(dtype=object),
        "n": np.ones(len(df), dtype="int64"),
    })
    keys = list(LANGUAGE_KEYS)
    if by_day:
        seconds = pd.DatetimeIndex(pd.to_datetime(df["published"], utc=True)).as_unit("ns").asi8 // 1_000_000_000
        frame["day"] = seconds // DAY
        keys = ["day", *keys]
    return frame.groupby(keys, as_index=False, sort=True)[["n"]].sum()


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


def _num(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").fillna(0.0).to_numpy(dtype="float64")


def sample_of(key: str) -> int:
    """The `sample` number of a mention from one of its hex-digest keys (spread evenly, stable)."""
    return int(key.rpartition(":")[2][:8] or "0", 16) % SAMPLE_BUCKETS


def _canonical(topics: pd.Series) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """Each row's topics as a canonical JSON list ("" for none), and the names of each canonical list."""
    raw = [t if isinstance(t, str) else json.dumps(list(distinct_topics(t))) for t in topics]
    names: dict[str, tuple[str, ...]] = {}
    canon: dict[str, str] = {}
    for value in set(raw):  # a handful of distinct topic lists, whatever the number of rows
        found = distinct_topics(value)
        key = json.dumps(list(found)) if found else ""
        canon[value] = key
        names[key] = found
    return np.array([canon[v] for v in raw], dtype=object), names


@dataclasses.dataclass(frozen=True)
class Deltas:
    """What adding some stored mentions adds to the rollup tables (each frame in key order, so that
    concurrent upserts lock rows in one order and cannot deadlock).

    counts: hour, channel, sentiment, complaint, n, influential (mention_rollups)
    topics: day, channel, sentiment, complaint, topics (a JSON list), n (topic_rollups)
    candidates: list, day, channel, mention_id, r1, r2, r3, published -- the best KEEP of each list, day
        and channel among these mentions (quote_candidates)
    """

    counts: pd.DataFrame
    topics: pd.DataFrame
    candidates: pd.DataFrame


def candidates(rows: pd.DataFrame) -> pd.DataFrame:
    """The best KEEP mentions of each quote list per UTC day and channel (see Deltas.candidates).

    Lists and their orders (ascending r1, r2, r3, then published and id) are those digest.analysis sorts
    by: "negative" (score, polarity, then the louder), "influential" (influence > 0: reach, then the more
    negative), "praise" (positive: score and reach, both descending) and "topic:<name>" (complaints of
    that topic: those naming fewest topics first, so that a topic's quote is mainly about it; then score,
    then the louder).
    """
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("list", "object"), ("day", "int64"), ("channel", "object"), ("mention_id", "int64"),
            ("r1", "float64"), ("r2", "float64"), ("r3", "float64"), ("published", "datetime64[ns, UTC]"))})
    published = pd.to_datetime(rows["published"], utc=True)
    ns = pd.DatetimeIndex(published).as_unit("ns").asi8
    base = pd.DataFrame({
        "day": ns // 1_000_000_000 // DAY,
        "channel": rows["channel"].astype(str).to_numpy(dtype=object),
        "mention_id": rows["id"].astype("int64").to_numpy(),
        "published": published.to_numpy(),
        "ns": ns,
    })
    score, polarity, influence = _num(rows["score"]), _num(rows["polarity"]), _num(rows["influence"])
    sentiment = rows["sentiment"].astype(str).to_numpy(dtype=object)
    zero = np.zeros(len(rows))
    parts = []
    for name, mask, r1, r2, r3 in (
        ("negative", sentiment == "negative", score, polarity, -influence),
        ("influential", influence > 0, -influence, score, zero),
        ("praise", sentiment == "positive", -score, -influence, zero),
    ):
        if mask.any():
            parts.append(base[mask].assign(list=name, r1=r1[mask], r2=r2[mask], r3=r3[mask]))
    complaint = rows["complaint"].astype(bool).to_numpy()
    canon, names = _canonical(rows["topics"])
    tagged = complaint & (canon != "")
    if tagged.any():
        lists = pd.Series([["topic:" + t for t in names[k]] for k in canon[tagged]], index=np.flatnonzero(tagged))
        exploded = lists.explode()
        at = exploded.index.to_numpy()
        width = np.array([float(len(names.get(k, ()))) for k in canon], dtype=float)  # topics the mention names
        parts.append(base.iloc[at].assign(list=exploded.to_numpy(), r1=width[at], r2=score[at], r3=-influence[at]))
    if not parts:
        return candidates(rows.iloc[0:0])
    every = pd.concat(parts, ignore_index=True)
    every = every.sort_values(["list", "day", "channel", "r1", "r2", "r3", "ns", "mention_id"], kind="stable")
    best = every.groupby(["list", "day", "channel"], sort=False).head(KEEP)
    return best[["list", "day", "channel", "mention_id", "r1", "r2", "r3", "published"]].reset_index(drop=True)


def deltas(rows: pd.DataFrame) -> Deltas:
    """Rollup additions of stored mentions: a frame with id, channel, published, sentiment, complaint,
    topics (JSON lists or sequences), score, polarity and influence."""
    seconds = pd.DatetimeIndex(pd.to_datetime(rows["published"], utc=True)).as_unit("ns").asi8 // 1_000_000_000
    sentiment = rows["sentiment"].astype(str).to_numpy(dtype=object)
    complaint = rows["complaint"].astype(bool).to_numpy()
    base = pd.DataFrame({
        "hour": seconds // HOUR,
        "day": seconds // DAY,
        "channel": rows["channel"].astype(str).to_numpy(dtype=object),
        "sentiment": sentiment,
        "complaint": complaint,
        "n": np.ones(len(rows), dtype="int64"),
        "influential": (_num(rows["influence"]) > 0).astype("int64"),
    })
    counts = base.groupby(["hour", "channel", "sentiment", "complaint"], as_index=False, sort=True)[
        ["n", "influential"]].sum()
    canon, _ = _canonical(rows["topics"]) if len(rows) else (np.array([], dtype=object), {})
    keep = (canon != "") & (complaint | (sentiment == "positive"))
    topics = base[keep].assign(topics=canon[keep]).groupby(
        ["day", "channel", "sentiment", "complaint", "topics"], as_index=False, sort=True)[["n"]].sum()
    return Deltas(counts, topics, candidates(rows))
