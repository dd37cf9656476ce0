"""The `csv` and `json` kinds: call-center / ticketing exports matched by a glob, mapped by `fields:`.

A row that cannot be read (bad date, broken quoting) is skipped, not the file: the result stays "ok"
and its `problems` name it, such as "2 rows skipped (calls-2024-03.csv line 14: bad date '31/31/2024')"
(the source is then partial: exit 3).
Unchanged files (same size and mtime, or same sha256) are not read again; a changed one is read whole,
the store deduplicates by external_id.
"""

from __future__ import annotations

import csv
import dataclasses
import fnmatch
import glob
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..config import Config, FieldMap, FileExportSource
from ..errors import SourceError
from ..models import Mention, SourceResult
from ..text import one_line
from .fields import Mapper, RowError, customers_and_posts, items_list
from .http import FetchContext, mib

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 200 * 1024 * 1024  # a month of tickets is large, but not this large
_NOTES_SHOWN = 3
_MAGIC = re.compile(r"[*?[]")
Record = Mapping[str, Any] | str  # a row or item, or why it cannot be read


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
    mentions, posts = customers_and_posts(out.mentions, spec.brand_filter, ctx)
    return SourceResult(spec.name, spec.channel, "ok", mentions, items_seen=out.rows, state=state,
                        problems=_problems(out), dropped=out.skipped, posts=posts)


def match_files(spec: FileExportSource, ctx: FetchContext) -> list[Path]:
    """Files matching spec.path (relative to the config folder); SourceError if its folder is missing,
    it is a folder or it matches no file."""
    return matching(spec, ctx.config)


def matching(spec: FileExportSource, config: Config) -> list[Path]:
    """`match_files` with only the configuration (digest check has no fetch context)."""
    pattern = config.resolve(spec.path)
    parts = pattern.parts
    fixed = next((i for i, part in enumerate(parts) if _MAGIC.search(part)), len(parts) - 1)
    folder = Path(*parts[:fixed]) if fixed else Path(parts[0])
    if not folder.is_dir():
        raise SourceError(f"folder not found: {folder} (from path {spec.path!r})")
    if pattern.is_dir():
        example = f"{spec.path.rstrip('/')}/*.{spec.kind}"
        raise SourceError(f"path {spec.path!r} is a folder, not files: name them with a glob, e.g. {example!r}")
    files = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())
    if not files:
        raise SourceError(f"no file matches {spec.path!r} in {folder}{_case_hint(pattern, folder)}")
    return files


def _case_hint(pattern: Path, folder: Path) -> str:
    """A note naming a file that matches `pattern` but for letter case (calls-*.CSV for calls-1.csv), or ""."""
    rel = pattern.relative_to(folder).as_posix()
    deep = "**" in rel  # any depth: the file name alone is compared
    wanted = re.compile(fnmatch.translate(rel.rsplit("/", 1)[-1] if deep else rel), re.IGNORECASE)
    for n, path in enumerate(folder.rglob("*") if deep or "/" in rel else folder.iterdir()):
        if n >= 10_000:  # a huge folder: no hint rather than a slow walk
            break
        found = path.relative_to(folder).as_posix()
        if path.is_file() and wanted.match(path.name if deep else found):
            return f" ({found!r} differs only in letter case)"
    return ""


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
    if mention is None:  # an empty text field: a row lost, so counted like any other
        _skip(out, f"{where}: no text in {mapper.fields.text!r}")
    else:
        out.mentions.append(mention)


def _skip(out: _Outcome, note: str) -> None:
    out.skipped += 1
    if len(out.notes) < _NOTES_SHOWN:
        out.notes.append(note)
    log.debug("skipped %s", note)


def _problems(out: _Outcome) -> tuple[str, ...]:
    """What an ok result lost: rows skipped (counted, the first named) and files that failed."""
    parts = []
    if out.skipped:
        more = ", ..." if out.skipped > len(out.notes) else ""
        rows = f"{out.skipped} row{'s' if out.skipped != 1 else ''}"
        parts.append(f"{rows} skipped ({'; '.join(out.notes)}{more})")
    parts.extend(out.failures)
    return tuple(parts)


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
        yield f"{name} line {start}", _shaped(row, header)


def _shaped(row: list[str], header: list[str]) -> Record:
    """The row by column name, or why it cannot be trusted: cells missing, or more cells than columns
    (an unquoted delimiter in a field shifts every cell after it). Empty trailing cells are harmless."""
    while len(row) > len(header) and not row[-1].strip():
        row = row[:-1]
    if len(row) != len(header):
        which = "short row" if len(row) < len(header) else "extra cells (an unquoted delimiter in a field?)"
        return f"{which}: {len(row)} cells for {len(header)} columns"
    return dict(zip(header, row, strict=True))


def json_records(name: str, text: str, items_path: str | None) -> list[tuple[str, Record]]:
    """Items of a JSON export: the top-level list, or the list at the dotted `items_path`."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{name}: invalid JSON ({one_line(str(exc))})") from None
    items = items_list(data, items_path, name)
    return [(f"{name} item {i + 1}", item if isinstance(item, dict) else "not an object")
            for i, item in enumerate(items)]
