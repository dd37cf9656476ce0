"""Sentiment, complaint and topics of one customer mention, offline and rule-based.

Lexicon sentiment alone misses most complaints ("on hold for 40 minutes" has no sentiment word),
so the decision combines three kinds of evidence:

* hand-authored cue lexicons (digest/lexicon/*.txt) of service failures, dissatisfaction, thanks
  and praise, information requests, sarcasm-prone praise and resolutions, matched on lightly
  stemmed words with negation, boosters, contrast ("but"), capitals and elongation;
* VADER's general-purpose valence (MIT, its lexicon ships inside the package);
* TextBlob's polarity, which the product owner asked for and which is reported unchanged.

Nothing is learned from data: the airline tweets used by bench/eval_classifier.py are
non-commercial and for evaluation only.
"""

# vaderSentiment ships no type information
# mypy: disable-error-code="import-untyped"
from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

from textblob.en import sentiment as _pattern_sentiment
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from .models import Classification, Sentiment

__all__ = ["Classifier", "stem", "words"]

# --- text normalization -------------------------------------------------------------------------

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
# words that may come before a question's first words ("hi, can you", "ok so is there")
_OPENERS: Final = frozenset("hi hey hello ok okay so also and just quick please then well yes yeah no".split())
_BEFORE_BUT: Final = 0.5
_AFTER_BUT: Final = 1.5
_NEGATOR_ALONE: Final = 0.4
_NEGATION_SCOPE: Final = 3  # "not very helpful"
_COMPLAINT_NEGATION_SCOPE: Final = 2  # "not delayed", "not that bad"
_BOOSTERS: Final = frozenset(
    "so very really extremely super totally absolutely completely incredibly truly such too "
    "utterly highly most seriously beyond insanely ridiculously".split()
)
_BOOST: Final = 1.3
# emoticons as _emoticon() writes them: ":-(", ";(" and "=((" are all ":("
_EMOTICONS_NEG: Final = frozenset({":(", ":/", ":\\", ":|", ":[", "</3"})
_EMOTICONS_POS: Final = frozenset({":)", ":d", ":p", ":]", "<3"})
_EMOTICON_NOSE: Final = re.compile(r"^>?([:;=])[\-o*']?(.)\2*$")
_EMOJI_NEG: Final = frozenset("😡😠🤬😤😒🙄😞😢👎💔😩😫😖😣😑😐🤦😕😟😔🙁☹😰😱🤢🤮💩")
_EMOJI_POS: Final = frozenset("😀😁😃😄😊😍🥰😘😎👍👏🙌💯🎉❤💙💜💚💛🧡♥😂🤗✨⭐🌟🥳🙂😆😉💕💖")
_EMOJI_WEIGHT: Final = 1.0

_STOP = "|"  # a sentence or clause boundary: cues never span one
# "?!" and "???" read as exasperation, not as a question
_INTERROBANG: Final = re.compile(r"\?\s*!|!\s*\?|\?\s*\?\s*\?")
_INTERROBANG_WEIGHT: Final = 0.8
# a problem word inside a question ("is my flight delayed?") is often a status check, and praise
# there ("is it on time?") is no praise: they count this much; rhetorical questions ("why is it
# always late?") are listed apart and count in full
_QUESTION_DAMP: Final = 0.6
# short function words for splitting run-together hashtags ("#whereismybag")
_COMMON: Final = frozenset(
    "a i am an and are as at be been but by can did do does for from get got had has have he her "
    "him his how if in is it its me my no not now of off on or our out she so that the their them "
    "then there they this to too up us was we were what when where who why will with you your".split()
)


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
class _Token:
    """A normalized word, or a boundary (punctuation, "but", the end of a hashtag)."""

    stem: str
    emphasis: float = 1.0  # capitals or elongation ("SOOO", "NEVER")
    negator: bool = False
    boundary: bool = False
    aux: bool = False  # "did", "is", "can": dropped before "not"
    asks: bool = False  # a boundary that ends a question ("?" without "!")
    ends: bool = False  # a boundary that ends a sentence (not a comma)
    contrast: bool = False  # "but": what follows outweighs what came before


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
    costs, unknown = _word_costs()
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
def _word_costs() -> tuple[dict[str, float], float]:
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
    for word in _vocabulary():  # slang the list lacks ("smh", "lol") counts as a rare word
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


