"""The `http_json` kind: a JSON API (items at a dotted path, pages by a next-URL), mapped by `fields:`.

Header values come from environment variables named in `headers_from_env`; they are sent only to the
host of `url` and never appear in a message or a log line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..config import HttpJsonSource
from ..errors import SourceError
from ..models import Mention, SourceResult
from ..text import one_line
from .fields import Mapper, RowError, customers_and_posts, dig, items_list
from .http import FetchContext, Fetched, fetch_bytes, same_origin, show_url

log = logging.getLogger(__name__)

ACCEPT = "application/json, */*;q=0.5"


def api_scope(spec: HttpJsonSource) -> str:
    """Where an API's ids are unique: its host (a Mastodon instance's statuses, a Bluesky AppView's posts),
    so that the brand's posts read from one endpoint match the customers' read from another; the source
    when the URL names no host."""
    try:
        parts = urlsplit(spec.url)
        host = f"{parts.hostname or ''}:{parts.port or ''}" if parts.hostname else ""
    except ValueError:  # a port out of range: the fetch says so
        host = ""
    return f"api:{host}" if host else spec.name


def fetch(spec: HttpJsonSource, ctx: FetchContext, env: Mapping[str, str] | None = None) -> SourceResult:
    """Fetch every page (up to max_pages) and map its items; raise SourceError on failure."""
    headers = secret_headers(spec.headers_from_env, os.environ if env is None else env)
    mapper = Mapper(spec.name, spec.channel, spec.fields, spec.date_format, ctx.config.tz, ctx.now,
                    scope=api_scope(spec))
    # only a single-page source can be skipped as unchanged: page 1 of a paged API says little about page 5
    conditional = spec.next_path is None
    url: str | None = spec.url
    visited: set[str] = set()
    mentions: list[Mention] = []
    seen = skipped = 0
    state: dict[str, str] = {}
    for page in range(1, spec.max_pages + 1):
        if url is None or url in visited:
            break
        visited.add(url)
        # secrets go to the API's own host only, not to wherever a next-page link points
        got = fetch_bytes(url, ctx, timeout=spec.timeout, accept=ACCEPT,
                          headers=headers if same_origin(url, spec.url) else None, conditional=conditional)
        if got.not_modified:
            return SourceResult(spec.name, spec.channel, "not_modified", state=got.state)
        if page == 1:
            state = got.state if conditional else {}
        data = _json(got, page)
        items = items_list(data, spec.items_path, f"page {page}")
        seen += len(items)
        for item in items:
            mention = _mention(item, mapper)
            skipped += mention is None
            if mention:
                mentions.append(mention)
        url = _next_url(data, spec.next_path, got.url)
    kept, posts = customers_and_posts(mentions, spec.brand_filter, ctx)
    note = f"{skipped} item{'s' if skipped != 1 else ''} skipped (no text, not an object or a bad date)"
    return SourceResult(spec.name, spec.channel, "ok", kept, items_seen=seen, state=state,
                        problems=(note,) if skipped else (), dropped=skipped, posts=posts)


def secret_headers(wanted: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """Header name -> value from the environment; SourceError naming a missing variable (never a value)."""
    out = {}
    for header, var in wanted.items():
        value = env.get(var, "")
        if not value.strip():
            raise SourceError(f"environment variable {var} is not set (it holds the {header} header)")
        if "\r" in value or "\n" in value:
            raise SourceError(f"environment variable {var} contains a line break (for the {header} header)")
        out[header] = value.strip()
    return out


def _json(got: Fetched, page: int) -> Any:
    try:
        return json.loads(got.body)
    except (ValueError, RecursionError) as exc:
        kind = f" (got {got.media_type})" if got.media_type and "json" not in got.media_type else ""
        raise SourceError(f"page {page} is not JSON{kind}: {one_line(str(exc), max_chars=120)}") from None


def _mention(item: Any, mapper: Mapper) -> Mention | None:
    if not isinstance(item, dict):
        return None
    try:
        return mapper.mention(item)
    except RowError as exc:
        log.debug("%s: item skipped: %s", mapper.source, exc)
        return None


def _next_url(data: Any, next_path: str | None, base: str) -> str | None:
    """The next page's URL, only ever http(s): an API must not point us at a local file."""
    if not next_path:
        return None
    value = dig(data, next_path)
    if not isinstance(value, str) or not value.strip():
        return None
    url = urljoin(base, value.strip())
    if urlsplit(url).scheme not in ("http", "https"):
        raise SourceError(f"next page link is not an http(s) URL: {show_url(url)}")
    return url
