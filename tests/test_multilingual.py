"""Scoring in the languages with cue lexicons of their own (digest/lexicon/<code>/, issue 18).

The development sets tests/data/multilingual/<code>.tsv were written alongside the lexicons; the
held-out set is only evaluated by bench/eval_languages.py, never here (nothing is tuned on it).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from digest.classify import Classifier
from digest.classify.cues import cue_weights, phrase_key
from digest.classify.grammar import cue_languages, fold, grammar
from digest.classify.lexicons import LANGUAGES
from digest.classify.scores import textblob_polarity

DATA = Path(__file__).parent / "data" / "multilingual"
DEV_SETS = sorted(p for p in DATA.glob("*.tsv") if p.stem != "heldout")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_the_french_and_german_lexicons_are_loaded() -> None:
    assert {"fr", "de"} <= cue_languages()
    assert "en" not in cue_languages()


@pytest.mark.parametrize("code", sorted(cue_languages()))
def test_each_languages_cues_and_topic_keywords_load_on_its_first_text(code: str) -> None:
    """A classifier reads another language's lexicons on its first text in it (not at its start): every
    shipped one loads, and each language's matchers are built once."""
    from digest.classify.cues import lexicon
    cues, longest = lexicon(code)
    assert len(cues) > 50 and longest
    c = Classifier({"Baggage": ["bag", "luggage", "maleta", "valise", "Koffer", "bagaglio", "mala"]})
    assert c._for(code)[0] is c._for(code)[0]  # built once
    assert c._for("ja") is c._for("en")  # a language without cues matches as English


@pytest.mark.parametrize("path", DEV_SETS, ids=[p.stem for p in DEV_SETS])
def test_clearly_polar_texts_and_complaints_of_each_dev_set(path: Path, classifier: Classifier) -> None:
    rows = _rows(path)
    assert len(rows) >= 20
    results = [classifier.classify(r["text"]) for r in rows]
    assert all(res.language == path.stem for res in results), [
        (r["text"], res.language) for r, res in zip(rows, results, strict=True) if res.language != path.stem]
    polar = [(r, res) for r, res in zip(rows, results, strict=True) if r["label"] in ("negative", "positive")]
    polar_right = sum(res.sentiment == r["label"] for r, res in polar) / len(polar)
    complaint_right = sum(res.complaint == (r["complaint"] == "1") for r, res in zip(rows, results, strict=True))
    complaint_share = complaint_right / len(rows)
    overall = sum(res.sentiment == r["label"] for r, res in zip(rows, results, strict=True)) / len(rows)
    print(f"\n{path.stem}: {len(rows)} texts, sentiment {overall:.3f}, clearly polar {polar_right:.3f} "
          f"({len(polar)}), complaint right {complaint_share:.3f}")
    wrong = [(r["label"], res.sentiment, r["text"]) for r, res in polar if res.sentiment != r["label"]]
    assert polar_right >= 0.80, wrong
    assert complaint_share >= 0.80
    # a non-English text is decided on its lexicon alone: no English polarity is reported
    assert all(res.polarity == 0.0 for res in results)


def test_accents_are_folded_on_both_sides() -> None:
    assert fold("Remboursé") == "rembourse"
    assert fold("Grüße") == "grusse"
    assert phrase_key("été remboursé", "fr") == phrase_key("ete rembourse", "fr")
    assert phrase_key("erstattet über", "de") == phrase_key("ERSTATTET UBER", "de")


def test_french_and_italian_elisions_are_split() -> None:
    fr = grammar("fr")
    assert phrase_key("l'annulation", "fr") == ("l", fr.stem("annulation"))
    assert phrase_key("c'est", "fr") == ("c", fr.stem("est"))
    assert phrase_key("l’annulation", "fr") == phrase_key("l'annulation", "fr")  # typographic apostrophe
    it = grammar("it")
    assert phrase_key("dell'albergo", "it") == ("dell", it.stem("albergo"))
    # German keeps the word whole
    assert len(phrase_key("geht's", "de")) == 1