def _word_token(low: str, emphasis: float = 1.0) -> _Token:
    """The token of one lower-case word without apostrophes."""
    if low in _NUMBER_WORDS:
        return _Token("<num>")
    if low in _ORDINAL_WORDS:
        return _Token("<ord>")
    if low == "but":
        return _Token(_STOP, boundary=True, contrast=True)
    if low in _NOT_FORMS:  # "doesn't", "isn't", "can't" all say "not"
        return _Token("not", emphasis, negator=True)
    return _Token(stem(low), emphasis, negator=low in _NEGATORS, aux=low in _AUXILIARIES)


def _tokens(text: str, known: frozenset[str] | None = None) -> Iterator[_Token | tuple[str, str]]:
    """Normalized tokens; emoticons and emoji come out as ("emo", symbol) pairs."""
    held: _Token | None = None  # an auxiliary, waiting to see whether "not" follows
    for tok in _raw_tokens(text, _known_words() if known is None else known):
        # "did not", "is not", "can not" say what "didn't", "isn't", "can't" say: "not"
        if held is not None and not (isinstance(tok, _Token) and tok.stem == "not"):
            yield held
        held = None
        if isinstance(tok, _Token) and tok.aux:
            held = tok
        else:
            yield tok
    if held is not None:
        yield held


_WORD_CACHE: dict[str, _Token] = {}  # word as typed -> its token (tokens are immutable)
_WORD_CACHE_SIZE: Final = 1 << 17


def _raw_tokens(text: str, known: frozenset[str]) -> Iterator[_Token | tuple[str, str]]:
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
            yield _Token("<num>")
        elif kind == "ord":
            yield _Token("<ord>")
        elif kind == "money":
            yield _Token("<money>")
        elif kind == "hashtag":
            for part in _split_hashtag(value[1:]):
                yield _word_token(part)
            yield _Token(_STOP, boundary=True)
        elif kind == "stop":
            asks = "?" in value and "!" not in value
            yield _Token(_STOP, boundary=True, asks=asks, ends=asks or any(c in value for c in ".!?\n"))
        elif kind in ("emoticon", "emoji"):
            yield ("emo", value.lower())
        # urls and @mentions carry no sentiment of the customer's own


def words(text: str) -> list[str]:
    """The stems the classifier matches cues and topics against (boundaries dropped)."""
    return [t.stem for t in _tokens(text) if isinstance(t, _Token) and not t.boundary]


# --- lexicons -----------------------------------------------------------------------------------

_KINDS: Final = (
    "complaint", "rhetorical", "praise", "mocking", "resolved", "no_problem", "request", "sympathy"
)


_PLACEHOLDERS: Final = {"<num>": "2", "<ord>": "3rd", "<money>": "$5"}


def _phrase_key(phrase: str) -> tuple[str, ...]:
    """A cue phrase normalized exactly as text is, so that "didn't get" = "did not get".

    Raises ValueError for a phrase that text could never match (punctuation or "but" inside).
    """
    text = " ".join(_PLACEHOLDERS.get(w, w) for w in phrase.split())
    toks = [t for t in _tokens(text, frozenset()) if isinstance(t, _Token)]
    if not toks or any(t.boundary for t in toks):
        raise ValueError(f"{phrase!r} is empty or spans a clause boundary")
    return tuple(t.stem for t in toks)


@functools.cache
def _lexicon() -> tuple[dict[tuple[str, ...], dict[str, float]], dict[str, int]]:
    """Every cue phrase -> {kind: weight}, and per first word the longest phrase it starts."""
    cues: dict[tuple[str, ...], dict[str, float]] = {}
    longest: dict[str, int] = {}
    for kind in _KINDS:
        for key, value in _cue_weights(f"{kind}.txt", _read(f"{kind}.txt")).items():
            cues.setdefault(key, {})[kind] = value
            longest[key[0]] = max(longest.get(key[0], 0), len(key))
    return cues, longest


def _cue_weights(name: str, entries: Iterable[tuple[int, float, str]]) -> dict[tuple[str, ...], float]:
    """One lexicon file's phrases, normalized, -> weight. Spellings that normalize alike ("didn't get",
    "did not get") may be listed apart, but not with different weights: one would silently win."""
    out: dict[tuple[str, ...], tuple[float, int, str]] = {}
    for lineno, value, phrase in entries:
        try:
            key = _phrase_key(phrase)
        except ValueError as exc:
            raise ValueError(f"lexicon/{name}:{lineno}: {exc}") from None
        seen = out.get(key)
        if seen is not None and seen[0] != value:
            raise ValueError(f"lexicon/{name}:{lineno}: {phrase!r} is {' '.join(key)!r}, listed at line "
                             f"{seen[1]} ({seen[2]!r}) with weight {seen[0]:g}, here {value:g}: keep one weight")
        out[key] = (value, lineno, phrase)
    return {key: value for key, (value, _, _) in out.items()}


