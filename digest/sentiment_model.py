"""The learned sentiment model: a polarity direction learned from texts, stacked with the rules' evidence.

Two small linear models, applied one after the other:

1. *polarity*: a logistic regression over word unigrams and bigrams and character n-grams of the
   lowercased text (links, @handles and numbers folded to one token each; sublinear term frequency,
   each block L2-normalised). It is trained on clearly polar texts only (negative vs positive), so it
   says which way a text leans, never whether it leans at all: its output is one logit.
2. *stack*: a multinomial logistic regression (negative / neutral / positive) over that logit and the
   evidence the rule classifier already computes (cue lexicon sums, VADER compound, TextBlob polarity,
   negation, requests, sympathy: `dense_vector`). It decides the class and is calibrated: its
   probabilities are what the digest's thresholds read.

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
from functools import cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

ARTEFACT: Final = Path(__file__).with_name("lexicon") / "sentiment_model.json.gz"
CLASSES: Final = ("negative", "neutral", "positive")
FORMAT: Final = 2

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_LINK = re.compile(r"(?:https?://|www\.)\S+")
_HANDLE = re.compile(r"@\w+")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_ELONGATED = re.compile(r"([a-z])\1{2,}")
# words (with an inner apostrophe), the link/handle/number placeholders, ! and ?, and emoji
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?|_(?:url|user|num)_|[!?]|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_MAX_CHARS: Final = 20_000  # a longer text is scored on its first part: the cost stays linear and bounded
_CHAR_MARK: Final = "\x01"  # starts every character n-gram, so that none is spelled like a word gram
# the dense evidence the stack reads, in this order (see dense_vector)
DENSE: Final = (
    "polarity", "polarity_abs", "complaint_cues", "loose_negation", "praise_cues", "sarcasm_prone",
    "resolved", "request", "sympathy", "vader_pos", "vader_neg", "textblob_pos", "textblob_neg",
    "no_evidence",
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


def dense_vector(*, complaint: float, loose: float, praise: float, mocking: float, resolved: float,
                 request: bool, sympathy: float, compound: float, polarity: float) -> list[float]:
    """The rule classifier's evidence for one text, as the stack reads it (without the polarity logit).

    The arguments are the sums `digest.classify` collects (complaint includes loose negation, as there),
    VADER's compound and TextBlob's polarity; the order is DENSE's, less its first two names.
    """
    quiet = complaint == 0 and praise == 0 and mocking == 0 and compound == 0 and polarity == 0
    return [complaint - loose, loose, praise, mocking, resolved, float(request), sympathy,
            max(0.0, compound), max(0.0, -compound), max(0.0, polarity), max(0.0, -polarity), float(quiet)]


@dataclass(frozen=True, slots=True)
class Prediction:
    """The model's probabilities for one text, and what moved them."""

    p: tuple[float, float, float]  # negative, neutral, positive
    polarity: float  # the polarity model's logit: > 0 leans negative
    contributions: tuple[tuple[str, float], ...]  # feature, its push towards negative (positive = more negative)

    @property
    def p_negative(self) -> float:
        return self.p[0]

    @property
    def p_positive(self) -> float:
        return self.p[2]

    @property
    def sentiment(self) -> str:
        """The most probable class."""
        return CLASSES[max(range(3), key=self.p.__getitem__)]

    def explain(self, top: int = 6) -> str:
        """One line for `digest classify --why`: the probabilities and the strongest pushes."""
        parts = " ".join(f"{name!r} {w:+.2f}" for name, w in self.contributions[:top])
        return (f"model p(neg)={self.p[0]:.2f} p(neu)={self.p[1]:.2f} p(pos)={self.p[2]:.2f}"
                f" polarity {self.polarity:+.2f}" + (f"; towards negative: {parts}" if parts else ""))


