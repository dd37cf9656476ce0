"""The changes a digest reports in points: under half a point reads as no change, half a point or more as a
rise or fall of at least one point, never as "+0 pts"."""

from __future__ import annotations

import pytest

from digest.analysis.figures import points_change


@pytest.mark.parametrize(("now", "before", "direction", "display", "tone"), [
    (30.0, 30.0, "flat", "no change", "neutral"),
    (30.49, 30.0, "flat", "no change", "neutral"),
    (29.51, 30.0, "flat", "no change", "neutral"),
    (30.5, 30.0, "up", "+1 pts", "bad"),
    (29.5, 30.0, "down", "-1 pts", "good"),
    (31.5, 30.0, "up", "+2 pts", "bad"),
    (32.5, 30.0, "up", "+3 pts", "bad"),
    (24.0, 30.0, "down", "-6 pts", "good"),
])
def test_under_half_a_point_reads_as_no_change(now: float, before: float, direction: str, display: str,
                                               tone: str) -> None:
    c = points_change(now, before, "last week", up="bad", display_before=f"{before:.0f}%")
    assert (c.direction, c.display, c.tone) == (direction, display, tone)
    assert (c.against, c.previous_display, c.delta) == ("last week", f"{before:.0f}%", round(now - before, 2))
