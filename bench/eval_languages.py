"""Evaluate digest.classify per language on the multilingual test texts (issue 18).

    python bench/eval_languages.py [--dev-only]

Prints, per language, for each development set tests/data/multilingual/<code>.tsv (columns `label`,
`complaint`, `text`) and for the independent held-out set tests/data/multilingual/heldout.tsv (columns
`language`, `label`, `complaint`, `text`; never tuned on): the 3-class accuracy, the accuracy on the
clearly polar texts (labelled negative or positive), complaint precision and recall, and the language
the detector gave when it was not the labelled one.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from digest.classify import Classifier

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "multilingual"


@dataclass(frozen=True, slots=True)
class Row:
    language: str
    label: str
    complaint: bool
    text: str


@dataclass(frozen=True, slots=True)
class Figures:
    n: int
    accuracy: float
    polar_n: int
    polar_accuracy: float
    complaint_precision: float
    complaint_recall: float
    detected_as: dict[str, int]


def read_dev(path: Path) -> list[Row]:
    """A development set: the language is the file's name."""
    with path.open(encoding="utf-8", newline="") as f:
        return [Row(path.stem, r["label"], r["complaint"] == "1", r["text"])
                for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def read_heldout(path: Path) -> list[Row]:
    with path.open(encoding="utf-8", newline="") as f:
        return [Row(r["language"], r["label"], r["complaint"] == "1", r["text"])
                for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def dev_sets() -> dict[str, list[Row]]:
    """Every development set present, by language code."""
    return {p.stem: read_dev(p) for p in sorted(DATA.glob("*.tsv")) if p.stem != "heldout" and len(p.stem) == 2}


def evaluate(classifier: Classifier, rows: Iterable[Row]) -> Figures:
    rows = list(rows)
    results = [classifier.classify(r.text) for r in rows]
    right = sum(res.sentiment == r.label for r, res in zip(rows, results, strict=True))
    polar = [(r, res) for r, res in zip(rows, results, strict=True) if r.label in ("negative", "positive")]
    polar_right = sum(res.sentiment == r.label for r, res in polar)
    tp = sum(r.complaint and res.complaint for r, res in zip(rows, results, strict=True))
    said = sum(res.complaint for res in results)
    actual = sum(r.complaint for r in rows)
    detected = Counter(res.language for r, res in zip(rows, results, strict=True) if res.language != r.language)
    return Figures(
        n=len(rows), accuracy=right / len(rows) if rows else 0.0, polar_n=len(polar),
        polar_accuracy=polar_right / len(polar) if polar else 0.0,
        complaint_precision=tp / said if said else 0.0, complaint_recall=tp / actual if actual else 0.0,
        detected_as=dict(detected))


def _print(title: str, by_language: dict[str, Figures]) -> None:
    print(title)
    print(f"  {'lang':<5}{'n':>5}{'acc':>8}{'polar n':>9}{'polar acc':>11}{'compl P':>9}{'compl R':>9}  detected as")
    for code, f in by_language.items():
        other = ", ".join(f"{k} {v}" for k, v in sorted(f.detected_as.items())) or "-"
        print(f"  {code:<5}{f.n:>5}{f.accuracy:>8.3f}{f.polar_n:>9}{f.polar_accuracy:>11.3f}"
              f"{f.complaint_precision:>9.3f}{f.complaint_recall:>9.3f}  {other}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-only", action="store_true", help="skip the held-out set")
    args = parser.parse_args(argv)
    classifier = Classifier()
    _print("development sets (tests/data/multilingual/<code>.tsv)",
           {code: evaluate(classifier, rows) for code, rows in dev_sets().items()})
    heldout = DATA / "heldout.tsv"
    if not args.dev_only and heldout.is_file():
        grouped: dict[str, list[Row]] = defaultdict(list)
        for row in read_heldout(heldout):
            grouped[row.language].append(row)
        print()
        _print("held-out set (tests/data/multilingual/heldout.tsv; never tuned on)",
               {code: evaluate(classifier, rows) for code, rows in sorted(grouped.items())})
    return 0


if __name__ == "__main__":
    sys.exit(main())
