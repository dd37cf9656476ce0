"""Re-train the shipped sentiment model from ../shared/data/train, reproducibly, and print its report.

    pip install -e '.[train]'
    python bench/train_sentiment.py [--data ../shared/data/train] [--out digest/lexicon/sentiment_model.json.gz]

What is learned from what (see digest/sentiment_model.py for the model):
- the polarity model (word and character n-grams) from clearly polar texts only: GoEmotions comments
  whose one sentiment group is negative or positive, and clothing reviews of 1-2 stars (negative) or 5
  (positive); 3-4 stars often carry a complaint about fit, and are left out;
- the direction model (negative vs positive, from the polarity logit and the rules' evidence) from the
  same polar texts; the logit it learns from is out of fold (each text scored by a polarity model that
  did not see it), so that it weighs the logit as it will be on new texts.
Neither learns whether a text is neutral: the intent sets (banking77, clinc150, all neutral requests)
and GoEmotions' neutral comments are read only by bench/eval_cross_domain.py, where they check that
the model's corrections leave neutral texts neutral. Both classes weigh the same in total, shared
evenly among the domains, so that no domain and no class wins by its size. The airline tweets and the
call-center narratives are never read here.

Same data, same file: folds are fixed by a seeded permutation, the solvers are deterministic on one
thread, and weights are rounded before they are written (sha256 printed).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread: the same sums in the same order, every run

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from digest import sentiment_model as sm  # noqa: E402
from digest.classify.evidence import Evidence  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "train"
CACHE = ROOT / "bench" / "out" / "evidence"
SEED = 15
FOLDS = 3
CHAR_SIZES = (3, 4, 5)
MIN_COUNT = 3  # a gram seen in fewer training texts is noise, and bloats the artefact
POLARITY_C = 0.5
DIRECTION_C = 1.0
DIGITS = 4  # significant digits kept of every weight
LABEL = {"negative": 0, "neutral": 1, "positive": 2}


@dataclass(frozen=True)
class Domain:
    """One training set: its texts and their labels (negative / neutral / positive)."""

    name: str
    texts: list[str]
    labels: list[str]

    def polar(self) -> list[int]:
        """Indexes of the clearly negative or positive texts."""
        return [i for i, y in enumerate(self.labels) if y != "neutral"]


def _goemotions(folder: Path) -> Domain:
    """GoEmotions' sentiment groups: 1 negative, 2 neutral, 3 positive; ambiguous (0) and mixed dropped."""
    names = {"1": "negative", "2": "neutral", "3": "positive"}
    texts, labels = [], []
    for split in ("train", "dev", "test"):
        with (folder / f"{split}.tsv").open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 2 and row[1] in names:
                    texts.append(row[0])
                    labels.append(names[row[1]])
    return Domain("goemotions", texts, labels)


