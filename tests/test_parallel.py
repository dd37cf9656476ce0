"""Ingesting on every core gives what one process gives: the same mentions, classified the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from digest import pipeline
from digest.classify import Classifier
from digest.config import load_config
from digest.models import Classification
from digest.parallel import POOL_MIN, ClassifierPool, classify_for_store
from digest.store import Store

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


def test_texts_prepared_here_are_not_classified_again() -> None:
    classifier = Classifier({"Baggage": ["bag"]}, {"Crew": ["crew"]})
    calls: list[str] = []

    class Counting(Classifier):
        def classify(self, text: str) -> Classification:
            calls.append(text)
            return super().classify(text)

    counting = Counting({"Baggage": ["bag"]}, {"Crew": ["crew"]})
    with ClassifierPool(counting, workers=1) as pool:
        pool.prepare(TEXTS[:3])
        assert calls == TEXTS[:3]
        got = pool.classify(TEXTS[1:5] + TEXTS[:1])
    assert calls == TEXTS[:3] + TEXTS[3:5]  # only the two not prepared
    assert got == classify_for_store(classifier, TEXTS[1:5] + TEXTS[:1])


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
