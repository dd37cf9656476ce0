"""The `csv` and `json` kinds: call-center / ticketing exports matched by a glob, mapped by `fields:`.

A row that cannot be read (bad date, broken quoting) is skipped, not the file: the result stays "ok"
and its `problems` name it, such as "2 rows skipped (calls-2024-03.csv line 14: bad date '31/31/2024')"
(the source is then partial: exit 3).
Unchanged files (same size and mtime, or same sha256) are not read again; a changed one is read again
from its start, the store deduplicates by external_id.

An export is read in parts (`stream`): CHUNK_ROWS rows at a time, each part with the state to keep once its
mentions are stored, so that an ingest holds one part of a large export, not all of it, and an ingest killed
in the middle of a file resumes after the last part stored (the file's state entry then holds `rows`, how
many records were read, beside its sha256). A CSV file is read as a stream; a JSON file is parsed whole (the
standard library has no streaming JSON parser), so its size bounds what reading it holds: MAX_JSON_BYTES. A
CSV file has no size limit: what reading it holds does not grow with it.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import fnmatch
import glob
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from ..config import Config, FieldMap, FileExportSource
from ..errors import SourceError
from ..models import Mention, SourceResult, threads_in
from ..text import one_line
from .fields import Mapper, RowError, customers_and_posts, items_list
from .http import FetchContext, mib

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 200 * 1024 * 1024  # a JSON export is parsed whole: a month of tickets is large, but not this large
# Records (rows or items) of an export handed on at a time: what an ingest holds of a large export, and the
# most an ingest killed in the middle of a file reads again (the store holds every part before it).
CHUNK_ROWS = 2000
_BLOCK = 1024 * 1024  # bytes hashed and checked at a time
_NOTES_SHOWN = 3
_MAGIC = re.compile(r"[*?[]")
Record = Mapping[str, Any] | str  # a row or item, or why it cannot be read


@dataclasses.dataclass
class _Outcome:
    """What reading the matched files gave; notes are per-row problems, failures per-file ones."""

    rows: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    skipped: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)
    parsed: int = 0
    kept: int = 0  # mentions handed on in the parts so far (after the brand filter)
    threads: int = 0  # of them, replies kept only for their threads
    # the file being read: its state entry (once it is known to need reading) and the records read of it
    entry: dict[str, Any] | None = None
    at: int = 0


def fetch(spec: FileExportSource, ctx: FetchContext) -> SourceResult:
    """Read the export files that changed since the last run, in one result (every part of `stream`);
    raise SourceError if none could be read."""
    mentions: list[Mention] = []
    posts: list[Any] = []
    for part in stream(spec, ctx):
        mentions.extend(part.mentions)
        posts.extend(part.posts)
        if not part.partial:
            return dataclasses.replace(part, mentions=tuple(mentions), posts=tuple(posts), mentions_total=None,
                                       threads_total=None)
    raise AssertionError("stream ends with a result that is not partial")  # pragma: no cover


def stream(spec: FileExportSource, ctx: FetchContext, *, chunk_rows: int = CHUNK_ROWS) -> Iterator[SourceResult]:
    """`fetch` in parts: results with `partial` set, each with the mentions of `chunk_rows` records read and
    the state to keep once they are stored, then the source's result (the last mentions, the totals, the
    final state). Raises SourceError (before or between parts) if no file could be read."""
    files = match_files(spec, ctx)
    previous = _load_files_state(ctx.state)
    mapper = Mapper(spec.name, spec.channel, spec.fields, spec.date_format,
                    ZoneInfo(spec.timezone) if spec.timezone else ctx.config.tz, ctx.now)
    out = _Outcome()
    keys = [_state_key(path, ctx) for path in files]
    seen: dict[str, dict[str, Any]] = {}
    batch: list[Mention] = []
    read = 0  # records since the last part
    for n, (path, key) in enumerate(zip(files, keys, strict=True)):
        for mention in _read_if_changed(path, spec, previous.get(key), mapper, out):
            read += 1
            if mention is not None:
                batch.append(mention)
            if read >= chunk_rows:
                # killed after this part is stored, the next run knows the files read, how far this one
                # was read, and (as before) the files still to come
                later = {k: previous[k] for k in keys[n + 1:] if k in previous}
                assert out.entry is not None
                at = {**later, **seen, key: {**out.entry, "rows": out.at}}
                yield _part(spec, batch, out, ctx, state={"files": json.dumps(at, sort_keys=True)})
                batch, read = [], 0
        if out.entry is not None:
            seen[key] = out.entry
    state = {"files": json.dumps(seen, sort_keys=True)}
    if out.failures and not out.parsed:
        raise SourceError("; ".join(out.failures))
    if files and not out.parsed and not out.failures:
        yield SourceResult(spec.name, spec.channel, "not_modified", state=state)
        return
    mentions, posts = customers_and_posts(batch, spec.brand_filter, ctx)
    yield SourceResult(spec.name, spec.channel, "ok", mentions, items_seen=out.rows, state=state,
                       problems=_problems(out), dropped=out.skipped, posts=posts,
                       mentions_total=out.kept + len(mentions), threads_total=out.threads + threads_in(mentions))


def _part(spec: FileExportSource, batch: list[Mention], out: _Outcome, ctx: FetchContext, *,
          state: dict[str, str]) -> SourceResult:
    mentions, posts = customers_and_posts(batch, spec.brand_filter, ctx)
    out.kept += len(mentions)
    out.threads += threads_in(mentions)
    return SourceResult(spec.name, spec.channel, "ok", mentions, items_seen=out.rows, state=state, posts=posts,
                        partial=True)


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
                     out: _Outcome) -> Iterator[Mention | None]:
    """Each record of `path` (a Mention, or None for a row skipped), unless the file is unchanged; then
    `out.entry` is its new state entry (None: retried next time). A file read in part before (`rows` in
    `before`, the same sha256) goes on after the records read then."""
    out.entry, out.at = None, 0
    try:
        st = path.stat()
        if before and "rows" not in before and before.get("size") == st.st_size \
                and before.get("mtime_ns") == st.st_mtime_ns:
            out.entry = dict(before)
            return
        if spec.kind == "json" and st.st_size > MAX_JSON_BYTES:
            raise SourceError(f"{path.name}: larger than {mib(MAX_JSON_BYTES)} (a JSON export is read whole; "
                              "export as CSV, which is read as a stream)")
        sha256 = _fingerprint(path, spec.encoding)
    except OSError as exc:
        out.failures.append(f"{path.name}: cannot read ({exc.strerror or exc})")
        return
    except SourceError as exc:
        out.failures.append(str(exc))
        return
    entry = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
    if before and before.get("sha256") == sha256:
        if "rows" not in before:
            out.entry = entry  # touched or copied again, same bytes
            return
        resume = int(before["rows"]) if str(before["rows"]).isdigit() else 0
    else:
        resume = 0
    out.entry = entry
    try:
        with path.open(encoding=_codec(spec.encoding), newline="") as fh:
            for where, record in _records(path.name, fh, spec):
                out.at += 1
                if out.at > resume:  # the records before were stored by the run that read them
                    yield _add(where, record, mapper, out)
    except SourceError as exc:
        out.failures.append(str(exc))
    except UnicodeDecodeError:  # it was valid when checked: changed while being read
        out.failures.append(f"{path.name}: not valid {spec.encoding} (changed while it was read?)")
    except OSError as exc:
        out.failures.append(f"{path.name}: cannot read ({exc.strerror or exc})")
    else:
        out.parsed += 1
        return
    out.entry = None


def _add(where: str, record: Record, mapper: Mapper, out: _Outcome) -> Mention | None:
    """The record's Mention; None when it is skipped (counted and named in `out`)."""
    out.rows += 1
    if isinstance(record, str):
        _skip(out, f"{where}: {record}")
        return None
    try:
        mention = mapper.mention(record)
    except RowError as exc:
        _skip(out, f"{where}: {exc}")
        return None
    if mention is None:  # an empty text field: a row lost, so counted like any other
        _skip(out, f"{where}: no text in {mapper.fields.text!r}")
    return mention


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