def _reviews(folder: Path) -> Domain:
    """Clothing reviews, title and text: 1-2 stars negative, 5 positive (3-4 are mixed, left out)."""
    texts, labels = [], []
    with (folder / "reviews.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            text = ". ".join(p.strip() for p in (row["Title"], row["Review Text"]) if p and p.strip())
            rating = row["Rating"]
            if not text or rating not in ("1", "2", "5"):
                continue
            texts.append(text)
            labels.append("positive" if rating == "5" else "negative")
    return Domain("reviews", texts, labels)


def _banking77(folder: Path) -> Domain:
    texts = []
    for split in ("train", "test"):
        with (folder / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
            texts += [row["text"] for row in csv.DictReader(fh)]
    return Domain("banking77", texts, ["neutral"] * len(texts))


def _clinc150(folder: Path) -> Domain:
    data = json.loads((folder / "data_full.json").read_text(encoding="utf-8"))
    texts = [text for split in sorted(data) for text, _ in data[split]]
    return Domain("clinc150", texts, ["neutral"] * len(texts))


def load_domains(root: Path = DATA) -> dict[str, Domain]:
    """The four training sets, read from `root` (../shared/data/train)."""
    return {d.name: d for d in (_goemotions(root / "goemotions"), _reviews(root / "womens_clothing_reviews"),
                                 _banking77(root / "banking77"), _clinc150(root / "clinc150"))}


# --- the rules' evidence ---------------------------------------------------------------------------

def _evidence_one(text: str) -> list[float]:
    """The rules' evidence of one text as the Classifier computes it (decide.model_inputs), and the
    rules' own verdict (EXTRA names the columns after the inputs)."""
    from digest.classify import decide, evidence, lexicons, scores

    ev, _ = evidence.collect(text)
    compound = scores.vader_compound(lexicons.vader(), scores.for_vader(text))
    polarity = scores.textblob_polarity(text)
    rules = decide.decide(ev, compound, polarity)
    return [*decide.model_inputs(ev, compound, polarity),
            {"negative": -1.0, "neutral": 0.0, "positive": 1.0}[rules.sentiment], float(rules.complaint), rules.score]


# an evidence row: the direction model's inputs (sentiment_model.DIRECTION less the logit; VADER's
# compound and TextBlob's polarity first), then the rules' sentiment (-1, 0, 1), complaint (0, 1), score
N_INPUTS = len(sm.DIRECTION) - 1
EXTRA = ("rules_sentiment", "rules_complaint", "rules_score")
COMPOUND, TEXTBLOB = 0, 1


def evidence_of_row(row: Sequence[float]) -> Evidence:
    """The rules' Evidence back from an evidence row (the inverse of decide.model_inputs)."""
    _, _, complaint, loose, praise, mocking, resolved, request, sympathy = (float(v) for v in row[:N_INPUTS])
    return Evidence(complaint=complaint + loose, loose=loose, praise=praise, mocking=mocking, resolved=resolved,
                    request=bool(request), sympathy=sympathy)


def _code_key() -> str:
    """What the evidence depends on: the classifier's code and lexicons (a cache key)."""
    h = hashlib.sha256()
    for path in sorted([*(ROOT / "digest" / "classify").glob("*.py"), *(ROOT / "digest" / "lexicon").glob("*.txt"),
                        ROOT / "digest" / "sentiment_model.py"]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def evidence(texts: Sequence[str], *, workers: int = 2, cache: Path | None = CACHE) -> npt.NDArray[np.float64]:
    """The rules' evidence row (N_INPUTS inputs, then EXTRA) of each text, on `workers` processes.

    Cached under bench/out/ by the texts and the classifier's code, which is all it depends on.
    """
    key = hashlib.sha256(_code_key().encode() + "\x00".join(texts).encode()).hexdigest()[:24]
    path = cache / f"{key}.npy" if cache else None
    if path is not None and path.is_file():
        return np.load(path)
    _evidence_one("warm up")  # load the lexicons before forking (not the Classifier: it loads the model)
    if workers > 1 and len(texts) > 2000:
        with get_context("fork").Pool(workers) as pool:
            rows = pool.map(_evidence_one, texts, chunksize=500)
    else:
        rows = [_evidence_one(t) for t in texts]
    out = np.asarray(rows, dtype=np.float64)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, out)
    return out


# --- the polarity model ----------------------------------------------------------------------------

class Grams:
    """Every text's polarity features once, over one index of all grams: training subsets are row slices.

    Features depend on the text alone, so they are computed once per process; which grams a model keeps
    (seen in MIN_COUNT of its own training texts) is decided per subset, from its rows only.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        from scipy.sparse import csr_matrix

        index: dict[str, int] = {}
        blocks: list[tuple[list[int], list[int], list[float]]] = [([0], [], []), ([0], [], [])]
        for text in texts:
            for (indptr, indices, values), block in zip(blocks, sm.features(text, CHAR_SIZES), strict=True):
                for gram, count in block.items():
                    indices.append(index.setdefault(gram, len(index)))
                    values.append(1.0 + math.log(count))
                indptr.append(len(indices))
        self.grams = [""] * len(index)
        for gram, i in index.items():
            self.grams[i] = gram
        self.words, self.chars = (csr_matrix((v, i, p), shape=(len(texts), len(index))) for p, i, v in blocks)
        self.row = {id(t): k for k, t in enumerate(texts)}

    def matrix(self, rows: Sequence[int], keep: npt.NDArray[np.int64]) -> object:
        """The rows' features over the grams `keep`, each block L2-normalised (as Model.polarity does)."""
        from sklearn.preprocessing import normalize

        # one index holds both blocks (character grams are marked), so their columns never overlap: the sum
        # of the two normalised blocks is each row's features
        return (normalize(self.words[rows][:, keep]) + normalize(self.chars[rows][:, keep])).tocsr()

    def kept(self, rows: Sequence[int]) -> npt.NDArray[np.int64]:
        """The grams seen in at least MIN_COUNT of these rows, in gram order (as the artefact lists them)."""
        df = np.asarray((self.words[rows] > 0).sum(axis=0) + (self.chars[rows] > 0).sum(axis=0)).ravel()
        keep = np.flatnonzero(df >= MIN_COUNT)
        return keep[np.argsort([self.grams[i] for i in keep], kind="stable")]


def _round(values: Iterable[float]) -> list[float]:
    return [float(f"{v:.{DIGITS}g}") for v in values]


def _balanced_weights(domains: Sequence[str], labels: Sequence[str]) -> npt.NDArray[np.float64]:
    """Sample weights: each class totals the same, shared evenly among the domains that have it."""
    cells = Counter(zip(domains, labels, strict=True))
    per_class = Counter(y for _, y in cells)
    n = len(labels)
    return np.array([n / (len(per_class) * per_class[y] * cells[(d, y)]) for d, y in zip(domains, labels, strict=True)])


@dataclass(frozen=True)
class Polarity:
    """A fitted polarity model: its JSON part and the matrix form for scoring training rows fast."""

    part: dict[str, object]
    keep: npt.NDArray[np.int64]
    coef: npt.NDArray[np.float64]
    bias: float

    def logits(self, grams: Grams, rows: Sequence[int]) -> npt.NDArray[np.float64]:
        x = grams.matrix(rows, self.keep)
        return np.clip(x @ self.coef + self.bias, -8.0, 8.0)  # type: ignore[operator]


def fit_polarity(grams: Grams, rows: Sequence[int], labels: Sequence[str], domains: Sequence[str]) -> Polarity:
    """The polarity model fitted on polar rows (1 = negative), with the weights the artefact keeps."""
    from sklearn.linear_model import LogisticRegression

    keep = grams.kept(rows)
    x = grams.matrix(rows, keep)
    y = np.array([y == "negative" for y in labels], dtype=int)
    clf = LogisticRegression(C=POLARITY_C, solver="liblinear", max_iter=1000, random_state=SEED)
    clf.fit(x, y, sample_weight=_balanced_weights(domains, labels))
    weights = np.array(_round(clf.coef_[0]))
    bias = _round(clf.intercept_)[0]
    nonzero = np.flatnonzero(weights)
    part = {"vocabulary": [grams.grams[i] for i in keep[nonzero]], "weights": weights[nonzero].tolist(),
            "bias": bias, "char_sizes": list(CHAR_SIZES)}
    return Polarity(part, keep, weights, bias)


def _folds(n: int) -> npt.NDArray[np.int64]:
    return np.random.default_rng(SEED).permutation(n) % FOLDS


@dataclass(frozen=True)
class Trained:
    """The artefact's JSON and what the report says about it."""

    model: dict[str, object]
    report: list[str]


def train(domains: Sequence[Domain], evidence_of: dict[str, npt.NDArray[np.float64]], grams: Grams) -> Trained:
    """Fit both models on the polar texts of `domains` (evidence_of: each domain's rules' evidence, a row
    per text; grams: the features of every text of these domains, and maybe more)."""
    from sklearn.linear_model import LogisticRegression

    report: list[str] = []
    polar_rows, polar_labels, polar_domains, polar_inputs = [], [], [], []
    for d in domains:
        idx = d.polar()
        polar_rows += [grams.row[id(d.texts[i])] for i in idx]
        polar_labels += [d.labels[i] for i in idx]
        polar_domains += [d.name] * len(idx)
        polar_inputs += [evidence_of[d.name][i][:N_INPUTS] for i in idx]
        counts = Counter(d.labels[i] for i in idx)
        report.append(f"  {d.name:12} {len(d.texts):6d} texts, polar: " + ", ".join(
            f"{c} {counts[c]}" for c in ("negative", "positive")))
    if not polar_rows:
        raise ValueError("no clearly polar texts to learn from")
    polarity = fit_polarity(grams, polar_rows, polar_labels, polar_domains)
    report.append(f"  polarity model: {len(polar_rows)} polar texts, {len(polarity.part['vocabulary'])} grams kept")  # type: ignore[arg-type]

    # the direction model learns from out-of-fold logits: each text scored by a model that did not see it
    folds = _folds(len(polar_rows))
    oof = np.zeros(len(polar_rows))
    for k in range(FOLDS):
        fit_idx, out_idx = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        part = fit_polarity(grams, [polar_rows[i] for i in fit_idx], [polar_labels[i] for i in fit_idx],
                            [polar_domains[i] for i in fit_idx])
        oof[out_idx] = part.logits(grams, [polar_rows[i] for i in out_idx])
    y = np.array([v == "negative" for v in polar_labels], dtype=int)
    right = float(np.mean((oof > 0) == y))
    report.append(f"  polarity model, out of fold: direction right for {right:.3f} of the polar texts")
    x = np.column_stack([oof, np.asarray(polar_inputs)])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    mean, scale = np.array(_round(mean)), np.array(_round(scale))
    direction = LogisticRegression(C=DIRECTION_C, solver="lbfgs", max_iter=2000, random_state=SEED)
    direction.fit((x - mean) / scale, y, sample_weight=_balanced_weights(polar_domains, polar_labels))
    acc = float(np.mean(direction.predict((x - mean) / scale) == y))
    report.append(f"  direction model: {len(y)} polar texts, training accuracy {acc:.3f} (in-sample; see eval)")
    weights = _round(direction.coef_[0])
    report.append("  direction weights (towards negative), per standard deviation:")
    report += [f"    {n:16} {w:+6.2f}" for n, w in zip(sm.DIRECTION, weights, strict=True)]
    report.append(f"    {'(bias)':16} {_round(direction.intercept_)[0]:+6.2f}")
    model = {"format": sm.FORMAT, "polarity": polarity.part,
             "direction": {"names": list(sm.DIRECTION), "weights": weights, "mean": mean.tolist(),
                           "scale": scale.tolist(), "bias": _round(direction.intercept_)[0]},
             "trained_on": sorted(d.name for d in domains if d.polar())}
    return Trained(model, report)


def model_of(trained: Trained) -> sm.Model:
    """The inference object of a freshly trained model, through the artefact's own reader."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.json.gz"
        sm.dump(trained.model, path)
        return sm.load(path)


def all_grams(domains: Iterable[Domain], *more: Sequence[str]) -> Grams:
    """The polarity features of every text of `domains` (and of `more` texts)."""
    return Grams([t for d in domains for t in d.texts] + [t for texts in more for t in texts])


def agreement(trained: Trained, grams: Grams, texts: Sequence[str]) -> float:
    """The largest gap between the polarity logits the direction model was trained on and the shipped inference's:
    the two compute the same features in different code, and must agree."""
    part = trained.model["polarity"]
    assert isinstance(part, dict)
    vocab = {g: i for i, g in enumerate(grams.grams)}
    keep = np.array([vocab[g] for g in part["vocabulary"]], dtype=np.int64)
    weight = dict(zip(part["vocabulary"], part["weights"], strict=True))
    coef = np.array([weight[grams.grams[i]] for i in keep])
    pol = Polarity(part, keep, coef, float(part["bias"]))
    train_side = pol.logits(grams, [grams.row[id(t)] for t in texts])
    model = model_of(trained)
    return float(max(abs(model.polarity(t)[0] - v) for t, v in zip(texts, train_side, strict=True)))


def main(argv: Sequence[str] | None = None) -> int:
    """Train on every domain, write the artefact, print the report and its sha256."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the training sets' folder")
    parser.add_argument("--out", type=Path, default=sm.ARTEFACT, help="where to write the artefact")
    parser.add_argument("--no-cache", action="store_true", help="recompute the rules' evidence")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: no such folder", file=sys.stderr)
        return 2
    # only the clearly polar texts teach anything (the intent sets are read by the evaluation)
    domains = [d for d in load_domains(args.data).values() if d.polar()]
    cache = None if args.no_cache else CACHE
    ev = {d.name: evidence(d.texts, cache=cache) for d in domains}
    grams = all_grams(domains)
    trained = train(domains, ev, grams)
    sample = [t for d in domains for t in d.texts[::500]]
    gap = agreement(trained, grams, sample)
    trained.report.append(f"  training and shipped inference agree on {len(sample)} texts: largest logit gap {gap:.2g}")
    if gap > 1e-3:
        print(f"the shipped inference disagrees with training by {gap:.3g}", file=sys.stderr)
        return 1
    sm.dump(trained.model, args.out)
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print("\n".join(["training report", *trained.report,
                     f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), sha256 {digest}"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
