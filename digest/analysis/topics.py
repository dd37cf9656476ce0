"""Complaint topics: counts, shares and changes per configured topic, with a quote each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from ..formatting import number, percent, plain_line
from ..rollups import Facts
from .figures import count_change
from .frames import topic_lists
from .quotes import to_quotes
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
    # representative quote: the most negative complaint of the topic, the most influential among equals,
    # and not one an earlier topic already shows (a complaint often names two topics)
    quotes: dict[str, Quote] = {}
    if shown:
        ranked = pairs[pairs["topic"].isin(shown)].join(comp[["score", "influence"]], on="row")
        ranked = ranked.sort_values(["score", "influence"], ascending=[True, False], kind="stable")
        candidates = ranked.groupby("topic", sort=False).head(len(shown))  # enough to skip every earlier pick
        by_topic = {str(t): g["row"].tolist() for t, g in candidates.groupby("topic", sort=False)}
        used: set[int] = set()
        picks: dict[str, int] = {}
        for t in shown:
            rows_of_topic = by_topic.get(t, [])
            if not rows_of_topic:
                continue
            pick = next((r for r in rows_of_topic if r not in used), rows_of_topic[0])
            used.add(pick)
            picks[t] = pick
        for t, quote in zip(picks, to_quotes(comp.loc[list(picks.values())], tz), strict=True):
            quotes[t] = quote
    rows = []
    for t in shown:
        c = now[t]
        share = c / total * 100 if total else 0.0
        change = count_change(c, before.get(t, 0), against, up="bad") if prev is not None else None
        rows.append(TopicRow(plain_line(t, 60), c, number(c), share, percent(share), change, quotes.get(t)))
    return Capped(tuple(rows), len(present)), total - tagged, deltas
