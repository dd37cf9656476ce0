"""Normalization and grammar words of the languages other than English that have cue lexicons of their own.

A language is scored with its own rules when digest/lexicon/<code>/ holds at least one cue file
(complaint.txt, praise.txt, ...). Its text and its cues are normalized alike: lower case, accents
folded ("remboursé" = "rembourse", "Grüße" = "grusse"), French and Italian elisions split
("l'annulation" = "l annulation", "dell'albergo" = "dell albergo"), and each word stemmed by the
language's Snowball stemmer. Negators, contrast words and boosters come from the folder's
negators.txt, contrast.txt and boosters.txt (one word or phrase a line); a negator is recognised by
the word as written (folded, unstemmed: German "nichts" and "nicht" stem alike).
English keeps its own normalization (digest/classify/tokens.py), unchanged.
"""

# snowballstemmer ships no type information
# mypy: disable-error-code="import-untyped"
from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Final

import snowballstemmer

from .lexicons import KINDS, lexicon_text
from .tokens import _APOSTROPHES, _CAMEL, _STOP, _TOKEN, Token

# Snowball's algorithm names per ISO 639-1 code (a folder for another language is matched unstemmed)
_SNOWBALL: Final = {
    "fr": "french", "de": "german", "es": "spanish", "pt": "portuguese", "it": "italian", "nl": "dutch",
    "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish", "ro": "romanian",
    "ca": "catalan", "hu": "hungarian", "ru": "russian", "tr": "turkish",
}
# languages that write an elided article or pronoun with an apostrophe ("l'avion", "c'est", "dell'hotel")
_ELIDING: Final = frozenset({"fr", "it", "ca"})
# number words that stand for <num> in cues ("depuis <num> jours" meets "depuis cinq jours"): small, closed lists
_NUMBERS: Final = {
    "fr": "deux trois quatre cinq six sept huit neuf dix onze douze quinze vingt trente quarante cinquante "
          "soixante cent plusieurs",
    "de": "zwei drei vier fünf sechs sieben acht neun zehn elf zwölf fünfzehn zwanzig dreißig vierzig "
          "fünfzig sechzig hundert mehrere paar",
    "es": "dos tres cuatro cinco seis siete ocho nueve diez once doce quince veinte treinta cuarenta "
          "cincuenta sesenta cien varios varias",
    "pt": "dois duas três quatro cinco seis sete oito nove dez onze doze quinze vinte trinta quarenta "
          "cinquenta sessenta cem vários várias",
    "it": "due tre quattro cinque sei sette otto nove dieci undici dodici quindici venti trenta quaranta "
          "cinquanta sessanta cento parecchi parecchie",
}
_FOLD_EXTRA: Final = str.maketrans({"ß": "ss", "œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d"})


def fold(word: str) -> str:
    """Lower case without accents: "Remboursé" -> "rembourse", "Grüße" -> "grusse"."""
    low = word.lower().translate(_FOLD_EXTRA)
    if low.isascii():
        return low
    return "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Grammar:
    """The words of one language that the evidence rules treat apart, folded (negators, contrast) or stemmed."""

    language: str
    negators: frozenset[str]  # folded, unstemmed
    contrast: tuple[tuple[str, ...], ...]  # folded phrases, longest first
    boosters: frozenset[str]  # stems
    numbers: frozenset[str]  # folded
    elision: bool
    stem: Callable[[str], str]  # a folded word's stem; unstemmed.txt's words stay whole (a line's forms: its first)


def _word_list(name: str, language: str) -> list[list[str]]:
    """The folded words of each entry of a word list (negators.txt, ...), comments dropped."""
    out = []
    for line in lexicon_text(name, language).splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append([fold(w) for w in line.translate(_APOSTROPHES).replace("'", " ").split()])
    return out


@functools.cache
def cue_languages() -> frozenset[str]:
    """The languages other than English with a cue lexicon folder (digest/lexicon/<code>/ with a cue file)."""
    root = resources.files("digest").joinpath("lexicon")
    return frozenset(
        d.name for d in root.iterdir()
        if d.is_dir() and any(d.joinpath(f"{kind}.txt").is_file() for kind in KINDS)
    )


