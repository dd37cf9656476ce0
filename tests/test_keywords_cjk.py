"""The brand's keywords find names written without spaces (issue 18): Japanese, Chinese, Korean, Thai; Latin
keywords keep their word boundaries against Latin letters, and a CJK letter next to a Latin name is one."""

from __future__ import annotations

import pytest

from digest.organisations import Organisation, about
from digest.text import matches_brand

BRAND = ["acme", "Acme Air", "@acmeair", "アクメエア", "阿克米航空", "아크메", "แอคมี"]


@pytest.mark.parametrize("text", [
    "アクメエアの遅延がひどい。最悪。",  # Japanese: no spaces, particle の right after the name
    "昨日アクメエアで大阪へ",  # the name inside a sentence
    "ｱｸﾒｴｱの荷物が届かない",  # half-width katakana
    "Acmeの遅延がひどい",  # a Latin name next to kana
    "ＡＣＭＥの対応が遅い",  # full-width Latin letters
    "我坐阿克米航空的航班晚点了三个小时",  # Chinese
    "昨天Acme航班又晚点了",  # a Latin name between Han characters
    "아크메항공이 제 짐을 잃어버렸어요",  # Korean: the particle attaches to the name
    "아크메 항공 최악이에요",
    "acme가 또 지연됐어요",  # a Latin name before hangul
    "เที่ยวบินของแอคมีล่าช้ามาก",  # Thai: no spaces between words
    "Acme Air lost my bag", "@AcmeAir where is my bag?", "acme, again", "(acme)",
])
def test_names_are_found_in_every_script(text: str) -> None:
    assert matches_brand(text, BRAND, [])


@pytest.mark.parametrize("text", [
    "acmeair is a great handle",  # "acme" does not run into Latin letters ...
    "the acmeister parade", "acme2 release", "acme_bot", "xacme",
    "AcmeAirの遅延",  # ... whatever follows: "Acme Air" is two words, "acme" is followed by "air"
    "アクメの遅延",  # a part of the Japanese name is not the name
    "阿克米",  # nor of the Chinese one
    "Acmé",  # an accented letter is a Latin letter
    "東京の天気",
])
def test_latin_boundaries_stay_strict(text: str) -> None:
    assert not matches_brand(text, BRAND, [])


def test_exclude_and_the_organisations_use_the_same_rule() -> None:
    assert not matches_brand("アクメエアの遅延", ["アクメエア"], ["遅延"])
    assert matches_brand("アクメエアの遅延", ["アクメエア"], ["acme"])
    orgs = (Organisation("Acme Air", ("acme", "アクメエア"), (), True),
            Organisation("Globex Air", ("globex", "グローベックス"), (), False))
    found = about("アクメエアとグローベックスを比べると", orgs)
    assert found.brand and found.competitors == ("Globex Air",)
    found = about("Globexの方がまし", orgs)
    assert not found.brand and found.competitors == ("Globex Air",)
