"""A spike of negative mentions: what an alert email says."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime

from ..formatting import plural
from .summary import Quote


@dataclasses.dataclass(frozen=True)
class Spike:
    """Negative mentions running well above their usual rate (the input of an alert email)."""

    brand: str
    start: datetime  # aware; the window in which the spike was measured
    end: datetime
    negative: int  # negative mentions in [start, end)
    baseline_per_hour: float  # usual negative mentions per hour, from history
    phrases: tuple[str, ...] = ()  # what the spiking mentions say most
    examples: tuple[Quote, ...] = ()
    channels: tuple[str, ...] = ()  # channel labels, loudest first
    generated_at: datetime | None = None

    @property
    def hours(self) -> float:
        """Length of the window in hours."""
        return (self.end - self.start).total_seconds() / 3600

    @property
    def expected(self) -> float:
        """Negative mentions the baseline predicts for a window this long."""
        return self.baseline_per_hour * self.hours

    @property
    def ratio(self) -> float:
        """How many times the usual rate (inf when there is no baseline)."""
        return self.negative / self.expected if self.expected > 0 else math.inf

    @property
    def ratio_display(self) -> str:
        """ "4.2×", or "new" when there was no baseline."""
        return f"{self.ratio:.1f}×" if math.isfinite(self.ratio) else "new"

    @property
    def window_label(self) -> str:
        """`Tue 24 Nov 14:00–15:00 EST` (times as given, so pass them in the brand's zone)."""
        s, e = self.start, self.end
        end = f"{e:%H:%M %Z}" if e.date() == s.date() else f"{e:%a} {e.day} {e:%b %H:%M %Z}"
        return f"{s:%a} {s.day} {s:%b %H:%M}–{end}".strip()

    @property
    def duration_label(self) -> str:
        """`1 h`, `30 min`, `2 days`."""
        minutes = round((self.end - self.start).total_seconds() / 60)
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes / 60:g} h"
        return f"{minutes / 1440:g} days"

    @property
    def summary_line(self) -> str:
        """`84 negative mentions in 1 h, 4.2× the usual 20 (Tue 24 Nov 14:00–15:00 EST).`"""
        if math.isfinite(self.ratio):
            usual = f", {self.ratio_display} the usual {self.expected:.0f}"
        else:
            usual = ", where there are usually none"
        count = plural(self.negative, "negative mention")
        return f"{count} in {self.duration_label}{usual} ({self.window_label})."
