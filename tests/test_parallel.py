"""Ingesting on every core gives what one process gives: the same mentions, classified the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest import parallel, pipeline
from digest.classify import Classifier
from digest.config import load_config
from digest.parallel import POOL_MIN, ClassifierPool, classify_for_store
from digest.sources.http import Sessions
from digest.store import Store
from tests.helpers_http import NOW, make_config

TEXTS = [f"{t} (#{i})" for i, t in enumerate([
    "Lost my bag again, third time this year", "The crew was wonderful, thank you!",
    "On hold for two hours and no refund", "Is the lounge open on Sundays?",
    "Great lounge and friendly staff at the gate", "App crashed at check-in, missed my flight",
] * (POOL_MIN // 2))]


def test_pool_classifies_like_one_process() -> None:
    classifier = Classifier({"Baggage": ["bag"], "Billing": ["refund"]}, {"Crew": ["crew", "staff"]})
    with ClassifierPool(classifier, workers=2) as pool:
        got = pool.classify(TEXTS + TEXTS[:5])  # repeats are scored once and answered in order
    assert got == classify_for_store(classifier, TEXTS + TEXTS[:5])
    # positive mentions carry the praise topics they name: the digest counts praise from these tags
    assert got[1].sentiment == "positive" and got[1].topics == ("Crew",)


def _rss(*titles: str) -> str:
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            + "".join(f"<item><guid>{t}</guid><title>{t}</title></item>" for t in titles) + "</channel></rss>")


def test_fetching_workers_classify_only_what_is_likely_new(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    classifier = Classifier({"Baggage": ["bag"]}, {"Crew": ["crew"]})
    (tmp_path / "a.xml").write_text(_rss(*TEXTS[:3]))
    (tmp_path / "b.xml").write_text(_rss(*TEXTS[3:6]))
    config = make_config(tmp_path, [{"name": n, "kind": "feed", "url": f"{n}.xml", "channel": "news",
                                     "brand_filter": False} for n in ("a", "b")])
    specs = config.sources.sources
    sessions = Sessions("test")
    try:
        monkeypatch.setattr(parallel, "_classifier", classifier)
        monkeypatch.setattr(parallel, "_fetching", (config, sessions))
        # a source fetched for the first time: all new; one fetched before without a memory: left to the caller
        a, b = parallel._fetch_group(specs, [{}, {}], [True, False], NOW)
        assert a.classified == tuple(classify_for_store(classifier, TEXTS[:3]))
        assert b.classified is None and len(b.mentions) == 3
        # a feed that remembers what it served gives only new entries: the worker classifies them
        (tmp_path / "b.xml").write_text(_rss(TEXTS[6], *TEXTS[3:6]))
        (b2,) = parallel._fetch_group(specs[1:], [b.state], [False], NOW)
    finally:
        sessions.close()
    assert b2.unseen and [m.title for m in b2.mentions] == [TEXTS[6]]
    assert b2.classified == tuple(classify_for_store(classifier, TEXTS[6:7]))


def stored(url: str) -> set[tuple[object, ...]]:
    store = Store.open(url)
    try:
        df = store.mentions(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    finally:
        store.close()
    return {(r.source, r.external_id, r.sentiment, r.complaint, tuple(r.topics), round(r.polarity, 6))
            for r in df.itertuples()}


def test_ingest_on_every_core_stores_what_one_process_stores(project: Path) -> None:
    config = load_config(project)
    now = datetime.now(UTC)
    urls = {workers: f"sqlite:///{project / f'w{workers}.sqlite3'}" for workers in (1, 2)}
    for workers, url in urls.items():
        store = Store.open(url)
        try:
            report = pipeline.ingest(config, store, now=now, workers=workers)
        finally:
            store.close()
        assert not report.failed and report.new_mentions > 1000
    one, every = stored(urls[1]), stored(urls[2])
    assert one == every and len(one) > 1000
