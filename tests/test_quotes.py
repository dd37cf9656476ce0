"""Quote lists never show the same text twice: one template with other places and numbers, a copy-paste, a
retweet."""

from __future__ import annotations

import pandas as pd

from digest.analysis.quotes import distinct, near_duplicate, word_set

TEMPLATE = ("Rated 1/5. Bag lost on a direct flight to {a}. Nine calls, no answers, no compensation. Never again. "
            "Flew {b} to {a} in November, flight {n}.")


def test_one_template_with_other_cities_and_numbers_is_one_text() -> None:
    one = word_set(TEMPLATE.format(a="Newark", b="Phoenix", n=2324))
    other = word_set(TEMPLATE.format(a="Dallas", b="Denver", n=475))
    assert near_duplicate(one, other)
    assert near_duplicate(word_set("Acme Air lost my bag again, third time this year"),
                          word_set("RT @kat: Acme Air lost my bag again, third time this year!!"))


def test_texts_about_the_same_thing_in_other_words_are_not_copies() -> None:
    a = word_set("Acme Air lost my bag on the way to Boston and nobody answers the phone")
    b = word_set("My bag never arrived in Boston, Acme Air will not pick up the phone")
    assert not near_duplicate(a, b)
    assert not near_duplicate(word_set("delayed again"), word_set("cancelled again"))


def test_a_list_keeps_the_first_of_each_text_in_its_order() -> None:
    texts = [TEMPLATE.format(a="Newark", b="Phoenix", n=1), "On hold for 90 minutes and then cut off.",
             TEMPLATE.format(a="Miami", b="Boston", n=2), "On hold for 40 minutes and then cut off!",
             "The app logged me out while paying, twice.", "Refund promised in May, still nothing."]
    ranked = pd.DataFrame({"text": texts, "id": range(len(texts))})
    assert distinct(ranked, 3)["id"].tolist() == [0, 1, 4]
    assert distinct(ranked, 10)["id"].tolist() == [0, 1, 4, 5]
    assert distinct(ranked, 10, avoid=[word_set(texts[5])])["id"].tolist() == [0, 1, 4]
