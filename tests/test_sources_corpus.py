"""Every file of the shared feed corpus (2,000+ real and torture-test feeds) goes through fetch_source as a
local path: each gives "ok" or an error with a reason, never an exception, and none hits a bug path."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from digest.errors import SourceError
from digest.sources import PRESETS, fetch_source
from digest.sources.feed import parse_feed
from tests.conftest import skip_unless_ci
from tests.helpers_http import make_config, make_ctx

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "feeds"
BUDGET_SECONDS = 60


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        skip_unless_ci(f"feed corpus not found at {CORPUS} (it lives in shared/data/feeds beside the repo)")
    return sorted(p for p in CORPUS.rglob("*") if p.is_file())


def test_every_corpus_file_gives_a_result() -> None:
    files = corpus_files()
    assert len(files) > 2000
    config = make_config(CORPUS, [{"name": f"corpus {i}", "kind": "feed", "url": str(p), "channel": "news",
                                   "brand_filter": False} for i, p in enumerate(files)])
    outcomes: dict[str, int] = {"ok": 0, "error": 0}
    unexpected: list[str] = []
    started = time.monotonic()
    with requests.Session() as session:
        for path, spec in zip(files, config.sources.sources, strict=True):
            result = fetch_source(spec, make_ctx(config, session, deadline_in=None))
            assert result.status in ("ok", "error"), path
            outcomes[result.status] += 1
            if result.status == "error":
                assert result.error and "\n" not in result.error, path
                if result.error.startswith("unexpected"):  # an exception our code did not expect: a bug
                    unexpected.append(f"{path.relative_to(CORPUS)}: {result.error}")
            for m in result.mentions:
                assert m.published.tzinfo is not None and m.external_id and m.text, path
                assert m.url is None or m.url.startswith(("http://", "https://", "mailto:")), path
    elapsed = time.monotonic() - started
    assert not unexpected, "\n".join(unexpected[:20])
    assert outcomes["ok"] > 1000  # most of the corpus are feeds
    assert elapsed < BUDGET_SECONDS, f"{len(files)} files took {elapsed:.0f} s"


def test_every_preset_survives_the_corpus() -> None:
    """Presets see odd entries too (no link, no author, numbers as titles): none may raise."""
    files = corpus_files()
    started = time.monotonic()
    applied = 0
    for path in files:
        try:
            entries = parse_feed(path.read_bytes())
        except SourceError:
            continue
        for preset in PRESETS.values():
            for entry in entries:
                preset(entry)
                applied += 1
    assert applied > 10_000
    assert time.monotonic() - started < BUDGET_SECONDS
