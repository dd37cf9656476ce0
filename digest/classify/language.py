"""The language a mention is written in: an ISO 639-1 code, or "und" when a text does not say.

Detection is py3langid's (a re-packaged langid.py, BSD; its model ships inside the wheel, so nothing is
downloaded at first use), chosen by bench/bench_langid.py: every whole text of tests/data/languages.tsv
right, as with langdetect and lingua; on the texts cut to four words 96% with the rules below (lingua's
high-accuracy mode 96%, langdetect 89%), at about 2,000 texts a second against lingua's 80 and
langdetect's 40, from a 4 MiB package (lingua: 95 MiB, 30 s to load).

What the model is not asked, because the script already says it or the text is too short to say:

* kana (Japanese), hangul (Korean), Han characters alone (Chinese) and Thai are recognised by their letters;
* a text with fewer than _MIN_LETTERS letters once links, @handles, numbers and emoji are removed ("ok",
  "👍", a bare link) is English when most of its words are English words ("thanks!", "ok"); else the one
  other scored language whose own words (its cue lexicons' and function words) make up half of it or more
  ("Gracias!", "Nie wieder!", "Das war schön."); else "und" (undetermined), scored as English (what such
  texts have, emoji included, usually is);
* English words decide where the model is unsure: a text it gives a language the classifier cannot score,
  or a scored one with probability under _CONFIDENT, is English when half or more (more than half) of
  its words are English words. Mentions written to a brand are often English with names and codes
  ("UA1121, DEN, 40 min on tarmac") that the model reads as Finnish; misread, they would lose their
  sentiment. Capitalised words that are not English words are names and count neither way.
"""

# py3langid ships no type information
# mypy: disable-error-code="import-untyped"
from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING, Final

import numpy as np

from .lexicons import LANGUAGES, function_words, vocabulary
from .tokens import word_costs

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

UNDETERMINED: Final = "und"
# the languages the classifier has lexicons for; "und" texts are scored as English (too short to tell,
# and what words or emoji they have are most often English)
SCORED: Final = frozenset({*LANGUAGES, UNDETERMINED})
_MIN_LETTERS: Final = 12
_CONFIDENT: Final = 0.9
# of a text's words known as English words, to call English a text the model gives a language the classifier
# cannot score (it would lose its sentiment), or a scored language it is unsure of
_ENGLISH_SHARE_UNSCORED: Final = 0.5
_ENGLISH_SHARE_UNSURE: Final = 0.6
_COMMON_ENGLISH: Final = 8000  # the most frequent words of TextBlob's list; rarer ones are often foreign
_NOISE: Final = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+|\d+")
_ELONGATED: Final = re.compile(r"(\w)\1{2,}")
_WORD: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SCRIPTS: Final = tuple(re.compile(f"[{ranges}]+") for ranges in (
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9d",  # hiragana, katakana
    "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f",  # hangul
    "\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff",  # Han
    "\u0e00-\u0e7f",  # Thai
))
# the model reads this much of a text: enough to tell a language, and its cost grows with the length
_READ: Final = 400

# The languages the model chooses among: those customers most often write to an international brand in,
# and every one the classifier scores. Left to all 97, short texts come out as Latin, Luxembourgish or
# Volapük ("Merci beaucoup" is "lb" there).
_LANGUAGES: Final = (
    "en es fr de pt it nl sv da no fi pl cs sk hu ro hr sl bg el tr ru uk ar he fa hi bn ur id ms vi th "
    "tl sw eu et lv lt is ga cy af"
).split()


def _script_language(text: str) -> str | None:
    """The language a script all but names: kana -> ja, hangul -> ko, Han alone -> zh, Thai; else None."""
    if text.isascii():
        return None
    letters = sum(map(len, _WORD.findall(text)))
    if not letters:
        return None
    kana, hangul, han, thai = (sum(map(len, pattern.findall(text))) for pattern in _SCRIPTS)
    if kana and (kana + han) * 2 >= letters:  # Japanese mixes kana and kanji; any kana says Japanese
        return "ja"
    for code, count in (("ko", hangul), ("zh", han), ("th", thai)):
        if count * 2 >= letters:
            return code
    return None


