"""What `digest check` can tell about sources without fetching them: a glob that matches nothing, a URL
whose scheme no kind reads, an export `encoding` Python does not know. Warnings, located like errors:
the files are valid, but the next ingest would fail (or read nothing from) that source."""

from __future__ import annotations

import codecs
from pathlib import Path

from ..config import SOURCES_FILE, Config, FileExportSource
from ..errors import SourceError
from ..yamlfile import format_loc, load_yaml
from .exports import matching
from .http import locate

__all__ = ["source_warnings"]


def source_warnings(config: Config) -> list[str]:
    """One `sources.yaml:LINE: warning: sources[i].FIELD: ...` line per problem an ingest would meet."""
    doc = load_yaml(config.directory / SOURCES_FILE)
    out = []
    for i, spec in enumerate(config.sources.sources):
        for field, problem in _problems(spec, config):
            loc = ("sources", i, field)
            out.append(f"{SOURCES_FILE}:{doc.line_of(loc)}: warning: {format_loc(loc)}: {problem}")
    return out


def _problems(spec: object, config: Config) -> list[tuple[str, str]]:
    if isinstance(spec, FileExportSource):
        found = []
        try:
            codecs.lookup(spec.encoding)
        except LookupError:
            found.append(("encoding", f"unknown encoding {spec.encoding!r} (e.g. utf-8, cp1252, latin-1, utf-16)"))
        try:
            matching(spec, config)
        except SourceError as exc:
            found.append(("path", str(exc)))
        return found
    url = getattr(spec, "url", None)
    if not isinstance(url, str):
        return []
    try:
        kind, where = locate(url, config)
    except SourceError as exc:
        return [("url", str(exc))]
    if kind == "file" and not Path(where).is_file():
        return [("url", f"file not found: {where}")]
    return []
