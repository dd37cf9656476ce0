"""The learned sentiment model: which way a text leans, learned from texts and from the rules' evidence.

Two small linear models, applied one after the other, both trained on clearly polar texts only
(negative vs positive), so together they say which way a text leans, never whether it leans at all
(the rules decide that, digest/classify/decide.py):

1. *polarity*: a logistic regression over word unigrams and bigrams and character n-grams of the
   lowercased text (links, @handles and numbers folded to one token each; sublinear term frequency,
   each block L2-normalised). Its output is one logit.
2. *direction*: a logistic regression over that logit and the evidence the rule classifier already
   computes (VADER compound, TextBlob polarity, the cue lexicons' sums, negation, requests, sympathy:
   `direction_inputs`). Its output, the *lean*, is the log-odds that the text is negative rather than
   positive; `decide.with_model` reads it.

Both are trained by bench/train_sentiment.py on ../shared/data/train only (see the README's credits)
and shipped as gzipped JSON (vocabulary, weights, feature names): plain numbers, no pickle, read once
per process and inferred with numpy alone, so scikit-learn is needed only to re-train.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

ARTEFACT: Final = Path(__file__).with_name("lexicon") / "sentiment_model.json.gz"
FORMAT: Final = 3

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_LINK = re.compile(r"(?:https?://|www\.)\S+")
_HANDLE = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_ELONGATED = re.compile(r"([a-z])\1{2,}")
# words (with an inner apostrophe), the link/handle/number placeholders, ! and ?, and emoji
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|_(?:url|user|num)_|[!?]|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_MAX_CHARS: Final = 20_000  # a longer text is scored on its first part: the cost stays linear and bounded
_CHAR_MARK: Final = "\x01"  # starts every character n-gram, so that none is spelled like a word gram
# what the direction model reads, in this order: the polarity logit, then `direction_inputs`
DIRECTION: Final = (
    "polarity", "vader_compound", "textblob", "complaint_cues", "loose_negation", "praise_cues",
    "sarcasm_prone", "resolved", "request", "sympathy",
)
_LOGIT_CLIP: Final = 8.0


def tokens(text: str) -> list[str]:
    """The model's tokens of `text`: lowercased words, placeholders, ! ? and emoji."""
    t = text[:_MAX_CHARS].translate(_APOSTROPHES)
    t = _LINK.sub(" _url_ ", t)
    t = _HANDLE.sub(" _user_ ", t)
    t = _NUMBER.sub(" _num_ ", t.lower())
    t = _ELONGATED.sub(r"\1\1", t)
    return _WORD.findall(t)


def ngrams(text: str) -> Counter[str]:
    """Unigram and bigram counts of `text` (bigrams joined by a space)."""
    return _word_grams(tokens(text))


def _word_grams(toks: Sequence[str]) -> Counter[str]:
    grams: Counter[str] = Counter(toks)
    grams.update(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))
    return grams


