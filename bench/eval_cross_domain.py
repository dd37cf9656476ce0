"""The sentiment model across domains: leave one training domain out at a time, plus the airline tweets.

    python bench/eval_cross_domain.py [--data ../shared/data] [--limit N]

For each training domain of ../shared/data/train (GoEmotions comments, clothing reviews, banking77 and
clinc150 requests) the model is re-trained on the other three (bench/train_sentiment.py, same code and
seeds as the shipped one) and scored on the held-out one; the airline tweets, which nothing is ever
trained on, are scored by the model trained on all four. Beside it in the same run: TextBlob alone
(polarity < 0 negative, > 0 positive), VADER alone (compound <= -0.05 negative, >= 0.05 positive) and
the rule classifier this model is stacked on. Per domain and method:

- acc3: 3-class accuracy over every labelled text (the intent sets count as all neutral: an assumption);
- polar: 3-class accuracy on the clearly negative or positive texts (calling one neutral is wrong);
- neg err: |predicted - human negative share| in points;
- pos->cmp: the share of clearly positive texts flagged as complaints;
- cc recall: complaint recall on ../shared/data/call_center's narratives (every one is a complaint),
  by the model that domain's column used.
"""

from __future__ import annotations

import argparse
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
    base = ts.N_DENSE
    compound, textblob = ev[:, base], ev[:, base + 1]
    out = {}
    tb = ["negative" if v < 0 else "positive" if v > 0 else "neutral" for v in textblob]
    out["TextBlob"] = Verdicts(tb, [s == "negative" for s in tb])
    vd = _sign(compound, -0.05, 0.05)
    out["VADER"] = Verdicts(vd, [s == "negative" for s in vd])
    rules = [{-1.0: "negative", 0.0: "neutral", 1.0: "positive"}[v] for v in ev[:, base + 2]]
    out["rules"] = Verdicts(rules, [bool(v) for v in ev[:, base + 3]])
    return out


def model_verdicts(model: sm.Model, texts: Sequence[str], ev: npt.NDArray[np.float64]) -> Verdicts:
    """The model's verdicts, through the shipped inference code."""
    sent, cmp = [], []
    for text, row in zip(texts, ev, strict=True):
        dense = [float(v) for v in row[: ts.N_DENSE]]
        pred = model.predict(text, dense)
        sent.append(pred.sentiment)
        cmp.append(sm.is_complaint(pred, dense))
    return Verdicts(sent, cmp)


@dataclass(frozen=True)
class Scores:
    n: int
    acc3: float
    polar: float | None
    neg_err: float
    pos_complaint: float | None
    neutral_share: float


def score(v: Verdicts, gold: Sequence[str]) -> Scores:
    """The figures of one method on one domain."""
    n = len(gold)
    acc3 = sum(p == g for p, g in zip(v.sentiment, gold, strict=True)) / n
    polar_idx = [i for i, g in enumerate(gold) if g != "neutral"]
    polar = sum(v.sentiment[i] == gold[i] for i in polar_idx) / len(polar_idx) if polar_idx else None
    neg_err = 100 * abs(v.sentiment.count("negative") - list(gold).count("negative")) / n
    pos_idx = [i for i, g in enumerate(gold) if g == "positive"]
    pos_cmp = sum(v.complaint[i] for i in pos_idx) / len(pos_idx) if pos_idx else None
    return Scores(n, acc3, polar, neg_err, pos_cmp, v.sentiment.count("neutral") / n)


def _fmt(x: float | None, digits: int = 3) -> str:
    return "   -" if x is None else f"{x:.{digits}f}"


def table(rows: list[tuple[str, str, Scores, float]]) -> list[str]:
    """One line per domain and method."""
    out = [f"  {'domain':22}{'method':10}{'n':>7}{'acc3':>8}{'polar':>8}{'neg err':>9}{'pos->cmp':>10}"
           f"{'neutral':>9}{'cc recall':>11}"]
    for domain, method, s, recall in rows:
        out.append(f"  {domain:22}{method:10}{s.n:7d}{_fmt(s.acc3):>8}{_fmt(s.polar):>8}{s.neg_err:9.1f}"
                   f"{_fmt(s.pos_complaint):>10}{s.neutral_share:9.3f}{recall:11.3f}")
    return out


def _limit(texts: list[str], labels: list[str], limit: int | None) -> tuple[list[str], list[str]]:
    if not limit or len(texts) <= limit:
        return texts, labels
    idx = np.random.default_rng(ts.SEED).permutation(len(texts))[:limit]
    idx.sort()
    return [texts[i] for i in idx], [labels[i] for i in idx]


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
    ev = {name: ts.evidence(d.texts) for name, d in domains.items()}
    calls = [str(t) for t in pd.read_csv(calls_path, usecols=["Consumer complaint narrative"])
             ["Consumer complaint narrative"].dropna()]
    calls_ev = ts.evidence(calls)
    tweets = load_tweets(tweets_path, None)
    tweet_texts, tweet_gold = tweets["text"].tolist(), tweets["airline_sentiment"].tolist()
    tweets_ev = ts.evidence(tweet_texts)

    def recall(v: Verdicts) -> float:
        return sum(v.complaint) / len(v.complaint)

    grams = ts.all_grams(domains.values())
    calls_base = {k: recall(v) for k, v in baselines(calls_ev).items()}
    rows: list[tuple[str, str, Scores, float]] = []
    held_polar: list[float] = []
    for name, held in domains.items():
        others = [d for n, d in domains.items() if n != name]
        model = ts.model_of(ts.train(others, ev, grams))
        texts, gold = _limit(held.texts, held.labels, args.limit)
        sub = ts.evidence(texts) if args.limit else ev[name]
        verdicts = baselines(sub) | {"model": model_verdicts(model, texts, sub)}
        cc = calls_base | {"model": recall(model_verdicts(model, calls, calls_ev))}
        for method in METHODS:
            rows.append((f"{name} (held out)", method, score(verdicts[method], gold), cc[method]))
        polar = score(verdicts["model"], gold).polar
        if polar is not None:
            held_polar.append(polar)
        print(f"done: {name}", file=sys.stderr, flush=True)
    full = ts.model_of(ts.train(list(domains.values()), ev, grams))
    verdicts = baselines(tweets_ev) | {"model": model_verdicts(full, tweet_texts, tweets_ev)}
    cc = calls_base | {"model": recall(model_verdicts(full, calls, calls_ev))}
    for method in METHODS:
        rows.append(("airline tweets", method, score(verdicts[method], tweet_gold), cc[method]))
    tweet_polar = score(verdicts["model"], tweet_gold).polar
    out = ["cross-domain evaluation (each training domain held out; airline tweets never trained on)", ""]
    out += table(rows)
    polar_all = [*held_polar, *([tweet_polar] if tweet_polar is not None else [])]
    model_rows = [s for _, m, s, _ in rows if m == "model"]
    out += ["", f"model: polar accuracy mean {np.mean(polar_all):.3f}, min {min(polar_all):.3f} "
            f"(held-out polar domains and the tweets); max neg err {max(s.neg_err for s in model_rows):.1f} points; "
            f"max pos->cmp {max((s.pos_complaint or 0.0) for s in model_rows):.3f}; "
            f"cc recall min {min(r for _, m, _, r in rows if m == 'model'):.3f}"]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
