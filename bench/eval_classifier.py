"""Evaluate digest.classify against human labels, beside the TextBlob-only baseline.

    python bench/eval_classifier.py [--data ../shared/data/airline_tweets/Tweets.csv]
                                    [--call-center ../shared/data/call_center/complaints_sample.csv]
                                    [--limit N]

Prints, for the baseline (TextBlob polarity < 0 negative, > 0 positive, else neutral) and for our
Classifier: per-class precision/recall, accuracy, complaint precision/recall, the negative share
per airline against the human labels, and the wall time per 1,000 texts; the same scores on the
tweets without the leaked category names ("Late Flight", "Cancelled Flight", "Flight Booking
Problems"); and, where the CFPB narratives are present, the complaint recall on them (every
narrative is a complaint).

The airline tweets are CC BY-NC-SA: they are read from ../shared/data at run time, never copied
into the project, and nothing in the classifier is learned from them (see digest/lexicon/README.md
for how the hand-written cue lists were checked against them).
"""

from __future__ import annotations

import argparse
import html
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from digest.classify import Classifier  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DEFAULT_TWEETS = DATA / "airline_tweets" / "Tweets.csv"
DEFAULT_CALLS = DATA / "call_center" / "complaints_sample.csv"
# the labellers' category names leaked into these tweets ("Late Flight", "Cancelled Flightled",
# "reFlight Booking Problems"); a cue for them would score unfairly well
LEAKED = ("late flight", "cancelled flight", "flight booking problems")
CLASSES = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Run:
    """Predictions of one method over the texts, with its wall time."""

    name: str
    sentiment: list[str]
    complaint: list[bool]
    seconds: float


def baseline(texts: Sequence[str]) -> Run:
    """TextBlob polarity alone, as the product did before the classifier."""
    from textblob import TextBlob

    start = time.perf_counter()
    pol = [TextBlob(t).sentiment.polarity for t in texts]
    seconds = time.perf_counter() - start
    sent = ["negative" if p < 0 else "positive" if p > 0 else "neutral" for p in pol]
    return Run("TextBlob", sent, [s == "negative" for s in sent], seconds)


def ours(texts: Sequence[str]) -> Run:
    """digest.classify.Classifier, one text at a time (classify_many would fold duplicates)."""
    clf = Classifier()
    start = time.perf_counter()
    results = [clf.classify(t) for t in texts]
    seconds = time.perf_counter() - start
    return Run("ours", [r.sentiment for r in results], [r.complaint for r in results], seconds)


def _pr(pred: Sequence[bool], gold: Sequence[bool]) -> tuple[float, float]:
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    npred, ngold = sum(pred), sum(gold)
    return (tp / npred if npred else 0.0), (tp / ngold if ngold else 0.0)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_table(title: str, runs: Sequence[Run], gold: Sequence[str], gold_complaint: Sequence[bool],
                mask: Sequence[bool] | None = None) -> list[str]:
    """Per-class precision/recall/F1, accuracy and complaint precision/recall, one column per run."""
    idx = [i for i in range(len(gold)) if mask is None or mask[i]]
    g = [gold[i] for i in idx]
    gc = [gold_complaint[i] for i in idx]
    counts = ", ".join(f"{c} {g.count(c)}" for c in CLASSES)
    lines = [f"{title}: {len(idx)} texts ({counts})",
             f"  {'':26}" + "".join(f"{r.name:>24}" for r in runs),
             f"  {'':26}" + "".join(f"{'prec   rec    F1':>24}" for _ in runs)]
    for c in CLASSES:
        cells = []
        for r in runs:
            p, rec = _pr([r.sentiment[i] == c for i in idx], [x == c for x in g])
            cells.append(f"{p:6.3f} {rec:6.3f} {_f1(p, rec):6.3f}")
        lines.append(f"  {c:26}" + "".join(f"{cell:>24}" for cell in cells))
    cells = []
    for r in runs:
        p, rec = _pr([r.complaint[i] for i in idx], gc)
        cells.append(f"{p:6.3f} {rec:6.3f} {_f1(p, rec):6.3f}")
    lines.append(f"  {'complaint':26}" + "".join(f"{cell:>24}" for cell in cells))
    acc = [sum(r.sentiment[i] == gold[i] for i in idx) / max(1, len(idx)) for r in runs]
    lines.append(f"  {'accuracy':26}" + "".join(f"{a:24.3f}" for a in acc))
    macro = []
    for r in runs:
        f = [_f1(*_pr([r.sentiment[i] == c for i in idx], [x == c for x in g])) for c in CLASSES]
        macro.append(sum(f) / 3)
    lines.append(f"  {'macro F1':26}" + "".join(f"{m:24.3f}" for m in macro))
    return lines