def _codec(encoding: str) -> str:
    """The codec an export is read with: UTF-8 with or without a byte-order mark."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _fingerprint(path: Path, encoding: str) -> str:
    """The file's sha256, read a block at a time; SourceError, before any row is used, if it is not all
    valid text in `encoding` (the byte named)."""
    try:
        decoder = codecs.getincrementaldecoder(_codec(encoding))()
    except LookupError:
        raise SourceError(f"{path.name}: unknown encoding {encoding!r}") from None
    digest = hashlib.sha256()
    offset = 0  # of the block being decoded; the decoder may hold the undecoded end of the one before
    with path.open("rb") as fh:
        while True:
            block = fh.read(_BLOCK)
            held = decoder.getstate()[0]
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise SourceError(f"{path.name}: not valid {encoding} at byte {offset - len(held) + exc.start} "
                                  "(set `encoding:` for this source, e.g. cp1252)") from None
            if not block:
                return digest.hexdigest()
            digest.update(block)
            offset += len(block)


def _records(name: str, fh: IO[str], spec: FileExportSource) -> Iterator[tuple[str, Record]]:
    """(where, record) for each row of a CSV file or item of a JSON file; SourceError for the file."""
    if spec.kind == "csv":
        return csv_records(name, fh, spec.delimiter, spec.fields)
    return iter(json_records(name, fh.read(), spec.items_path))


def csv_records(name: str, fh: IO[str], delimiter: str, fields: FieldMap) -> Iterator[tuple[str, Record]]:
    """Rows of a CSV text stream (opened with newline="") as dicts by stripped header name; quoted fields may
    span lines."""
    reader = csv.reader(fh, delimiter=delimiter)
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
