"""Every period at every boundary of a year, in several time zones, from instants the test chooses (never the
real clock): each month end, each quarter end, the year end, ISO week 53, leap days and both daylight-saving
changes. The expected windows come from walking the calendar one day at a time and watching a period's name
change, not from the product's arithmetic, so a wrong quarter start or a week cut on the wrong day shows.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.periods import PERIODS, Period, last_complete, previous, window_containing

ZONES = ["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Tokyo", "UTC"]
YEARS = [2020, 2024, 2026, 2100]  # ISO week 53 (2020, 2026), a leap year, a century that is no leap year
QUARTER_OF_MONTH = {1: 1, 2: 1, 3: 1, 4: 2, 5: 2, 6: 2, 7: 3, 8: 3, 9: 3, 10: 4, 11: 4, 12: 4}
ONE_DAY = timedelta(days=1)

# the name of the period a day belongs to: two days are in the same period exactly when the names are equal
NAME: dict[Period, Callable[[date], Hashable]] = {
    "daily": lambda d: d,
    "weekly": lambda d: d.isocalendar()[:2],
    "monthly": lambda d: (d.year, d.month),
    "quarterly": lambda d: (d.year, QUARTER_OF_MONTH[d.month]),
    "annual": lambda d: d.year,
}
KEY: dict[Period, Callable[[date], str]] = {
    "daily": lambda d: f"daily:{d:%Y-%m-%d}",
    "weekly": lambda d: "weekly:{}-W{:02d}".format(*d.isocalendar()[:2]),
    "monthly": lambda d: f"monthly:{d.year}-{d.month:02d}",
    "quarterly": lambda d: f"quarterly:{d.year}-Q{QUARTER_OF_MONTH[d.month]}",
    "annual": lambda d: f"annual:{d.year}",
}


def first_day(period: Period, d: date) -> date:
    """The first day of `d`'s period: step back while yesterday has the same name."""
    while NAME[period](d - ONE_DAY) == NAME[period](d):
        d -= ONE_DAY
    return d


def expected_last_complete(period: Period, at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime, str]:
    """(start, end, key) of the last complete `period` before instant `at`, by walking the calendar."""
    end = first_day(period, at.astimezone(tz).date())
    start = first_day(period, end - ONE_DAY)
    return (datetime(start.year, start.month, start.day, tzinfo=tz),
            datetime(end.year, end.month, end.day, tzinfo=tz), KEY[period](start))


def boundary_instants(tz: ZoneInfo) -> Iterator[datetime]:
    """Local midnight of each month's first day of each year (so every month, quarter and year end), a
    second before it and a second after it; and the same around the daylight-saving changes of those years."""
    for year in YEARS:
        for month in range(1, 13):
            midnight = datetime(year, month, 1, tzinfo=tz)
            yield from (midnight - timedelta(seconds=1), midnight, midnight + timedelta(seconds=1))
        for change in dst_changes(tz, year):
            yield from (change - timedelta(seconds=1), change, change + timedelta(seconds=1))
    midnight = datetime(YEARS[-1] + 1, 1, 1, tzinfo=tz)
    yield from (midnight - timedelta(seconds=1), midnight)


def dst_changes(tz: ZoneInfo, year: int) -> list[datetime]:
    """The instants in `year` at which `tz`'s UTC offset changes, found hour by hour in UTC."""
    out = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:  # a day at a time, and hour by hour through a day whose offset changes
        if day.astimezone(tz).utcoffset() != (day + ONE_DAY).astimezone(tz).utcoffset():
            t = day
            while t < day + ONE_DAY:
                t += timedelta(hours=1)
                if t.astimezone(tz).utcoffset() != (t - timedelta(hours=1)).astimezone(tz).utcoffset():
                    out.append(t.astimezone(tz))
        day += ONE_DAY
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_last_complete_at_every_boundary(zone: str) -> None:
    tz = ZoneInfo(zone)
    checked = 0
    for at in boundary_instants(tz):
        for period in PERIODS:
            w = last_complete(period, at, tz)
            start, end, key = expected_last_complete(period, at, tz)
            got = (w.start.replace(tzinfo=None), w.end.replace(tzinfo=None), w.key)
            assert got == (start.replace(tzinfo=None), end.replace(tzinfo=None), key), (period, at.isoformat())
            # the same instants, not only the same wall-clock times
            assert (w.start_utc, w.end_utc) == (start.astimezone(UTC), end.astimezone(UTC)), (period, at)
            # the window containing `at` starts where the last complete one ends, and follows it
            current = window_containing(period, at, tz)
            assert current.start == w.end and previous(current).key == w.key, (period, at.isoformat())
            checked += 1
    assert checked >= len(YEARS) * 12 * 3 * len(PERIODS)


