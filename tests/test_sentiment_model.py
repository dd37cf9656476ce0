"""digest.sentiment_model: tokens, the artefact's format and the numpy inference (no trained artefact yet)."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

from digest import sentiment_model as sm


def test_tokens_fold_links_handles_numbers_and_elongation() -> None:
    toks = sm.tokens("@Delta lost my bag AGAIN!!! 3 hours \u2019til http://x.co/a sooooo bad")
    assert toks == ["_user_", "lost", "my", "bag", "again", "!", "!", "!", "_num_", "hours", "til",
                    "_url_", "soo", "bad"]


def test_ngrams_count_unigrams_and_bigrams() -> None:
    grams = sm.ngrams("not good, not good")
    assert grams["not"] == 2 and grams["not good"] == 2 and grams["good not"] == 1


def _tiny() -> dict[str, object]:
    return {"format": sm.FORMAT, "vocabulary": ["bad", "great", "lost my"],
            "word_weights": [2.0, 0.0, -1.0, -1.5, 0.0, 2.5, 1.0, 0.0, 0.0],
            "dense_names": ["vader"], "dense_weights": [-1.0, 0.0, 1.0], "dense_scale": [2.0],
            "bias": [0.1, 0.2, -0.3]}


def test_dump_is_byte_for_byte_reproducible_and_loads(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    sm.dump(_tiny(), a)
    sm.dump(_tiny(), b)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    model = sm.load(a)
    assert model.vocabulary == ["bad", "great", "lost my"]


def test_predict_is_the_softmax_of_the_weighted_features(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    sm.dump(_tiny(), path)
    pred = sm.load(path).predict("They lost my bag. Bad, bad.", [0.5], explain=True)
    # "bad" x2 -> 1 + ln 2; "lost my" x1 -> 1; L2-normalised
    tf = np.array([1 + math.log(2), 1.0])
    tf /= np.linalg.norm(tf)
    logits = np.array([0.1, 0.2, -0.3]) + tf[0] * np.array([2.0, 0.0, -1.0]) + tf[1] * np.array([1.0, 0.0, 0.0])
    logits += 0.25 * np.array([-1.0, 0.0, 1.0])
    want = np.exp(logits) / np.exp(logits).sum()
    assert pred.p == pytest.approx(tuple(want))
    assert pred.contributions[0][0] == "bad"  # the strongest push towards negative first
    assert pred.explain().startswith(f"model p(neg)={want[0]:.2f}")


def test_a_damaged_or_foreign_artefact_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="bad.json.gz"):
        sm.load(bad)
    other = _tiny() | {"format": 99}
    sm.dump(other, bad)
    with pytest.raises(ValueError, match="format 99"):
        sm.load(bad)
    short = _tiny() | {"dense_scale": [1.0, 2.0]}
    sm.dump(short, bad)
    with pytest.raises(ValueError, match="dense weights"):
        sm.load(bad)
