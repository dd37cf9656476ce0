"""The "Did we answer?" section (issue 16): share of addressed mentions answered, the median wait for the
first answer, the same for complaints and by channel, against the previous period, and the addressed
complaints still unanswered -- the list an executive can act on today.

Computed from the store's ResponseFacts of an organisation (any: `response_section` takes the facts of
whichever accounts they were counted for, so that competitors' figures can sit beside the brand's).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..formatting import channel_label, compact, percent, plain_line, plural, time_ago
from ..models import ResponseCounts, ResponseFacts, Unanswered
from ..text import safe_url
from .figures import count_change, points_change
from .quotes import near_duplicate, word_set
from .summary import QUOTE_CHARS, Capped, Change

# lines of the unanswered list: the same text from several customers (a call-center note's template, a copied
# post) is one line that counts the others, so that five lines show five problems
UNANSWERED_SHOWN = 5

NO_SOURCE_NOTE = ("Did we answer? No source shows the brand's replies: list the brand's accounts "
                  "(brand.accounts) and map author and reply_to, or a ticket's first_response_at or status.")


@dataclasses.dataclass(frozen=True)
class ResponseRow:
    """Answers in one channel (or all: channel "")."""

    channel: str
    label: str
    addressed: int
    answered: int
    rate: float | None  # 0..100 of the addressed; None when none was addressed
    rate_display: str
    median_minutes: float | None
    median_display: str  # "42 min", "3.5 h", "2.1 days", or "–"
    complaints_addressed: int
    complaints_answered: int
    complaints_rate: float | None
    complaints_rate_display: str
    complaints_median_minutes: float | None
    complaints_median_display: str


@dataclasses.dataclass(frozen=True)
class WaitingQuote:
    """An addressed complaint nobody answered yet."""

    id: int
    text: str
    url: str | None
    channel: str
    channel_label: str
    author: str
    published: datetime  # local, aware
    when: str
    waiting: str  # "5 h", "3 days"
    influence: float
    influence_display: str
    alike: int = 0  # more unanswered complaints that say the same, folded into this line


@dataclasses.dataclass(frozen=True)
class Responses:
    """The section: shown when some source can show answers and something was addressed."""

    can_show: bool  # some source can show the brand's answers
    as_of: datetime  # local, aware: answers counted up to then, also those after the window
    as_of_label: str
    total: ResponseRow
    rate_change: Change | None  # in points against the previous period (None: nothing addressed then)
    median_change: Change | None  # relative; a longer wait is bad news
    channels: tuple[ResponseRow, ...]
    unanswered: Capped[WaitingQuote]

    @property
    def shown(self) -> bool:
        return self.can_show and self.total.addressed > 0

    @property
    def note(self) -> str:
        """The one data-health line when no source can show answers (rather than a section saying 0%)."""
        return "" if self.can_show else NO_SOURCE_NOTE


def wait_display(minutes: float | None) -> str:
    """A wait as read at a glance: minutes under two hours, hours under two days, then days."""
    if minutes is None:
        return "–"
    if minutes < 120:
        return f"{minutes:.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def _rate(answered: int, addressed: int) -> float | None:
    return answered / addressed * 100 if addressed else None


def response_row(c: ResponseCounts) -> ResponseRow:
    rate, c_rate = _rate(c.answered, c.addressed), _rate(c.complaints_answered, c.complaints_addressed)
    return ResponseRow(
        c.channel or "", channel_label(c.channel) if c.channel else "All channels", c.addressed, c.answered,
        rate, percent(rate) if rate is not None else "–", c.median_wait_minutes, wait_display(c.median_wait_minutes),
        c.complaints_addressed, c.complaints_answered, c_rate, percent(c_rate) if c_rate is not None else "–",
        c.complaints_median_wait_minutes, wait_display(c.complaints_median_wait_minutes))


def response_section(cur: ResponseFacts, prev: ResponseFacts | None, against: str, tz: ZoneInfo, *,
                     can_show: bool, shown: int = UNANSWERED_SHOWN) -> Responses:
    """The section from this window's facts and the previous window's (None: not read); the unanswered list
    is `shown` lines of the complaints `cur` lists."""
    total = response_row(cur.total)
    rate_change = median_change = None
    if prev is not None and prev.total.addressed and total.rate is not None:
        before = _rate(prev.total.answered, prev.total.addressed) or 0.0
        rate_change = points_change(total.rate, before, against, up="good", display_before=percent(before))
        if total.median_minutes is not None and prev.total.median_wait_minutes is not None:
            median_change = count_change(total.median_minutes, prev.total.median_wait_minutes, against, up="bad")
    as_of = cur.as_of.astimezone(tz)
    waiting = fold_alike([waiting_quote(u, cur.as_of, tz) for u in cur.unanswered], shown)
    return Responses(can_show, as_of, f"as of {as_of:%a} {as_of.day} {as_of:%b %H:%M %Z}", total, rate_change,
                     median_change, tuple(response_row(c) for c in cur.channels),
                     Capped(waiting, cur.unanswered_total, sum(q.alike for q in waiting)))


def fold_alike(ranked: list[WaitingQuote], shown: int) -> tuple[WaitingQuote, ...]:
    """The first `shown` lines of `ranked`, each later near-duplicate counted in the line that says the same
    (its `alike`) instead of shown again."""
    lines: list[WaitingQuote] = []
    seen: list[frozenset[str]] = []
    for q in ranked:
        words = word_set(q.text)
        same = next((i for i, other in enumerate(seen) if near_duplicate(words, other)), None)
        if same is not None:
            lines[same] = dataclasses.replace(lines[same], alike=lines[same].alike + 1)
        elif len(lines) < shown:
            lines.append(q)
            seen.append(words)
    return tuple(lines)


def waiting_quote(u: Unanswered, as_of: datetime, tz: ZoneInfo) -> WaitingQuote:
    """An unanswered complaint as shown: one clean line of text, local time, how long it has waited by `as_of`."""
    local = u.published.astimezone(tz)
    return WaitingQuote(u.id, plain_line(u.text, QUOTE_CHARS), safe_url(u.url), u.channel, channel_label(u.channel),
                        plain_line(u.author, 80), local, f"{local:%a} {local.day} {local:%b %H:%M}",
                        time_ago(max(as_of - u.published, timedelta(0))), u.influence,
                        f"{compact(u.influence)} reach" if u.influence > 0 else "")


@dataclasses.dataclass(frozen=True)
class OverdueAlert:
    """The "still unanswered" alert: influential complaints nobody answered within the limit (issue 16)."""

    brand: str
    after_hours: float
    complaints: tuple[WaitingQuote, ...]
    generated_at: datetime  # local, aware

    @property
    def limit_label(self) -> str:
        h = self.after_hours
        return f"{h:g} h" if h < 48 else f"{h / 24:.3g} days"

    @property
    def summary_line(self) -> str:
        return (f"{plural(len(self.complaints), 'complaint')} addressed to {self.brand} still unanswered after "
                f"{self.limit_label}, most influential first.")


def overdue_alert(brand: str, after_hours: float, overdue: tuple[Unanswered, ...], *, now: datetime,
                  tz: ZoneInfo) -> OverdueAlert:
    return OverdueAlert(plain_line(brand, 80), after_hours, tuple(waiting_quote(u, now, tz) for u in overdue),
                        now.astimezone(tz))


def quiet_responses(as_of: datetime) -> Responses:
    """The section when no source can show answers: not shown (data health says so, once)."""
    empty = response_row(ResponseCounts(None, 0, 0, None, 0, 0, None))
    return Responses(False, as_of, "", empty, None, None, (), Capped((), 0))


