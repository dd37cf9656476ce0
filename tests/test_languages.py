"""Issue 18: the language of every mention, detected offline and stored; scoring per language."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.classify import Classifier
from digest.classify.language import SCORED, UNDETERMINED, detect
from digest.models import Mention
from digest.store import Store
from digest.store.languages import LANGUAGE_META
from digest.store.schema import mentions

from .conftest import ROOT, run_cli

DATA = Path(__file__).parent / "data" / "languages.tsv"
AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def evaluation(part: str | None = None) -> list[tuple[str, str, str]]:
    """(language, label, text) of tests/data/languages.tsv, of one part (dev/held) or both."""
    rows = []
    for line in DATA.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            lang, label, where, text = line.split("\t")
            if part is None or where == part:
                rows.append((lang, label, text))
    return rows


@pytest.mark.parametrize("language", ["en", "es", "fr", "de", "pt", "it", "ja", "ko", "zh", "ru"])
def test_each_language_of_the_evaluation_texts_is_detected(language: str) -> None:
    texts = [t for lang, _, t in evaluation() if lang == language]
    assert texts
    assert [detect(t) for t in texts] == [language] * len(texts)


@pytest.mark.parametrize(("text", "expected"), [
    ("ok", "en"),  # too short for the model: English words are English
    ("thanks!", "en"),
    ("👍👍", UNDETERMINED),  # nothing to tell a language by
    ("https://t.co/abc123", UNDETERMINED),
    ("@AcmeAir @AcmeAirHelp", UNDETERMINED),
    ("gracias", "es"),  # too short for the model: the words of one scored language's lexicons say it
    ("Nie wieder!", "de"),
    ("Muy mal.", "es"),
    ("Das war schön.", "de"),  # scored as English, VADER read "war" as negative: a complaint
    ("Bravo!", UNDETERMINED),  # a word of several languages' lexicons says nothing
    ("UA DEN", UNDETERMINED),  # codes in capitals ("den" is German) say nothing either
    ("*)n", UNDETERMINED),  # nor a single letter (Portuguese "n")
    # short English whose words other languages also have ("do" pt, "come" it, "a ton" fr, "was" de) is no
    # other language: as many English words
    ("yes I do", UNDETERMINED),
    ("Thanks a ton!", UNDETERMINED),
    ("no. come on.", UNDETERMINED),
    ("it was 3472", UNDETERMINED),
    ("アクメ", "ja"),  # the script says it, however short
])
def test_short_texts_fall_back_to_english_words_or_undetermined(text: str, expected: str) -> None:
    assert detect(text) == expected


@pytest.mark.parametrize(("text", "sentiment"), [("Gracias!", "positive"), ("Pésimo", "negative"),
                                                 ("Nie wieder!", "negative"), ("Danke!", "positive")])
def test_a_short_text_in_another_language_is_scored_by_its_lexicons(text: str, sentiment: str) -> None:
    from digest.classify import Classifier

    assert Classifier().classify(text).sentiment == sentiment


def test_english_tweets_the_model_is_unsure_of_stay_english() -> None:
    # short English with names and codes, that the model alone reads as other languages
    for text in ("@united Thanks. UA1121, DEN, 40 min on tarmac.", "@JetBlue thx, social media person!",
                 "@AmericanAir SO BAD service in Miami, AirPort..", "Club in Denver is dope"):
        assert detect(text) in SCORED, text


def test_classify_reports_the_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert Classifier().classify("Acme Air perdió mi maleta y nadie me responde. Un desastre.").language == "es"
    for name in ("sources.yaml", "recipients.yaml"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    texts = tmp_path / "texts.txt"
    texts.write_text("the crew was wonderful, thank you\nアクメエアの遅延がひどい。最悪。\n"
                     "Le personnel était très impoli et ne m'a pas aidé du tout.\n", "utf-8")
    r = run_cli(capsys, "--config", str(tmp_path), "classify", str(texts))
    assert r.code == 0, r.err
    assert [json.loads(line)["language"] for line in r.out.splitlines()] == ["en", "ja", "fr"]


def _mention(n: int, text: str) -> Mention:
    return Mention("Feed", "twitter", f"id{n}", f"https://example.com/{n}", "", text, "someone", AT)


def test_each_mention_is_stored_with_its_language(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        c = Classifier()
        texts = ["Der Sitz war kaputt und das Essen kalt. Sehr enttäuschend.", "the crew was wonderful, thank you"]
        store.add_mentions([(_mention(n, t), c.classify(t)) for n, t in enumerate(texts)], fetched=AT)
        assert list(store.mentions(AT, AT.replace(hour=16))["language"]) == ["de", "en"]
    finally:
        store.close()


def test_a_store_written_before_languages_gets_the_column(db_url: str) -> None:
    store = Store.open(db_url)
    c = Classifier()
    store.add_mentions([(_mention(1, "on hold for an hour again"), c.classify("on hold for an hour again"))],
                       fetched=AT)
    with store.engine.begin() as conn:  # as an earlier version left it
        conn.execute(sa.text("ALTER TABLE mentions DROP COLUMN language"))
    store.set_meta(LANGUAGE_META, None)
    store.close()
    again = Store.open(db_url)
    try:
        text = "Il sedile era rotto e il pasto freddo. Molto deludente."
        again.add_mentions([(_mention(2, text), c.classify(text))], fetched=AT)
        with again.engine.connect() as conn:
            stored = conn.execute(sa.select(mentions.c.external_id, mentions.c.language)
                                  .order_by(mentions.c.id)).all()
        assert [tuple(r) for r in stored] == [("id1", ""), ("id2", "it")]
        assert again.get_meta(LANGUAGE_META) == "1"
    finally:
        again.close()
