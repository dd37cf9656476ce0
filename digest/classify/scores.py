"""The general-purpose sentiment scorers: VADER (in linear time on long texts) and TextBlob's polarity."""

# vaderSentiment ships no type information
# mypy: disable-error-code="import-untyped"
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Final

from textblob.en import sentiment as _pattern_sentiment
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

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


def for_vader(text: str) -> str:
    # brand handles and links are not the customer's words ("@HappyFoods" is not praise)
    return _HANDLE.sub(" ", text)


def textblob_polarity(text: str) -> float:
    """TextBlob's polarity (-1..1), which the product owner asked for and the output reports unchanged."""
    return float(_pattern_sentiment(text)[0])


def load_textblob() -> None:
    """Load TextBlob's lexicon now: it loads lazily, and forked workers would otherwise each read it again."""
    len(_pattern_sentiment)
