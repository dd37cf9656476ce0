"""Display formatting: numbers, shares, counts and names as the digest writes them.

The analysis fills each figure's `display` with these, and the templates use the same functions as
Jinja filters (render.py), so that a figure reads the same wherever it appears.
"""

from __future__ import annotations

import re
from datetime import timedelta

# line breaks, controls, bidi overrides, lone surrogates and non-characters: none may reach a subject line,
# and lxml (premailer) refuses the last two outright
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
                      r"\ud800-\udfff\ufffe\uffff]")


_CHANNEL_NAMES = {
    "call_center": "Call center", "twitter": "Twitter", "x": "X", "reddit": "Reddit", "youtube": "YouTube",
    "facebook": "Facebook", "instagram": "Instagram", "linkedin": "LinkedIn", "tiktok": "TikTok",
    "news": "News", "blog": "Blogs", "blogs": "Blogs", "reviews": "Reviews", "review": "Reviews",
    "mastodon": "Mastodon", "trustpilot": "Trustpilot", "google_alerts": "Google Alerts",
}


def number(value: float) -> str:
    """1234 -> "1,234"."""
    return f"{round(value):,}"


def percent(value: float) -> str:
    """A 0..100 share as "38%" (one decimal below 1%, so a small share is not shown as 0%)."""
    if 0 < value < 1:
        return f"{value:.1f}%"
    return f"{round(value)}%"


def signed(value: float) -> str:
    """+12 / -8 / 0."""
    r = round(value)
    return f"{r:+d}" if r else "0"


def compact(value: float) -> str:
    """12345 -> "12.3k"."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e4:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{round(value)}"


def plural(n: int, word: str) -> str:
    return f"{number(n)} {word if n == 1 else word + 's'}"


def possessive(name: str) -> str:
    """"Globex Air's", "Initech Airways'" (a name ending in s takes the apostrophe alone, as the press writes it)."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def plain_line(value: object, limit: int) -> str:
    """Untrusted text on one line (no CR/LF, controls or bidi overrides), cut on a word at `limit`."""
    if not isinstance(value, str):
        return ""
    text = " ".join(_CONTROL.sub(" ", value).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.6:  # keep whole words unless one word is very long
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def channel_label(channel: str) -> str:
    """Display name of a channel key: call_center -> "Call center"."""
    if channel in _CHANNEL_NAMES:
        return _CHANNEL_NAMES[channel]
    words = plain_line(re.sub(r"[_\-]+", " ", channel), 40)
    return words[:1].upper() + words[1:]


def time_ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{max(1, round(hours))} h"
    return f"{round(hours / 24)} days"
