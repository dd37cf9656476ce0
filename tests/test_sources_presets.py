"""Preset functions on hand-made entries: each platform quirk, and the list config validation needs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from digest.errors import SourceError
from digest.sources.presets import PRESETS, Entry, get_preset, review_rating, unwrap_google

WHEN = datetime(2024, 3, 18, tzinfo=UTC)


def entry(**kw: object) -> Entry:
    base: dict[str, object] = {"id": "1", "link": "", "title": "", "text": "", "author": "",
                               "published": WHEN}
    return Entry(**{**base, **kw})  # type: ignore[arg-type]


def test_the_valid_preset_names() -> None:
    assert list(PRESETS) == ["google_alerts", "reddit", "youtube", "mastodon", "bluesky", "tumblr",
                             "pinterest", "medium", "reviews"]
    assert get_preset(None) is None
    with pytest.raises(SourceError, match="unknown preset 'Reddit'; presets are google_alerts, reddit,"):
        get_preset("Reddit")


@pytest.mark.parametrize(("url", "real"), [
    ("https://www.google.com/url?rct=j&sa=t&url=https://a.example/x%3Fy%3D1&ct=ga", "https://a.example/x?y=1"),
    ("https://www.google.co.uk/url?q=https://b.example/&sa=U", "https://b.example/"),
    ("https://google.de/url?url=http://c.example/", "http://c.example/"),
    ("https://www.google.com/url?url=javascript:alert(1)", "https://www.google.com/url?url=javascript:alert(1)"),
    ("https://www.google.com/search?q=https://d.example/", "https://www.google.com/search?q=https://d.example/"),
    ("https://evilgoogle.com/url?url=https://e.example/", "https://evilgoogle.com/url?url=https://e.example/"),
    ("https://news.example/a", "https://news.example/a"),
    ("", ""),
])
def test_unwrap_google(url: str, real: str) -> None:
    assert unwrap_google(url) == real


@pytest.mark.parametrize(("kw", "rating"), [
    ({"title": "★★★★☆ Nice"}, 4.0),
    ({"title": "★ Great value ★"}, None),  # decoration, not a rating
    ({"text": "I'd say 2/5, would not fly again"}, 2.0),
    ({"text": "4,5 out of 5"}, 4.5),
    ({"raw": {"rating": "3"}}, 3.0),
    ({"raw": {"rating": "12"}, "text": "no stars here"}, None),  # out of range
    ({"text": "flight 15/5 was late"}, None),
])
def test_review_rating(kw: dict[str, object], rating: float | None) -> None:
    assert review_rating(entry(**kw)) == rating


def test_title_less_platforms_get_a_title_and_an_author() -> None:
    toot = PRESETS["mastodon"](entry(link="https://toot.example/@jen/1", text="Hello " * 40))
    assert toot.author == "@jen@toot.example" and toot.title.endswith("…") and len(toot.title) <= 100
    skeet = PRESETS["bluesky"](entry(link="https://bsky.app/profile/tom.example/post/3k", text="Hi"))
    assert (skeet.author, skeet.title) == ("@tom.example", "Hi")
    post = PRESETS["tumblr"](entry(link="https://acmefan.tumblr.com/post/1", text="Love it"))
    assert (post.author, post.title) == ("acmefan", "Love it")
    pin = PRESETS["pinterest"](entry(title="Acme Air cabin", text=""))
    assert pin.text == "Acme Air cabin"
    named = PRESETS["mastodon"](entry(link="https://toot.example/@jen/1", author="Jen", title="T"))
    assert (named.author, named.title) == ("Jen", "T")  # what the feed says wins


def test_youtube_views_are_the_reach() -> None:
    video = PRESETS["youtube"](entry(text="content", raw={"summary": "<p>the description</p>",
                                                          "media_statistics": {"views": "1,234"}}))
    assert (video.text, video.influence) == ("the description", 1234.0)
    assert PRESETS["youtube"](entry(text="t", raw={"media_statistics": {"views": "n/a"}})).influence == 0.0


def test_medium_drops_tracking_and_footer() -> None:
    story = PRESETS["medium"](entry(
        link="https://medium.example/@w/s-1?source=rss----1&keep=1",
        text="Body.\n\nS was originally published in Travel on Medium, where people are continuing the "
             "conversation."))
    assert (story.link, story.text) == ("https://medium.example/@w/s-1?keep=1", "Body.")


def test_reddit_footer_and_author() -> None:
    post = PRESETS["reddit"](entry(author="/u/bob", title="T",
                                   text="Body text submitted by /u/bob to r/travel [link] [comments]"))
    assert (post.author, post.text) == ("u/bob", "Body text")
