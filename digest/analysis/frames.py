"""Mentions frames and rollup Facts: reading the counts every section starts from."""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..models import UNSCORED
from ..periods import Window
from ..rollups import Facts, bucket_edges, count_frame, language_frame, topic_frame
from .summary import PHRASE_SAMPLE


@dataclasses.dataclass(frozen=True)
class Counts:
    """The basic figures of one frame."""

    volume: int
    negative: int
    neutral: int
    positive: int
    complaints: int
    unscored: int = 0  # in a language the classifier cannot score: in volume, not in the shares

    @property
    def scored(self) -> int:
        return self.volume - self.unscored

    @property
    def negative_share(self) -> float:
        """Negative mentions per 100 scored ones (unscored mentions are no evidence either way)."""
        return self.negative / self.scored * 100 if self.scored else 0.0

    @property
    def net(self) -> float:
        return (self.positive - self.negative) / self.scored * 100 if self.scored else 0.0


def counts_by_sentiment(n: pd.Series, sentiment: pd.Series, complaint: pd.Series) -> Counts:
    """Counts from rollup rows' `n`, `sentiment` and `complaint` columns (neutral: any other scored value)."""
    volume = int(n.sum())
    neg = int(n[sentiment == "negative"].sum())
    pos = int(n[sentiment == "positive"].sum())
    unscored = int(n[sentiment == UNSCORED].sum())
    return Counts(volume, neg, volume - neg - pos - unscored, pos, int(n[complaint.astype(bool)].sum()), unscored)


def counts_of(facts: Facts) -> Counts:
    c = facts.counts
    return counts_by_sentiment(c["n"], c["sentiment"], c["complaint"])


def only_channels(df: pd.DataFrame, channels: Sequence[str] | None) -> pd.DataFrame:
    """Rows of the recipient's channels (the caller usually filtered already; this makes sure)."""
    if channels is None or df.empty:
        return df
    return df[df["channel"].isin(list(channels))]


def topic_lists(df: pd.DataFrame) -> pd.Series:
    """The topics column exploded to one row per (mention, topic), indexed like `df`."""
    exploded = df["topics"].explode()
    return exploded[exploded.map(lambda t: isinstance(t, str) and t != "")]


def as_number(value: object) -> float:
    """A float column's value, 0.0 for missing (NaN or None)."""
    if isinstance(value, numbers.Real) and not math.isnan(value):
        return float(value)
    return 0.0


COLUMNS = ("id", "source", "channel", "external_id", "url", "title", "text", "author", "published",
            "influence", "polarity", "sentiment", "complaint", "topics", "score")


EMPTY_DTYPES = {"id": "int64", "published": "datetime64[ns, UTC]", "complaint": "bool",
                 "influence": "float64", "polarity": "float64", "score": "float64"}


def prepare(df: pd.DataFrame, window: Window, channels: Sequence[str] | None) -> pd.DataFrame:
    """The rows of `window` and the recipient's channels, positionally indexed."""
    if df.empty and not set(COLUMNS) <= set(df.columns):  # a bare pd.DataFrame() means "no mentions"
        df = pd.DataFrame({c: pd.Series(dtype=EMPTY_DTYPES.get(c, "object")) for c in COLUMNS})
    if not df.empty:
        published = df["published"]
        df = df[(published >= window.start_utc) & (published < window.end_utc)]
    return only_channels(df, channels).reset_index(drop=True)


def brand_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows about the brand of a frame of every organisation's mentions (a frame without the
    `about_brand` column is the brand's already), positionally indexed."""
    if "about_brand" not in df.columns or df.empty:
        return df
    return df[df["about_brand"].astype(bool).to_numpy()].reset_index(drop=True)


def sentiment_codes(df: pd.DataFrame) -> np.ndarray:
    """0 negative, 1 neutral (anything unrecognised), 2 positive, 3 unscored."""
    s = df["sentiment"].to_numpy()
    return np.where(s == "negative", 0, np.where(s == "positive", 2, np.where(s == UNSCORED, 3, 1)))


def facts_from_frame(df: pd.DataFrame, window: Window, *, trend: bool = True) -> Facts:
    """The Facts of a frame of every mention of `window` (and the recipient's channels, see prepare)."""
    comp = df[df["complaint"].astype(bool)]
    # phrase mining is the one step that is not vectorised: a fixed-seed sample on large volumes
    sample = comp.sample(n=PHRASE_SAMPLE, random_state=0) if len(comp) > PHRASE_SAMPLE else comp
    rest = df[~df["complaint"].astype(bool)]
    other = rest.sample(n=PHRASE_SAMPLE, random_state=0) if len(rest) > PHRASE_SAMPLE else rest
    return Facts(count_frame(df, bucket_edges(window, trend)), topic_frame(df), df, sample, exhaustive=True,
                 other_sample=other, language_counts=language_frame(df))