@functools.cache
def grammar(language: str) -> Grammar:
    """The grammar words and stemmer of a language with a cue folder."""
    algorithm = _SNOWBALL.get(language)
    # words the stemmer would merge with an unrelated cue (Spanish "atentamente", a sign-off, and "atento")
    # one line a word and its forms ("mala malas"): each form stands for the first, unstemmed
    unstemmed = {w: words[0] for words in _word_list("unstemmed.txt", language) for w in words}
    snowball = snowballstemmer.stemmer(algorithm) if algorithm is not None else None

    @functools.lru_cache(maxsize=1 << 16)
    def stem(word: str) -> str:
        if word in unstemmed:
            return unstemmed[word]
        return word if snowball is None else str(snowball.stemWord(word))
    boosters = frozenset(stem(words[-1]) for words in _word_list("boosters.txt", language))
    contrast = tuple(sorted((tuple(w) for w in _word_list("contrast.txt", language)), key=len, reverse=True))
    negators = frozenset(w for words in _word_list("negators.txt", language) for w in words)
    numbers = frozenset(fold(w) for w in _NUMBERS.get(language, "").split())
    return Grammar(language, negators, contrast, boosters, numbers, language in _ELIDING, stem)


_PLAIN_KINDS: Final = {"num": "<num>", "ord": "<ord>", "money": "<money>"}


def _words(value: str, g: Grammar) -> list[str]:
    """The folded words of one word token, elisions split ("l'annulation" -> "l", "annulation")."""
    if g.elision:
        return [fold(p) for p in value.split("'") if p]
    return [fold(value.replace("'", ""))]


def tokens(text: str, g: Grammar) -> Iterator[Token | tuple[str, str]]:
    """Normalized tokens of a text (or cue phrase) in the grammar's language; emoticons and emoji as pairs."""
    raw: list[tuple[str, Token | None, str]] = []  # (folded word, token, "") or ("", None, emoticon)
    for m in _TOKEN.finditer(text.translate(_APOSTROPHES)):
        kind = m.lastgroup
        value = m.group()
        if kind == "word":
            emphasis = 1.3 if len(value) >= 3 and value.isupper() else 1.0
            for w in _words(value, g):
                raw.append((w, _word_token(w, g, emphasis), ""))
        elif kind in _PLAIN_KINDS:
            raw.append(("", Token(_PLAIN_KINDS[kind]), ""))
        elif kind == "hashtag":
            for part in _CAMEL.findall(value[1:]) or [value[1:]]:
                for w in _words(part, g):
                    raw.append((w, _word_token(w, g), ""))
            raw.append(("", Token(_STOP, boundary=True), ""))
        elif kind == "stop":
            asks = "?" in value and "!" not in value
            raw.append(("", Token(_STOP, boundary=True, asks=asks,
                                  ends=asks or any(c in value for c in ".!?\n"), colon=":" in value), ""))
        elif kind in ("emoticon", "emoji"):
            raw.append(("", None, value.lower()))
    i = 0
    n = len(raw)
    while i < n:
        word, tok, symbol = raw[i]
        if tok is None:
            yield ("emo", symbol)
            i += 1
            continue
        for phrase in g.contrast:  # "mais", "par contre": a boundary after which the text weighs more
            end = i + len(phrase)
            if word and end <= n and all(raw[k][0] == phrase[k - i] for k in range(i, end)):
                # not a boundary, unlike English "but": a cue may start with it ("doch noch angekommen")
                stem = tok.stem if len(phrase) == 1 else " ".join(phrase)
                yield Token(stem, tok.emphasis, contrast=True)
                i = end
                break
        else:
            yield tok
            i += 1


def _word_token(word: str, g: Grammar, emphasis: float = 1.0) -> Token:
    if word in g.numbers:
        return Token("<num>")
    return Token(g.stem(word), emphasis, negator=word in g.negators)
