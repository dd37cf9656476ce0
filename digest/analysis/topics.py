"""Complaint topics: counts, shares and changes per configured topic, with a quote each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from ..formatting import number, percent, plain_line
from ..rollups import Facts
from .figures import count_change
from .frames import topic_lists
from .quotes import distinct, to_quotes, word_set
from .summary import MAX_TOPICS, Capped, Quote, TopicRow


def topic_pairs(complaints: pd.DataFrame, allowed: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """One row per (complaint row, topic), a topic counted once per complaint."""
    if complaints.empty:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "topic": pd.Series(dtype="str")})
    exploded = topic_lists(complaints)
    pairs = pd.DataFrame({"row": exploded.index.to_numpy(), "topic": exploded.astype(str).to_numpy()})
    if allowed:
        pairs = pairs[pairs["topic"].isin(list(allowed))]
    return pairs.drop_duplicates()


def topic_totals(facts: Facts, allowed: Mapping[str, Sequence[str]]) -> tuple[dict[str, int], int]:
    """Complaints per topic (a topic counted once per complaint), and complaints in at least one topic."""
    per: dict[str, int] = {}
    tagged = 0
    tc = facts.topic_counts
    comp = tc[tc["complaint"].astype(bool)]
    for names, n in zip(comp["topics"], comp["n"], strict=True):
        kept = [t for t in names if not allowed or t in allowed]
        if kept:
            tagged += int(n)
            for t in kept:
                per[t] = per.get(t, 0) + int(n)
    return per, tagged


def topic_section(cur: Facts, prev: Facts | None, total: int, against: str, topics: Mapping[str, Sequence[str]],
            tz: ZoneInfo) -> tuple[Capped[TopicRow], int, dict[str, int]]:
    """Top complaint topics, complaints in no topic, and each topic's change in count."""
    comp = cur.ranked[cur.ranked["complaint"].astype(bool)]
    pairs = topic_pairs(comp, topics)
    now, tagged = topic_totals(cur, topics)
    before = topic_totals(prev, topics)[0] if prev is not None else {}
    names = sorted(set(now) | set(before), key=lambda t: (-now.get(t, 0), -before.get(t, 0), t))
    deltas = {t: now.get(t, 0) - before.get(t, 0) for t in names}
    present = [t for t in names if now.get(t, 0) > 0]
    shown = present[:MAX_TOPICS]
    # a topic's quote is a complaint mainly about it: of those naming fewest topics (this one alone, if any),
    # the most negative, the most influential among equals; never one an earlier topic shows, nor a
    # near-duplicate of it (one template with another city, a copy-paste)
    quotes: dict[str, Quote] = {}
    if shown:
        width = topic_lists(comp).groupby(level=0).size().rename("width")
        ranked = pairs[pairs["topic"].isin(shown)].join(comp[["score", "influence", "text"]], on="row")
        ranked = ranked.join(width, on="row")
        ranked = ranked.sort_values(["width", "score", "influence"], ascending=[True, True, False], kind="stable")
        used: list[frozenset[str]] = []
        picks: dict[str, int] = {}
        by_topic = {str(t): g for t, g in ranked.groupby("topic", sort=False)}
        for t in shown:
            group = by_topic.get(t)
            if group is None or group.empty:
                continue
            pick = distinct(group, 1, avoid=used)
            if pick.empty:  # every candidate repeats an earlier topic's quote: show the best anyway
                pick = group.iloc[:1]
            row = int(pick["row"].iloc[0])
            used.append(word_set(str(comp.loc[row, "text"])))
            picks[t] = row
        for t, quote in zip(picks, to_quotes(comp.loc[list(picks.values())], tz), strict=True):
            quotes[t] = quote
    rows = []
    for t in shown:
        c = now[t]
        share = c / total * 100 if total else 0.0
        change = count_change(c, before.get(t, 0), against, up="bad") if prev is not None else None
        rows.append(TopicRow(plain_line(t, 60), c, number(c), share, percent(share), change, quotes.get(t)))
    return Capped(tuple(rows), len(present)), total - tagged, deltas
