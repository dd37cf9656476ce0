"""Gathering: one module per source kind, each `fetch(spec, ctx) -> SourceResult`, dispatched by KINDS.

`fetch_source` never raises. Results:
- "ok": `mentions` (brand filter applied), `items_seen` (entries before filtering), `state` to keep;
  `error` may hold a warning that lost nothing (bytes repaired); `problems` name what was lost, such as
  "3 rows skipped (...)", and `dropped` counts those rows.
  Every kind's mentions pass `dated` here: a date outside digest.dates' range costs that entry only.
- "not_modified": nothing changed since `ctx.state` (HTTP 304, same sha256, export files unchanged).
- "error": `error` is a one-line reason; `state` is the previous state, unchanged.
An ingest reads the STREAMED kinds (exports) with `stream_source`: parts (`partial`), then the result.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from ..config import SourceSpec
from ..dates import date_problem
from ..errors import SourceError
from ..models import Mention, SourceResult, threads_in
from ..text import one_line
from . import exports, feed, http_json
from .http import FetchContext
from .presets import PRESETS

__all__ = ["KINDS", "PRESETS", "STREAMED", "FetchContext", "fetch_source", "stream_source"]

log = logging.getLogger(__name__)

_SHOWN = 3  # skipped entries named on the ingest line; the rest are counted

# Each kind's fetch takes its own spec model; pydantic's `kind` discriminator guarantees the match.
KINDS: dict[str, Callable[[Any, FetchContext], SourceResult]] = {
    "feed": feed.fetch,
    "csv": exports.fetch,
    "json": exports.fetch,
    "http_json": http_json.fetch,
}
# Kinds an ingest reads in parts (`stream_source`), so that it holds one part of a large export, not all of it.
STREAMED: dict[str, Callable[[Any, FetchContext], Iterator[SourceResult]]] = {
    "csv": exports.stream,
    "json": exports.stream,
}


def fetch_source(spec: SourceSpec, ctx: FetchContext) -> SourceResult:
    """Fetch one source once; every failure becomes status="error" with a one-line reason."""
    try:
        fetch = KINDS[spec.kind]
    except KeyError:
        return _failed(spec, ctx, f"unknown source kind {spec.kind!r}; kinds are {', '.join(KINDS)}")
    if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        return _failed(spec, ctx, "not fetched: the run's deadline had already passed")
    try:
        return dated(fetch(spec, ctx), ctx.now)
    except SourceError as exc:
        return _failed(spec, ctx, str(exc))
    except Exception as exc:  # a bug or a parser surprise must not stop the other sources
        log.exception("%s: unexpected error", spec.name)
        return _unexpected(spec, ctx, exc)


def stream_source(spec: SourceSpec, ctx: FetchContext) -> Iterator[SourceResult]:
    """`fetch_source` of a kind read in parts (STREAMED: exports): its parts (`partial` set, see
    exports.stream), then its result, which may be an error after parts were given. Never raises."""
    if ctx.deadline is not None and time.monotonic() >= ctx.deadline:
        yield _failed(spec, ctx, "not fetched: the run's deadline had already passed")
        return
    dates = _Dates(ctx.now)
    try:
        for part in STREAMED[spec.kind](spec, ctx):
            yield dates.checked(part)
    except SourceError as exc:
        yield _failed(spec, ctx, str(exc))
    except Exception as exc:  # a bug or a parser surprise must not stop the other sources
        log.exception("%s: unexpected error", spec.name)
        yield _unexpected(spec, ctx, exc)


def dated(result: SourceResult, now: datetime) -> SourceResult:
    """`result` without the mentions whose date is out of range (digest.dates), each counted and named."""
    return _Dates(now).checked(result)


class _Dates:
    """`dated` over the parts of one source: the entries skipped for their date are counted and named on its
    last part (the source's result)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.bad: list[str] = []
        self.count = 0
        self.threads = 0  # of them, replies kept only for their threads

    def checked(self, result: SourceResult) -> SourceResult:
        kept: list[Mention] = []
        count = self.count
        for m in result.mentions:
            problem = date_problem(m.published, self.now)
            if problem is None:
                # a source's clock a little ahead of ours: the mention is from now, not from a digest not yet due
                kept.append(dataclasses.replace(m, published=self.now) if m.published > self.now else m)
            else:
                self.count += 1
                self.threads += threads_in((m,))
                if len(self.bad) <= _SHOWN:
                    self.bad.append(f"{_named(m)}: {problem}")
                log.debug("%s: skipped %s: %s", result.name, _named(m), problem)
        if count != self.count:
            result = dataclasses.replace(result, mentions=tuple(kept))
        if result.mentions_total is not None and self.count:  # it counts those of every part, before this
            result = dataclasses.replace(result, mentions_total=result.mentions_total - self.count,
                                         threads_total=(result.threads_total or 0) - self.threads)
        if result.partial or not self.count:
            return result
        shown = "; ".join(self.bad[:_SHOWN]) + (", ..." if self.count > _SHOWN else "")
        note = f"{self.count} item{'s' if self.count != 1 else ''} skipped for their date ({shown})"
        return dataclasses.replace(result, problems=(*result.problems, note), dropped=result.dropped + self.count)


def _named(m: Mention) -> str:
    """How a skipped entry is named: its id, else (an id we made from the text) its first words."""
    if m.external_id.startswith("h:") or len(m.external_id) > 60:
        return repr(one_line(m.title or m.text, max_chars=40))
    return f"id {m.external_id!r}"


def _unexpected(spec: SourceSpec, ctx: FetchContext, exc: Exception) -> SourceResult:
    detail = one_line(str(exc), max_chars=200)
    return _failed(spec, ctx, f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else ""))


def _failed(spec: SourceSpec, ctx: FetchContext, reason: str) -> SourceResult:
    # not text.one_line: a reason is our own plain text and may rightly hold "<" (it is not HTML)
    reason = " ".join(reason.split())[:500] or "failed"
    return SourceResult(spec.name, spec.channel, "error", error=reason, state=dict(ctx.state))
