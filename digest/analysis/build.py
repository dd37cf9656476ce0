"""The entry points: the mentions of a window and of the one before (frames or rollup Facts) -> a Summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd

from ..formatting import channel_label, number, percent, plain_line, signed
from ..models import ResponseCounts, SourceHealth
from ..periods import Window
from ..rollups import Facts
from ..voice import VoiceFacts, voice_from_frame
from .figures import channel_section, headline_of, kpi_changes, trend_section
from .frames import brand_rows, counts_of, facts_from_frame, prepare
from .health import health_section
from .languages import language_rows, shows_table, unscored_sentence
from .phrases import phrase_section
from .quotes import most_influential, most_negative, praise_section
from .responses import Responses
from .summary import (
    Kpi,
    Summary,
)
from .topics import topic_section
from .voice import voice_section


def summarize(
    current: pd.DataFrame,
    previous: pd.DataFrame,
    window: Window,
    previous_window: Window,
    *,
    year_ago: pd.DataFrame | None = None,
    year_ago_window: Window | None = None,
    health: Sequence[SourceHealth] = (),
    topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 — read only; matches docs/INTERFACES.md
    praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    brand: str,
    channels: Sequence[str] | None = None,
    now: datetime,
    competitors: Sequence[str] = (),
) -> Summary:
    """Everything the digest of `window` shows, compared with `previous_window` (and a year ago).

    The frames hold every mention of their window (rows outside it, or of other channels, are ignored).
    With `competitors`, frames of every organisation's mentions (`Store.mentions(every_organisation=True)`)
    also give the share of voice; the brand's figures read only the rows about the brand.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    wanted = tuple(channels) if channels is not None else None
    here, before = prepare(current, window, wanted), prepare(previous, previous_window, wanted)
    voice = previous_voice = None
    if competitors:
        voice, previous_voice = voice_from_frame(here), voice_from_frame(before)
    cur = facts_from_frame(brand_rows(here), window)
    prev = facts_from_frame(brand_rows(before), previous_window, trend=False)
    ago = None
    if year_ago is not None and year_ago_window is not None:
        ago = facts_from_frame(brand_rows(prepare(year_ago, year_ago_window, wanted)), year_ago_window, trend=False)
    return summarize_facts(cur, prev, window, previous_window, year_ago=ago, year_ago_window=year_ago_window,
                           health=health, topics=topics, praise_topics=praise_topics, brand=brand,
                           channels=channels, now=now, competitors=competitors, voice=voice,
                           previous_voice=previous_voice)


def summarize_facts(
    current: Facts,
    previous: Facts,
    window: Window,
    previous_window: Window,
    *,
    year_ago: Facts | None = None,
    year_ago_window: Window | None = None,
    baseline: Facts | None = None,
    baseline_window: Window | None = None,
    health: Sequence[SourceHealth] = (),
    topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 — read only, like summarize's
    praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    brand: str,
    channels: Sequence[str] | None = None,
    now: datetime,
    responses: Responses | None = None,
    competitors: Sequence[str] = (),
    voice: VoiceFacts | None = None,
    previous_voice: VoiceFacts | None = None,
    voice_responses: Mapping[str, ResponseCounts] | None = None,
    added: Mapping[str, datetime] | None = None,
) -> Summary:
    """`summarize` from Facts (the store's rollups, or facts_from_frame) of the recipient's channels.

    `baseline` (of `baseline_window`, several periods before `window`) is what phrases emerge against; without
    it, the previous window.

    `competitors` (names) with `voice` and `previous_voice` (their VoiceFacts): the share of voice, with each
    organisation's `voice_responses` (its answers) by name where given; `added`: the competitors listed after
    the install, with since when they are counted.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime")
    tz = window.tz
    wanted = tuple(channels) if channels is not None else None
    cur, prev = current, previous
    ago = year_ago if year_ago_window is not None else None
    c_cur, c_prev = counts_of(cur), counts_of(prev)
    has_previous = c_prev.volume > 0
    against = previous_window.label
    ago_label = year_ago_window.label if year_ago_window is not None and ago is not None else None
    vs_prev = kpi_changes(c_cur, c_prev, against)
    vs_ago = kpi_changes(c_cur, counts_of(ago), ago_label or "") if ago is not None else (None,) * 4
    kpis = [
        Kpi("volume", "Mentions", c_cur.volume, number(c_cur.volume), vs_prev[0], vs_ago[0]),
        Kpi("negative_share", "Negative share", c_cur.negative_share,
            percent(c_cur.negative_share) if c_cur.scored else "–", vs_prev[1], vs_ago[1]),
        Kpi("net_sentiment", "Net sentiment", c_cur.net,
            signed(c_cur.net) if c_cur.scored else "–", vs_prev[2], vs_ago[2]),
        Kpi("complaints", "Complaints", c_cur.complaints, number(c_cur.complaints), vs_prev[3], vs_ago[3]),
    ]
    prev_or_none = prev if has_previous else None
    channel_rows = channel_section(cur, prev_or_none, against, wanted)
    topic_rows, uncategorized, topic_deltas = topic_section(cur, prev_or_none, c_cur.complaints, against, topics, tz)
    if baseline is not None and baseline_window is not None and counts_of(baseline).volume:
        # several earlier periods: a phrase emerges against their average
        phrases, emerging, phrases_note = phrase_section(cur, baseline, c_cur.complaints,
                                                         counts_of(baseline).complaints, window, baseline_window,
                                                         brand, tz)
    else:
        phrases, emerging, phrases_note = phrase_section(cur, prev_or_none, c_cur.complaints, c_prev.complaints,
                                                         window, previous_window, brand, tz)
    data_health = health_section(health, wanted, now)
    languages = language_rows(cur.language_counts)
    local_now = now.astimezone(tz)
    return Summary(
        brand=plain_line(brand, 80),
        period=window.period,
        window=window,
        window_label=window.label,
        previous_label=against,
        year_ago_label=ago_label,
        generated_at=local_now,
        generated_label=f"{local_now:%a} {local_now.day} {local_now:%b %Y %H:%M %Z}",
        timezone=str(tz.key),
        channels_filter=wanted or (),
        filter_note=("Filtered to: " + ", ".join(channel_label(c) for c in wanted)) if wanted else "",
        headline=headline_of(window.label, against, c_cur, c_prev, topic_deltas, channel_rows.rows,
                           data_health),
        has_previous=has_previous,
        volume=kpis[0],
        negative_share=kpis[1],
        net_sentiment=kpis[2],
        complaints=kpis[3],
        negative=c_cur.negative,
        neutral=c_cur.neutral,
        positive=c_cur.positive,
        unscored=c_cur.unscored,
        languages=languages,
        show_languages=shows_table(languages),
        unscored_note=unscored_sentence(languages) + ("." if c_cur.unscored else ""),
        trend=trend_section(cur, window),
        channels=channel_rows,
        topics=topic_rows,
        uncategorized_complaints=uncategorized,
        phrases=phrases,
        emerging=emerging,
        phrases_note=phrases_note,
        most_negative=most_negative(cur, c_cur.negative, tz),
        most_influential=most_influential(cur, tz),
        praise=praise_section(cur, c_cur, c_prev if has_previous else None, against, praise_topics, tz),
        health=data_health,
        responses=responses,
        share_of_voice=voice_section(brand, competitors, cur, prev_or_none, voice,
                                     previous_voice if has_previous else None, against, voice_responses,
                                     added=added or {}, window=window, previous_window=previous_window)
        if competitors and voice is not None else None,
    )
