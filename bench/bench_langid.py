"""Language detectors on short customer texts: accuracy and speed, printed as a table.

Why: issue 18 wants the language of every mention detected at ingest, offline, by a library that
ships its model in the package. This measures the candidates installed here on the texts of
tests/data/languages.tsv (written for this project), whole and cut to their first four words
(tweets are often that short), and their speed on a mix of them.

    python bench/bench_langid.py [--quick]

Candidates not installed are listed as such (pip install py3langid langdetect lingua-language-detector).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data" / "languages.tsv"
sys.path.insert(0, str(HERE.parent))


def load() -> list[tuple[str, str]]:
    """(language, text) of the evaluation file."""
    out = []
    for line in DATA.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, _, _, text = line.split("\t")
            out.append((lang, text))
    return out


def short(text: str) -> str:
    """The first four words (a CJK text: its first eight characters)."""
    words = text.split()
    return " ".join(words[:4]) if len(words) > 1 else text[:8]


def candidates() -> dict[str, Callable[[], Callable[[str], str]]]:
    """name -> a loader returning detect(text) -> ISO 639-1 code."""
    out: dict[str, Callable[[], Callable[[str], str]]] = {}

    def ours() -> Callable[[str], str]:
        from digest.classify.language import detect
        return detect

    out["digest (py3langid + rules)"] = ours

    if importlib.util.find_spec("py3langid"):
        def py3() -> Callable[[str], str]:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier
            ident = LanguageIdentifier.from_model_file(MODEL_FILE)
            return lambda t: str(ident.classify(t)[0])
        out["py3langid 0.4 (97 languages)"] = py3

    if importlib.util.find_spec("langdetect"):
        def ld() -> Callable[[str], str]:
            from langdetect import DetectorFactory, detect
            from langdetect.lang_detect_exception import LangDetectException
            DetectorFactory.seed = 0

            def run(t: str) -> str:
                try:
                    return str(detect(t)).split("-")[0].replace("zh", "zh")
                except LangDetectException:
                    return "und"
            return run
        out["langdetect 1.0.9 (55 languages)"] = ld

    if importlib.util.find_spec("lingua"):
        def lingua_all() -> Callable[[str], str]:
            from lingua import LanguageDetectorBuilder
            det = LanguageDetectorBuilder.from_all_languages().build()

            def run(t: str) -> str:
                lang = det.detect_language_of(t)
                return "und" if lang is None else lang.iso_code_639_1.name.lower()
            return run
        out["lingua 2.1 (75 languages, high accuracy)"] = lingua_all

        def lingua_low() -> Callable[[str], str]:
            from lingua import LanguageDetectorBuilder
            det = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()

            def run(t: str) -> str:
                lang = det.detect_language_of(t)
                return "und" if lang is None else lang.iso_code_639_1.name.lower()
            return run
        out["lingua 2.1 (low accuracy mode)"] = lingua_low
    return out


def package_mib(module: str) -> float:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return float("nan")
    root = Path(next(iter(spec.submodule_search_locations)))
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repetitions for the speed figure")
    args = ap.parse_args()
    rows = load()
    mix = [t for _, t in rows] + [short(t) for _, t in rows]
    reps = 2 if args.quick else 20
    print(f"{len(rows)} texts in {len({lang for lang, _ in rows})} languages; speed over {reps} x {len(mix)} texts")
    print(f"{'detector':44} {'load s':>7} {'whole':>7} {'4 words':>8} {'texts/s':>9}")
    for name, loader in candidates().items():
        t0 = time.perf_counter()
        detect = loader()
        detect("warm up")
        loaded = time.perf_counter() - t0
        whole = sum(detect(t) == lang for lang, t in rows) / len(rows)
        cut = sum(detect(short(t)) == lang for lang, t in rows) / len(rows)
        t0 = time.perf_counter()
        for _ in range(reps):
            for t in mix:
                detect(t)
        rate = reps * len(mix) / (time.perf_counter() - t0)
        print(f"{name:44} {loaded:7.2f} {whole:7.1%} {cut:8.1%} {rate:9,.0f}")
    print("installed size (MiB):", ", ".join(
        f"{m} {package_mib(m):.1f}" for m in ("py3langid", "langdetect", "lingua") if importlib.util.find_spec(m)))


if __name__ == "__main__":
    main()
