"""digest.sentiment_model: tokens, the artefact's format, the numpy inference and the shipped artefact."""

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


def test_char_grams_pad_each_word_and_skip_placeholders() -> None:
    grams = sm.char_grams(["bad", "_num_", "!"], (3, 4))
    assert sorted(g[1:] for g in grams) == sorted([" ba", "bad", "ad ", " bad", "bad "])
    assert all(g.startswith("\x01") for g in grams)  # never spelled like a word gram


def _tiny() -> dict[str, object]:
    n = len(sm.DENSE)
    weights = [0.0] * (3 * n)
    weights[0:3] = [1.0, 0.0, -1.0]  # the polarity logit pushes towards negative
    return {"format": sm.FORMAT,
            "polarity": {"vocabulary": ["bad", "great", "lost my", "\x01bad"], "weights": [2.0, -2.5, 1.0, 0.5],
                         "bias": -0.1, "char_sizes": [3]},
            "stack": {"names": list(sm.DENSE), "weights": weights, "mean": [0.0] * n, "scale": [2.0] + [1.0] * (n - 1),
                      "bias": [0.1, 0.2, -0.3]}}


def test_dump_is_byte_for_byte_reproducible_and_loads(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    sm.dump(_tiny(), a)
    sm.dump(_tiny(), b)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sm.load(a).char_sizes == (3,)


def test_predict_is_the_polarity_logit_stacked_by_a_softmax(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    sm.dump(_tiny(), path)
    evidence = [0.0] * (len(sm.DENSE) - 2)
    pred = sm.load(path).predict("They lost my bag. Bad, bad.", evidence, explain=True)
    # words: "bad" x2 -> 1 + ln 2, "lost my" x1 -> 1, L2-normalised; chars: "\x01bad" once, alone in its block
    tf = np.array([1 + math.log(2), 1.0])
    tf /= np.linalg.norm(tf)
    logit = -0.1 + tf[0] * 2.0 + tf[1] * 1.0 + 0.5
    assert pred.polarity == pytest.approx(logit)
    logits = np.array([0.1, 0.2, -0.3]) + logit / 2.0 * np.array([1.0, 0.0, -1.0])
    want = np.exp(logits) / np.exp(logits).sum()
    assert pred.p == pytest.approx(tuple(want))
    assert pred.sentiment == "negative"
    assert pred.contributions[0][0] == "bad"  # the strongest push towards negative first
    assert pred.explain().startswith(f"model p(neg)={want[0]:.2f}")


def test_a_damaged_or_foreign_artefact_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="bad.json.gz"):
        sm.load(bad)
    sm.dump(_tiny() | {"format": 99}, bad)
    with pytest.raises(ValueError, match="format 99"):
        sm.load(bad)
    tiny = _tiny()
    short = tiny | {"stack": tiny["stack"] | {"mean": [0.0]}}  # type: ignore[operator]
    sm.dump(short, bad)
    with pytest.raises(ValueError, match="stack weights"):
        sm.load(bad)
    renamed = tiny | {"stack": tiny["stack"] | {"names": ["x"] * len(sm.DENSE)}}  # type: ignore[operator]
    sm.dump(renamed, bad)
    with pytest.raises(ValueError, match="stack features"):
        sm.load(bad)


def test_the_shipped_artefact_loads_is_small_and_leans_the_right_way() -> None:
    assert sm.ARTEFACT.stat().st_size < 5_000_000
    model = sm.shipped()
    assert model is sm.shipped()  # read once per process
    quiet = [0.0] * (len(sm.DENSE) - 2)
    quiet[-1] = 1.0  # no evidence from the rules: the words alone decide
    assert model.predict("the food was bland and I won't be back", quiet).polarity > 0
    assert model.predict("absolutely loved it, the staff were wonderful", quiet).polarity < 0
