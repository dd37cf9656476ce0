"""Quotes: the posts a digest links to (most negative, most influential, praise)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from ..classify.topics import keyword_language
from ..formatting import channel_label, compact, number, percent, plain_line
from ..rollups import Facts
from ..text import safe_url
from .figures import count_change
from .frames import Counts, as_number
from .summary import MAX_PRAISE_QUOTES, MAX_PRAISE_TOPICS, MAX_QUOTES, QUOTE_CHARS, Capped, Praise, Quote, TopicCount


def to_quotes(df: pd.DataFrame, tz: ZoneInfo | None = None) -> tuple[Quote, ...]:
    """Rows of a mentions frame as Quotes, in the frame's order, with times shown in `tz` (default UTC)."""
    out = []
    for row in df.to_dict("records"):
        published = pd.Timestamp(row["published"]).to_pydatetime(warn=False)  # ns -> us is fine here
        if tz is not None:
            published = published.astimezone(tz)
        influence = as_number(row["influence"])
        url = row["url"]
        out.append(Quote(
            id=int(row["id"]),
            text=plain_line(row["text"], QUOTE_CHARS) or plain_line(row["title"], QUOTE_CHARS),
            url=safe_url(url if isinstance(url, str) else None),
            channel=str(row["channel"]),
            channel_label=channel_label(str(row["channel"])),
            author=plain_line(row["author"], 60),
            title=plain_line(row["title"], 120),
            published=published,
            when=f"{published:%a} {published.day} {published:%b %H:%M}",
            sentiment=str(row["sentiment"]),
            score=as_number(row["score"]),
            influence=influence,
            influence_display=f"{compact(influence)} reach" if influence > 0 else "",
        ))
    return tuple(out)


# Two texts that share this share of their word pairs are one text: a template with other places, names and
# numbers, a copy-paste, a retweet. A list never shows both. Numbers and capitalised words (places, names,
# the first word of a sentence) count as slots, alike whatever they say; pairs rather than single words,
# so that two texts about the same things in other words are not taken for copies.
_SAME_TEXT = 0.5
_WORD = re.compile(r"[^\W\d_]+|\d+")


def _slot(word: str) -> str:
    if word.isdigit():
        return "<n>"
    return "<w>" if word[0].isupper() else word.casefold()


def word_set(text: str) -> frozenset[str]:
    """What near_duplicate compares: the text's pairs of consecutive words, numbers and capitalised words as
    slots."""
    words = [_slot(w) for w in _WORD.findall(text)]
    if len(words) < 3:
        return frozenset([" ".join(words)])
    return frozenset(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))


def near_duplicate(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two texts (their `word_set`s) say the same thing: Jaccard overlap >= _SAME_TEXT."""
    if not a or not b:
        return a == b
    return len(a & b) >= _SAME_TEXT * len(a | b)


def distinct(ranked: pd.DataFrame, limit: int, *, avoid: Sequence[frozenset[str]] = ()) -> pd.DataFrame:
    """The first `limit` rows of `ranked` that are not near-duplicates of an earlier row (or of `avoid`)."""
    kept: list[int] = []
    seen: list[frozenset[str]] = list(avoid)
    for i, text in enumerate(ranked["text"].astype(str)):
        words = word_set(text)
        if any(near_duplicate(words, other) for other in seen):
            continue
        kept.append(i)
        seen.append(words)
        if len(kept) == limit:
            break
    return ranked.iloc[kept]


def most_negative(cur: Facts, total: int, tz: ZoneInfo) -> Capped[Quote]:
    neg = cur.ranked[cur.ranked["sentiment"] == "negative"]
    ranked = neg.sort_values(["score", "polarity", "influence"], ascending=[True, True, False], kind="stable")
    return Capped(to_quotes(distinct(ranked, MAX_QUOTES), tz), total)


def most_influential(cur: Facts, tz: ZoneInfo) -> Capped[Quote]:
    loud = cur.ranked[cur.ranked["influence"] > 0]
    ranked = loud.sort_values(["influence", "score"], ascending=[False, True], kind="stable")
    return Capped(to_quotes(distinct(ranked, MAX_QUOTES), tz), int(cur.counts["influential"].sum()))


def keyword_pattern(keywords: Sequence[str]) -> str:
    """A case-insensitive regex matching any keyword as whole words (handles like @x need no boundary)."""
    parts = []
    for k in keywords:
        left = r"(?<!\w)" if k[:1].isalnum() else ""
        right = r"(?!\w)" if k[-1:].isalnum() else ""
        parts.append(left + re.escape(k.casefold()) + right)
    return "(?i)(?:" + "|".join(parts) + ")"


def praise_section(cur: Facts, c_cur: Counts, c_prev: Counts | None, against: str,
            praise_topics: Mapping[str, Sequence[str]], tz: ZoneInfo) -> Praise:
    """Praise: how much, its change, its topics and the warmest quotes.

    A praise topic counts the positive mentions tagged with it (the pipeline tags them at ingest) and,
    when every text of the window is at hand, those whose text names one of its keywords.
    """
    pos = cur.ranked[cur.ranked["sentiment"] == "positive"]
    count = c_cur.positive
    volume = c_cur.volume
    change = None
    if c_prev is not None:
        change = count_change(count, c_prev.positive, against, up="good")
    found = []
    if not cur.exhaustive:
        tc = cur.topic_counts
        positive = tc[tc["sentiment"] == "positive"]
        for name in praise_topics:
            n = sum(int(k) for names, k in zip(positive["topics"], positive["n"], strict=True) if name in names)
            if n:
                found.append(TopicCount(plain_line(name, 60), n, number(n)))
    elif not pos.empty:
        texts = pos["text"].astype(str)
        tagged = pos["topics"].map(lambda ts: set(ts) if isinstance(ts, (list, tuple, np.ndarray)) else set())
        for name, keywords in praise_topics.items():
            hit = tagged.map(lambda ts, name=name: name in ts).to_numpy(dtype=bool)
            if keywords:
                plain = [keyword_language(k)[1] for k in keywords]  # "pt:mala" is "mala" in any text here
                hit = hit | texts.str.contains(keyword_pattern(plain), regex=True).to_numpy(dtype=bool)
            n = int(hit.sum())
            if n:
                found.append(TopicCount(plain_line(name, 60), n, number(n)))
    found.sort(key=lambda t: (-t.count, t.name))
    ranked = pos.sort_values(["score", "influence"], ascending=[False, False], kind="stable")
    quotes = Capped(to_quotes(distinct(ranked, MAX_PRAISE_QUOTES), tz), count)
    share = count / volume * 100 if volume else 0.0
    return Praise(count, number(count), percent(share), change, Capped(tuple(found[:MAX_PRAISE_TOPICS]), len(found)),
                  quotes)
