"""Platform quirks of feed sources, chosen by `preset:` in sources.yaml: small functions over one entry."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import SourceError
from ..text import html_to_text, one_line, safe_url


@dataclasses.dataclass(frozen=True)
class Entry:
    """One feed entry as plain text, before it becomes a Mention; `raw` is what the parser gave."""

    id: str
    link: str
    title: str  # plain text, one line
    text: str  # plain text
    author: str  # plain text, one line
    published: datetime | None  # aware UTC
    influence: float = 0.0
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    reply_to: str = ""  # the id of the entry it answers, where a preset can tell (Atom threading wins)


Preset = Callable[[Entry], Entry]
_TITLE_CHARS = 100  # a title made from the first words of a title-less post


def _titled(e: Entry) -> Entry:
    """Title-less posts (toots, skeets, pins) get their first words as a title."""
    return e if e.title else dataclasses.replace(e, title=one_line(e.text, max_chars=_TITLE_CHARS))


_GOOGLE = re.compile(r"(?:www\.)?google\.(?:com|[a-z]{2}|com?\.[a-z]{2})", re.IGNORECASE)  # .com, .de, .co.uk


def unwrap_google(url: str) -> str:
    """The real link inside https://www.google.com/url?...&url=REAL (or q=REAL); other URLs unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not _GOOGLE.fullmatch(parts.hostname or "") or parts.path != "/url":
        return url
    params = dict(parse_qsl(parts.query))
    for key in ("url", "q"):
        real = params.get(key, "")
        if urlsplit(real).scheme in ("http", "https") and safe_url(real):
            return real
    return url


def google_alerts(e: Entry) -> Entry:
    """Google Alerts: links wrapped in a google.com redirect; titles with <b> and double-escaped entities."""
    # titles arrive as escaped HTML that was escaped again ("&amp;#39;"): one more pass decodes the rest
    return dataclasses.replace(e, link=unwrap_google(e.link), title=one_line(e.title),
                               text=html_to_text(e.text))


_REDDIT_FOOTER = re.compile(r"\s*submitted\s+by\s+/?u/\S+(?:\s+to\s+/?r/\S+)?.*$", re.IGNORECASE | re.DOTALL)
_REDDIT_LINKS = re.compile(r"\[(?:link|comments)\]")


# a comment's link: /r/SUB/comments/POST/SLUG/COMMENT/ (or /comments/POST/comment/COMMENT/)
_REDDIT_COMMENT = re.compile(r"/r/[^/]+/comments/([a-z0-9]+)/[^/]*/([a-z0-9]+)/?$", re.IGNORECASE)


def reddit_post_answered(link: str) -> str:
    """The id (`t3_POST`, as Reddit's feeds name a post) of the post a comment's link is under; "" for a
    post's own link. Reddit's feeds do not say which comment a comment answers: only its post is known."""
    try:
        path = urlsplit(link).path
    except ValueError:
        return ""
    m = _REDDIT_COMMENT.search(path)
    return f"t3_{m.group(1).lower()}" if m else ""


def reddit(e: Entry) -> Entry:
    """Reddit: drop the "submitted by /u/x [link] [comments]" footer; author /u/name -> u/name; a comment
    (a comments feed, https://www.reddit.com/r/SUB/comments/POST/.rss) answers its post."""
    text = _REDDIT_LINKS.sub("", _REDDIT_FOOTER.sub("", e.text)).strip()
    author = e.author[1:] if e.author.startswith("/u/") else e.author
    return dataclasses.replace(e, text=text or e.title, author=author,
                               reply_to=e.reply_to or reddit_post_answered(e.link))


def youtube(e: Entry) -> Entry:
    """YouTube channel feeds: the text is media:description; views are the reach."""
    stats = e.raw.get("media_statistics")
    views = _number(stats.get("views")) if isinstance(stats, Mapping) else 0.0
    description = html_to_text(str(e.raw.get("summary") or ""))  # feedparser files media:description here
    return dataclasses.replace(e, text=description or e.text, influence=max(e.influence, views))