def test_each_language_is_stemmed_by_its_own_stemmer() -> None:
    assert phrase_key("remboursements", "fr") == phrase_key("remboursement", "fr")
    assert phrase_key("Verspätungen", "de") == phrase_key("Verspätung", "de")
    assert phrase_key("retrasos", "es") == phrase_key("retraso", "es")


def test_a_text_without_accents_matches_the_accented_cue(classifier: Classifier) -> None:
    accented = classifier.classify("Je n'ai toujours pas été remboursé, c'est inadmissible.")
    bare = classifier.classify("Je n ai toujours pas ete rembourse, c est inadmissible.")
    assert accented.language == "fr"
    assert accented.sentiment == "negative" and accented.complaint
    if bare.language == "fr":
        assert (bare.sentiment, bare.complaint) == (accented.sentiment, accented.complaint)


def test_negators_are_recognised_unstemmed_and_french_ne_is_none() -> None:
    de = grammar("de")
    assert {"nicht", "nichts", "kein"} <= de.negators
    assert "ne" not in grammar("fr").negators
    assert "pas" in grammar("fr").negators
    toks = list(phrase_key(w, "de") for w in ("nicht", "nichts"))
    assert toks[0] != ("",) and toks[1] != ("",)


def test_negation_flips_praise(classifier: Classifier) -> None:
    plain = classifier.classify("Der Kundendienst war sehr freundlich und hilfsbereit, vielen Dank!")
    negated = classifier.classify("Der Kundendienst war nicht freundlich und überhaupt nicht hilfsbereit.")
    assert plain.language == negated.language == "de"
    assert plain.sentiment == "positive"
    assert negated.sentiment != "positive"
    assert negated.score < plain.score


def test_contrast_makes_what_follows_weigh_more(classifier: Classifier) -> None:
    text = "Le personnel était aimable, mais mon vol a été annulé et personne ne m'a remboursé."
    result = classifier.classify(text)
    assert result.language == "fr"
    assert result.sentiment == "negative"
    assert any("complaint" in line for line in classifier.cues(text))


def test_why_shows_the_cues_of_a_french_text(classifier: Classifier) -> None:
    lines = classifier.cues("Merci beaucoup, le service client a été super efficace !")
    assert lines and any(line.startswith("praise") for line in lines)


def test_one_phrase_with_two_weights_is_refused_with_both_lines() -> None:
    entries = [(3, 1.0, "remboursé"), (9, 0.5, "rembourse")]
    with pytest.raises(ValueError, match=r"lexicon/fr/complaint\.txt:9: .*line 3"):
        cue_weights("fr/complaint.txt", entries, "fr")


@pytest.mark.parametrize("text", [
    "Thanks so much, the crew was fantastic and the flight was on time!",
    "My bag has been lost for three days and nobody answers the phone.",
    "Can I change my booking to Friday?",
])
def test_english_is_decided_by_the_english_pipeline(text: str, classifier: Classifier) -> None:
    result = classifier.classify(text)
    assert result.language == "en"
    assert result.polarity == textblob_polarity(text)  # VADER and TextBlob still take part


def test_english_decisions(classifier: Classifier) -> None:
    good = classifier.classify("Thanks so much, the crew was fantastic and the flight was on time!")
    bad = classifier.classify("My bag has been lost for three days and nobody answers the phone.")
    ask = classifier.classify("Can I change my booking to Friday?")
    assert (good.sentiment, good.complaint) == ("positive", False)
    assert (bad.sentiment, bad.complaint) == ("negative", True)
    assert (ask.sentiment, ask.complaint) == ("neutral", False)


_SAMPLES = {
    "es": "El vuelo se retrasó cinco horas y nadie nos dio ninguna información.",
    "fr": "Le vol a été retardé de cinq heures et personne ne nous a informés.",
    "de": "Der Flug hatte fünf Stunden Verspätung und niemand hat uns informiert.",
    "pt": "O voo atrasou cinco horas e ninguém nos deu nenhuma informação.",
    "it": "Il volo è stato ritardato di cinque ore e nessuno ci ha informato.",
}


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c in _SAMPLES])
def test_a_language_without_cue_lexicons_is_scored_by_the_english_rules(code: str, classifier: Classifier) -> None:
    text = _SAMPLES[code]
    result = classifier.classify(text)
    assert result.language == code
    if code in cue_languages():
        assert result.polarity == 0.0  # its own cues, no English scorer
        assert result.sentiment == "negative"
    else:
        assert result.polarity == textblob_polarity(text)  # as before the language had a folder


