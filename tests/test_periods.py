"""Period windows in a time zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.periods import (
    PERIODS,
    buckets,
    last_complete,
    parse_date,
    previous,
    window_containing,
    year_before,
)

NY = ZoneInfo("America/New_York")
AT = datetime(2026, 11, 23, 9, 30, tzinfo=NY)  # a Monday


@pytest.mark.parametrize(("period", "start", "end", "label", "key"), [
    ("daily", "2026-11-22", "2026-11-23", "Sun 22 Nov 2026", "daily:2026-11-22"),
    ("weekly", "2026-11-16", "2026-11-23", "Week 47 (16–22 Nov 2026)", "weekly:2026-W47"),
    ("monthly", "2026-10-01", "2026-11-01", "October 2026", "monthly:2026-10"),
    ("quarterly", "2026-07-01", "2026-10-01", "Q3 2026", "quarterly:2026-Q3"),
    ("annual", "2025-01-01", "2026-01-01", "2025", "annual:2025"),
])
def test_last_complete_window(period: str, start: str, end: str, label: str, key: str) -> None:
    w = last_complete(period, AT, NY)  # type: ignore[arg-type]
    assert (w.start.date().isoformat(), w.end.date().isoformat(), w.label, w.key) == (start, end, label, key)
    assert w.start.tzinfo is NY and w.start.hour == 0


def test_previous_and_year_before() -> None:
    q = last_complete("quarterly", AT, NY)
    assert previous(q).label == "Q2 2026" and year_before(q).label == "Q3 2025"
    jan = window_containing("monthly", datetime(2026, 1, 15, tzinfo=NY), NY)
    assert previous(jan).label == "December 2025"
    w = last_complete("weekly", AT, NY)
    assert year_before(w).start.weekday() == 0


def test_dst_days_have_23_and_25_hours() -> None:
    spring = window_containing("daily", datetime(2026, 3, 8, 12, tzinfo=NY), NY)
    fall = window_containing("daily", datetime(2026, 11, 1, 12, tzinfo=NY), NY)
    assert spring.end_utc - spring.start_utc == timedelta(hours=23)
    assert fall.end_utc - fall.start_utc == timedelta(hours=25)
    assert (len(buckets(spring)), len(buckets(fall))) == (23, 25)
    # the week containing the fall change is 7 days and 1 hour long, still cut at local midnights
    week = window_containing("weekly", datetime(2026, 11, 1, 12, tzinfo=NY), NY)
    assert week.end_utc - week.start_utc == timedelta(days=7, hours=1)
    assert week.start.hour == week.end.hour == 0


def test_utc_instant_is_cut_in_the_zone() -> None:
    # 03:00 UTC on the 23rd is still the 22nd in New York: yesterday is the 21st
    w = last_complete("daily", datetime(2026, 11, 23, 3, tzinfo=UTC), NY)
    assert w.label == "Sat 21 Nov 2026"


@pytest.mark.parametrize(("period", "n"), [("daily", 24), ("weekly", 7), ("monthly", 31), ("quarterly", 14),
                                            ("annual", 12)])
def test_trend_grain(period: str, n: int) -> None:
    w = last_complete(period, AT, NY)  # type: ignore[arg-type]
    bs = buckets(w)
    assert len(bs) == n and bs[0] == w.start and all(a < b for a, b in zip(bs, bs[1:], strict=False))


def test_every_period_tiles_time_without_gaps() -> None:
    for p in PERIODS:
        w = last_complete(p, AT, NY)
        assert previous(w).end == w.start


def test_parse_date() -> None:
    assert parse_date("2026-11-23", NY) == datetime(2026, 11, 23, tzinfo=NY)
    assert parse_date("2026-11-23T10:00:00+00:00", NY).utcoffset() == timedelta(0)
    with pytest.raises(ValueError):
        parse_date("23/11/2026", NY)