def _author_from_path(e: Entry, marker: str, fmt: str) -> str:
    """An author handle taken from the post's URL when the feed names none."""
    if e.author:
        return e.author
    parts = urlsplit(e.link)
    segments = [s for s in parts.path.split("/") if s]
    for i, seg in enumerate(segments):
        if marker == "@" and seg.startswith("@") and len(seg) > 1:
            return fmt.format(name=seg[1:], host=parts.hostname or "")
        if marker != "@" and seg == marker and i + 1 < len(segments):
            return fmt.format(name=segments[i + 1], host=parts.hostname or "")
    return ""


def mastodon(e: Entry) -> Entry:
    """Mastodon tag/account RSS: no titles, author in the link (https://host/@user/123). The RSS says
    nothing of what a status replies to (no in-reply-to); Mastodon's API does (`in_reply_to_id`)."""
    return _titled(dataclasses.replace(e, author=_author_from_path(e, "@", "@{name}@{host}")))


def bluesky(e: Entry) -> Entry:
    """Bluesky profile RSS: no titles, author in the link (https://bsky.app/profile/HANDLE/post/ID). The
    RSS says nothing of what a post replies to; the API does (`post.record.reply.parent.uri`)."""
    return _titled(dataclasses.replace(e, author=_author_from_path(e, "profile", "@{name}")))


def tumblr(e: Entry) -> Entry:
    """Tumblr: often no title; the blog's name is the subdomain."""
    author = e.author
    host = (urlsplit(e.link).hostname or "").lower()
    if not author and host.endswith(".tumblr.com"):
        author = host.removesuffix(".tumblr.com")
    return _titled(dataclasses.replace(e, author=author))


def pinterest(e: Entry) -> Entry:
    """Pinterest: a pin's description is an image plus a caption; the caption may be empty."""
    return _titled(dataclasses.replace(e, text=e.text or e.title))


# the footer is the last paragraph: "<title> was originally published in <publication> on Medium, ..."
_MEDIUM_FOOTER = re.compile(r"(?:^|\n)[^\n]*\bwas originally published in\b[^\n]*\bon Medium\b[^\n]*$")


def medium(e: Entry) -> Entry:
    """Medium: tracking `source=` parameters on links; a "was originally published" footer."""
    parts = urlsplit(e.link)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "source"])
    link = urlunsplit(parts._replace(query=query)) if parts.query else e.link
    text = _MEDIUM_FOOTER.sub("", e.text).strip()
    return dataclasses.replace(e, link=link, text=text or e.title)


_RATING_KEYS = ("rating", "review_rating", "reviewrating", "stars", "rating_value", "ratingvalue")
_RATING_TEXT = re.compile(r"(?<![\d.])([0-5](?:[.,]\d)?)\s*(?:/|out of)\s*5\b", re.IGNORECASE)
_STARS = re.compile(r"[★☆]{5}")  # five glyphs, so that one decorative star is not a rating


def review_rating(e: Entry) -> float | None:
    """The 0–5 rating a review feed gives (an element, "4/5" or "★★☆☆☆" in the title), else None."""
    for key in _RATING_KEYS:
        value = e.raw.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            number = _number(value, default=-1.0)
            if 0 <= number <= 5:
                return number
    for text in (e.title, e.text):
        m = _RATING_TEXT.search(text)
        if m:
            return float(m.group(1).replace(",", "."))
        stars = _STARS.search(text)
        if stars:
            return float(stars.group(0).count("★"))
    return None


def reviews(e: Entry) -> Entry:
    """Review sites: the star rating goes in front of the text, where readers and the classifier see it."""
    rating = review_rating(e)
    if rating is None:
        return e
    prefix = f"Rated {rating:g}/5."
    return e if e.text.startswith(prefix) else dataclasses.replace(e, text=f"{prefix} {e.text}".strip())


def _number(value: object, default: float = 0.0) -> float:
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return default
    return number if number == number and abs(number) != float("inf") else default  # NaN and inf


PRESETS: dict[str, Preset] = {
    "google_alerts": google_alerts,
    "reddit": reddit,
    "youtube": youtube,
    "mastodon": mastodon,
    "bluesky": bluesky,
    "tumblr": tumblr,
    "pinterest": pinterest,
    "medium": medium,
    "reviews": reviews,
}


def get_preset(name: str | None) -> Preset | None:
    """The preset function named in sources.yaml; raise SourceError for an unknown name."""
    if name is None:
        return None
    try:
        return PRESETS[name]
    except KeyError:
        raise SourceError(f"unknown preset {name!r}; presets are {', '.join(PRESETS)}") from None
