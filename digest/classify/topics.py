"""Topic keywords matched on stemmed whole words, in the language of the text."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from . import grammar
from .cues import words
from .tokens import Token


def language_words(text: str, language: str = "en") -> list[str]:
    """The stems of `text` as the classifier reads `language` (boundaries dropped)."""
    if language == "en":
        return words(text)
    g = grammar.grammar(language)
    return [t.stem for t in grammar.tokens(text, g) if isinstance(t, Token) and not t.boundary]


# languages that write compounds as one word: a one-word keyword is also found as a compound's first or last
# part ("Gepäck" in "Gepäckband", "Koffer" in "Reisekoffer") when both are long enough to mean it
_COMPOUNDING: Final = frozenset({"de"})
_PART_MIN: Final = 4  # the keyword's stem ("koff", "gepack"; not "app", which starts "Appetit")
_REST_MIN: Final = 3  # what the compound adds ("band", "reise")

# "pt:mala": a keyword for one language's texts only (Portuguese "mala" is a suitcase, Spanish "mala" is bad)
_ONE_LANGUAGE: Final = re.compile(r"^([a-z]{2}):(?=\S)(.+)$")


def keyword_language(keyword: str) -> tuple[str, str]:
    """(language code, keyword) of a "pt:mala" keyword; ("", keyword) for one matched in every language."""
    m = _ONE_LANGUAGE.match(keyword.strip())
    return (m.group(1), m.group(2)) if m else ("", keyword)


class TopicMatcher:
    """Keyword lists matched on stemmed whole words, so "refund" finds "refunds" and "refunded".

    A topic's keywords may be written in several languages in one list ([bag, luggage, maleta, valise,
    Koffer]): a matcher stems every keyword as its `language` does and matches the texts in it, so a
    Spanish text finds "maleta" in "maletas", and an English keyword that is also a word there ("app")
    finds it too. A keyword written "pt:mala" is matched in that language's texts only.
    """

    def __init__(self, topics: Mapping[str, Sequence[str]], language: str = "en") -> None:
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._parts: list[tuple[str, str]] = []  # (stem, topic) found inside compounds
        self._order = {name: k for k, name in enumerate(topics)}
        for name, keywords in topics.items():
            for entry in keywords:
                only, keyword = keyword_language(entry)
                if only and only != language:
                    continue
                key = tuple(language_words(keyword, language))
                if key:
                    self._by_first.setdefault(key[0], []).append((name, key))
                if language in _COMPOUNDING and len(key) == 1 and len(key[0]) >= _PART_MIN:
                    self._parts.append((key[0], name))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def match(self, stems: Sequence[str]) -> tuple[str, ...]:
        """Names of the topics whose keywords occur in `stems`, in configuration order."""
        found: set[str] = set()
        for i, s in enumerate(stems):
            for name, key in self._by_first.get(s, ()):
                if name not in found and tuple(stems[i : i + len(key)]) == key:
                    found.add(name)
            for part, name in self._parts:
                if name not in found and len(s) >= len(part) + _REST_MIN and (s.startswith(part) or s.endswith(part)):
                    found.add(name)
        return tuple(sorted(found, key=self._order.__getitem__))
