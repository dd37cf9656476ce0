"""Untrusted text from feeds: HTML reduced to plain text, links checked, text normalized for dedup."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import urlsplit

_BLOCK = {"p", "div", "br", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6",
          "blockquote", "pre", "section", "article", "header", "footer", "hr", "dd", "dt"}
_SKIP = {"script", "style", "head", "title", "noscript", "template", "iframe", "object", "svg", "math"}
# C0 and C1 controls (but tab and line ends), zero-width and bidi marks, line separators, BOM
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANKS = re.compile(r"\n\s*\n\s*(\n\s*)+")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        # the skipped elements open around the current text: an end tag closes the innermost element it
        # names, and a stray one (`</style>` with no <style> open) closes nothing -- a count would let it
        # end an enclosing <svg> early and leak the rest of the SVG into the mention
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping.append(tag)
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._skipping:
            while self._skipping.pop() != tag:  # elements left open inside it end with it
                pass
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(value: str | None, *, max_chars: int = 20_000) -> str:
    """Plain text of an HTML (or plain) fragment: tags dropped, entities decoded, whitespace tidied."""
    if not value:
        return ""
    value = value[: max_chars * 4]
    if "<" in value or "&" in value:
        parser = _TextExtractor()
        try:
            parser.feed(value)
            parser.close()
            value = "".join(parser.parts)
        except (AssertionError, ValueError):  # the stdlib parser gives up on some broken markup
            value = html.unescape(re.sub(r"<[^>]*>", " ", value))
    value = _CONTROL.sub("", value)
    value = "\n".join(_SPACES.sub(" ", line).strip() for line in value.split("\n"))
    value = _BLANKS.sub("\n\n", value).strip()
    return value[:max_chars]


def one_line(value: str | None, *, max_chars: int = 300) -> str:
    """A title or author: plain text on one line, no CR/LF (these end up near headers and subjects)."""
    text = " ".join(html_to_text(value, max_chars=max_chars * 2).split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def safe_url(value: str | None) -> str | None:
    """The URL if it is an absolute http(s) or mailto link, else None (javascript:, data:, relative...)."""
    if not value:
        return None
    value = _CONTROL.sub("", value).strip()
    # any whitespace (a real URL percent-encodes it; a no-break space can hide where a host ends) or quote
    if any(c.isspace() or c in "<>\"'`" for c in value) or len(value) > 2048:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and parts.netloc:
        return value
    if scheme == "mailto" and parts.path:
        return value
    return None


def normalize(text: str) -> str:
    """Text folded for duplicate detection: case, accents, URLs, mentions, punctuation and spacing."""
    if not text.isascii():  # ASCII has no accents to strip (and is most text: skip the per-character loop)
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold()
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\b(?:rt|via|cc)\s*@\w+:?", " ", text)  # retweets and "via @x" reposts
    text = re.sub(r"[^\w\s]", " ", text)
    # a retweet's leading "RT", also after punctuation (":RT" left "rt", which a second pass dropped)
    return re.sub(r"^(?:rt(?: |$))+", "", " ".join(text.split()))


def text_key(text: str) -> str:
    """Stable hash of the normalized text, the last resort of deduplication."""
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:32]


_FLOAT_NUMBER = re.compile(r"^(\d+)\.0+$")


def account_key(name: str) -> str:
    """An author or account name as compared: case, a leading `@` or `u/` and a Mastodon `@instance` ignored;
    a numeric user id written as a float by a spreadsheet (`115712.0`) is the number."""
    key = name.strip().lower()
    for prefix in ("/u/", "u/", "@"):
        key = key.removeprefix(prefix)
    key = key.split("@", 1)[0].strip()
    number = _FLOAT_NUMBER.match(key)
    return number.group(1) if number else key


# Scripts written without spaces between words (Japanese kana and kanji, Chinese, Thai) and Korean hangul,
# whose particles attach to the noun before them ("아크메항공이"): a name in them has no word boundary to
# look for, and a letter of theirs next to a Latin name is a boundary ("Acmeの遅延").
_UNSPACED = ("\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
             "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f")
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
# a word character of a script that separates words with spaces: what a Latin name may not touch
_SPACED_WORD = f"[^\\W{_UNSPACED}]"


def matches_brand(text: str, keywords: list[str], exclude: list[str]) -> bool:
    """True if `text` names one of `keywords` (none given: everything) and none of `exclude`.

    Text and keywords are compared casefolded and NFKC-normalised (full-width "Ａｃｍｅ" and half-width
    katakana are the letters they stand for). A keyword edge that is a letter or digit of a spaced script
    must not touch another such character ("acme" is not in "acmeister" nor "acme2"); a keyword in an
    unspaced script is found anywhere ("アクメエア" in "アクメエアの遅延がひどい").
    """
    folded = _fold(text)
    if any(_contains(folded, _fold(x)) for x in exclude):
        return False
    return not keywords or any(_contains(folded, _fold(k)) for k in keywords)


def _fold(text: str) -> str:
    return text.casefold() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()


def _contains(folded: str, needle: str) -> bool:
    # word boundaries where the keyword starts/ends with a word character of a spaced script,
    # plain substring for "@acmeair" / "#acmeair" style handles and for names in unspaced scripts
    left = f"(?<!{_SPACED_WORD})" if needle[:1].isalnum() and not _UNSPACED_CHAR.match(needle[:1]) else ""
    right = f"(?!{_SPACED_WORD})" if needle[-1:].isalnum() and not _UNSPACED_CHAR.match(needle[-1:]) else ""
    return re.search(left + re.escape(needle) + right, folded) is not None
