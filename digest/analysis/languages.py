"""The languages of a period's mentions (issue 18): the "Languages" table and the data-health sentence
on mentions that could not be scored."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..formatting import number, percent, plural
from ..models import UNSCORED
from ..rollups import NO_LANGUAGE

# English names of the languages customers write to a brand in most often; any other code is shown as it is
NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "pt": "Portuguese", "it": "Italian",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian", "fi": "Finnish", "pl": "Polish",
    "cs": "Czech", "sk": "Slovak", "hu": "Hungarian", "ro": "Romanian", "hr": "Croatian", "sl": "Slovenian",
    "bg": "Bulgarian", "el": "Greek", "tr": "Turkish", "ru": "Russian", "uk": "Ukrainian", "ar": "Arabic",
    "he": "Hebrew", "fa": "Persian", "hi": "Hindi", "bn": "Bengali", "ur": "Urdu", "id": "Indonesian",
    "ms": "Malay", "vi": "Vietnamese", "th": "Thai", "tl": "Tagalog", "sw": "Swahili", "eu": "Basque",
    "et": "Estonian", "lv": "Latvian", "lt": "Lithuanian", "is": "Icelandic", "ga": "Irish", "cy": "Welsh",
    "af": "Afrikaans", "ja": "Japanese", "ko": "Korean", "zh": "Chinese", NO_LANGUAGE: "Undetermined",
}
MAX_NAMED = 3  # languages the unscored sentence names before "and N other languages"


def language_name(code: str) -> str:
    """The English name of an ISO 639-1 code, the code itself when the table lacks it."""
    return NAMES.get(code, code)


@dataclasses.dataclass(frozen=True)
class LanguageRow:
    """One language in the "Languages" table."""

    code: str
    name: str
    mentions: int
    mentions_display: str
    share: float  # of the period's mentions, 0..100
    share_display: str
    scored: int  # of its mentions, those the classifier scored
    negative_share: float | None  # of its scored mentions, 0..100; None when none is scored
    negative_share_display: str  # "–" when none is scored


def language_rows(counts: pd.DataFrame) -> tuple[LanguageRow, ...]:
    """The rows of Facts.language_counts, most mentions first (ties by name)."""
    if counts.empty:
        return ()
    total = int(counts["n"].sum())
    if total <= 0:
        return ()
    rows = []
    for code, group in counts.groupby("language", sort=False):
        n = int(group["n"].sum())
        if n <= 0:
            continue
        unscored = int(group.loc[group["sentiment"] == UNSCORED, "n"].sum())
        negative = int(group.loc[group["sentiment"] == "negative", "n"].sum())
        scored = n - unscored
        share = 100.0 * n / total
        neg = 100.0 * negative / scored if scored else None
        rows.append(LanguageRow(str(code), language_name(str(code)), n, number(n), share, percent(share), scored,
                                neg, percent(neg) if neg is not None else "–"))
    rows.sort(key=lambda r: (-r.mentions, r.name))
    return tuple(rows)


def shows_table(rows: tuple[LanguageRow, ...]) -> bool:
    """The table is shown when more than one language (undetermined texts aside) was written in."""
    return sum(1 for r in rows if r.code != NO_LANGUAGE) > 1


def unscored_sentence(rows: tuple[LanguageRow, ...]) -> str:
    """'212 mentions in Japanese and Korean could not be scored', or "" when every mention was scored."""
    unscored = [(r.mentions - r.scored, r.name) for r in rows if r.mentions > r.scored]
    if not unscored:
        return ""
    unscored.sort(key=lambda x: (-x[0], x[1]))
    total = sum(n for n, _ in unscored)
    names = [name for _, name in unscored]
    if len(names) > MAX_NAMED:
        rest = len(names) - MAX_NAMED
        listed = ", ".join(names[:MAX_NAMED]) + f" and {plural(rest, 'other language')}"
    elif len(names) > 1:
        listed = ", ".join(names[:-1]) + " and " + names[-1]
    else:
        listed = names[0]
    return f"{plural(total, 'mention')} in {listed} could not be scored"
