"""An annual digest over ten million stored mentions: build time and peak memory, rollups against raw rows.

    python bench/bench_annual.py [--quick] [--mentions N] [--small N] [--dir DIR]

Bulk-loads N mentions (default 10,000,000) spread over two years (the digested year and the year
before it, which the digest compares with) straight into a SQLite store: the mention rows and their
rollups (add_rollups in digest/store/rollups.py, what an ingest runs), with neither fetching nor classifying. Then, each
in a fresh process so that its peak RSS is its own, builds the annual digest as `digest send annual`
does (pipeline.build_digest: rollups, quote candidates and a complaint sample -> Summary -> HTML) and
prints the time and peak RSS (target: < 5 s and < 1 GiB). On a second store of --small mentions
(default 500,000) it builds the digest both ways -- from the rollups and from every raw row in a
DataFrame (store.mentions -> summarize, how digests were built before) -- for the ratio, and to show
that the rollup path's cost follows the days of the year, not the number of mentions.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from digest import periods, pipeline  # noqa: E402
from digest.analysis import summarize  # noqa: E402
from digest.config import load_config  # noqa: E402
from digest.render import Templates, render_digest  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.store.rollups import add_rollups  # noqa: E402
from digest.store.schema import mentions  # noqa: E402

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
START = datetime(2025, 1, 1, 5, 0, tzinfo=UTC)  # New York midnight: two years before the end of 2026
END = datetime(2027, 1, 1, 5, 0, tzinfo=UTC)
CHANNELS = ("twitter", "reddit", "news", "reviews", "call_center", "youtube", "facebook", "instagram",
            "blogs", "mastodon")
TOPICS = ("Baggage", "Delays", "Billing", "Staff", "App", "Refunds", "Seats", "Food")
NEG = ("lost my bag again", "on hold for two hours", "cancelled without notice", "charged twice for my seat",
       "rude gate agent", "the app crashed at check-in", "no refund after six weeks", "delayed three hours",
       "the wifi never works", "they overbooked the flight")
POS = ("the crew was wonderful", "smooth boarding today", "great lounge", "on time and friendly",
       "loved the meal", "thanks for the quick refund")
NEUTRAL = ("saw the news about the new route", "is the lounge open on sundays", "what is the bag allowance",
           "new livery spotted at the gate")
WORDS = ("flight", "bag", "crew", "seat", "app", "gate", "refund", "delay", "service", "lounge", "meal", "wifi",
         "airport", "terminal", "boarding", "ticket")
CHUNK = 200_000
INSERT = ("INSERT INTO mentions (id, source, channel, external_id, url, title, text, author, published, fetched, "
          "influence, polarity, sentiment, complaint, topics, score, sample) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def write_config(root: Path) -> Path:
    (root / "sources.yaml").write_text(
        "brand:\n  name: Acme Air\ntimezone: America/New_York\nsources:\n"
        "  - name: Social\n    kind: feed\n    url: social.xml\n    channel: twitter\n"
        "topics:\n" + "".join(f"  {t}: [{t.lower()}]\n" for t in TOPICS)
        + "praise_topics:\n  Crew: [crew]\n  Lounge: [lounge]\n  Punctuality: [on time]\n", encoding="utf-8")
    (root / "recipients.yaml").write_text(
        'sender: "Digest <digest@acme.example>"\ntimezone: America/New_York\nrecipients:\n'
        "  - name: Dana Chief\n    email: ceo@acme.example\n    digests: [annual]\n", encoding="utf-8")
    return root


def chunks(n: int, seed: int) -> Iterator[pd.DataFrame]:
    """n mentions in frames of CHUNK rows (the columns of the mentions table), in published order."""
    rng = np.random.default_rng(seed)
    lo, hi = START.timestamp(), END.timestamp()
    fillers = np.array([" ".join(rng.choice(WORDS, 8)) for _ in range(512)], dtype=object)
    topic_lists = [[]] + [[t] for t in TOPICS] + [[a, b] for a in TOPICS for b in TOPICS if a != b]
    topic_json = np.array([json.dumps(t) for t in topic_lists], dtype=object)
    praise_json = np.array([json.dumps([t]) for t in ("Crew", "Lounge", "Punctuality")], dtype=object)
    cores = {0: np.array(NEG, dtype=object), 1: np.array(NEUTRAL, dtype=object), 2: np.array(POS, dtype=object)}
    channels = np.array(CHANNELS, dtype=object)
    done = 0
    while done < n:
        k = min(CHUNK, n - done)
        # this chunk's slice of the two years, so that the whole load is in published order
        a, b = lo + (hi - lo) * done / n, lo + (hi - lo) * (done + k) / n
        seconds = np.sort(rng.uniform(a, b, k))
        ids = np.arange(done + 1, done + k + 1, dtype="int64")
        sentiment = rng.choice(3, size=k, p=[0.4, 0.35, 0.25])
        strength = rng.uniform(0.05, 1, k)
        polarity = np.where(sentiment == 0, -strength, np.where(sentiment == 2, strength, 0.0))
        complaint = (sentiment == 0) & (rng.random(k) < 0.8)
        channel = channels[rng.integers(0, len(CHANNELS), k)]
        # complaints name 0-2 topics; a third of the praise is tagged with a praise topic, as ingest tags it
        topics = np.where(complaint, topic_json[rng.integers(0, len(topic_lists), k) * (rng.random(k) < 0.7)],
                          topic_json[0])
        praised = (sentiment == 2) & (rng.random(k) < 0.35)
        topics = np.where(praised, praise_json[rng.integers(0, 3, k)], topics)
        phrase = rng.integers(0, 100, k)
        core = np.empty(k, dtype=object)
        for s, texts in cores.items():
            mask = sentiment == s
            core[mask] = texts[phrase[mask] % len(texts)]
        published = pd.to_datetime(seconds, unit="s", utc=True).floor("us")
        stamp = published.strftime("%Y-%m-%d %H:%M:%S.%f")
        yield pd.DataFrame({
            "id": ids,
            "source": channel + " source",
            "channel": channel,
            "external_id": ["b%d" % i for i in ids],  # noqa: UP031 - the fastest way for millions
            "url": [None if c == "call_center" else "https://%s.example/p/%d" % (c, i)  # noqa: UP031
                    for c, i in zip(channel, ids, strict=True)],
            "title": "",
            "text": core + " " + fillers[rng.integers(0, len(fillers), k)],
            "author": ["user%d" % (i % 997) for i in ids],  # noqa: UP031
            "published": published,
            "stamp": stamp,
            "influence": np.round(rng.pareto(1.5, k) * 100, 1) * (rng.random(k) < 0.5),
            "polarity": polarity,
            "sentiment": np.array(["negative", "neutral", "positive"], dtype=object)[sentiment],
            "complaint": complaint,
            "topics": topics,
            "score": polarity * rng.uniform(0.5, 1.0, k),
            "sample": (ids * 40503) % 1024,
        })
        done += k


def load(url: str, n: int, seed: int) -> float:
    """Bulk-load n mentions and their rollups; return the seconds it took."""
    started = time.perf_counter()
    store = Store.open(url)
    columns = ["id", "source", "channel", "external_id", "url", "title", "text", "author", "stamp", "stamp",
               "influence", "polarity", "sentiment", "complaint", "topics", "score", "sample"]
    # a bulk load: no fsync, a large page cache, and the sample index built once at the end (inserting into
    # it row by row is random access all over a file of gigabytes)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_mentions_complaint_sample")
    try:
        for i, frame in enumerate(chunks(n, seed)):
            rows = list(zip(*(frame[c].tolist() for c in columns), strict=True))
            with store.engine.begin() as conn:
                conn.exec_driver_sql("PRAGMA synchronous=OFF")
                conn.exec_driver_sql("PRAGMA cache_size=-500000")
                conn.exec_driver_sql(INSERT, rows)
                add_rollups(conn, frame)
            if n >= 10 * CHUNK and i % 10 == 9:
                print(f"  loaded {(i + 1) * CHUNK:,} of {n:,} ({time.perf_counter() - started:.0f} s)", flush=True)
        index = next(ix for ix in mentions.indexes if ix.name == "ix_mentions_complaint_sample")
        with store.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA cache_size=-500000")
            index.create(conn)
    finally:
        store.close()
    return time.perf_counter() - started


def measure(url: str, config_dir: Path, frames: bool) -> dict[str, Any]:
    """Build the annual digest in this (fresh) process: seconds, RSS before and peak RSS in MiB."""
    config = load_config(config_dir)
    recipient = config.recipients.recipients[0]
    window = periods.last_complete("annual", NOW, config.recipient_tz(recipient))
    templates = Templates()
    store = Store.open(url)
    rss_before = _rss()
    started = time.perf_counter()
    if frames:  # every raw row of both years in DataFrames, as digests were built before the rollups
        prev = periods.previous(window)
        summary = summarize(store.mentions(window.start_utc, window.end_utc),
                            store.mentions(prev.start_utc, prev.end_utc), window, prev,
                            year_ago=store.mentions(prev.start_utc, prev.end_utc), year_ago_window=prev,
                            health=store.health(), topics=config.sources.topics,
                            praise_topics=config.sources.praise_topics, brand=config.sources.brand.name, now=NOW)
        rendered = render_digest(summary, recipient_name=recipient.name, templates=templates)
        volume = summary.volume.value
    else:
        summary = pipeline.summarize_window(config, store, window, recipient.channels, now=NOW)
        rendered = render_digest(summary, recipient_name=recipient.name, templates=templates)
        volume = summary.volume.value
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds, "rss_before": rss_before, "rss_peak": _peak_rss(), "volume": volume,
            "html_bytes": len(rendered.html.encode()), "headline": summary.headline}


def _rss() -> float:
    """This process's resident memory now, in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss() -> float:
    """This process's peak resident memory in MiB (VmHWM: ru_maxrss would include the parent's before exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(url: str, config_dir: Path, frames: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--measure", url, "--config", str(config_dir)] + (["--frames"] if frames else [])
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def show(label: str, m: dict[str, Any]) -> None:
    print(f"{label}: {m['seconds']:7.2f} s, peak RSS {m['rss_peak']:7,.0f} MiB (the program before the build: "
          f"{m['rss_before']:,.0f} MiB); {m['volume']:,} mentions in the year, HTML {m['html_bytes'] / 1000:.0f} kB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 and 5,000 mentions (smoke test)")
    parser.add_argument("--mentions", type=int, help="mentions in the large store (default 10,000,000)")
    parser.add_argument("--small", type=int, help="mentions in the store built both ways (default 500,000)")
    parser.add_argument("--dir", help="keep the stores here (default: a temporary folder)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--frames", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.config), args.frames)))
        return
    big = args.mentions or (20_000 if args.quick else 10_000_000)
    small = args.small or (5_000 if args.quick else 500_000)
    with tempfile.TemporaryDirectory(prefix="bench-annual-") as tmp:
        root = Path(args.dir) if args.dir else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        config_dir = write_config(root)
        urls = {}
        for label, n, seed in (("small", small, 1), ("large", big, 2)):
            db = root / f"{label}-{n}.sqlite3"
            urls[label] = f"sqlite:///{db}"
            if not db.exists():
                seconds = load(urls[label], n, seed)
                size = db.stat().st_size + sum(p.stat().st_size for p in root.glob(f"{db.name}-*"))
                print(f"loaded {n:,} mentions over {(END - START) / timedelta(days=1):.0f} days into SQLite in "
                      f"{seconds:.0f} s ({n / seconds:,.0f}/s, {size / 2**30:.2f} GiB)")
        rolled_small = in_fresh_process(urls["small"], config_dir, frames=False)
        raw_small = in_fresh_process(urls["small"], config_dir, frames=True)
        rolled_big = in_fresh_process(urls["large"], config_dir, frames=False)
    show(f"annual digest, rollups, {small:,} stored", rolled_small)
    show(f"annual digest, raw rows in DataFrames, {small:,} stored", raw_small)
    print(f"ratio at {small:,}: rollups {raw_small['seconds'] / rolled_small['seconds']:.1f}x faster, "
          f"peak RSS {raw_small['rss_peak'] / rolled_small['rss_peak']:.1f}x lower")
    show(f"annual digest, rollups, {big:,} stored", rolled_big)
    print(f"{big / small:.0f}x the mentions: {rolled_big['seconds'] / rolled_small['seconds']:.2f}x the time "
          f"(target < 5 s and < 1 GiB at 10,000,000: {rolled_big['seconds']:.2f} s, {rolled_big['rss_peak']:,.0f} MiB)")


if __name__ == "__main__":
    main()
