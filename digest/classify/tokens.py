"""Text normalization for the classifier: tokens, light stems, run-together hashtags.

Cues, topics and phrases all match on what this module makes of a text, so a cue written as
"didn't get" meets "did not get", "refunds" meets "refund" and "#whereismybag" meets "where my bag".
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import Final

from .lexicons import vocabulary

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_TOKEN = re.compile(
    r"""
    (?P<url>(?:https?://|www\.)\S+)
    |(?P<mention>@\w+)
    |(?P<hashtag>\#\w+)
    |(?P<emoticon>(?:>?[:;=][\-o*']?[()\[\]dpDP/\\|]+(?!\w))|</?3)
    |(?P<money>[$£€]\s?\d[\d,.]*)
    |(?P<ord>\d+(?:st|nd|rd|th)\b)
    |(?P<num>\d+(?:[.,:]\d+)*)
    |(?P<word>[^\W\d_]+(?:'[^\W\d_]+)*)
    |(?P<stop>[.!?,;:()]+|\s[-\u2013\u2014]+\s|\n)
    |(?P<emoji>[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2764])
    """,
    re.VERBOSE,
)
_CAMEL = re.compile(r"[A-Z]{2,}(?![a-z])|[A-Z]?[a-z]+|\d+")
_ELONGATED = re.compile(r"(\w)\1{2,}")

_NUMBER_WORDS: Final = frozenset(
    "two three four five six seven eight nine ten eleven twelve fifteen twenty thirty forty fifty "
    "sixty ninety hundred couple few several".split()
)
_ORDINAL_WORDS: Final = frozenset(
    "second third fourth fifth sixth seventh eighth ninth tenth umpteenth nth".split()
)
# Words that flip a following cue ("not helpful", "never late"); on their own they are weak
# complaint evidence, as customers writing to a company mostly negate what went wrong.
_NEGATORS: Final = frozenset(
    "not no never dont doesnt didnt isnt wasnt arent werent cant cannot couldnt wont wouldnt "
    "shouldnt havent hasnt hadnt aint nobody nothing nor without hardly barely neither".split()
)
_NOT_FORMS: Final = frozenset(
    "dont doesnt didnt isnt wasnt arent werent cant cannot couldnt wont wouldnt shouldnt havent hasnt "
    "hadnt aint mustnt neednt".split()
)
_AUXILIARIES: Final = frozenset(
    "do does did is are was were has have had will would could can should am must".split()
)

_STOP = "|"  # a sentence or clause boundary: cues never span one

# words whose stem would meet another cue's ("please"/"pleased", "evening"/"even"), and the past
# of repairs, which reports a fix where the present asks for one ("fixed it" / "fix it")
_UNSTEMMED: Final = frozenset(
    "please nothing something anything everything morning evening during bring thing news always "
    "united need feed speed fixed fixing helped helping sorted sorting solved solving resolved "
    "resolving".split()
)


# words the suffix rules below would merge with an unrelated word, and what they stem to instead
# (the _UNSTEMMED words to themselves):
# "canned" is not "can", "quite" not "quit", "plane" not "plan", "care" not "car", "hats" not "hate", "Los" Angeles
# is no "loss", "kids" are no "kidding", "issued" (a refund) is no "issue", "goods" are not "good"
_IRREGULAR: Final = {
    **dict.fromkeys(("canned",), "canned"),
    **dict.fromkeys(("quite",), "quite"),
    **dict.fromkeys(("plane", "planes"), "plane"),
    **dict.fromkeys(("care", "cares", "cared", "caring"), "care"),
    **dict.fromkeys(("wine", "wines"), "wine"),
    **dict.fromkeys(("hat", "hats"), "hats"),  # "hate" stems to "hat"
    **dict.fromkeys(("los", "las"), "los_"),
    **dict.fromkeys(("lose", "loses", "losing"), "lose"),
    **dict.fromkeys(("loss", "losses"), "loss"),
    **dict.fromkeys(("kidding",), "kidding"),
    **dict.fromkeys(("issued",), "issued"),
    **dict.fromkeys(("goods",), "goods"),
    **dict.fromkeys(("miss", "misses"), "miss"),
    **dict.fromkeys(("note", "notes", "noted"), "note"),  # a "not ..." cue must not match
    **dict.fromkeys(("mine",), "mine"),  # "<num> min"
    **{word: word for word in _UNSTEMMED},
}


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light English stem, equal for a word's plural and verb forms ("refunds", "refunded")."""
    irregular = _IRREGULAR.get(word)
    if irregular is not None:
        return irregular
    w = word
    for suffix in ("ation", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    else:
        if w.endswith("s") and len(w) >= 4 and w[-2] not in "siu":
            w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiou":  # "cancell" -> "cancel"
        w = w[:-1]
    if len(w) >= 4 and w.endswith("e"):  # "charge" and "charg(ed)" meet
        w = w[:-1]
    return w


@dataclass(frozen=True, slots=True)
class Token:
    """A normalized word, or a boundary (punctuation, "but", the end of a hashtag)."""

    stem: str
    emphasis: float = 1.0  # capitals or elongation ("SOOO", "NEVER")
    negator: bool = False
    boundary: bool = False
    aux: bool = False  # "did", "is", "can": dropped before "not"
    asks: bool = False  # a boundary that ends a question ("?" without "!")
    ends: bool = False  # a boundary that ends a sentence (not a comma)
    contrast: bool = False  # "but": what follows outweighs what came before
    colon: bool = False  # a boundary that is or holds a colon


def _split_hashtag(tag: str) -> list[str]:
    """The words of a hashtag: "#NeverAgain" by its capitals, "#neveragain" by known words."""
    parts = _CAMEL.findall(tag)
    if len(parts) > 1:
        return [p.lower() for p in parts]
    return list(_segment(tag.lower()))


_LOG10: Final = math.log(10)


@functools.lru_cache(maxsize=1 << 14)
def _segment(tag: str) -> tuple[str, ...]:
    """Split a run-together tag into words where that explains most of it ("badservice").

    The most probable split under a unigram model of English word frequencies (the spelling list
    TextBlob ships); a stretch of unknown letters costs more the longer it is, so "happyflier" is
    "happy flier", not "happy f lie r".
    """
    if len(tag) < 6 or len(tag) > 40:
        return (tag,)
    costs, unknown = word_costs()
    n = len(tag)
    # best[i] = (cost, words) of the cheapest split of tag[:i]
    empty: tuple[str, ...] = ()
    best = [(0.0, empty)] + [(math.inf, empty)] * n
    for i in range(1, n + 1):
        for j in range(max(0, i - 20), i):
            piece = tag[j:i]
            cost = costs.get(piece)
            if cost is None:  # "o scars" is no reading of "oscars": unknown pieces are words too
                cost = unknown + (i - j) * _LOG10 if i - j >= 3 else math.inf
            cand = best[j][0] + cost
            if cand < best[i][0]:
                best[i] = (cand, (*best[j][1], piece))
    parts_found = best[n][1]
    known = sum(len(p) for p in parts_found if p in costs)
    return parts_found if known * 2 >= n and len(parts_found) > 1 else (tag,)


@functools.cache
def word_costs() -> tuple[dict[str, float], float]:
    """-log P(word) for English words (TextBlob's spelling frequencies, the cue words, common words),
    and the base cost of a word not among them."""
    counts: dict[str, int] = {}
    listing = resources.files("textblob") / "en" / "en-spelling.txt"
    for line in listing.read_text("utf-8").splitlines():
        word, _, count = line.partition(" ")
        if not (word.isalpha() and count.isdigit()):
            continue  # the header
        # letters and short words rare in English are abbreviations and noise ("f", "os", "tm")
        if len(word) == 1 and word not in "ai" or len(word) <= 3 and int(count) < 20:
            continue
        counts[word.lower()] = counts.get(word.lower(), 0) + int(count)
    for word in vocabulary():  # slang the list lacks ("smh", "lol") counts as a rare word
        if len(word) > 1 or word in "ai":
            counts.setdefault(word, 1)
    total = sum(counts.values())
    log_total = math.log(total)
    return {w: log_total - math.log(c) for w, c in counts.items()}, log_total - _LOG10


def _word_forms(word: str, known: frozenset[str]) -> tuple[str, float]:
    """The dictionary form of a word as typed and its emphasis (caps, elongation)."""
    emphasis = 1.0
    if len(word) >= 3 and word.isupper():
        emphasis = 1.3
    low = word.lower().replace("'", "")
    if _ELONGATED.search(low):
        emphasis = max(emphasis, 1.2)
        double = _ELONGATED.sub(r"\1\1", low)
        single = _ELONGATED.sub(r"\1", low)
        # "sooo" -> "so", "goood" -> "good": whichever the lexicons know
        low = single if (stem(single) in known and stem(double) not in known) else double
    return low, emphasis


def _word_token(low: str, emphasis: float = 1.0) -> Token:
    """The token of one lower-case word without apostrophes."""
    if low in _NUMBER_WORDS:
        return Token("<num>")
    if low in _ORDINAL_WORDS:
        return Token("<ord>")
    if low == "but":
        return Token(_STOP, boundary=True, contrast=True)
    if low in _NOT_FORMS:  # "doesn't", "isn't", "can't" all say "not"
        return Token("not", emphasis, negator=True)
    return Token(stem(low), emphasis, negator=low in _NEGATORS, aux=low in _AUXILIARIES)


def tokens(text: str, known: frozenset[str]) -> Iterator[Token | tuple[str, str]]:
    """Normalized tokens; emoticons and emoji come out as ("emo", symbol) pairs.

    `known` are the stems the cues use, for undoing elongation ("sooo" -> "so"; cues.known_words()).
    """
    held: Token | None = None  # an auxiliary, waiting to see whether "not" follows
    for tok in _raw_tokens(text, known):
        # "did not", "is not", "can not" say what "didn't", "isn't", "can't" say: "not"
        if held is not None and not (isinstance(tok, Token) and tok.stem == "not"):
            yield held
        held = None
        if isinstance(tok, Token) and tok.aux:
            held = tok
        else:
            yield tok
    if held is not None:
        yield held


_WORD_CACHE: dict[str, Token] = {}  # word as typed -> its token (tokens are immutable)
_WORD_CACHE_SIZE: Final = 1 << 17


def _raw_tokens(text: str, known: frozenset[str]) -> Iterator[Token | tuple[str, str]]:
    """Tokens as they stand, before "did not" becomes "not"."""
    # the cache serves text only: cue phrases are read with an empty `known`
    cache = _WORD_CACHE if known else {}
    for m in _TOKEN.finditer(text.translate(_APOSTROPHES)):
        kind = m.lastgroup
        value = m.group()
        if kind == "word":
            tok = cache.get(value)
            if tok is None:
                if len(cache) >= _WORD_CACHE_SIZE:
                    cache.clear()
                tok = cache[value] = _word_token(*_word_forms(value, known))
            yield tok
        elif kind == "num":
            yield Token("<num>")
        elif kind == "ord":
            yield Token("<ord>")
        elif kind == "money":
            yield Token("<money>")
        elif kind == "hashtag":
            for part in _split_hashtag(value[1:]):
                yield _word_token(part)
            yield Token(_STOP, boundary=True)
        elif kind == "stop":
            asks = "?" in value and "!" not in value
            yield Token(_STOP, boundary=True, asks=asks, ends=asks or any(c in value for c in ".!?\n"),
                        colon=":" in value)
        elif kind in ("emoticon", "emoji"):
            yield ("emo", value.lower())
        # urls and @mentions carry no sentiment of the customer's own