@functools.cache
def _known_words() -> frozenset[str]:
    """Every stem that some cue uses (for undoing elongation: "sooo" -> "so")."""
    return frozenset(w for key in _lexicon()[0] for w in key)


def _read(name: str) -> Iterator[tuple[int, float, str]]:
    """(line number, weight, phrase) of each entry of a lexicon file."""
    folder = resources.files("digest") / "lexicon"
    for lineno, line in enumerate((folder / name).read_text("utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        weight, _, phrase = line.partition(" ")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"lexicon/{name}:{lineno}: weight {weight!r} is not a number") from None
        if not phrase.strip():
            raise ValueError(f"lexicon/{name}:{lineno}: no phrase after the weight")
        yield lineno, value, phrase.strip()


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Surface words known to be English here: the cue phrases, VADER's lexicon, common words."""
    out = {w.lower().replace("'", "") for kind in _KINDS for _, _, p in _read(f"{kind}.txt")
           for w in p.split() if not w.startswith("<")}
    out.update(w for w in _vader().lexicon if w.isalpha() and len(w) > 2)
    out.update(_COMMON)
    return frozenset(out)


@functools.cache
def _vader() -> SentimentIntensityAnalyzer:
    """VADER with the valences of vader_override.txt (its package files are left untouched)."""
    analyzer = SentimentIntensityAnalyzer()
    for _, valence, word in _read("vader_override.txt"):
        analyzer.lexicon[word] = valence
    return analyzer


# --- evidence -----------------------------------------------------------------------------------

@dataclass(slots=True)
class _Evidence:
    """What the cues of one text add up to, per kind."""

    complaint: float = 0.0
    praise: float = 0.0
    mocking: float = 0.0  # praise that turns into complaint when a problem is reported
    resolved: float = 0.0
    request: bool = False
    sympathy: float = 0.0
    loose: float = 0.0  # of `complaint`, what negators outside any cue add ("no", "never" alone)


def _emoticon(symbol: str) -> str:
    """An emoticon without its nose, with ":" for eyes and one mouth (";-))" -> ":)"); emoji as they are."""
    m = _EMOTICON_NOSE.match(symbol)
    return f":{m.group(2)}" if m else symbol


def _contrast_sides(toks: Sequence[_Token]) -> list[int]:
    """1 for a token before a "but" of its own sentence, -1 after one, 0 elsewhere."""
    side = [0] * len(toks)
    seen_but = False
    for i, t in enumerate(toks):  # after: a "but" earlier in the sentence
        if t.ends:
            seen_but = False
        elif t.contrast:
            seen_but = True
        elif seen_but:
            side[i] = -1
    seen_but = False
    for i in range(len(toks) - 1, -1, -1):  # before: a "but" later in the sentence
        t = toks[i]
        if t.ends:
            seen_but = False
        elif t.contrast:
            seen_but = True
        elif seen_but and side[i] == 0:
            side[i] = 1
    return side


def _collect(text: str, trace: list[str] | None = None) -> tuple[_Evidence, list[str]]:
    """Sum the cue evidence of one text in a single left-to-right pass; also return its stems.

    `trace`, if given, receives one line per cue matched: its kind, weight and stems.
    """
    cues, longest = _lexicon()
    ev = _Evidence()
    toks: list[_Token] = []
    for t in _tokens(text):
        if isinstance(t, _Token):
            toks.append(t)
            continue
        symbol = _emoticon(t[1])
        if symbol in _EMOTICONS_NEG or symbol in _EMOJI_NEG:
            ev.complaint += _EMOJI_WEIGHT
            if trace is not None:
                trace.append(f"complaint {_EMOJI_WEIGHT:.2f} {t[1]}")
        elif symbol in _EMOTICONS_POS or symbol in _EMOJI_POS:
            ev.praise += _EMOJI_WEIGHT
            if trace is not None:
                trace.append(f"praise {_EMOJI_WEIGHT:.2f} {t[1]}")
    if _INTERROBANG.search(text):
        ev.complaint += _INTERROBANG_WEIGHT
        if trace is not None:
            trace.append(f"complaint {_INTERROBANG_WEIGHT:.2f} ?!")
    n = len(toks)
    for k in range(n - 1):  # "not only ... but also" negates nothing
        if toks[k].negator and toks[k + 1].stem == "only":
            toks[k] = _Token(toks[k].stem, toks[k].emphasis)
    stems = [t.stem for t in toks]
    # per token: 1 if a "but" follows it in its sentence, -1 if one precedes it, 0 if neither
    side = _contrast_sides(toks)
    negator_used = [False] * n  # has negated a cue
    in_cue = [False] * n  # is part of a cue (so not weak evidence on its own)
    # evidence of the current sentence, softened if it turns out to be a question
    pending = pending_praise = 0.0
    i = 0
    while i < n:
        tok = toks[i]
        if tok.boundary:
            if tok.ends:
                damp = _QUESTION_DAMP if tok.asks else 1.0
                if trace is not None and tok.asks and (pending or pending_praise):
                    trace.append(f"question x{damp:.2f} (the cues before it)")
                ev.complaint += pending * damp
                ev.praise += pending_praise * damp
                pending = pending_praise = 0.0
            i += 1
            continue
        span = longest.get(tok.stem, 0)
        match: dict[str, float] | None = None
        length = 0
        for length in range(min(span, n - i), 0, -1):
            match = cues.get(tuple(stems[i : i + length]))
            if match is not None:
                break
        if match is None:
            i += 1
            continue
        # negation: a free negator shortly before, within the clause
        negated = False
        negator_at = -1
        by_complaint = False  # the negator belongs to a complaint cue: it flips praise only
        if not toks[i].negator:
            for j in range(i - 1, max(-1, i - 1 - _NEGATION_SCOPE), -1):
                if toks[j].boundary:
                    break
                if toks[j].negator and not negator_used[j]:
                    negated, by_complaint, negator_at = True, in_cue[j], j
                    if not by_complaint or "complaint" not in match:
                        negator_used[j] = True
                    break
        scale = tok.emphasis if length == 1 else max(t.emphasis for t in toks[i : i + length])
        if i > 0 and toks[i - 1].stem in _BOOSTERS:
            scale *= _BOOST
        contrast = side[i]
        for kind, weight in match.items():
            if kind == "praise" and "mocking" in match:
                continue  # listed as both: sarcasm-prone decides
            w = weight * scale
            # "..., but ...": what follows weighs more; praise before it is taken back, a problem
            # before it still stands ("says delivered but nothing is there")
            if contrast < 0:
                w *= _AFTER_BUT
            elif contrast > 0 and kind in ("praise", "mocking", "no_problem"):
                w *= _BEFORE_BUT
            if kind == "complaint":
                # "never received my refund" keeps "refund"; "can't tell me where my bag is" is
                # no negated "where my bag": a complaint is negated by a word right before it
                if not negated or by_complaint or i - negator_at > _COMPLAINT_NEGATION_SCOPE:
                    pending += w
                else:
                    w = 0.0  # "not delayed"
            elif kind == "rhetorical":
                ev.complaint += w
            elif kind in ("praise", "mocking"):
                if negated:  # "not helpful", "never on time"
                    ev.complaint += 0.8 * w
                elif kind == "praise":
                    pending_praise += w
                else:
                    ev.mocking += w
            elif kind == "resolved":
                if negated:  # "still hasn't been resolved"
                    ev.complaint += 0.8 * w
                else:
                    ev.resolved += w
            elif kind == "no_problem":
                ev.praise += w
            elif kind == "request":
                # "can I ...", "is there ..." ask at the start of a sentence; elsewhere the words
                # are a statement's ("this is the worst", "which is ridiculous")
                k = i - 1
                while k >= 0 and toks[k].stem in _OPENERS:
                    k -= 1
                if k < 0 or toks[k].boundary:
                    ev.request = True
                else:
                    w = 0.0
            elif kind == "sympathy":
                ev.sympathy += w
            if trace is not None:
                said = " ".join(stems[i : i + length])
                flipped = negated and kind in ("praise", "mocking", "resolved")
                note = " (negated: counts 0.8x as complaint)" if flipped else " (negated)" if negated else ""
                trace.append(f"{kind} {w:.2f} {said}{note}")
        # a negator inside a cue is spent ("no response", "not bad"), except in a complaint, whose
        # negation carries on ("nobody was helpful", "didn't get any help")
        carries = "complaint" in match or "rhetorical" in match
        for j in range(i, i + length):
            in_cue[j] = True
            if not carries:
                negator_used[j] = True
        i += length
    ev.complaint += pending
    ev.praise += pending_praise
    loose = sum(t.negator and not (negator_used[k] or in_cue[k]) for k, t in enumerate(toks))
    ev.loose = _NEGATOR_ALONE * loose
    ev.complaint += ev.loose
    if trace is not None and loose:
        trace.append(f"complaint {_NEGATOR_ALONE * loose:.2f} negation alone x{loose}")
    return ev, [s for s, t in zip(stems, toks, strict=True) if not t.boundary]


# --- decision -----------------------------------------------------------------------------------

# Thresholds on the evidence sums. A clear problem report weighs about 1.0; mentions addressed
# to a company skew negative, so a little more than half of that (a weak cue and a negative
# tone, or one medium cue) decides. A round value checked on part of the evaluation tweets, not
# fitted (digest/lexicon/README.md).
_NEGATIVE_AT: Final = 0.6
_POSITIVE_AT: Final = 0.8
# an information request ("can I change my flight?") counts this much of its negativity unless it
# also reports a clear problem (complaint evidence of _REQUEST_CLEAR or more)
_REQUEST_DAMP: Final = 0.3
_REQUEST_CLEAR: Final = 1.5
_VADER_WEIGHT: Final = 1.5
_TEXTBLOB_WEIGHT: Final = 1.0
_MOCKED_AT: Final = _NEGATIVE_AT  # a reported problem this clear makes "great" sarcastic
_SINCERE_AT: Final = 1.5  # this much praise that is rarely sarcastic keeps "great" sincere
# praise far louder than the problem beside it is sincere ("great flight, great job... #seriously")
_SARCASM_RATIO: Final = 3.0


@dataclass(frozen=True, slots=True)
class _Decision:
    """The verdict on one text."""

    sentiment: Sentiment
    complaint: bool
    score: float


def _decide(ev: _Evidence, compound: float, polarity: float) -> _Decision:
    """Weigh the complaint side against the praise side."""
    neg = ev.complaint + _VADER_WEIGHT * max(0.0, -compound) + _TEXTBLOB_WEIGHT * max(0.0, -polarity)
    neg = max(0.0, neg - ev.sympathy)
    if ev.request and ev.complaint < _REQUEST_CLEAR:
        neg *= _REQUEST_DAMP  # "can I change my flight?" asks, it does not complain
    lexical_pos = _VADER_WEIGHT * max(0.0, compound) + _TEXTBLOB_WEIGHT * max(0.0, polarity)
    if ev.complaint >= _NEGATIVE_AT:
        # a concrete problem report outweighs words that merely sound positive ("I thought you
        # were the best... on hold for an hour")
        lexical_pos *= 0.5
    if ev.resolved > 0 and (ev.praise + ev.mocking) > 0:
        # thanks for a fix: the problem it fixed is the story, not the verdict
        neg = max(0.0, neg - ev.resolved)
        pos = ev.praise + ev.mocking + lexical_pos
    elif (ev.complaint - ev.loose >= _MOCKED_AT and 0 < ev.mocking < _SARCASM_RATIO * ev.complaint
          and ev.praise < _SINCERE_AT):
        # "great, another delay": sarcasm-prone praise next to a problem, and no praise that is
        # rarely sarcastic ("kudos", "helpful"), counts against
        neg += ev.mocking
        pos = ev.praise
    else:
        pos = ev.praise + ev.mocking + lexical_pos
    sentiment: Sentiment
    if neg >= _NEGATIVE_AT and neg >= pos:
        sentiment = "negative"
    elif pos >= _POSITIVE_AT and pos > neg:
        sentiment = "positive"
    else:
        sentiment = "neutral"
    score = math.tanh((pos - neg) / 2.0)
    # negative about the company is dissatisfaction; sympathy ("so sorry to hear") is not
    complaint = sentiment == "negative" and ev.sympathy < neg
    return _Decision(sentiment, complaint, score)


# --- topics -------------------------------------------------------------------------------------

class _TopicMatcher:
    """Keyword lists matched on stemmed whole words, so "refund" finds "refunds" and "refunded"."""

    def __init__(self, topics: Mapping[str, Sequence[str]]) -> None:
        self._by_first: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        self._order = {name: k for k, name in enumerate(topics)}
        for name, keywords in topics.items():
            for keyword in keywords:
                key = tuple(words(keyword))
                if key:
                    self._by_first.setdefault(key[0], []).append((name, key))

    def __bool__(self) -> bool:
        return bool(self._by_first)

    def match(self, stems: Sequence[str]) -> tuple[str, ...]:
        """Names of the topics whose keywords occur in `stems`, in configuration order."""
        found: set[str] = set()
        for i, s in enumerate(stems):
            for name, key in self._by_first.get(s, ()):
                if name not in found and tuple(stems[i : i + len(key)]) == key:
                    found.add(name)
        return tuple(sorted(found, key=self._order.__getitem__))


# --- public API ---------------------------------------------------------------------------------

class Classifier:
    """Decides sentiment (negative/neutral/positive), complaint and topics of customer mentions."""

    def __init__(
        self,
        topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 - read only, the interface's default
        praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    ) -> None:
        self._topics = _TopicMatcher(topics)
        self._praise = _TopicMatcher(praise_topics)
        self._vader = _vader()
        # Load (and check) every lexicon now, not on the first mention: TextBlob's loads lazily, and a
        # worker process forked from this one would otherwise read it again on each ingest.
        _lexicon()
        _known_words()
        _vocabulary()
        _word_costs()
        len(_pattern_sentiment)

    def classify(self, text: str) -> Classification:
        """Classify one text; TextBlob's polarity is reported unchanged."""
        polarity = float(_pattern_sentiment(text)[0])
        compound = vader_compound(self._vader, _for_vader(text))
        evidence, stems = _collect(text)
        decision = _decide(evidence, compound, polarity)
        topics: tuple[str, ...] = ()
        if self._topics and (decision.complaint or decision.sentiment == "negative"):
            topics = self._topics.match(stems)
        return Classification(
            sentiment=decision.sentiment,
            polarity=polarity,
            complaint=decision.complaint,
            topics=topics,
            score=decision.score,
        )

    def cues(self, text: str) -> list[str]:
        """What decided `text`, for tuning: one line per cue matched ("complaint 1.20 on hold")."""
        trace: list[str] = []
        _collect(text, trace)
        return trace

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Classify many texts; repeated texts (retweets, reposts) are scored once."""
        seen: dict[str, Classification] = {}
        out: list[Classification] = []
        for text in texts:
            result = seen.get(text)
            if result is None:
                result = seen[text] = self.classify(text)
            out.append(result)
        return out

    def praise_topics(self, text: str, *, classification: Classification | None = None) -> tuple[str, ...]:
        """Names of the praise topics a positive text mentions; () for any other text."""
        if not self._praise:
            return ()
        result = classification if classification is not None else self.classify(text)
        if result.sentiment != "positive":
            return ()
        return self._praise.match(words(text))


_HANDLE = re.compile(r"@\w+|(?:https?://|www\.)\S+")
# VADER's cost grows with the square of a text's words (each sentiment word re-reads the whole text), which
# a blog post or a call transcript of a few thousand words makes seconds. A longer text is scored in parts of
# about this many words, cut at sentence ends, and the parts' raw sums are added up and normalized as VADER
# normalizes one text's: the same score but for what crosses a cut (a negation, a "but"). Tweets, reviews
# and most posts are shorter: they are scored whole, exactly as VADER scores them.
_VADER_WORDS: Final = 150
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_VADER_ALPHA: Final = 15.0  # VADER's normalization constant: compound = sum / sqrt(sum^2 + alpha)


def vader_compound(analyzer: SentimentIntensityAnalyzer, text: str) -> float:
    """VADER's compound score of `text`, in linear time (see _VADER_WORDS)."""
    if len(text.split()) <= _VADER_WORDS:
        return float(analyzer.polarity_scores(text)["compound"])
    total = 0.0
    for part in _vader_parts(text):
        c = min(0.9999, max(-0.9999, float(analyzer.polarity_scores(part)["compound"])))
        total += c * math.sqrt(_VADER_ALPHA / (1.0 - c * c))  # the part's raw sum, before normalizing
    return round(total / math.sqrt(total * total + _VADER_ALPHA), 4)


def _vader_parts(text: str) -> Iterator[str]:
    """`text` in parts of at most _VADER_WORDS words, cut at sentence ends where there are any."""
    words: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        said = sentence.split()
        if words and len(words) + len(said) > _VADER_WORDS:
            yield " ".join(words)
            words = []
        while len(said) > _VADER_WORDS:  # a "sentence" without ends: cut it anywhere
            yield " ".join(said[:_VADER_WORDS])
            said = said[_VADER_WORDS:]
        words.extend(said)
    if words:
        yield " ".join(words)


def _for_vader(text: str) -> str:
    # brand handles and links are not the customer's words ("@HappyFoods" is not praise)
    return _HANDLE.sub(" ", text)