def char_grams(toks: Sequence[str], sizes: Sequence[int]) -> Counter[str]:
    """Character n-grams of each word padded with spaces (" bad " -> " ba", "bad", "ad "), marked."""
    grams: Counter[str] = Counter()
    for tok in toks:
        if not tok[0].isalpha():
            continue
        padded = f" {tok} "
        for n in sizes:
            grams.update(_CHAR_MARK + padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def features(text: str, char_sizes: Sequence[int]) -> tuple[Counter[str], Counter[str]]:
    """The polarity model's two blocks of counts: word grams and character grams."""
    toks = tokens(text)
    return _word_grams(toks), char_grams(toks, char_sizes)


def direction_inputs(*, complaint: float, loose: float, praise: float, mocking: float, resolved: float,
                     request: bool, sympathy: float, compound: float, polarity: float) -> list[float]:
    """The rule classifier's evidence for one text, as the direction model reads it (after the logit).

    The arguments are the sums `digest.classify` collects (complaint includes loose negation, as there),
    VADER's compound and TextBlob's polarity; the order is DIRECTION's, less its first name.
    """
    return [compound, polarity, complaint - loose, loose, praise, mocking, resolved, float(request), sympathy]


@dataclass(frozen=True, slots=True)
class Lean:
    """Which way the model reads one text, and what moved it."""

    lean: float  # log-odds of negative against positive: > 0 leans negative
    polarity: float  # the polarity model's logit alone (> 0 leans negative)
    contributions: tuple[tuple[str, float], ...]  # feature or word, its push towards negative

    @property
    def p_negative(self) -> float:
        """The probability that the text is negative rather than positive."""
        return 1.0 / (1.0 + math.exp(-self.lean))

    def explain(self, top: int = 6) -> str:
        """One line for `digest classify --why`: the lean and the strongest pushes."""
        parts = " ".join(f"{name!r} {w:+.2f}" for name, w in self.contributions[:top])
        return (f"model lean {self.lean:+.2f} (p(negative rather than positive) {self.p_negative:.2f}),"
                f" words {self.polarity:+.2f}" + (f"; towards negative: {parts}" if parts else ""))


class Model:
    """The trained weights; `predict` is pure numpy."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Build from the artefact's JSON; raises ValueError when its parts do not fit each other."""
        pol, direction = data["polarity"], data["direction"]
        vocabulary: list[str] = list(pol["vocabulary"])
        weights = np.asarray(pol["weights"], dtype=np.float64)
        if weights.shape != (len(vocabulary),):
            raise ValueError(f"polarity weights {weights.shape} do not fit {len(vocabulary)} grams")
        self.weight = dict(zip(vocabulary, weights.tolist(), strict=True))
        self.char_sizes = tuple(int(n) for n in pol["char_sizes"])
        self.polarity_bias = float(pol["bias"])
        names = tuple(direction["names"])
        if names != DIRECTION:
            raise ValueError(f"direction features {names} are not this version's {DIRECTION}")
        self.direction_weights = np.asarray(direction["weights"], dtype=np.float64)
        self.direction_mean = np.asarray(direction["mean"], dtype=np.float64)
        self.direction_scale = np.asarray(direction["scale"], dtype=np.float64)
        self.direction_bias = float(direction["bias"])
        shapes = {a.shape for a in (self.direction_weights, self.direction_mean, self.direction_scale)}
        if shapes != {(len(names),)}:
            raise ValueError("direction weights do not fit their names")
        if not np.all(self.direction_scale > 0):
            raise ValueError("direction scale is not positive")
        # words repeat from text to text: their character grams are looked up once (bounded: feed text
        # is untrusted, and a daemon reads it for months)
        chars = [g for g in vocabulary if g.startswith(_CHAR_MARK)]
        self._char_index = {g: i for i, g in enumerate(chars)}
        self._char_weights = np.array([self.weight[g] for g in chars], dtype=np.float64)
        self._chars_of = lru_cache(maxsize=50_000)(self._known_chars)

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (a worker started without fork gets the Classifier pickled): the cache is left behind."""
        state = dict(self.__dict__)
        del state["_chars_of"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._chars_of = lru_cache(maxsize=50_000)(self._known_chars)

    def _known_chars(self, token: str) -> npt.NDArray[np.int64]:
        """The indexes of the character grams of one word that the model weighs, once per occurrence."""
        grams = char_grams([token], self.char_sizes)
        return np.array([self._char_index[g] for g, c in grams.items() if g in self._char_index
                         for _ in range(c)], dtype=np.int64)

    def polarity(self, text: str) -> tuple[float, list[tuple[str, float]]]:
        """The polarity logit of `text` (> 0 leans negative) and each word gram's part of it; the
        character grams' part is one entry, "(spelling)"."""
        toks = tokens(text)
        logit = self.polarity_bias
        parts: list[tuple[str, float]] = []
        found = [(g, 1.0 + math.log(c), self.weight[g]) for g, c in _word_grams(toks).items() if g in self.weight]
        if found:
            norm = math.sqrt(sum(tf * tf for _, tf, _ in found))
            for gram, tf, w in found:
                v = tf * w / norm
                logit += v
                parts.append((gram, v))
        per_word = [self._chars_of(t) for t in toks if t[0].isalpha()]
        ids = np.concatenate(per_word) if per_word else np.zeros(0, dtype=np.int64)
        if ids.size:
            known, counts = np.unique(ids, return_counts=True)
            sublinear = 1.0 + np.log(counts)
            block_sum = float(sublinear @ self._char_weights[known]) / math.sqrt(float(sublinear @ sublinear))
            logit += block_sum
            parts.append(("(spelling)", block_sum))
        return max(-_LOGIT_CLIP, min(_LOGIT_CLIP, logit)), parts

    def lean(self, text: str, inputs: Sequence[float], *, explain: bool = False) -> Lean:
        """Which way `text` leans given the rules' `inputs` (direction_inputs): > 0 negative, < 0 positive."""
        if len(inputs) != len(DIRECTION) - 1:
            raise ValueError(f"{len(inputs)} evidence inputs, the model expects {len(DIRECTION) - 1}")
        logit, parts = self.polarity(text)
        x = (np.array([logit, *inputs], dtype=np.float64) - self.direction_mean) / self.direction_scale
        lean = self.direction_bias + float(np.dot(x, self.direction_weights))
        contributions: tuple[tuple[str, float], ...] = ()
        if explain:
            # each feature's push against the same text with that feature at 0 (no evidence of it); the
            # logit's push is shared among the words that made it, in proportion
            per_unit = self.direction_weights / self.direction_scale
            named = [(g, v * float(per_unit[0])) for g, v in parts]
            named += [(n, float(w * v)) for n, w, v in zip(DIRECTION[1:], per_unit[1:], inputs, strict=True)]
            contributions = tuple(sorted(((n, round(v, 2)) for n, v in named if abs(v) >= 0.01),
                                         key=lambda nv: (-abs(nv[1]), nv[0])))
        return Lean(lean, logit, contributions)


def dump(model_json: Mapping[str, object], path: Path) -> None:
    """Write the artefact byte for byte reproducibly (sorted keys, no gzip timestamp or name)."""
    raw = json.dumps(model_json, sort_keys=True, separators=(",", ":")).encode()
    with path.open("wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
        gz.write(raw)


def load(path: Path = ARTEFACT) -> Model:
    """Read an artefact written by `dump`; a wrong or damaged file is refused with its name."""
    try:
        with gzip.open(path, "rb") as fh:
            data = json.loads(fh.read())
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, expected {FORMAT}")
        return Model(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path}: not a usable sentiment model ({exc})") from exc


@cache
def shipped() -> Model:
    """The model shipped in the package, read once per process (forked workers inherit it)."""
    return load(ARTEFACT)
