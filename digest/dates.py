"""The dates a mention may carry: one range, applied to every source kind and again by the store.

Ticketing systems write `01/01/0001` for "no date", feeds carry years like 0001 or 9999, and an epoch
field may hold anything. pandas counts time in nanoseconds (1677..2262) and a database has its own
limits, so one such value used to stop every ingest and digest. A date outside the range is bad input:
that entry is skipped and named, the others are stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["AHEAD", "EARLIEST", "LATEST_STORED", "date_problem", "storage_problem"]

# Nothing a customer wrote online or to a call center predates the Unix epoch; older values are placeholders.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# A source's clock may run a little ahead of ours (feeds clamp future dates to the fetch time already);
# beyond a day a date is not a clock difference but a wrong value, and would sit in a digest not yet due.
AHEAD = timedelta(days=1)
# What the store can count at all, whatever the fetch time (pandas' nanoseconds end in April 2262).
LATEST_STORED = datetime(2262, 1, 1, tzinfo=UTC)


def date_problem(published: datetime, now: datetime) -> str | None:
    """Why `published` cannot be a mention's date (fetched at `now`), or None when it can."""
    if published.tzinfo is None:
        return f"date {published.isoformat()} has no time zone"
    if published < EARLIEST:
        return f"date {_day(published)} is before {EARLIEST.year}"
    if published > now + AHEAD:
        return f"date {_day(published)} is more than a day after the fetch ({_day(now)})"
    return None


def storage_problem(published: datetime) -> str | None:
    """Why the store cannot hold and count `published` (outside EARLIEST..LATEST_STORED), or None.

    Not relative to a fetch time: mentions stored by a caller other than an ingest (a backfill, tests,
    the benchmarks) may carry any fetch time."""
    if published.tzinfo is None:
        return f"date {published.isoformat()} has no time zone"
    if not EARLIEST <= published < LATEST_STORED:
        return f"date {_day(published)} is outside {EARLIEST.year}..{LATEST_STORED.year}"
    return None


def _day(at: datetime) -> str:
    """The UTC day of `at`; years before 1000 keep their four digits (0001-01-01)."""
    try:
        at = at.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 in a zone ahead of UTC, year 9999 behind it
        pass
    return f"{at.year:04d}-{at.month:02d}-{at.day:02d}"
