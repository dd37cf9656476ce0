"""Data health: which sources failed, went stale or fell silent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from ..formatting import channel_label, number, plain_line, plural, time_ago
from ..models import SourceHealth
from .summary import MAX_HEALTH_ROWS, Capped, Health, HealthRow

# A source with no successful fetch for this long is reported as stale.
STALE_AFTER = timedelta(hours=24)


def health_section(health: Sequence[SourceHealth], channels: Sequence[str] | None, now: datetime) -> Health:
    relevant = [h for h in health if channels is None or h.channel in channels]
    rows = []
    for h in relevant:
        failed = h.consecutive_failures > 0 or (
            h.last_error is not None and (
                h.last_success is None or (h.last_attempt is not None and h.last_attempt > h.last_success)))
        stale = h.last_success is None or now - h.last_success > STALE_AFTER
        if not (failed or stale):
            if h.last_problem:  # fetched, but rows or files were lost: the figures miss them
                rows.append(HealthRow(plain_line(h.name, 80), channel_label(h.channel), "partial",
                                      f"fetched with problems: {plain_line(h.last_problem, 140)}"))
            continue
        since = "never fetched successfully" if h.last_success is None else \
            f"last success {time_ago(now - h.last_success)} ago"
        if failed:
            runs = max(h.consecutive_failures, 1)
            error = plain_line(h.last_error or "", 140)
            detail = f"failed {'once' if runs == 1 else f'{runs} times in a row'}"
            detail += f" ({error})" if error else ""
            detail += f"; {since}"
        elif h.last_success is None:
            detail = since
        else:
            detail = f"no successful fetch for {time_ago(now - h.last_success)}"
        status: Literal["failed", "stale"] = "failed" if failed else "stale"
        rows.append(HealthRow(plain_line(h.name, 80), channel_label(h.channel), status, detail))
    rows.sort(key=lambda r: (r.status != "failed", r.name))
    total = len(relevant)
    if not total:
        sentence = "No source status was recorded, so completeness is unknown."
    elif not rows:
        sentence = f"All {plural(total, 'source')} fetched normally in the last 24 h."
    else:
        hit = sorted({r.channel_label for r in rows})
        sentence = (f"{number(len(rows))} of {plural(total, 'source')} had problems, so figures for "
                    f"{', '.join(hit)} may be incomplete.")
    problems = Capped(tuple(rows[:MAX_HEALTH_ROWS]), len(rows))
    return Health(total, total - len(rows), problems, sentence, complete=total > 0 and not rows)