def share_table(runs: Sequence[Run], gold: Sequence[str], groups: Sequence[str]) -> list[str]:
    """Negative share per group (airline), human vs each run, with the absolute error in points."""
    head = f"  {'airline':16}{'n':>6}{'human':>8}" + "".join(f"{r.name:>12}{'err':>7}" for r in runs)
    lines = ["negative share per airline (percent; err = |ours - human| in points)", head]
    worst = [0.0] * len(runs)
    for name in sorted(set(groups)):
        idx = [i for i, x in enumerate(groups) if x == name]
        human = 100 * sum(gold[i] == "negative" for i in idx) / len(idx)
        row = f"  {name:16}{len(idx):6d}{human:8.1f}"
        for k, r in enumerate(runs):
            share = 100 * sum(r.sentiment[i] == "negative" for i in idx) / len(idx)
            worst[k] = max(worst[k], abs(share - human))
            row += f"{share:12.1f}{abs(share - human):7.1f}"
        lines.append(row)
    lines.append(f"  {'max error':30}" + "".join(f"{'':12}{w:7.1f}" for w in worst))
    return lines


def load_tweets(path: Path, limit: int | None) -> pd.DataFrame:
    """The labelled tweets, duplicates dropped, HTML entities decoded as the pipeline would."""
    df = pd.read_csv(path).drop_duplicates("tweet_id")
    if limit:
        # an even slice over the file so that every airline is present
        step = max(1, len(df) // limit)
        df = df.iloc[::step].head(limit)
    df = df.assign(text=df["text"].map(lambda t: html.unescape(str(t))))
    return df.reset_index(drop=True)


def evaluate_calls(path: Path, methods: Sequence[Callable[[Sequence[str]], Run]],
                   limit: int | None) -> list[str]:
    """Complaint recall on the CFPB narratives: every one of them is a complaint."""
    df = pd.read_csv(path, usecols=["Consumer complaint narrative"]).dropna()
    texts = [str(t) for t in df["Consumer complaint narrative"]]
    if limit:
        texts = texts[:limit]
    lines = [f"second domain: CFPB complaint narratives, {len(texts)} texts, all complaints"]
    for method in methods:
        r = method(texts)
        recall = sum(r.complaint) / max(1, len(texts))
        neg = sum(s == "negative" for s in r.sentiment) / max(1, len(texts))
        pos = sum(s == "positive" for s in r.sentiment) / max(1, len(texts))
        lines.append(f"  {r.name:12} complaint recall {recall:6.3f}   negative {neg:6.3f}"
                     f"   positive {pos:6.3f}   {1000 * r.seconds / max(1, len(texts)):8.1f} s/1000 texts")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the tables; 2 when the data is missing."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_TWEETS, help="Tweets.csv")
    parser.add_argument("--call-center", type=Path, default=DEFAULT_CALLS, help="complaints_sample.csv")
    parser.add_argument("--limit", type=int, default=None, help="evaluate on an even slice of N tweets")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data}: no such file", file=sys.stderr)
        return 2

    df = load_tweets(args.data, args.limit)
    texts = df["text"].tolist()
    gold = df["airline_sentiment"].tolist()
    # every human-negative tweet carries a negativereason: complaint == negative on this data
    gold_complaint = [s == "negative" and isinstance(r, str) for s, r in
                      zip(gold, df["negativereason"], strict=True)]
    runs = [baseline(texts), ours(texts)]

    clean = [not any(leak in t.lower() for leak in LEAKED) for t in texts]
    out = [f"airline tweets: {args.data}", ""]
    out += score_table("all tweets", runs, gold, gold_complaint)
    out.append("")
    out += score_table("without the leaked category names (Late Flight, Cancelled Flight, Flight Booking "
                       "Problems)", runs, gold, gold_complaint, clean)
    out.append("")
    out += share_table(runs, gold, df["airline"].tolist())
    out.append("")
    out.append("wall time per 1,000 texts (one core): "
               + ", ".join(f"{r.name} {1000 * r.seconds / max(1, len(texts)):.3f} s" for r in runs))
    if args.call_center.is_file():
        out.append("")
        out += evaluate_calls(args.call_center, [baseline, ours], args.limit)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