def test_the_zones_have_the_daylight_saving_changes_the_test_relies_on() -> None:
    """Guards the test above: without the changes it would not test daylight saving at all."""
    counts = {zone: len(dst_changes(ZoneInfo(zone), 2026)) for zone in ZONES}
    assert counts == {"America/New_York": 2, "Europe/London": 2, "Australia/Sydney": 2, "Asia/Tokyo": 0, "UTC": 0}


@pytest.mark.parametrize(("zone", "day", "hours"), [
    ("America/New_York", "2026-03-08", 23), ("America/New_York", "2026-11-01", 25),
    ("Europe/London", "2026-03-29", 23), ("Europe/London", "2026-10-25", 25),
    ("Australia/Sydney", "2026-04-05", 25), ("Australia/Sydney", "2026-10-04", 23),
    ("Asia/Tokyo", "2026-03-08", 24), ("Asia/Tokyo", "2026-11-01", 24),
])
def test_a_daylight_saving_day_is_as_long_as_it_is(zone: str, day: str, hours: int) -> None:
    tz = ZoneInfo(zone)
    d = date.fromisoformat(day) + ONE_DAY
    w = last_complete("daily", datetime(d.year, d.month, d.day, 6, tzinfo=tz), tz)
    assert w.key == f"daily:{day}"
    assert w.end_utc - w.start_utc == timedelta(hours=hours)


@pytest.mark.parametrize(("at", "period", "key", "start", "end"), [
    # ISO week 53: 2020 and 2026 have one, and it runs into January
    ("2021-01-04T00:00", "weekly", "weekly:2020-W53", "2020-12-28", "2021-01-04"),
    ("2027-01-04T08:00", "weekly", "weekly:2026-W53", "2026-12-28", "2027-01-04"),
    ("2027-01-11T00:00", "weekly", "weekly:2027-W01", "2027-01-04", "2027-01-11"),
    ("2026-01-01T00:00", "weekly", "weekly:2025-W52", "2025-12-22", "2025-12-29"),
    # leap days: 2024 has one, 2100 does not
    ("2024-03-01T00:00", "daily", "daily:2024-02-29", "2024-02-29", "2024-03-01"),
    ("2100-03-01T00:00", "daily", "daily:2100-02-28", "2100-02-28", "2100-03-01"),
    ("2024-03-01T00:00", "monthly", "monthly:2024-02", "2024-02-01", "2024-03-01"),
    # each quarter end, and a year end
    ("2026-04-01T00:00", "quarterly", "quarterly:2026-Q1", "2026-01-01", "2026-04-01"),
    ("2026-07-01T00:00", "quarterly", "quarterly:2026-Q2", "2026-04-01", "2026-07-01"),
    ("2026-09-30T23:59", "quarterly", "quarterly:2026-Q2", "2026-04-01", "2026-07-01"),
    ("2026-10-01T00:00", "quarterly", "quarterly:2026-Q3", "2026-07-01", "2026-10-01"),
    ("2027-01-01T00:00", "quarterly", "quarterly:2026-Q4", "2026-10-01", "2027-01-01"),
    ("2027-01-01T00:00", "annual", "annual:2026", "2026-01-01", "2027-01-01"),
    ("2026-12-31T23:59", "annual", "annual:2025", "2025-01-01", "2026-01-01"),
])
def test_named_boundaries(at: str, period: Period, key: str, start: str, end: str) -> None:
    """A few boundaries written out by hand, so the calendar walk above is checked too."""
    tz = ZoneInfo("Europe/London")
    w = last_complete(period, datetime.fromisoformat(at).replace(tzinfo=tz), tz)
    assert (w.key, w.start.date().isoformat(), w.end.date().isoformat()) == (key, start, end)
