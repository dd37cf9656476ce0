"""The hand-authored lexicon files (digest/lexicon/*.txt) as read from the package, and VADER with its overrides.

Reading only: what the phrases mean once normalized is digest/classify/cues.py's business.
"""

# vaderSentiment ships no type information
# mypy: disable-error-code="import-untyped"
from __future__ import annotations

import functools
from collections.abc import Iterator
from importlib import resources
from typing import Final

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

KINDS: Final = (
    "complaint", "rhetorical", "praise", "mocking", "resolved", "no_problem", "request", "sympathy"
)


# short function words for splitting run-together hashtags ("#whereismybag")
COMMON: Final = frozenset(
    "a i am an and are as at be been but by can did do does for from get got had has have he her "
    "him his how if in is it its me my no not now of off on or our out she so that the their them "
    "then there they this to too up us was we were what when where who why will with you your".split()
)



# the languages with lexicons of their own: digest/lexicon/<code>/ (English's are digest/lexicon/ itself)
LANGUAGES: Final = ("en", "es", "fr", "de", "pt", "it")


def lexicon_path(name: str, language: str = "en") -> str:
    """A lexicon file's path under digest/, as error messages name it ("lexicon/es/complaint.txt")."""
    return f"lexicon/{name}" if language == "en" else f"lexicon/{language}/{name}"


def lexicon_text(name: str, language: str = "en") -> str:
    """The text of a lexicon file; "" for a file the language does not have."""
    path = resources.files("digest").joinpath(*lexicon_path(name, language).split("/"))
    return path.read_text("utf-8") if path.is_file() else ""


@functools.cache
def function_words(language: str) -> frozenset[str]:
    """The function words of a language (its stopwords.txt), lower case, apostrophes dropped."""
    text = "\n".join(line.split("#", 1)[0] for line in lexicon_text("stopwords.txt", language).splitlines())
    return frozenset(w.lower().replace("'", "") for w in text.split())


def read_lexicon(name: str, language: str = "en") -> Iterator[tuple[int, float, str]]:
    """(line number, weight, phrase) of each entry of a lexicon file (none if the language lacks it)."""
    name_shown = lexicon_path(name, language).removeprefix("lexicon/")
    for lineno, line in enumerate(lexicon_text(name, language).splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        weight, _, phrase = line.partition(" ")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"lexicon/{name_shown}:{lineno}: weight {weight!r} is not a number") from None
        if not phrase.strip():
            raise ValueError(f"lexicon/{name_shown}:{lineno}: no phrase after the weight")
        yield lineno, value, phrase.strip()


@functools.cache
def vocabulary() -> frozenset[str]:
    """Surface words known to be English here: the cue phrases, VADER's lexicon, common words."""
    out = {w.lower().replace("'", "") for kind in KINDS for _, _, p in read_lexicon(f"{kind}.txt")
           for w in p.split() if not w.startswith("<")}
    out.update(w for w in vader().lexicon if w.isalpha() and len(w) > 2)
    out.update(COMMON)
    return frozenset(out)


@functools.cache
def vader() -> SentimentIntensityAnalyzer:
    """VADER with the valences of vader_override.txt (its package files are left untouched)."""
    analyzer = SentimentIntensityAnalyzer()
    for _, valence, word in read_lexicon("vader_override.txt"):
        analyzer.lexicon[word] = valence
    return analyzer
