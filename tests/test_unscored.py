"""Languages the classifier cannot score (issue 18): counted in volume and channels, never in the shares."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from digest.analysis.frames import counts_by_sentiment
from digest.classify import Classifier
from digest.classify.language import SCORED

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
