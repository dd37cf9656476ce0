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
    n = len(sm.DIRECTION)
    return {"format": sm.FORMAT,
            "polarity": {"vocabulary": ["bad", "great", "lost my", "\x01bad"], "weights": [2.0, -2.5, 1.0, 0.5],
                         "bias": -0.1, "char_sizes": [3]},
            "direction": {"names": list(sm.DIRECTION), "weights": [1.5, -1.0] + [0.0] * (n - 2),
                          "mean": [0.5, 0.1] + [0.0] * (n - 2), "scale": [2.0, 0.5] + [1.0] * (n - 2), "bias": -0.2}}


def test_dump_is_byte_for_byte_reproducible_and_loads(tmp_path: Path) -> None:
    a, b = tmp_path / "a.json.gz", tmp_path / "b.json.gz"
    sm.dump(_tiny(), a)
    sm.dump(_tiny(), b)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert sm.load(a).char_sizes == (3,)


def test_the_lean_is_the_polarity_logit_and_the_evidence_weighed_by_the_direction_model(tmp_path: Path) -> None:
    path = tmp_path / "m.json.gz"
    sm.dump(_tiny(), path)
    inputs = [0.4] + [0.0] * (len(sm.DIRECTION) - 2)  # VADER's compound 0.4, no other evidence
    got = sm.load(path).lean("They lost my bag. Bad, bad.", inputs, explain=True)
    # words: "bad" x2 -> 1 + ln 2, "lost my" x1 -> 1, L2-normalised; chars: "\x01bad" once, alone in its block
    tf = np.array([1 + math.log(2), 1.0])
    tf /= np.linalg.norm(tf)
    logit = -0.1 + tf[0] * 2.0 + tf[1] * 1.0 + 0.5
    assert got.polarity == pytest.approx(logit)
    lean = -0.2 + 1.5 * (logit - 0.5) / 2.0 - 1.0 * (0.4 - 0.1) / 0.5
    assert got.lean == pytest.approx(lean)
    assert got.p_negative == pytest.approx(1 / (1 + math.exp(-lean)))
    pushes = dict(got.contributions)
    # each push against the same text without that evidence: 1.5 / 2.0 per unit of logit, -1.0 / 0.5 per compound
    assert pushes["bad"] == pytest.approx(round(tf[0] * 2.0 * 0.75, 2))
    assert pushes["vader_compound"] == pytest.approx(-0.8)
    assert "textblob" not in pushes  # no evidence of it, no push
    assert got.contributions[0][0] == "bad"  # the strongest push first
    assert got.explain().startswith(f"model lean {lean:+.2f}")


def test_a_damaged_or_foreign_artefact_is_refused_with_its_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="bad.json.gz"):
        sm.load(bad)
    sm.dump(_tiny() | {"format": 99}, bad)
    with pytest.raises(ValueError, match="format 99"):
        sm.load(bad)
    tiny = _tiny()
    short = tiny | {"direction": tiny["direction"] | {"mean": [0.0]}}  # type: ignore[operator]
    sm.dump(short, bad)
    with pytest.raises(ValueError, match="direction weights"):
        sm.load(bad)
    renamed = tiny | {"direction": tiny["direction"] | {"names": ["x"] * len(sm.DIRECTION)}}  # type: ignore[operator]
    sm.dump(renamed, bad)
    with pytest.raises(ValueError, match="direction features"):
        sm.load(bad)


def test_the_shipped_artefact_loads_is_small_and_leans_the_right_way() -> None:
    assert sm.ARTEFACT.stat().st_size < 5_000_000
    model = sm.shipped()
    assert model is sm.shipped()  # read once per process
    quiet = [0.0] * (len(sm.DIRECTION) - 1)  # no evidence from the rules: the words alone decide
    assert model.lean("the food was bland and I won't be back", quiet).lean > 0
    assert model.lean("absolutely loved it, the staff were wonderful", quiet).lean < 0


def test_the_model_pickles_for_workers_not_started_by_fork() -> None:
    import pickle

    model = sm.shipped()
    inputs = [0.2] + [0.0] * (len(sm.DIRECTION) - 2)
    want = model.lean("They lost my bag, bad bad service", inputs).lean
    again = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own object
    assert again.lean("They lost my bag, bad bad service", inputs).lean == want
