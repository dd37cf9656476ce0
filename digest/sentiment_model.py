"""The learned sentiment model: word n-grams stacked with the rule classifier's evidence.

A multinomial logistic model (negative / neutral / positive) over two groups of features:
- word unigrams and bigrams of the lowercased text (links, @handles and numbers folded to one token
  each), sublinear term frequency, L2-normalised: what the training texts teach;
- a few dense numbers the project already computed for the text (cue lexicon sums, VADER compound,
  TextBlob polarity, negation and request signals: see `digest.classify.evidence_vector`).

It is trained by tools/train_classifier.py on ../shared/data/train only (see the README's credits) and
shipped as gzipped JSON (vocabulary, weights, feature names): plain numbers, no pickle, loaded once per
process and inferred with numpy alone, so scikit-learn is needed only to re-train.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

ARTEFACT: Final = Path(__file__).with_name("lexicon") / "sentiment_model.json.gz"
CLASSES: Final = ("negative", "neutral", "positive")
FORMAT: Final = 1

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_LINK = re.compile(r"(?:https?://|www\.)\S+")
_HANDLE = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_ELONGATED = re.compile(r"([a-z])\1{2,}")
# words (with an inner apostrophe), the link/handle/number placeholders, ! and ?, and emoji
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|_(?:url|user|num)_|[!?]|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_MAX_CHARS: Final = 20_000  # a longer text is scored on its first part: the cost stays linear and bounded


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
    toks = tokens(text)
    grams: Counter[str] = Counter(toks)
    grams.update(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))
    return grams


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's probabilities for one text, and what moved them."""

    p: tuple[float, float, float]  # negative, neutral, positive
    contributions: tuple[tuple[str, float], ...]  # feature, its push towards negative (positive = more negative)

    @property
    def p_negative(self) -> float:
        return self.p[0]

    @property
    def p_positive(self) -> float:
        return self.p[2]

    def explain(self, top: int = 5) -> str:
        """One line for `digest classify --why`."""
        parts = " ".join(f"'{name}' {w:+.2f}" for name, w in self.contributions[:top])
        return (f"model p(neg)={self.p[0]:.2f} p(neu)={self.p[1]:.2f} p(pos)={self.p[2]:.2f}"
                + (f" from: {parts}" if parts else ""))


class Model:
    """The trained weights; `predict` is pure numpy."""

    def __init__(self, vocabulary: Sequence[str], word_weights: npt.NDArray[np.float64],
                 dense_names: Sequence[str], dense_weights: npt.NDArray[np.float64],
                 dense_scale: npt.NDArray[np.float64], bias: npt.NDArray[np.float64]) -> None:
        if word_weights.shape != (len(vocabulary), len(CLASSES)):
            raise ValueError(f"word weights {word_weights.shape} do not fit {len(vocabulary)} words")
        if dense_weights.shape != (len(dense_names), len(CLASSES)) or dense_scale.shape != (len(dense_names),):
            raise ValueError("dense weights do not fit their names")
        self.index = {w: i for i, w in enumerate(vocabulary)}
        self.vocabulary = list(vocabulary)
        self.word_weights = word_weights
        self.dense_names = tuple(dense_names)
        self.dense_weights = dense_weights
        self.dense_scale = dense_scale
        self.bias = bias

    def predict(self, text: str, dense: Sequence[float], *, explain: bool = False) -> Prediction:
        """Probabilities of negative/neutral/positive for `text` with its evidence vector `dense`."""
        if len(dense) != len(self.dense_names):
            raise ValueError(f"{len(dense)} evidence features, the model expects {len(self.dense_names)}")
        grams = ngrams(text)
        idx = [self.index[g] for g in grams if g in self.index]
        logits = self.bias.copy()
        word_part = np.zeros((0, len(CLASSES)))
        if idx:
            tf = np.array([1.0 + math.log(grams[self.vocabulary[i]]) for i in idx])
            tf /= float(np.sqrt(np.dot(tf, tf)))
            word_part = tf[:, None] * self.word_weights[idx]
            logits += word_part.sum(axis=0)
        d = np.asarray(dense, dtype=np.float64) / self.dense_scale
        dense_part = d[:, None] * self.dense_weights
        logits += dense_part.sum(axis=0)
        e = np.exp(logits - logits.max())
        p = e / e.sum()
        contributions: tuple[tuple[str, float], ...] = ()
        if explain:
            # push towards negative against the mean of the other two classes
            def push(part: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
                return np.asarray(part[:, 0] - part[:, 1:].mean(axis=1), dtype=np.float64)

            named = [(self.vocabulary[i], float(v)) for i, v in zip(idx, push(word_part), strict=True)]
            named += [(n, float(v)) for n, v in zip(self.dense_names, push(dense_part), strict=True)]
            contributions = tuple(sorted(((n, round(v, 2)) for n, v in named if abs(v) >= 0.01),
                                         key=lambda nv: -abs(nv[1])))
        return Prediction((float(p[0]), float(p[1]), float(p[2])), contributions)


def dump(model_json: dict[str, object], path: Path) -> None:
    """Write the artefact byte for byte reproducibly (sorted keys, no gzip timestamp)."""
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
        return Model(
            vocabulary=data["vocabulary"],
            word_weights=np.asarray(data["word_weights"], dtype=np.float64).reshape(-1, len(CLASSES)),
            dense_names=data["dense_names"],
            dense_weights=np.asarray(data["dense_weights"], dtype=np.float64).reshape(-1, len(CLASSES)),
            dense_scale=np.asarray(data["dense_scale"], dtype=np.float64),
            bias=np.asarray(data["bias"], dtype=np.float64),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a usable sentiment model ({exc})") from exc


@cache
def shipped() -> Model:
    """The model shipped in the package, read once per process (forked workers inherit it)."""
    return load(ARTEFACT)
