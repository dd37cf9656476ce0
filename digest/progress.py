"""The ingest's progress on a terminal: a tqdm bar over the sources, with the entries and new mentions so far,
and the rows read of a large export while it is read.

Only where a person watches (stderr is a terminal, not -q); piped output, cron and logs get nothing extra.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from tqdm import tqdm


class TerminalProgress:
    """pipeline.Progress drawn with tqdm on `stream`; the bar is cleared when the ingest ends (`close`)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._bar: Any = None
        self._entries = 0
        self._new = 0

    def start(self, sources: int) -> None:
        self._bar = tqdm(total=sources, unit="source", desc="ingest", file=self._stream, leave=False,
                         dynamic_ncols=True, mininterval=0.2)

    def reading(self, name: str, rows: int) -> None:
        """A large export read in parts: the rows read of it so far (the bar counts sources, this shows it moves)."""
        if self._bar is not None:
            self._bar.set_postfix_str(f"{name[:30]} · {rows:,} rows read · {self._new:,} new")

    def fetched(self, name: str, entries: int) -> None:
        self._entries += entries
        if self._bar is not None:
            self._bar.set_postfix_str(f"{name[:30]} · {self._entries:,} entries · {self._new:,} new", refresh=False)
            self._bar.update(1)

    def stored(self, new: int) -> None:
        self._new = new
        if self._bar is not None:
            self._bar.set_postfix_str(f"{self._entries:,} entries · {self._new:,} new")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