@functools.cache
def _identifier() -> LanguageIdentifier:
    """py3langid's model, restricted to _LANGUAGES (loaded once per process, about 0.3 s)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(_LANGUAGES)
    # the restricted table as float32: numpy has no fast float16 product, and this is a fifth faster
    ident.nb_ptc = np.ascontiguousarray(ident.nb_ptc, dtype=np.float32)
    return ident


def load() -> None:
    """Load the model and word lists now (a worker forked from this process then shares them)."""
    _identifier()
    _english()
    for language in LANGUAGES:
        if language != "en":
            _own_words(language)


@functools.cache
def _english() -> frozenset[str]:
    """English words (`_english_all`) but not the function words of the other languages scored (the list
    has "de", "la", "die", "war")."""
    foreign = frozenset().union(*(function_words(lang) for lang in LANGUAGES if lang != "en"))
    return _english_all() - foreign


@functools.cache
def _english_all() -> frozenset[str]:
    """English words: the most common of TextBlob's spelling list, the lexicons' words and VADER's, the
    ones other languages share included ("do", "a", "come", "was")."""
    costs = word_costs()[0]
    return frozenset(sorted(costs, key=costs.__getitem__)[:_COMMON_ENGLISH]) | vocabulary()


_CUE_KINDS: Final = ("complaint", "praise", "mocking", "resolved", "no_problem", "request", "sympathy")


@functools.cache
def _own_words(language: str) -> frozenset[str]:
    """The words a scored language's cue lexicons and function words are written in, lower case, accents
    folded (as the classifier reads them): what a text too short for the model is told by."""
    from .grammar import fold
    from .lexicons import lexicon_text, read_lexicon

    words: set[str] = set(function_words(language))
    for kind in _CUE_KINDS:
        for _, _, phrase in read_lexicon(f"{kind}.txt", language):
            words.update(w.lower() for w in _WORD.findall(phrase))
    for line in lexicon_text("negators.txt", language).splitlines():  # a word list, not weighted cues
        words.update(w.lower() for w in _WORD.findall(line.split("#", 1)[0]))
    return frozenset(fold(w) for w in words)


def _short_language(words: list[str]) -> str:
    """The one scored language other than English whose own words make up half or more of a short text's
    words, and more of them than English words do ("yes I do", "come on", "Thanks a ton!" stay English);
    else "und". Two languages alike ("Bravo!") say nothing, nor single letters ("*)n") or codes in capitals
    ("UA DEN")."""
    from .grammar import fold

    kept = [w.lower() for w in words if len(w) >= 2 and not (w.isupper() and len(w) <= 4)]  # no "n", no "UA"
    if not kept:
        return UNDETERMINED
    folded = [fold(w) for w in kept]
    english = sum(w.replace("'", "") in _english_all() for w in kept) / len(kept)
    shares = {lang: sum(w in _own_words(lang) for w in folded) / len(folded) for lang in LANGUAGES if lang != "en"}
    best = max(shares.values())
    found = [lang for lang, share in shares.items() if share == best]
    return found[0] if best >= 0.5 and best > english and len(found) == 1 else UNDETERMINED


def _english_share(words: list[str]) -> float:
    """The share of `words` that are English words ("sooo" counts as "so"); capitalised words that are
    not English words are names ("Denver", "UA", "DEN") and count neither way."""
    known = _english()
    hits = counted = 0
    for word in words:
        low = word.lower().replace("'", "")
        english = low in known or _ELONGATED.sub(r"\1", low) in known
        if english or not word[0].isupper():
            counted += 1
            hits += english
    return hits / counted if counted else 0.0


def detect(text: str) -> str:
    """The ISO 639-1 code of the language `text` is written in, or "und" when it cannot be told."""
    by_script = _script_language(text)
    if by_script is not None:
        return by_script
    clean = _NOISE.sub(" ", unicodedata.normalize("NFC", text))
    words = _WORD.findall(clean)
    letters = sum(len(w) for w in words)
    if letters < _MIN_LETTERS:
        if not words:
            return UNDETERMINED
        return "en" if _english_share(words) >= _ENGLISH_SHARE_UNSURE else _short_language(words)
    code, probability = _identifier().classify(clean[:_READ])
    if code not in SCORED and _english_share(words) >= _ENGLISH_SHARE_UNSCORED:
        return "en"
    if code != "en" and probability < _CONFIDENT and _english_share(words) >= _ENGLISH_SHARE_UNSURE:
        return "en"
    return str(code)