# --- topic keywords in every language --------------------------------------------------------------

_TOPICS = {"Baggage": ["bag", "luggage", "maleta", "valise", "Koffer", "Gepäck", "pt:mala", "valigia"],
           "Delays": ["delay", "retraso", "retard", "Verspätung", "atraso", "ritardo"]}


@pytest.mark.parametrize(("text", "topics"), [
    ("Acme Air perdió mis dos maletas en Madrid y nadie me responde. Un desastre.", ("Baggage",)),
    ("Acme Air a perdu nos valises à Lyon, aucune réponse. Inadmissible.", ("Baggage",)),
    ("Acme Air hat unsere Koffer verloren, seit drei Tagen keine Antwort. Unmöglich.", ("Baggage",)),
    ("A Acme Air perdeu as nossas malas em Lisboa. Ninguém responde. Vergonha.", ("Baggage",)),
    ("Acme Air ha perso le nostre valigie a Roma. Vergognoso, nessuna risposta.", ("Baggage",)),
    ("Tres horas de retraso con Acme Air y ni una explicación. Pésimo servicio.", ("Delays",)),
    # Spanish "mala" is bad, not a suitcase: the Portuguese keyword is not matched in Spanish texts
    ("Muy mala experiencia con Acme Air, nadie me ayudó. Un desastre.", ()),
])
def test_topic_keywords_in_several_languages_match_each_texts_own_forms(text: str, topics: tuple[str, ...]) -> None:
    result = Classifier(_TOPICS).classify(text)
    assert result.complaint, result
    assert result.topics == topics, result


def test_a_one_language_keyword_is_matched_as_written_in_the_praise_fallback() -> None:
    from digest.classify.topics import keyword_language

    assert keyword_language("pt:mala") == ("pt", "mala")
    assert keyword_language("check-in") == ("", "check-in")
    assert keyword_language("on hold") == ("", "on hold")


@pytest.mark.parametrize(("text", "topics"), [
    ("Acme Air hat meinen Reisekoffer verloren, seit drei Tagen keine Antwort. Unmöglich.", ("Baggage",)),
    ("Seit einer Stunde warten wir am Gepäckband von Acme Air. Unmöglich!", ("Baggage",)),
    ("Zwei Stunden Abflugverspätung mit Acme Air und keine Information. Sehr ärgerlich.", ("Delays",)),
    # a short keyword is no compound part: "App" does not find "Appetit"
    ("Das Essen bei Acme Air verdirbt einem den Appetit. Ekelhaft, nie wieder.", ()),
])
def test_german_compounds_hold_a_keyword_as_their_first_or_last_part(text: str, topics: tuple[str, ...]) -> None:
    result = Classifier(_TOPICS | {"App": ["app"]}).classify(text)
    assert result.complaint, result
    assert result.topics == topics, result


@pytest.mark.parametrize("text", [
    "¿Pueden cambiar mi vuelo al martes? Atentamente, Juan Pérez",
    "Quisiera saber el horario del mostrador. Cordialmente, Ana",
    "Gostaria de alterar a minha reserva para sexta. Atenciosamente, Maria",
    "Gostaríamos de saber se o voo sai no horário. Cordialmente, Ana",
])
def test_a_request_signed_off_politely_is_no_praise(text: str, classifier: Classifier) -> None:
    # "Atentamente" stems like "atento" (attentive), "Gostaria" (I would like) like "gostei" (I liked it)
    result = classifier.classify(text)
    assert (result.sentiment, result.complaint) == ("neutral", False), (result, classifier.cues(text))


def test_praise_topics_of_one_language_only_are_found_in_its_texts() -> None:
    # every keyword "pt:": the English matcher is empty, the Portuguese one is not
    classifier = Classifier({}, {"Crew": ["pt:tripulação"]})
    text = "A tripulação foi muito simpática, obrigado!"
    assert classifier.praise_topics(text) == ("Crew",)
    assert classifier.praise_topics("The crew was lovely, thank you!") == ()
