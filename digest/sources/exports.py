"""The `csv` and `json` kinds: call-center / ticketing exports matched by a glob, mapped by `fields:`.

A row that cannot be read (bad date, broken quoting) is skipped, not the file: the result stays "ok"
and its `error` carries a note such as "2 rows skipped (calls-2024-03.csv line 14: bad date '31/31/2024')".
Unchanged files (same size and mtime, or same sha256) are not read again; a changed one is read whole,
the store deduplicates by external_id.
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..config import FieldMap, FileExportSource
from ..errors import SourceError
from ..models import Mention, SourceResult
from ..text import html_to_text, matches_brand, normalize, one_line, safe_url
from .http import FetchContext, mib

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 200 * 1024 * 1024  # a month of tickets is large, but not this large
_NOTES_SHOWN = 3
_MAGIC = re.compile(r"[*?[]")
# tried in order after ISO 8601; month-first like US exports (set date_format for day-first data)
DATE_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y",
    "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y",
    "%b %d, %Y %H:%M:%S", "%b %d, %Y %H:%M", "%b %d, %Y", "%b %d %Y",
)


Record = Mapping[str, Any] | str  # a row or item, or why it cannot be read


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
        )

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
    return dt.astimezone(UTC)


def _guess_date(text: str) -> datetime:
    if not text:
        raise ValueError("empty")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)  # noqa: DTZ007 - the caller applies the export's zone
        except ValueError:
            continue
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


# -- files --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Outcome:
    """What reading the matched files gave; notes are per-row problems, failures per-file ones."""

    mentions: list[Mention] = dataclasses.field(default_factory=list)
    rows: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    skipped: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    parsed: int = 0


def fetch(spec: FileExportSource, ctx: FetchContext) -> SourceResult:
    """Read the export files that changed since the last run; raise SourceError if none could be read."""
    files = match_files(spec, ctx)
    previous = _load_files_state(ctx.state)
    mapper = Mapper(spec.name, spec.channel, spec.fields, spec.date_format,
                    ZoneInfo(spec.timezone) if spec.timezone else ctx.config.tz, ctx.now)
    out = _Outcome()
    seen: dict[str, dict[str, Any]] = {}
    for path in files:
        key = _state_key(path, ctx)
        entry = _read_if_changed(path, spec, previous.get(key), mapper, out)
        if entry is not None:
            seen[key] = entry
    state = {"files": json.dumps(seen, sort_keys=True)}
    if out.failures and not out.parsed:
        raise SourceError("; ".join(out.failures))
    if files and not out.parsed and not out.failures:
        return SourceResult(spec.name, spec.channel, "not_modified", state=state)
    mentions = on_brand(out.mentions, spec.brand_filter, ctx)
    return SourceResult(spec.name, spec.channel, "ok", mentions, error=_note(out), items_seen=out.rows,
                        state=state)


def on_brand(mentions: list[Mention], brand_filter: bool, ctx: FetchContext) -> tuple[Mention, ...]:
    """The mentions that name the brand (all of them when the source's brand_filter is off)."""
    brand = ctx.config.sources.brand
    if not brand_filter:
        return tuple(mentions)
    return tuple(m for m in mentions if matches_brand(f"{m.title}\n{m.text}", brand.keywords, brand.exclude))


def match_files(spec: FileExportSource, ctx: FetchContext) -> list[Path]:
    """Files matching spec.path (relative to the config folder); SourceError if its folder is missing."""
    pattern = ctx.config.resolve(spec.path)
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if _MAGIC.search(part)), len(parts) - 1)
    folder = Path(*parts[:fixed]) if fixed else Path(parts[0])
    if not folder.is_dir():
        raise SourceError(f"folder not found: {folder} (from path {spec.path!r})")
    return sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())


def _state_key(path: Path, ctx: FetchContext) -> str:
    try:
        return path.relative_to(ctx.config.directory).as_posix()
    except ValueError:
        return str(path)


