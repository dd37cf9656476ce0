"""The `feed` kind: RSS, Atom (feedparser, on bytes we fetched) and JSON Feed (json) into Mentions."""

from __future__ import annotations

import dataclasses
import hashlib
import html
import io
import json
import re
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from ..config import FeedSource
from ..errors import SourceError
from ..models import Mention, OrgPost, SourceResult
from ..organisations import organisations, tag_all
from ..text import html_to_text, one_line, safe_url, text_key
from .http import FetchContext, fetch_bytes
from .presets import Entry, Preset, get_preset
from .replies import orgs_of, split_posts

ACCEPT = ("application/atom+xml, application/rss+xml, application/feed+json, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
_JSON_TYPES = ("application/feed+json", "application/json")
_MAX_ID = 256  # longer ids (some feeds use the whole URL with tracking) are hashed
_MAX_EXPANSION = 1024 * 1024  # what declared XML entities may add to a document, in bytes
_ENTITY = re.compile(rb"<!ENTITY\s+([^\s%\"'>]+)\s+(?:\"([^\"]*)\"|'([^']*)')", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ALTERNATE = re.compile(r"<link\b[^>]*\btype=[\"']?application/(?:rss|atom)\+xml[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"\bhref=[\"']?([^\"'\s>]+)", re.IGNORECASE)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_MAX_REPAIRS = 100_000  # invalid UTF-8 bytes read one by one as Windows-1252; past this, U+FFFD
_REFERENCE = re.compile(rb"&([^\s&;%#]+);")
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*\bencoding=[\"']([A-Za-z0-9._:-]+)[\"']")
# A feed's state remembers its entries (ENTRIES: a short hash of each), so that when it changes, the entries
# it served before are not turned into mentions again -- they were stored, or filtered out, last time; and
# for which settings (ENTRIES_FOR: preset, brand filter, brand keywords): others may let other entries in.
ENTRIES, ENTRIES_FOR = "entries", "entries_for"
_MAX_REMEMBERED = 1000  # entries remembered per feed (a longer feed's further entries are read every time)


@dataclasses.dataclass(frozen=True)
class ParsedFeed:
    """A feed's `entries` not among the `known` ones it was read with, and the keys of all its entries."""

    entries: list[Entry]
    keys: list[str]


def fetch(spec: FeedSource, ctx: FetchContext) -> SourceResult:
    """Fetch and parse one feed; raise SourceError (fetch_source turns it into a result) on failure."""
    preset = get_preset(spec.preset)  # an unknown preset fails before any network traffic
    got = fetch_bytes(spec.url, ctx, timeout=spec.timeout, accept=ACCEPT)
    settings = _settings_key(spec, ctx)
    remembered = {k: v for k, v in ctx.state.items() if k in (ENTRIES, ENTRIES_FOR)}
    if got.not_modified:
        return SourceResult(spec.name, spec.channel, "not_modified", state={**remembered, **got.state})
    known = ctx.state.get(ENTRIES, "").split() if ctx.state.get(ENTRIES_FOR) == settings else []
    body, note = repair_utf8(got.body, got.content_type)
    parsed = read_feed(body, media_type=got.media_type, content_type=got.content_type, base_url=got.url,
                       known=frozenset(known))
    empty = sum(1 for entry in parsed.entries if not (entry.text or entry.title))
    mentions, posts = to_mentions(parsed.entries, spec, ctx, preset)
    state = {**got.state, ENTRIES: " ".join(parsed.keys[:_MAX_REMEMBERED]), ENTRIES_FOR: settings}
    # an entry with no title and no text says nothing to store, but is counted and named, like other skips
    problems = (f"{empty} item{'s' if empty != 1 else ''} without text skipped",) if empty else ()
    return SourceResult(spec.name, spec.channel, "ok", tuple(mentions), items_seen=len(parsed.keys),
                        error=note, state=state, unseen=bool(known), posts=tuple(posts),
                        problems=problems, dropped=empty)


def _settings_key(spec: FeedSource, ctx: FetchContext) -> str:
    """What decides which of a feed's entries become mentions, as a short hash (see ENTRIES_FOR)."""
    said = json.dumps([2, spec.preset, spec.brand_filter, ctx.config.sources.brand.model_dump(mode="json")])
    return hashlib.blake2b(said.encode(), digest_size=8).hexdigest()


def repair_utf8(body: bytes, content_type: str = "") -> tuple[bytes, str | None]:
    """A body meant to be UTF-8 with its invalid bytes read as Windows-1252, and a note saying so.

    Without this, feedparser silently re-reads a UTF-8 feed holding one stray byte as another
    encoding (MacRoman, Windows-1252) and garbles every accented letter of every entry. A stray byte
    is nearly always a Windows-1252 character pasted into a UTF-8 document, hence that reading.
    """
    charset = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
    declared = _XML_ENCODING.search(body[:200])
    names = ([charset.group(1)] if charset else []) + ([declared.group(1).decode("ascii")] if declared else [])
    if body.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00", b"<\x00")) or any(
            n.lower().replace("_", "-") not in ("utf-8", "utf8") for n in names):
        return body, None  # another encoding: feedparser's business
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        first = exc.start
    else:
        return body, None
    if len(body) - len(body.translate(None, _HIGH_BYTES)) > _MAX_REPAIRS:
        # hardly UTF-8 at all: do not spend a Python step on each of its bytes
        return body.decode("utf-8", "replace").encode("utf-8"), f"invalid UTF-8 from byte {first}"
    parts: list[str] = []
    bad = pos = 0
    while True:
        try:
            parts.append(body[pos:].decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            parts.append(body[pos:pos + exc.start].decode("utf-8"))
            stray = body[pos + exc.start:pos + exc.end]
            parts.append(stray.decode("cp1252", "replace"))
            bad += len(stray)
            pos += exc.end
    return "".join(parts).encode("utf-8"), (f"invalid UTF-8 from byte {first}: {bad} byte{'s' if bad != 1 else ''}"
                                            " read as Windows-1252")


def to_mentions(entries: Iterable[Entry], spec: FeedSource, ctx: FetchContext,
                preset: Preset | None) -> tuple[list[Mention], list[OrgPost]]:
    """Entries -> (Mentions, the organisations' own posts): preset applied, brand filter (not on the
    organisations' posts: a reply rarely names its brand), empty and repeated entries dropped."""
    out: list[Mention] = []
    seen: set[str] = set()
    for entry in entries:
        if preset is not None:
            entry = preset(entry)
        mention = to_mention(entry, spec, ctx.now)
        if mention is None or mention.external_id in seen:
            continue
        seen.add(mention.external_id)
        out.append(mention)
    orgs = orgs_of(ctx.config.sources)
    customers, posts = split_posts(out, orgs)
    # kept when about the brand or a competitor (named, or addressed), with whom it is about; replies that
    # name nobody for their threads, when some organisation's answers can be told (organisations.tag)
    kept = tag_all(customers, organisations(ctx.config.sources), brand_filter=spec.brand_filter,
                   keep_replies=bool(orgs))
    return _in_threads(kept, posts), posts


def _in_threads(kept: Sequence[Mention], posts: Sequence[OrgPost]) -> list[Mention]:
    """`kept` without the replies about nobody whose thread is not in this feed: a comments feed of a whole
    forum would otherwise store every comment (an export keeps them all: its rows are the brand's own)."""
    nobody = [m for m in kept if not m.about_brand and not m.competitors]
    if not nobody:
        return list(kept)
    known = {m.external_id for m in kept if m.about_brand or m.competitors} | {p.post.external_id for p in posts}
    waiting = {id(m): m for m in nobody}
    grew = True
    while grew:  # a reply to a reply kept is kept (a thread's middle)
        grew = False
        for key, m in list(waiting.items()):
            if m.reply_to in known:
                known.add(m.external_id)
                del waiting[key]
                grew = True
    return [m for m in kept if id(m) not in waiting]


def to_mention(entry: Entry, spec: FeedSource, now: datetime) -> Mention | None:
    """One Mention, or None for an entry that says nothing (no title, no text)."""
    text = entry.text or entry.title
    if not text:
        return None
    external_id = _post_id(entry.id.strip() or entry.link.strip() or text_key(f"{entry.title}\n{text}"))
    # a date ahead of the fetch is clamped, or the entry skipped, for every kind alike (sources.dated)
    published = entry.published or now
    reply_to = reply_ref(entry.raw) or entry.reply_to
    return Mention(source=spec.name, channel=spec.channel, external_id=external_id, url=safe_url(entry.link),
                   title=entry.title, text=text, author=entry.author, published=published,
                   influence=entry.influence, reply_to=_post_id(reply_to) if reply_to else "")


def _post_id(ident: str) -> str:
    """An entry's id as stored: longer ids (some feeds use the whole URL with tracking) are hashed."""
    return hashlib.sha256(ident.encode()).hexdigest()[:32] if len(ident) > _MAX_ID else ident


def reply_ref(raw: Mapping[str, Any]) -> str:
    """The id of the entry this one answers: Atom threading's `thr:in-reply-to` (RFC 4685) `ref`, else its
    `href`; "" when it answers nothing (feedparser keeps only the last in-reply-to of an entry)."""
    found = raw.get("thr_in-reply-to")
    if not isinstance(found, Mapping):
        return ""
    return one_line(str(found.get("ref") or found.get("href") or ""))


def parse_feed(body: bytes, *, media_type: str = "", content_type: str = "",
               base_url: str = "") -> list[Entry]:
    """Entries of an RSS, Atom, RDF or JSON feed; raise SourceError("not a feed: ...") if there is none."""
    return read_feed(body, media_type=media_type, content_type=content_type, base_url=base_url).entries


def read_feed(body: bytes, *, media_type: str = "", content_type: str = "", base_url: str = "",
              known: Collection[str] = ()) -> ParsedFeed:
    """`parse_feed`, leaving out the entries whose key (`entry_key`) is in `known`: turning an entry's HTML
    into text costs about as much as parsing it, and a feed that changed serves mostly entries seen before."""
    if not body.strip():
        raise SourceError("not a feed: the response is empty")
    if media_type in _JSON_TYPES or body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return parse_json_feed(body, known)
    return parse_xml_feed(body, media_type=media_type, content_type=content_type, base_url=base_url, known=known)


def entry_key(*parts: object) -> str:
    """A short hash of what an entry says (12 hex digits: collisions among one feed's entries are negligible)."""
    said = "\x1f".join(str(p) for p in parts)
    return hashlib.blake2b(said.encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


# -- JSON Feed ----------------------------------------------------------------------------------------


def parse_json_feed(body: bytes, known: Collection[str] = ()) -> ParsedFeed:
    """Entries of a JSON Feed (https://jsonfeed.org/version/1.1), but those with a key in `known`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested too deep
        raise SourceError(f"not a feed: invalid JSON ({one_line(str(exc))})") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise SourceError("not a feed: JSON without a jsonfeed.org version")
    items = data.get("items")
    if not isinstance(items, list):
        raise SourceError("not a feed: JSON Feed without an items list")
    base = _str(data.get("home_page_url")) or _str(data.get("feed_url"))
    feed_author = _json_author(data)
    entries: list[Entry] = []
    keys: list[str] = []
    for item in items:
        if isinstance(item, dict):
            key = entry_key(base, feed_author, json.dumps(item, sort_keys=True))
            keys.append(key)
            if key not in known:
                entries.append(_json_entry(item, base, feed_author))
    return ParsedFeed(entries, keys)


def _json_entry(item: Mapping[str, Any], base: str, feed_author: str) -> Entry:
    link = _str(item.get("url")) or _str(item.get("external_url"))
    content_html = _str(item.get("content_html"))
    text = html_to_text(content_html) if content_html else _plain(_str(item.get("content_text")))
    text = text or _plain(_str(item.get("summary")))
    return Entry(
        id=_str(item.get("id")),
        link=_absolute(link, base),
        title=one_line(_str(item.get("title"))),
        text=text,
        author=_json_author(item) or feed_author,
        published=_iso_utc(_str(item.get("date_published")) or _str(item.get("date_modified"))),
        raw=item,
    )


def _json_author(obj: Mapping[str, Any]) -> str:
    authors = obj.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else obj.get("author")  # 1.1, then 1.0
    return one_line(_str(first.get("name"))) if isinstance(first, dict) else ""


def _iso_utc(value: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    try:
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # year 1 ahead of UTC, year 9999 behind it: no date (fetch time) rather than a crash
        return None


def _str(value: object) -> str:
    """A JSON scalar as a string; objects, lists and null become ""."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _plain(value: str) -> str:
    """Plain text tidied like html_to_text does, without reading `<` as markup."""
    return html_to_text(html.escape(value, quote=False))


# -- RSS, Atom, RDF ------------------------------------------------------------------------------------


def parse_xml_feed(body: bytes, *, media_type: str = "", content_type: str = "", base_url: str = "",
                   known: Collection[str] = ()) -> ParsedFeed:
    """Entries of an RSS, Atom or RDF feed parsed by feedparser from bytes (it never fetches anything),
    but those with a key in `known`."""
    _refuse_entity_bombs(body)
    # no content-location: feedparser would resolve relative *ids* (Reddit's "t3_abc") against it, and
    # the same feed read from a file and over HTTP must give the same ids; _absolute() fixes links instead
    headers = {"content-type": content_type} if content_type else {}
    # a BytesIO, not bytes or str: feedparser treats a string as a URL or a file name to open. Its HTML
    # sanitizer and relative-link rewriting are off: they take two thirds of its time, and an entry's HTML
    # is reduced to plain text here (html_to_text; links are checked by safe_url, text escaped on output)
    import feedparser  # noqa: PLC0415 - here, so that digest check and --help do not load it

    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers, sanitize_html=False,
                              resolve_relative_uris=False)
    entries = parsed.get("entries") or []
    if not entries and not parsed.get("version"):
        raise SourceError(f"not a feed: {_why_not(body, parsed, media_type)}")
    out: list[Entry] = []
    keys: list[str] = []
    for e in entries:
        # not its dates: a stored mention keeps the date it was first seen with
        key = entry_key(base_url, e.get("id"), e.get("link"), e.get("title"), _body_html(e), e.get("author"),
                        e.get("author_detail"))
        keys.append(key)
        if key not in known:
            out.append(_xml_entry(e, base_url))
    return ParsedFeed(out, keys)


def _refuse_entity_bombs(body: bytes) -> None:
    """Refuse documents whose declared entities would expand past _MAX_EXPANSION.

    feedparser keeps only "simple" entity declarations, and expat stops billion-laughs nesting; but a
    simple entity of a megabyte used a thousand times still blows up in feedparser's fallback parser.
    """
    view = _ascii_view(body)
    first = _FIRST_ELEMENT.search(view)
    prolog = view[: first.start()] if first else view
    declared = _ENTITY.findall(prolog)
    if not declared:
        return
    values = {name: double or single for name, double, single in declared[:200]}
    sizes: dict[bytes, int] = {}

    def size(name: bytes, depth: int = 0) -> int:
        """Length of an entity once expanded, nested references included (billion laughs nest 10 deep)."""
        if name not in sizes:
            value = values[name]
            total = len(value)
            for ref in _REFERENCE.findall(value):
                if total > _MAX_EXPANSION or depth > 50:  # enough to refuse; also ends reference cycles
                    return _MAX_EXPANSION + 1
                if ref in values:
                    total += size(ref, depth + 1) - len(ref) - 2
            sizes[name] = total
        return sizes[name]

    document = view[len(prolog):]
    growth = sum(document.count(b"&" + name + b";") * size(name) for name in values)
    if len(declared) > 200 or growth > _MAX_EXPANSION:
        raise SourceError("not a feed: its XML entity declarations would expand it past "
                          f"{_MAX_EXPANSION // 1024 // 1024} MiB (an entity bomb?)")


def _ascii_view(body: bytes) -> bytes:
    """The body in an ASCII-compatible encoding, so that byte patterns find markup in UTF-16/32 too."""
    head = body[:4]
    for bom, codec in ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
                       (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le")):
        if head.startswith(bom):
            return body[len(bom):].decode(codec, "replace").encode("utf-8")
    if head.startswith(b"\x00<") or head.startswith(b"<\x00"):
        codec = "utf-16-be" if head.startswith(b"\x00") else "utf-16-le"
        return body.decode(codec, "replace").encode("utf-8")
    return body


def _why_not(body: bytes, parsed: Mapping[str, Any], media_type: str) -> str:
    """Why a body that feedparser read has no feed in it, for an ops person to act on."""
    start = body[:4096].decode("utf-8", "replace")
    if media_type in ("text/html", "application/xhtml+xml") or re.search(r"<(!doctype\s+html|html)\b", start,
                                                                          re.IGNORECASE):
        m = _ALTERNATE.search(body[:65536].decode("utf-8", "replace"))
        href = _HREF.search(m.group(0)) if m else None
        hint = f" (the page links to a feed: {html.unescape(href.group(1))})" if href else ""
        return f"got an HTML page, not RSS/Atom{hint}"
    exc = parsed.get("bozo_exception")
    if exc is not None:
        return f"no RSS, Atom or JSON Feed found ({one_line(str(exc), max_chars=160)})"
    return "no RSS, Atom or JSON Feed found"


def _xml_entry(e: Mapping[str, Any], base_url: str) -> Entry:
    detail = e.get("author_detail")
    author = e.get("author") or (detail.get("name") if isinstance(detail, Mapping) else "") or ""
    return Entry(
        id=str(e.get("id") or ""),
        link=_absolute(str(e.get("link") or ""), base_url),
        title=one_line(str(e.get("title") or "")),
        text=html_to_text(_body_html(e)),
        author=one_line(str(author)),
        published=_struct_utc(e.get("published_parsed") or e.get("updated_parsed")
                              or e.get("created_parsed")),
        raw=e,
    )


def _body_html(e: Mapping[str, Any]) -> str:
    """The fullest text an entry has: its first non-empty content, else its summary."""
    for part in e.get("content") or []:
        if isinstance(part, Mapping) and part.get("value"):
            return str(part["value"])
    return str(e.get("summary") or "")


def _struct_utc(value: object) -> datetime | None:
    """feedparser's *_parsed (a UTC time.struct_time) as an aware datetime."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def _absolute(link: str, base: str) -> str:
    """Resolve a relative link against the feed's own http(s) URL; a protocol-relative one (`//host/x`) gets
    https, never the plain http a feed may be served over. With no such base (a local file), the link is left
    as it is and safe_url drops it."""
    link = link.strip()
    if link and base.startswith(("http://", "https://")) and not urlsplit(link).scheme:
        if link.startswith("//"):
            return "https:" + link
        if link.startswith("\\"):  # browsers read \\host as //host; no real feed writes it: safe_url drops it
            return link
        try:
            return urljoin(base, link)
        except ValueError:
            return link
    return link
