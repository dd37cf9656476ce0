"""The classifier across domains: leave one training domain out at a time, plus the airline tweets.

    python bench/eval_cross_domain.py [--data ../shared/data] [--limit N]

The learned model (digest/sentiment_model.py) is trained on the clearly polar texts of
../shared/data/train: GoEmotions comments and clothing reviews. Each is held out in turn: the model is
re-trained on the other (bench/train_sentiment.py, same code and seeds as the shipped one) and scored
on it -- the reviews' titles alone too, as short review snippets. The intent sets (banking77 and clinc150
requests, which nothing is trained on, counted as all neutral: an assumption), the airline tweets and the
CFPB complaint narratives are scored by the model trained on both. Beside it in the same run: TextBlob
alone (polarity < 0 negative, > 0 positive), VADER alone (compound <= -0.05 negative, >= 0.05 positive)
and the rules alone; "model" is what the Classifier decides (the rules corrected by the model,
decide.with_model). Per domain and method:

- acc3: 3-class accuracy over every labelled text;
- polar: 3-class accuracy on the clearly negative or positive texts (calling one neutral is wrong);
- neg err: predicted minus human negative share, in points, over every text (signed);
- pol err: the same over the clearly polar texts only (the sets the targets speak of are polar);
- pos->cmp: the share of clearly positive texts flagged as complaints;
- neu kept: the share of human-neutral texts left neutral;
- cc recall: complaint recall on ../shared/data/call_center's narratives (every one is a complaint),
  by the model that domain's row used.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "bench"))

import train_sentiment as ts  # noqa: E402
from eval_classifier import load_tweets  # noqa: E402

from digest import sentiment_model as sm  # noqa: E402
from digest.classify import decide  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
METHODS = ("TextBlob", "VADER", "rules", "model")


@dataclass(frozen=True)
class Verdicts:
    """One method's sentiment and complaint per text."""

    sentiment: list[str]
    complaint: list[bool]


def _sign(values: npt.NDArray[np.float64], low: float, high: float) -> list[str]:
    return ["negative" if v <= low else "positive" if v >= high else "neutral" for v in values]


def baselines(ev: npt.NDArray[np.float64]) -> dict[str, Verdicts]:
    """TextBlob alone, VADER alone and the rules, from the evidence rows (complaint = negative for the first two)."""
    compound, textblob = ev[:, ts.COMPOUND], ev[:, ts.TEXTBLOB]
    out = {}
    tb = ["negative" if v < 0 else "positive" if v > 0 else "neutral" for v in textblob]
    out["TextBlob"] = Verdicts(tb, [s == "negative" for s in tb])
    vd = _sign(compound, -0.05, 0.05)
    out["VADER"] = Verdicts(vd, [s == "negative" for s in vd])
    rules = [{-1.0: "negative", 0.0: "neutral", 1.0: "positive"}[v] for v in ev[:, ts.N_INPUTS]]
    out["rules"] = Verdicts(rules, [bool(v) for v in ev[:, ts.N_INPUTS + 1]])
    return out


def model_verdicts(model: sm.Model, texts: Sequence[str], ev: npt.NDArray[np.float64]) -> Verdicts:
    """The Classifier's verdicts with `model`: the rules' decision corrected by its lean (decide.with_model)."""
    base = baselines(ev)["rules"]
    sent, cmp = [], []
    for text, row, s, c in zip(texts, ev, base.sentiment, base.complaint, strict=True):
        lean = model.lean(text, [float(v) for v in row[: ts.N_INPUTS]]).lean
        rules = decide.Decision(s, c, float(row[ts.N_INPUTS + 2]))  # type: ignore[arg-type]
        final = decide.with_model(rules, lean, ts.evidence_of_row(row), words=len(text.split()))
        sent.append(final.sentiment)
        cmp.append(final.complaint)
    return Verdicts(sent, cmp)


@dataclass(frozen=True)
class Scores:
    n: int
    acc3: float
    polar: float | None
    neg_err: float
    polar_err: float | None
    pos_complaint: float | None
    neutral_kept: float | None


def score(v: Verdicts, gold: Sequence[str]) -> Scores:
    """The figures of one method on one domain."""
    n = len(gold)
    acc3 = sum(p == g for p, g in zip(v.sentiment, gold, strict=True)) / n
    polar_idx = [i for i, g in enumerate(gold) if g != "neutral"]
    polar = polar_err = None
    if polar_idx:
        polar = sum(v.sentiment[i] == gold[i] for i in polar_idx) / len(polar_idx)
        said = sum(v.sentiment[i] == "negative" for i in polar_idx) - sum(gold[i] == "negative" for i in polar_idx)
        polar_err = 100 * said / len(polar_idx)
    neg_err = 100 * (v.sentiment.count("negative") - list(gold).count("negative")) / n
    pos_idx = [i for i, g in enumerate(gold) if g == "positive"]
    pos_cmp = sum(v.complaint[i] for i in pos_idx) / len(pos_idx) if pos_idx else None
    neu_idx = [i for i, g in enumerate(gold) if g == "neutral"]
    kept = sum(v.sentiment[i] == "neutral" for i in neu_idx) / len(neu_idx) if neu_idx else None
    return Scores(n, acc3, polar, neg_err, polar_err, pos_cmp, kept)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "   -" if x is None else f"{x:.{digits}f}"


