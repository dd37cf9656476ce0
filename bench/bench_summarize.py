"""Summarizing a week of 100,000 mentions (against 80,000 the week before): the analysis stage alone.

    python bench/bench_summarize.py [--quick] [--mentions N]

The mentions are random DataFrames from tests/factories.py (no store, no rendering), summarized as a weekly
digest with two complaint topics and one praise topic. Prints the median of three runs and the ratio to
the 3.0 s the suite once asserted (a wall-clock limit in a unit test broke on slow 2-core machines; the
figure lives here now, and the test only catches a hang).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from digest import periods  # noqa: E402
from digest.analysis import summarize  # noqa: E402
from tests import factories  # noqa: E402

BUDGET = 3.0  # seconds: the limit the suite used to assert for 100,000 mentions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 mentions, one run")
    parser.add_argument("--mentions", type=int, default=100_000)
    args = parser.parse_args()
    n = 20_000 if args.quick else args.mentions
    runs = 1 if args.quick else 3
    tz = ZoneInfo("America/New_York")
    now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    week = periods.last_complete("weekly", now, tz)
    before = periods.previous(week)
    cur = factories.random_mentions(n, week.start_utc, week.end_utc, seed=1)
    prev = factories.random_mentions(n * 4 // 5, before.start_utc, before.end_utc, seed=2)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        s = summarize(cur, prev, week, before, brand="Acme Air", now=now, topics={"Baggage": [], "Delays": []},
                      praise_topics={"Crew": ["crew"]})
        times.append(time.perf_counter() - started)
        assert s.volume.value == n
    took = statistics.median(times)
    budget = BUDGET * n / 100_000
    print(f"summarize {n:,} mentions ({len(prev):,} before), median of {runs}: {took:.2f} s  "
          f"{n / took:,.0f} mentions/s")
    print(f"ratio: the {budget:.1f} s budget / the time = {budget / took:.2f}x (above 1: within it)")


if __name__ == "__main__":
    main()
