"""Languages the classifier cannot score (issue 18): counted in volume and channels, never in the shares."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa

from digest.analysis import summarize
from digest.analysis.frames import counts_by_sentiment, counts_of
from digest.classify import Classifier
from digest.classify.language import SCORED
from digest.models import Mention
from digest.periods import previous, window_containing
from digest.store import Store
from digest.store.migrations import UNSCORED_META
from digest.store.schema import ROLLUPS_META, mentions
from digest.summary_json import summary_dict

from . import factories as f

AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

JAPANESE = "アクメエアの遅延がひどい。最悪。"
KOREAN = "아크메 항공 최악이에요. 짐을 잃어버렸어요."


def test_a_language_it_cannot_score_is_unscored_not_neutral() -> None:
    c = Classifier()
    for text, language in ((JAPANESE, "ja"), (KOREAN, "ko")):
        result = c.classify(text)
        assert result.language == language and language not in SCORED
        assert (result.sentiment, result.complaint, result.topics, result.score, result.polarity) == \
            ("unscored", False, (), 0.0, 0.0)
    english = c.classify("Acme lost my bag again, worst airline ever")
    assert english.sentiment == "negative" and english.complaint


def test_shares_are_over_scored_mentions_only() -> None:
    frame = pd.DataFrame({"n": [3, 1, 2, 4], "sentiment": ["negative", "positive", "neutral", "unscored"],
                          "complaint": [True, False, False, False]})
    c = counts_by_sentiment(frame["n"], frame["sentiment"], frame["complaint"])
    assert (c.volume, c.negative, c.neutral, c.positive, c.unscored, c.complaints) == (10, 3, 2, 1, 4, 3)
    assert c.negative_share == 50.0  # 3 of the 6 scored, not 3 of 10
    assert round(c.net, 4) == round((1 - 3) / 6 * 100, 4)


def _mention(n: int, text: str) -> Mention:
    return Mention("Feed", "twitter", f"id{n}", f"https://example.com/{n}", "", text, "someone", AT)


def test_a_store_scored_before_unscored_existed_counts_them_as_unscored(db_url: str) -> None:
    """Japanese and Korean mentions stored as neutral (scored as English) become unscored, and the rollups
    (the digest's counts) are rebuilt: on a real SQLite file and on PostgreSQL."""
    c = Classifier()
    texts = ["Acme lost my bag again, worst airline ever", JAPANESE, KOREAN, "the crew was wonderful, thank you"]
    store = Store.open(db_url)
    store.add_mentions([(_mention(n, t), c.classify(t)) for n, t in enumerate(texts)], fetched=AT)
    window = window_containing("daily", AT, ZoneInfo("UTC"))
    with store.engine.begin() as conn:  # as an earlier version stored them: scored as English, neutral
        conn.execute(sa.update(mentions).where(mentions.c.language.in_(["ja", "ko"])).values(
            sentiment="neutral", polarity=0.1))
    store.set_meta(ROLLUPS_META, None)  # and their rollups counted them as neutral
    store.set_meta(UNSCORED_META, "1")
    store.migrate()
    old = counts_of(store.facts(window))
    assert (old.volume, old.neutral, old.unscored, old.negative_share) == (4, 2, 0, 25.0)
    store.set_meta(UNSCORED_META, None)  # a store written before this version
    store.close()
    again = Store.open(db_url)
    try:
        counts = counts_of(again.facts(window))
        assert (counts.volume, counts.negative, counts.positive, counts.neutral, counts.unscored) == (4, 1, 1, 0, 2)
        assert counts.negative_share == 50.0
        frame = again.mentions(AT, AT.replace(hour=16))
        assert sorted(frame.loc[frame["sentiment"] == "unscored", "language"]) == ["ja", "ko"]
        assert again.get_meta(UNSCORED_META) == "1"
    finally:
        again.close()


def test_the_digest_counts_unscored_mentions_in_volume_not_in_the_shares() -> None:
    window = window_containing("daily", AT, ZoneInfo("UTC"))
    cur = f.concat(
        f.mentions(6, window.start_utc, window.end_utc, sentiment="negative"),
        f.mentions(2, window.start_utc, window.end_utc, sentiment="positive", id_start=10),
        f.mentions(4, window.start_utc, window.end_utc, sentiment="unscored", complaint=False, polarity=0.0,
                   score=0.0, text=JAPANESE, id_start=20),
    )
    s = summarize(cur, f.empty(), window, previous(window), brand="Acme Air", now=AT)
    out = summary_dict(s)
    assert out["kpis"]["mentions"] == 12 and out["unscored"] == 4
    assert (out["kpis"]["negative"], out["kpis"]["neutral"], out["kpis"]["positive"]) == (6, 0, 2)
    assert out["kpis"]["negative_share"] == 0.75 and out["kpis"]["complaints"] == 6
    assert [(c["mentions"], c["negative_share"]) for c in out["channels"]] == [(12, 0.75)]
    assert sum(b.unscored for b in s.trend.buckets) == 4
