"""The field mapping shared by the export kinds (`csv`, `json`) and the API kind (`http_json`).

`fields:` names where a record keeps its text, date, id, url, author...; `Mapper` turns one record into a
Mention, `parse_date` reads the many date forms exports use, `dig` follows dotted paths into JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from typing import Any

from ..config import FieldMap
from ..errors import SourceError
from ..models import Mention, OrgPost
from ..organisations import organisations, tag_all
from ..text import html_to_text, normalize, one_line, safe_url
from .http import FetchContext
from .replies import orgs_of, split_posts

# tried in order after ISO 8601; month-first like US exports (set date_format for day-first data)
DATE_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y",
    "%b %d, %Y %H:%M:%S", "%b %d, %Y %H:%M", "%b %d, %Y", "%b %d %Y",
    "%a %b %d %H:%M:%S %z %Y",  # Twitter's created_at: "Tue Oct 31 22:10:47 +0000 2017"
)
_LAST_FORMAT: list[str] = []  # the DATE_FORMATS entry that read the latest date (_guess_date)
# a ticket whose status is one of these was answered (Zendesk's pending and hold wait on the customer)
ANSWERED_STATUSES = frozenset({"answered", "replied", "responded", "pending", "hold", "on-hold", "on hold",
                               "solved", "resolved", "closed", "done", "completed", "complete"})


class RowError(ValueError):
    """One row or item that cannot become a mention; the message says why (without the location)."""


@dataclasses.dataclass(frozen=True)
class Mapper:
    """Turns one exported record (CSV row or JSON object) into a Mention according to `fields:`."""

    source: str
    channel: str
    fields: FieldMap
    date_format: str | None
    tz: tzinfo  # zone of naive timestamps
    now: datetime
    scope: str = ""  # where its ids and reply_to are unique (store/replies.thread_key); "": the source's own

    def mention(self, record: Mapping[str, Any]) -> Mention | None:
        """The record's Mention, None when its text is empty; raise RowError for a bad date."""
        f = self.fields
        text = html_to_text(_scalar(lookup(record, f.text)))
        if not text:
            return None
        published = self._published(record)
        raw_id = _scalar(lookup(record, f.id)).strip() if f.id else ""
        return Mention(
            source=self.source,
            channel=self.channel,
            external_id=raw_id or content_id(text, published),
            url=safe_url(_scalar(lookup(record, f.url))) if f.url else None,
            title=one_line(_scalar(lookup(record, f.title))) if f.title else "",
            text=text,
            author=one_line(_scalar(lookup(record, f.author))) if f.author else "",
            published=published or self.now,
            influence=_number(lookup(record, f.influence)) if f.influence else 0.0,
            reply_to=_scalar(lookup(record, f.reply_to)).strip()[:1024] if f.reply_to else "",
            scope=self.scope or self.source,  # an export's ids are its own
            **self._answer(record),
        )

    def _answer(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A ticket's `answered` and `responded` from first_response_at, resolved_at and status, if mapped."""
        f = self.fields
        if not (f.first_response_at or f.resolved_at or f.status):
            return {}
        responded = self._date(record, f.first_response_at) or self._date(record, f.resolved_at)
        status = _scalar(lookup(record, f.status)).strip().lower() if f.status else ""
        return {"answered": responded is not None or status in ANSWERED_STATUSES, "responded": responded}

    def _date(self, record: Mapping[str, Any], key: str | None) -> datetime | None:
        """An optional date column: None when unmapped or empty; RowError when unreadable."""
        value = lookup(record, key) if key else None
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return parse_date(value, self.date_format, self.tz)
        except ValueError:
            raise RowError(f"bad date {one_line(str(value), max_chars=40)!r} in {key!r}") from None

    def _published(self, record: Mapping[str, Any]) -> datetime | None:
        if not self.fields.published:
            return None
        value = lookup(record, self.fields.published)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RowError(f"no date in {self.fields.published!r}")
        try:
            return parse_date(value, self.date_format, self.tz)
        except ValueError:
            raise RowError(f"bad date {one_line(str(value), max_chars=40)!r}") from None


def content_id(text: str, published: datetime | None) -> str:
    """An id for records without one: the same text at the same time is the same record, in any file."""
    stamp = published.isoformat() if published else ""
    return "h:" + hashlib.sha256(f"{stamp}\n{normalize(text)}".encode()).hexdigest()[:32]


def lookup(record: Mapping[str, Any], key: str | None) -> Any:
    """`record[key]`, else the dotted path `a.b.c` into nested objects; None when absent."""
    if key is None:
        return None
    if key in record:
        return record[key]
    return dig(record, key)


def dig(data: Any, path: str) -> Any:
    """Follow a dotted path (`data.items`, `results.0.posts`) through objects and lists; None if absent."""
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def parse_date(value: object, fmt: str | None, tz: tzinfo) -> datetime:
    """An aware UTC datetime from a string (fmt, ISO 8601, DATE_FORMATS, RFC 2822) or epoch number.

    Naive timestamps are read in `tz`. Raises ValueError when nothing fits.
    """
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return _epoch(float(value))
    text = str(value).strip()
    if fmt:
        dt = datetime.strptime(text, fmt)  # noqa: DTZ007 - naive ones get `tz` below
    else:
        dt = _guess_date(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except OverflowError:  # year 1 in a zone ahead of UTC: before any date a datetime holds
        raise ValueError(text) from None


def _guess_date(text: str) -> datetime:
    if not text:
        raise ValueError("empty")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    # an export writes every date alike: the form that read the last one is tried first (a Twitter
    # created_at, the last of DATE_FORMATS, cost 18 failed strptime calls a row)
    for fmt in dict.fromkeys((*_LAST_FORMAT, *DATE_FORMATS)):
        try:
            found = datetime.strptime(text, fmt)  # noqa: DTZ007 - the caller applies the export's zone
        except ValueError:
            continue
        _LAST_FORMAT[:] = [fmt]
        return found
    if text.isdigit() and len(text) in (10, 13):  # Unix seconds or milliseconds
        return _epoch(float(text))
    try:
        return parsedate_to_datetime(text)  # RFC 2822: "Wed, 18 Mar 2020 14:05:00 -0400"
    except (TypeError, ValueError, IndexError):
        raise ValueError(text) from None


def _epoch(seconds: float) -> datetime:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(seconds) from None


def _scalar(value: Any) -> str:
    """A cell or JSON value as text; null is empty, objects and lists are JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return 0.0
    return number if number == number and abs(number) != float("inf") else 0.0  # NaN and inf


def on_brand(mentions: list[Mention], brand_filter: bool, ctx: FetchContext) -> tuple[Mention, ...]:
    """The mentions about the brand or a competitor, each with whom it is about (digest/organisations.py);
    all of them, about the brand, when the source's brand_filter is off.

    A mention addressed to an organisation (naming one of its accounts, a ticket) is about it. When some
    organisation lists its accounts, replies that name nobody are kept too, about nobody, for their threads
    (organisations.tag).
    """
    return tag_all(mentions, organisations(ctx.config.sources), brand_filter=brand_filter,
                   keep_replies=bool(orgs_of(ctx.config.sources)))


def customers_and_posts(mentions: list[Mention], brand_filter: bool,
                        ctx: FetchContext) -> tuple[tuple[Mention, ...], tuple[OrgPost, ...]]:
    """The brand's (customers') mentions, and the organisations' own posts, kept whatever they name."""
    customers, posts = split_posts(mentions, orgs_of(ctx.config.sources))
    return on_brand(customers, brand_filter, ctx), tuple(posts)


def items_list(data: Any, items_path: str | None, where: str) -> list[Any]:
    """The list of items in a JSON document; SourceError naming what was found instead."""
    items = dig(data, items_path) if items_path else data
    if isinstance(items, list):
        return items
    if items_path and items is None:
        raise SourceError(f"{where}: nothing at items_path {items_path!r}")
    found = type(items).__name__ if items is not None else "null"
    hint = "" if items_path else " (set items_path to the list inside it)"
    raise SourceError(f"{where}: items are not a list (found {_json_type(found)}){hint}")


def _json_type(python_name: str) -> str:
    return {"dict": "an object", "str": "a string", "int": "a number", "float": "a number",
            "bool": "a boolean"}.get(python_name, python_name)
