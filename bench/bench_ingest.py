"""Ingest throughput against the floor of feedparser + TextBlob on the same entries, measured in one run.

    python bench/bench_ingest.py [--quick] [--sets N]

The corpus is N copies of the offline sample's RSS and Atom feeds (digest/sample.py, each copy with its
own seed and links). The floor is what any feed-sentiment tool must at least do, in one plain process:
`feedparser.parse` of every feed and `TextBlob(text).sentiment` of every entry. The pipeline is the real
`pipeline.ingest` into a fresh SQLite store: fetch, parse, clean, classify (TextBlob + VADER + rules +
topics), deduplicate, store and roll up, once in one process (workers=1) and once on every core.
Prints entries/s of each and the ratio to the floor (>= 1.00 means at least as fast as the floor), then
the classifier's own cost per text on the same entries (the whole Classifier, and of it the learned
model's part: polarity and direction) and the memory the learned model takes once loaded.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import feedparser  # noqa: E402
from textblob import TextBlob  # noqa: E402

from digest import pipeline  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.sample import write_sample  # noqa: E402
from digest.store import Store  # noqa: E402

FEEDS = ("social.xml", "alerts.xml", "reddit.xml", "reviews.xml")
CHANNELS = {"social.xml": "twitter", "alerts.xml": "news", "reddit.xml": "reddit", "reviews.xml": "reviews"}
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def corpus(root: Path, sets: int, days: int) -> list[Path]:
    """`sets` seeded copies of the sample's XML feeds, each with links of its own (no cross-set dedup)."""
    paths = []
    for i in range(sets):
        directory = root / f"set{i:03d}"
        write_sample(directory, NOW, days=days, seed=100 + i)
        for name in FEEDS:
            src = directory / "examples" / "generated" / name
            target = directory / name
            target.write_text(src.read_text(encoding="utf-8").replace("://", f"://s{i}."), encoding="utf-8")
            paths.append(target)
    return paths


def write_config(root: Path, feeds: list[Path]) -> Path:
    lines = ["brand:", "  name: Acme Air", "timezone: America/New_York", "sources:"]
    for path in feeds:
        lines += [f"  - name: {path.parent.name}-{path.stem}", "    kind: feed", f"    url: {path}",
                  f"    channel: {CHANNELS[path.name]}", "    brand_filter: false"]
    lines += ["topics:", "  Baggage: [bag, luggage, suitcase]", "  Delays: [delay, late, cancel]",
              "  Billing: [refund, charge, fee]", "  Staff: [rude, agent, crew]",
              "praise_topics:", "  Crew: [crew, staff]", "  Punctuality: [on time, early]"]
    (root / "sources.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "recipients.yaml").write_text('sender: "Digest <digest@acme.example>"\ntimezone: America/New_York\n'
                                          "recipients:\n  - name: Dana\n    email: dana@acme.example\n"
                                          "    digests: [daily]\n", encoding="utf-8")
    return root


def text_of(entry: dict[str, object]) -> str:
    title, summary = str(entry.get("title", "")), str(entry.get("summary", ""))
    return f"{title}\n{summary}" if title and title not in summary else summary or title


def floor(feeds: list[Path]) -> tuple[float, int]:
    """feedparser.parse + TextBlob sentiment of every entry, in this process: (seconds, entries)."""
    bodies = [p.read_bytes() for p in feeds]
    started = time.perf_counter()
    n = 0
    for body in bodies:
        for entry in feedparser.parse(body).entries:
            TextBlob(text_of(entry)).sentiment  # noqa: B018 - the work being measured
            n += 1
    return time.perf_counter() - started, n


def ingest(root: Path, workers: int | None, tag: str) -> tuple[float, int, int]:
    """pipeline.ingest of every feed into a fresh SQLite store: (seconds, entries seen, mentions stored)."""
    config = load_config(root)
    store = Store.open(f"sqlite:///{root / f'{tag}.sqlite3'}")
    try:
        started = time.perf_counter()
        report = pipeline.ingest(config, store, now=NOW, workers=workers)
        seconds = time.perf_counter() - started
    finally:
        store.close()
    failed = [r for r in report.results if r.status != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} feeds failed, e.g. {failed[0].name}: {failed[0].error}")
    return seconds, sum(r.items_seen for r in report.results), report.new_mentions


def classifier_cost(feeds: list[Path]) -> list[str]:
    """Microseconds per text of the Classifier and of the learned model within it, and the model's memory."""
    from digest import sentiment_model
    from digest.classify import Classifier, decide
    from digest.classify.evidence import collect
    from digest.classify.lexicons import vader
    from digest.classify.scores import for_vader, textblob_polarity, vader_compound

    tracemalloc.start()
    model = sentiment_model.load()
    model_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    texts = [text_of(e) for p in feeds for e in feedparser.parse(p.read_bytes()).entries]
    classifier = Classifier()
    started = time.perf_counter()
    for text in texts:
        classifier.classify(text)
    whole = (time.perf_counter() - started) / len(texts)
    asked = []  # the texts the Classifier asks the model about (decide.model_may_change), with their inputs
    for text in texts:
        ev, _ = collect(text)
        compound, polarity = vader_compound(vader(), for_vader(text)), textblob_polarity(text)
        if decide.model_may_change(decide.decide(ev, compound, polarity), ev, words=len(text.split())):
            asked.append((text, decide.model_inputs(ev, compound, polarity)))
    started = time.perf_counter()
    for text, row in asked:
        model.lean(text, row)
    part = (time.perf_counter() - started) / len(texts)
    return [f"classifier: {whole * 1e6:,.0f} us per text, of which the learned model {part * 1e6:,.0f} us "
            f"({part / whole:.0%}; asked about {len(asked) / len(texts):.0%} of the texts); the model takes "
            f"{model_bytes / 2**20:.1f} MiB at its peak while loading "
            f"({sentiment_model.ARTEFACT.stat().st_size / 2**20:.2f} MiB on disk)"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small corpus (smoke test)")
    parser.add_argument("--sets", type=int, help="copies of the sample's feeds (default 24, quick 2)")
    args = parser.parse_args()
    sets = args.sets or (2 if args.quick else 24)
    days = 30 if args.quick else 120
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        root = Path(tmp)
        feeds = corpus(root, sets, days)
        write_config(root, feeds)
        # the floor and the pipeline both start warm (imports done, files in the page cache)
        floor(feeds[:1])
        t_floor, entries = floor(feeds)
        t_one, seen_one, stored = ingest(root, 1, "one")
        t_all, seen_all, _ = ingest(root, None, "all")
        cost = classifier_cost(feeds[: max(4, len(feeds) // 8)])
    assert seen_one == seen_all == entries, (seen_one, seen_all, entries)
    cores = os.cpu_count() or 1
    rate = entries / t_floor
    print(f"corpus: {entries:,} entries in {len(feeds)} feeds ({sets} seeded copies of the offline sample); "
          f"{stored:,} stored after dedup; {cores} cores")
    print(f"floor: feedparser.parse + TextBlob(text).sentiment, one process: {t_floor:6.2f} s  "
          f"{rate:8,.0f} entries/s")
    for label, seconds in (("digest ingest into SQLite, 1 process", t_one),
                           (f"digest ingest into SQLite, {cores} cores", t_all)):
        print(f"{label}: {seconds:6.2f} s  {entries / seconds:8,.0f} entries/s  "
              f"ratio {t_floor / seconds:.2f}x the floor's throughput")
    print("\n".join(cost))


if __name__ == "__main__":
    main()