class Model:
    """The trained weights; `predict` is pure numpy."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        """Build from the artefact's JSON; raises ValueError when its parts do not fit each other."""
        pol, stack = data["polarity"], data["stack"]
        vocabulary: list[str] = list(pol["vocabulary"])
        weights = np.asarray(pol["weights"], dtype=np.float64)
        if weights.shape != (len(vocabulary),):
            raise ValueError(f"polarity weights {weights.shape} do not fit {len(vocabulary)} grams")
        self.weight = dict(zip(vocabulary, weights.tolist(), strict=True))
        self.char_sizes = tuple(int(n) for n in pol["char_sizes"])
        self.polarity_bias = float(pol["bias"])
        names = tuple(stack["names"])
        if names != DENSE:
            raise ValueError(f"stack features {names} are not this version's {DENSE}")
        self.stack_weights = np.asarray(stack["weights"], dtype=np.float64).reshape(-1, len(CLASSES))
        self.stack_mean = np.asarray(stack["mean"], dtype=np.float64)
        self.stack_scale = np.asarray(stack["scale"], dtype=np.float64)
        self.stack_bias = np.asarray(stack["bias"], dtype=np.float64)
        if not (self.stack_weights.shape[0] == self.stack_mean.shape[0] == self.stack_scale.shape[0] == len(names)):
            raise ValueError("stack weights do not fit their names")
        if self.stack_bias.shape != (len(CLASSES),):
            raise ValueError("stack bias is not one number per class")

    def polarity(self, text: str) -> tuple[float, list[tuple[str, float]]]:
        """The polarity logit of `text` (> 0 leans negative) and each word gram's part of it."""
        words, chars = features(text, self.char_sizes)
        logit = self.polarity_bias
        parts: list[tuple[str, float]] = []
        for block, named in ((words, True), (chars, False)):
            found = [(g, 1.0 + math.log(c), self.weight[g]) for g, c in block.items() if g in self.weight]
            if not found:
                continue
            norm = math.sqrt(sum(tf * tf for _, tf, _ in found))
            block_sum = 0.0
            for gram, tf, w in found:
                v = tf * w / norm
                block_sum += v
                if named:
                    parts.append((gram, v))
            logit += block_sum
            if not named:
                parts.append(("(spelling)", block_sum))
        return max(-_LOGIT_CLIP, min(_LOGIT_CLIP, logit)), parts

    def stack(self, logit: float, evidence: Sequence[float]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Class probabilities from the polarity logit and the rules' evidence, and each feature's logits."""
        if len(evidence) != len(DENSE) - 2:
            raise ValueError(f"{len(evidence)} evidence features, the model expects {len(DENSE) - 2}")
        x = (np.array([logit, abs(logit), *evidence], dtype=np.float64) - self.stack_mean) / self.stack_scale
        part = x[:, None] * self.stack_weights
        logits = self.stack_bias + part.sum(axis=0)
        e = np.exp(logits - logits.max())
        return e / e.sum(), part

    def predict(self, text: str, evidence: Sequence[float], *, explain: bool = False) -> Prediction:
        """Probabilities of negative/neutral/positive for `text` with the rules' `evidence` (dense_vector)."""
        logit, parts = self.polarity(text)
        p, part = self.stack(logit, evidence)
        contributions: tuple[tuple[str, float], ...] = ()
        if explain:
            # each feature's push towards negative against the mean of the other two classes; the
            # polarity logit's push is shared among the grams that made it
            push = part[:, 0] - part[:, 1:].mean(axis=1)
            per_logit = float(push[0] + push[1]) / logit if abs(logit) > 1e-9 else 0.0
            named = [(g, v * per_logit) for g, v in parts]
            named += [(n, float(v)) for n, v in zip(DENSE[2:], push[2:], strict=True)]
            contributions = tuple(sorted(((n, round(v, 2)) for n, v in named if abs(v) >= 0.01),
                                         key=lambda nv: (-abs(nv[1]), nv[0])))
        return Prediction((float(p[0]), float(p[1]), float(p[2])), logit, contributions)


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


# a concrete problem report this strong (the rules' complaint cues; one clear cue weighs about 1) is a
# complaint unless the model is confident the text is positive: long, factual complaint narratives read
# as neutral to a sentiment model, but they complain
_CUES_COMPLAIN: Final = 1.0
_POSITIVE_VETO: Final = 0.2


def is_complaint(pred: Prediction, evidence: Sequence[float]) -> bool:
    """Whether a text is a complaint: negative, or a clear problem report the model does not call positive."""
    cues = evidence[0]
    return pred.sentiment == "negative" or (cues >= _CUES_COMPLAIN and pred.p_positive < _POSITIVE_VETO)
