"""Period windows cut in a time zone: the last complete day, ISO week, month, quarter or year."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["daily", "weekly", "monthly", "quarterly", "annual"]
PERIODS: tuple[Period, ...] = ("daily", "weekly", "monthly", "quarterly", "annual")

# The grain at which a period's trend is drawn: enough bars to show a shape, few enough to read.
TREND_GRAIN: dict[Period, str] = {
    "daily": "hour",
    "weekly": "day",
    "monthly": "day",
    "quarterly": "week",
    "annual": "month",
}


@dataclasses.dataclass(frozen=True)
class Window:
    """[start, end) in local time of `tz`; both aware."""

    period: Period
    start: datetime
    end: datetime

    @property
    def tz(self) -> ZoneInfo:
        assert isinstance(self.start.tzinfo, ZoneInfo)
        return self.start.tzinfo

    @property
    def start_utc(self) -> datetime:
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    @property
    def key(self) -> str:
        """Stable identifier of the window for the send ledger, e.g. `weekly:2026-W47`."""
        return f"{self.period}:{self.label_short}"

    @property
    def label_short(self) -> str:
        d = self.start.date()
        if self.period == "daily":
            return d.isoformat()
        if self.period == "weekly":
            y, w, _ = d.isocalendar()
            return f"{y}-W{w:02d}"
        if self.period == "monthly":
            return f"{d.year}-{d.month:02d}"
        if self.period == "quarterly":
            return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
        return str(d.year)

    @property
    def label(self) -> str:
        """Human label: `Mon 16 Nov 2026`, `Week 47 (16–22 Nov 2026)`, `November 2026`, `Q4 2026`, `2026`."""
        d = self.start.date()
        if self.period == "daily":
            return f"{d:%a} {d.day} {d:%b %Y}"
        if self.period == "weekly":
            last = (self.end - timedelta(days=1)).date()
            y, w, _ = d.isocalendar()
            if d.month == last.month:
                span = f"{d.day}–{last.day} {last:%b %Y}"
            else:
                span = f"{d.day} {d:%b} – {last.day} {last:%b %Y}"
            return f"Week {w} ({span})"
        if self.period == "monthly":
            return f"{d:%B %Y}"
        if self.period == "quarterly":
            return f"Q{(d.month - 1) // 3 + 1} {d.year}"
        return str(d.year)


def _local_midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=tz)


def _period_start(period: Period, d: date) -> date:
    """First local day of the period that contains day `d`."""
    if period == "daily":
        return d
    if period == "weekly":
        return d - timedelta(days=d.weekday())
    if period == "monthly":
        return d.replace(day=1)
    if period == "quarterly":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    return date(d.year, 1, 1)


def _add(period: Period, d: date, n: int) -> date:
    """Move a period start `n` periods forward (or back)."""
    if period == "daily":
        return d + timedelta(days=n)
    if period == "weekly":
        return d + timedelta(weeks=n)
    months = {"monthly": 1, "quarterly": 3, "annual": 12}[period] * n
    m = d.month - 1 + months
    return date(d.year + m // 12, m % 12 + 1, 1)


def window_containing(period: Period, at: datetime, tz: ZoneInfo) -> Window:
    """The (possibly incomplete) window of `period` that contains instant `at`."""
    if at.tzinfo is None:
        raise ValueError("naive datetime")
    start = _period_start(period, at.astimezone(tz).date())
    return Window(period, _local_midnight(start, tz), _local_midnight(_add(period, start, 1), tz))


def last_complete(period: Period, at: datetime, tz: ZoneInfo) -> Window:
    """The last complete window of `period` that ends at or before instant `at`."""
    return previous(window_containing(period, at, tz))


def previous(window: Window, n: int = 1) -> Window:
    """The window `n` periods before `window`."""
    start = _add(window.period, window.start.date(), -n)
    tz = window.tz
    return Window(window.period, _local_midnight(start, tz), _local_midnight(_add(window.period, start, 1), tz))


def year_before(window: Window) -> Window:
    """The same window one year earlier (for quarterly and annual comparisons)."""
    per_year = {"daily": 0, "weekly": 0, "monthly": 12, "quarterly": 4, "annual": 1}[window.period]
    if per_year:
        return previous(window, per_year)
    # days and ISO weeks: the window 52 weeks / 364 days earlier keeps the weekday
    days = 364
    tz = window.tz
    start = window.start.date() - timedelta(days=days)
    end = window.end.date() - timedelta(days=days)
    return Window(window.period, _local_midnight(start, tz), _local_midnight(end, tz))


def parse_date(value: str, tz: ZoneInfo) -> datetime:
    """`--date` value: ISO date (`2026-11-23`, taken as local midnight in tz) or ISO datetime."""
    try:
        if len(value) == 10:
            return _local_midnight(date.fromisoformat(value), tz)
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not an ISO date or datetime: {value!r}") from None
    return dt.replace(tzinfo=tz) if dt.tzinfo is None else dt


def buckets(window: Window) -> list[datetime]:
    """Starts (local, aware) of the trend buckets that cover the window, at the period's grain."""
    grain = TREND_GRAIN[window.period]
    tz = window.tz
    out: list[datetime] = []
    if grain == "hour":
        # step in UTC so a DST day has 23 or 25 hourly buckets, each a real hour
        t = window.start_utc
        while t < window.end_utc:
            out.append(t.astimezone(tz))
            t += timedelta(hours=1)
        return out
    d = window.start.date()
    end = window.end.date()
    while d < end:
        out.append(_local_midnight(d, tz))
        if grain == "day":
            d += timedelta(days=1)
        elif grain == "week":
            d = d - timedelta(days=d.weekday()) + timedelta(weeks=1)
        else:
            d = _add("monthly", d.replace(day=1), 1)
    return out
