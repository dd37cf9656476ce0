"""Cue phrases normalized as text is, so that a lexicon entry matches every spelling of it."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

from . import grammar as _grammar
from .lexicons import KINDS, lexicon_path, read_lexicon
from .tokens import Token, tokens

_PLACEHOLDERS: Final = {"<num>": "2", "<ord>": "3rd", "<money>": "$5"}


def phrase_key(phrase: str, language: str = "en") -> tuple[str, ...]:
    """A cue phrase normalized exactly as text is, so that "didn't get" = "did not get".

    Raises ValueError for a phrase that text could never match (punctuation or "but" inside).
    """
    text = " ".join(_PLACEHOLDERS.get(w, w) for w in phrase.split())
    found = tokens(text, frozenset()) if language == "en" else _grammar.tokens(text, _grammar.grammar(language))
    toks = [t for t in found if isinstance(t, Token)]
    if not toks or any(t.boundary for t in toks):
        raise ValueError(f"{phrase!r} is empty or spans a clause boundary")
    return tuple(t.stem for t in toks)


@functools.cache
def lexicon(language: str = "en") -> tuple[dict[tuple[str, ...], dict[str, float]], dict[str, int]]:
    """Every cue phrase of a language -> {kind: weight}, and per first word the longest phrase it starts."""
    cues: dict[tuple[str, ...], dict[str, float]] = {}
    longest: dict[str, int] = {}
    for kind in KINDS:
        name = lexicon_path(f"{kind}.txt", language).removeprefix("lexicon/")
        entries = read_lexicon(f"{kind}.txt", language)
        for key, value in cue_weights(name, entries, language).items():
            cues.setdefault(key, {})[kind] = value
            longest[key[0]] = max(longest.get(key[0], 0), len(key))
    return cues, longest


def cue_weights(name: str, entries: Iterable[tuple[int, float, str]], language: str = "en"
                ) -> dict[tuple[str, ...], float]:
    """One lexicon file's phrases, normalized, -> weight. Spellings that normalize alike ("didn't get",
    "did not get") may be listed apart, but not with different weights: one would silently win."""
    out: dict[tuple[str, ...], tuple[float, int, str]] = {}
    for lineno, value, phrase in entries:
        try:
            key = phrase_key(phrase, language)
        except ValueError as exc:
            raise ValueError(f"lexicon/{name}:{lineno}: {exc}") from None
        seen = out.get(key)
        if seen is not None and seen[0] != value:
            raise ValueError(f"lexicon/{name}:{lineno}: {phrase!r} is {' '.join(key)!r}, listed at line "
                             f"{seen[1]} ({seen[2]!r}) with weight {seen[0]:g}, here {value:g}: keep one weight")
        out[key] = (value, lineno, phrase)
    return {key: value for key, (value, _, _) in out.items()}


@functools.cache
def known_words() -> frozenset[str]:
    """Every stem that some cue uses (for undoing elongation: "sooo" -> "so")."""
    return frozenset(w for key in lexicon()[0] for w in key)


def words(text: str) -> list[str]:
    """The stems the classifier matches cues and topics against (boundaries dropped)."""
    return [t.stem for t in tokens(text, known_words()) if isinstance(t, Token) and not t.boundary]