def _pts(x: float | None) -> str:
    return "   -" if x is None else f"{x:+.1f}"


def table(rows: list[tuple[str, str, Scores, float]]) -> list[str]:
    """One line per domain and method."""
    out = [f"  {'domain':30}{'method':10}{'n':>7}{'acc3':>8}{'polar':>8}{'neg err':>9}{'pol err':>9}{'pos->cmp':>10}"
           f"{'neu kept':>10}{'cc recall':>11}"]
    for domain, method, s, recall in rows:
        out.append(f"  {domain:30}{method:10}{s.n:7d}{_fmt(s.acc3):>8}{_fmt(s.polar):>8}{_pts(s.neg_err):>9}"
                   f"{_pts(s.polar_err):>9}{_fmt(s.pos_complaint):>10}{_fmt(s.neutral_kept):>10}{recall:11.3f}")
    return out


def _limit(texts: list[str], labels: list[str], limit: int | None) -> tuple[list[str], list[str]]:
    if not limit or len(texts) <= limit:
        return texts, labels
    idx = np.random.default_rng(ts.SEED).permutation(len(texts))[:limit]
    idx.sort()
    return [texts[i] for i in idx], [labels[i] for i in idx]


def review_titles(root: Path) -> tuple[list[str], list[str]]:
    """The clothing reviews' titles alone (1-2 stars negative, 5 positive): short review snippets."""
    texts, labels = [], []
    with (root / "womens_clothing_reviews" / "reviews.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            title = (row["Title"] or "").strip()
            if title and row["Rating"] in ("1", "2", "5"):
                texts.append(title)
                labels.append("positive" if row["Rating"] == "5" else "negative")
    return texts, labels


def main(argv: Sequence[str] | None = None) -> int:
    """Run every held-out evaluation and print the table and its summary; 2 when data is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="../shared/data")
    parser.add_argument("--limit", type=int, default=None, help="score at most N texts per domain")
    args = parser.parse_args(argv)
    train_root = args.data / "train"
    tweets_path = args.data / "airline_tweets" / "Tweets.csv"
    calls_path = args.data / "call_center" / "complaints_sample.csv"
    for path in (train_root, tweets_path, calls_path):
        if not path.exists():
            print(f"{path}: not found", file=sys.stderr)
            return 2
    domains = ts.load_domains(train_root)
    polar = {n: d for n, d in domains.items() if d.polar()}
    calls = [str(t) for t in pd.read_csv(calls_path, usecols=["Consumer complaint narrative"])
             ["Consumer complaint narrative"].dropna()]
    tweets = load_tweets(tweets_path, None)
    titles = review_titles(train_root)
    scored: dict[str, tuple[list[str], list[str]]] = {n: (d.texts, d.labels) for n, d in domains.items()}
    scored["review titles"] = titles
    scored["airline tweets"] = (tweets["text"].tolist(), tweets["airline_sentiment"].tolist())
    ev = {n: ts.evidence(texts) for n, (texts, _) in scored.items()}
    calls_ev = ts.evidence(calls)
    # which model scores what: a training domain (and the reviews' titles) by the one that did not see it
    held_out = {"goemotions": "goemotions", "reviews": "reviews", "review titles": "reviews"}
    grams = ts.all_grams(domains.values(), titles[0], scored["airline tweets"][0], calls)
    models = {name: ts.model_of(ts.train([d for n, d in polar.items() if n != name], ev, grams)) for name in polar}
    models[""] = ts.model_of(ts.train(list(polar.values()), ev, grams))
    print("trained: " + ", ".join(f"without {n}" if n else "on both" for n in models), file=sys.stderr, flush=True)

    def recall(v: Verdicts) -> float:
        return sum(v.complaint) / len(v.complaint)

    calls_base = {k: recall(v) for k, v in baselines(calls_ev).items()}
    rows: list[tuple[str, str, Scores, float]] = []
    for name, (texts, gold) in scored.items():
        model = models[held_out.get(name, "")]
        label = f"{name} (held out)" if name in held_out else name
        texts, gold = _limit(texts, gold, args.limit)
        sub = ts.evidence(texts) if args.limit else ev[name]
        verdicts = baselines(sub) | {"model": model_verdicts(model, texts, sub)}
        cc = calls_base | {"model": recall(model_verdicts(model, calls, calls_ev))}
        for method in METHODS:
            rows.append((label, method, score(verdicts[method], gold), cc[method]))
    out = ["cross-domain evaluation (each training domain held out; nothing is trained on the rest)", ""]
    out += table(rows)
    for method in ("rules", "model"):
        mine = [(d, s, r) for d, m, s, r in rows if m == method]
        polar_acc = [s.polar for _, s, _ in mine if s.polar is not None]
        polar_err = max(abs(s.polar_err) for _, s, _ in mine if s.polar_err is not None)
        out += ["", f"{method}: polar accuracy mean {np.mean(polar_acc):.3f}, min {min(polar_acc):.3f}; "
                f"largest polar neg err {polar_err:.1f} points; "
                f"largest pos->cmp {max(s.pos_complaint for _, s, _ in mine if s.pos_complaint is not None):.3f}; "
                f"cc recall min {min(r for _, _, r in mine):.3f}"]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