def _load_files_state(state: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    try:
        files = json.loads(state.get("files", "{}"))
    except ValueError:
        return {}
    return {k: v for k, v in files.items() if isinstance(v, dict)} if isinstance(files, dict) else {}


def _read_if_changed(path: Path, spec: FileExportSource, before: Mapping[str, Any] | None, mapper: Mapper,
                     out: _Outcome) -> dict[str, Any] | None:
    """Parse `path` into `out` unless unchanged; the file's new state entry (None: retry next time)."""
    try:
        st = path.stat()
        if before and before.get("size") == st.st_size and before.get("mtime_ns") == st.st_mtime_ns:
            return dict(before)
        if st.st_size > MAX_FILE_BYTES:
            raise SourceError(f"{path.name}: larger than {mib(MAX_FILE_BYTES)}")
        data = path.read_bytes()
    except OSError as exc:
        out.failures.append(f"{path.name}: cannot read ({exc.strerror or exc})")
        return None
    except SourceError as exc:
        out.failures.append(str(exc))
        return None
    entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": hashlib.sha256(data).hexdigest()}
    if before and before.get("sha256") == entry["sha256"]:
        return entry  # touched or copied again, same bytes
    try:
        records = _records(path.name, data, spec)
        for where, record in records:
            _add(where, record, mapper, out)
    except SourceError as exc:
        out.failures.append(str(exc))
        return None
    out.parsed += 1
    return entry


def _add(where: str, record: Record, mapper: Mapper, out: _Outcome) -> None:
    out.rows += 1
    if isinstance(record, str):
        _skip(out, f"{where}: {record}")
        return
    try:
        mention = mapper.mention(record)
    except RowError as exc:
        _skip(out, f"{where}: {exc}")
        return
    if mention is not None:
        out.mentions.append(mention)


def _skip(out: _Outcome, note: str) -> None:
    out.skipped += 1
    if len(out.notes) < _NOTES_SHOWN:
        out.notes.append(note)
    log.debug("skipped %s", note)


def _note(out: _Outcome) -> str | None:
    """The warning an ok result carries: rows skipped and files that failed, or None."""
    parts = []
    if out.skipped:
        more = ", ..." if out.skipped > len(out.notes) else ""
        rows = f"{out.skipped} row{'s' if out.skipped != 1 else ''}"
        parts.append(f"{rows} skipped ({'; '.join(out.notes)}{more})")
    parts.extend(out.failures)
    return "; ".join(parts) or None


def _decode(name: str, data: bytes, encoding: str) -> str:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        return data.decode(codec)
    except LookupError:
        raise SourceError(f"{name}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(f"{name}: not valid {encoding} at byte {exc.start} "
                          "(set `encoding:` for this source, e.g. cp1252)") from None


def _records(name: str, data: bytes, spec: FileExportSource) -> Iterator[tuple[str, Record]]:
    """(where, record) for each row of a CSV file or item of a JSON file; SourceError for the file."""
    text = _decode(name, data, spec.encoding)
    if spec.kind == "csv":
        return csv_records(name, text, spec.delimiter, spec.fields)
    return iter(json_records(name, text, spec.items_path))


def csv_records(name: str, text: str, delimiter: str, fields: FieldMap) -> Iterator[tuple[str, Record]]:
    """Rows of a CSV text as dicts by stripped header name; quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = _header(name, reader, fields)
    return _csv_rows(name, reader, header)


def _header(name: str, reader: Any, fields: FieldMap) -> list[str]:
    """The first non-empty row, checked to hold every column `fields:` names."""
    try:
        header = next(([cell.strip() for cell in row] for row in reader if any(c.strip() for c in row)), [])
    except csv.Error as exc:
        raise SourceError(f"{name}: cannot read the header row ({exc})") from None
    if not header:
        return []  # an empty file: nothing to read, nothing wrong
    wanted = [v for v in fields.model_dump().values() if v]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise SourceError(f"{name}: no column {', '.join(repr(c) for c in missing)} "
                          f"(columns: {', '.join(header)[:300]})")
    return header


def _csv_rows(name: str, reader: Any, header: list[str]) -> Iterator[tuple[str, Record]]:
    if not header:
        return
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the size limit: this row only
            yield f"{name} line {start}", f"unreadable row ({exc})"
            continue
        if not any(cell.strip() for cell in row):
            continue
        yield f"{name} line {start}", dict(zip(header, row, strict=False))


def json_records(name: str, text: str, items_path: str | None) -> list[tuple[str, Record]]:
    """Items of a JSON export: the top-level list, or the list at the dotted `items_path`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{name}: invalid JSON ({one_line(str(exc))})") from None
    items = items_list(data, items_path, name)
    return [(f"{name} item {i + 1}", item if isinstance(item, dict) else "not an object")
            for i, item in enumerate(items)]


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
