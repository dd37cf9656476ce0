"""Pure analysis: mentions (DataFrames, or the store's rollups) -> a `Summary` of every figure a digest shows.

Everything here is computed, formatted and capped up front so that templates only lay it out: a
user-edited template cannot get a figure wrong, and the HTML stays under Gmail's clipping size
whatever the volume. The DataFrames are the ones `Store.mentions()` returns (docs/INTERFACES.md).

Two entries give the same Summary: `summarize` takes DataFrames of every mention of the windows;
`summarize_facts` takes `rollups.Facts` (counts, topic counts, quote candidates, a complaint sample),
which the store answers from its rollups at any volume. `summarize` reduces its frames to Facts
first, so both share every step after that.

The package: summary.py (the model) and spikes.py; frames.py (Facts and counts); one module per part of
the digest: figures.py (KPIs, trend, channels, headline), topics.py, phrases.py (mining and lists),
quotes.py, health.py. Display formatting is digest/formatting.py's.
"""

from __future__ import annotations

from ..formatting import channel_label, plain_line
from .build import summarize, summarize_facts
from .frames import facts_from_frame
from .quotes import to_quotes
from .responses import NO_SOURCE_NOTE, Responses, quiet_responses, response_section
from .spikes import Spike
from .summary import (
    PHRASE_SAMPLE,
    Capped,
    Change,
    ChannelRow,
    Health,
    HealthRow,
    Kpi,
    PhraseRow,
    Praise,
    Quote,
    Summary,
    TopicCount,
    TopicRow,
    Trend,
    TrendBucket,
)

__all__ = ["Capped", "Change", "ChannelRow", "Health", "HealthRow", "Kpi", "PhraseRow", "Praise", "Quote",
    "Spike", "Summary", "TopicCount", "TopicRow", "Trend", "TrendBucket", "channel_label", "facts_from_frame",
    "plain_line", "NO_SOURCE_NOTE",
    "Responses", "quiet_responses", "response_section", "summarize", "summarize_facts", "to_quotes", "PHRASE_SAMPLE"]


