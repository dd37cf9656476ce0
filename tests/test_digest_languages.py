"""The languages of a digest's period (issue 18): counts by language in the JSON, the "Languages" table and
the data-health line on mentions that could not be scored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from digest.analysis import summarize, summarize_facts
from digest.analysis.languages import language_name, language_rows, unscored_sentence
from digest.models import Classification, Mention
from digest.periods import previous, window_containing
from digest.render import Templates, render_digest
from digest.store import Store
from digest.summary_json import summary_dict

from . import factories as f

AT = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
JAPANESE = "アクメエアの遅延がひどい。最悪。"
KOREAN = "아크메 항공 최악이에요. 짐을 잃어버렸어요."


def period_mentions() -> pd.DataFrame:
    """A day of 6 English (3 negative), 3 Spanish (2 negative, one by email), 4 Japanese and 1 Korean mentions."""
    window = window_containing("daily", AT, ZoneInfo("UTC"))
    a, b = window.start_utc, window.end_utc
    df = f.concat(
        f.mentions(6, a, b, sentiment=["negative", "positive"]),
        f.mentions(3, a, b, sentiment=["negative", "negative", "neutral"], channel=["twitter", "email", "twitter"],
                   text="Acme Air perdió mi maleta", id_start=10),
        f.mentions(4, a, b, sentiment="unscored", complaint=False, polarity=0.0, score=0.0, text=JAPANESE,
                   id_start=20),
        f.mentions(1, a, b, sentiment="unscored", complaint=False, polarity=0.0, score=0.0, text=KOREAN,
                   id_start=30),
    )
    df["language"] = ["en"] * 6 + ["es"] * 3 + ["ja"] * 4 + ["ko"]
    return df


def test_the_json_counts_mentions_by_language() -> None:
    window = window_containing("daily", AT, ZoneInfo("UTC"))
    s = summarize(period_mentions(), f.empty(), window, previous(window), brand="Acme Air", now=AT)
    out = summary_dict(s)
    assert out["languages"] == {"en": 6, "es": 3, "ja": 4, "ko": 1}
    assert out["unscored"] == 5 and sum(out["languages"].values()) == out["kpis"]["mentions"] == 14
    table = {r["language"]: r for r in out["language_table"]}
    assert table["es"]["negative_share"] == round(2 / 3, 4) and table["en"]["negative_share"] == 0.5
    assert table["ja"]["negative_share"] is None and table["ja"]["scored"] == 0
    assert [r["language"] for r in out["language_table"]] == ["en", "ja", "es", "ko"]


def test_the_json_respects_the_channel_filter_through_the_store(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        items = [(Mention(r["source"], r["channel"], r["external_id"], r["url"], r["title"], r["text"], r["author"],
                          r["published"].to_pydatetime(), 0.0),
                  Classification(r["sentiment"], float(r["polarity"]), bool(r["complaint"]), (), float(r["score"]),
                                 r["language"]))
                 for r in period_mentions().to_dict("records")]
        store.add_mentions(items, fetched=AT, by_text=False)
        window = window_containing("daily", AT, ZoneInfo("Asia/Kolkata"))  # +05:30: part of it from the mentions
        for channels in (None, ("email",), ("twitter",)):
            raw = store.mentions(window.start_utc, window.end_utc, channels)
            s = summarize_facts(store.facts(window, channels), store.facts(previous(window), channels, trend=False,
                                                                            ranked=False),
                                window, previous(window), brand="Acme Air", channels=channels, now=AT)
            got = summary_dict(s)["languages"]
            assert got == raw["language"].value_counts().to_dict() and got
            assert sum(got.values()) == s.volume.value
        # a whole UTC day: every count from the rollups
        whole = window_containing("daily", AT, ZoneInfo("UTC"))
        s = summarize_facts(store.facts(whole), store.facts(previous(whole), trend=False, ranked=False), whole,
                            previous(whole), brand="Acme Air", now=AT)
        assert summary_dict(s)["languages"] == {"en": 6, "es": 3, "ja": 4, "ko": 1}
    finally:
        store.close()


def test_names_and_the_unscored_sentence() -> None:
    assert language_name("ja") == "Japanese" and language_name("xx") == "xx"
    counts = pd.DataFrame({"channel": "twitter", "language": ["en", "ja", "ko", "zh", "th", "ja"],
                           "sentiment": ["negative", "unscored", "unscored", "unscored", "unscored", "unscored"],
                           "n": [100, 150, 62, 3, 2, 0]})
    rows = language_rows(counts)
    assert unscored_sentence(rows) == ("217 mentions in Japanese, Korean, Chinese and 1 other language "
                                       "could not be scored")
    two = language_rows(counts[counts["language"].isin(["en", "ja", "ko"])])
    assert unscored_sentence(two) == "212 mentions in Japanese and Korean could not be scored"
    assert unscored_sentence(language_rows(counts[counts["language"] == "en"])) == ""


def test_the_digest_shows_the_languages_table_and_the_unscored_line(tmp_path: Path) -> None:
    window = window_containing("daily", AT, ZoneInfo("UTC"))
    s = summarize(period_mentions(), f.empty(), window, previous(window), brand="Acme Air", now=AT)
    assert s.show_languages
    assert s.unscored_note == "5 mentions in Japanese and Korean could not be scored."
    r = render_digest(s, recipient_name="Dana", templates=Templates())
    html = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.html))
    assert "Languages Language Mentions Share Negative" in html
    assert "English 6 43% 50%" in html and "Spanish 3 21% 67%" in html
    assert "Japanese 4 29% not scored" in html and "Korean 1 7% not scored" in html
    assert "5 mentions in Japanese and Korean could not be scored." in html
    text = r.text
    assert "LANGUAGES" in text and "could not be scored" in text.split("DATA HEALTH")[1]
    assert re.search(r"^  Spanish +3 +21% +67% negative$", text, re.M)
    assert re.search(r"^  Japanese +4 +29% +not scored$", text, re.M)
    # a period of one language (and texts too short to tell) has neither
    one = period_mentions().iloc[:9].assign(language=["en"] * 8 + ["und"])
    s1 = summarize(one, f.empty(), window, previous(window), brand="Acme Air", now=AT)
    r1 = render_digest(s1, recipient_name="Dana", templates=Templates())
    assert not s1.show_languages and s1.unscored_note == ""
    assert "LANGUAGES" not in r1.text and "could not be scored" not in r1.text
    assert ">Languages<" not in r1.html and "could not be scored" not in r1.html
    assert summary_dict(s1)["languages"] == {"en": 8, "und": 1}
