"""The store's rollups give the same Summary as every mention in a DataFrame, in any zone, on both databases."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

from digest import periods
from digest.analysis import PHRASE_SAMPLE, Summary, summarize, summarize_facts
from digest.models import Classification, Mention
from digest.periods import Period, Window
from digest.rollups import KEEP, Facts
from digest.store import Store
from digest.store.schema import ROLLUPS_META, ROLLUPS_VERSION, day_rollups, mention_rollups

from . import factories as f
from .conftest import postgres_url

AT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
TOPICS = {"Baggage": ["bag"], "Delays": ["delay"], "Billing": ["refund"], "Staff": ["rude"]}
PRAISE = {"Crew": [], "Lounge": []}  # counted from the tags the pipeline gives positive mentions
CASES: list[tuple[Period, str, tuple[str, ...] | None]] = [
    ("daily", "America/New_York", None),
    ("daily", "Asia/Kolkata", None),  # +05:30: local midnight is half past a UTC hour
    ("weekly", "Asia/Kolkata", ("twitter", "call_center")),
    ("weekly", "UTC", None),
    ("monthly", "Australia/Lord_Howe", None),  # +10:30/+11: a half-hour DST shift
    ("monthly", "America/New_York", ("reddit",)),
    ("quarterly", "Europe/Berlin", None),
    ("annual", "America/New_York", None),
    ("annual", "Asia/Kathmandu", ("news", "reviews")),  # +05:45
]


def history() -> pd.DataFrame:
    """Two years of varied mentions, denser lately; positive ones tagged with praise topics."""
    old = f.random_mentions(5000, AT - timedelta(days=800), AT - timedelta(days=30), seed=11, hostile_share=0.02)
    new = f.random_mentions(2500, AT - timedelta(days=30), AT, seed=12, hostile_share=0.02)
    new["external_id"] = "n" + new["external_id"]
    new["url"] = [u.replace("/p/", "/q/") if isinstance(u, str) else u for u in new["url"]]
    df = pd.concat([old, new], ignore_index=True)
    df["published"] = df["published"].dt.floor("us")  # what a database keeps
    praise = [["Crew"] if "crew" in t else ["Lounge"] if "lounge" in t else [] for t in df["text"]]
    df["topics"] = [p if s == "positive" else t for p, s, t in zip(praise, df["sentiment"], df["topics"], strict=True)]
    # ties that only published order and id can break
    df.loc[df.index % 7 == 0, "score"] = -0.5
    df.loc[df.index % 11 == 0, "influence"] = 10.0
    # languages (issue 18): some Spanish, some Japanese (which the classifier cannot score), a few too short
    df["language"] = ["ja" if i % 13 == 0 else "es" if i % 17 == 0 else "und" if i % 19 == 0 else "en"
                      for i in range(len(df))]
    ja = (df["language"] == "ja").to_numpy()
    df.loc[ja, "sentiment"] = "unscored"
    df.loc[ja, "complaint"] = False
    df.loc[ja, ["score", "polarity"]] = 0.0
    df.loc[ja, "topics"] = pd.Series([[] for _ in range(int(ja.sum()))], index=df.index[ja])
    return df


def fill(store: Store, df: pd.DataFrame) -> None:
    items = [(Mention(r["source"], r["channel"], r["external_id"], r["url"] if isinstance(r["url"], str) else None,
                      r["title"], r["text"], r["author"],
                      r["published"].to_pydatetime(), float(r["influence"])),
              Classification(r["sentiment"], float(r["polarity"]), bool(r["complaint"]), tuple(r["topics"]),
                             float(r["score"]), r.get("language", "en")))
             for r in df.to_dict("records")]
    for i in range(0, len(items), 700):  # several batches, as ingests add them
        store.add_mentions(items[i:i + 700], fetched=AT, by_text=False)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def filled(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A store URL (SQLite, PostgreSQL) holding history(), filled once for the module's tests."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('rollups') / 'store.sqlite3'}"
        else:
            url = stack.enter_context(postgres_url())
        s = Store.open(url)
        fill(s, history())
        s.close()
        yield url


@pytest.fixture
def store(filled: str) -> Iterator[Store]:
    s = Store.open(filled)
    yield s
    s.close()


def from_frames(store: Store, window: Window, channels: tuple[str, ...] | None) -> Summary:
    prev = periods.previous(window)
    ago = periods.year_before(window) if window.period in ("quarterly", "annual") else None
    return summarize(store.mentions(window.start_utc, window.end_utc, channels),
                     store.mentions(prev.start_utc, prev.end_utc, channels), window, prev,
                     year_ago=store.mentions(ago.start_utc, ago.end_utc, channels) if ago else None,
                     year_ago_window=ago, topics=TOPICS, praise_topics=PRAISE, brand="Acme Air",
                     channels=channels, now=AT)


def from_rollups(store: Store, window: Window, channels: tuple[str, ...] | None, sample: int = PHRASE_SAMPLE
                 ) -> Summary:
    prev = periods.previous(window)
    ago = periods.year_before(window) if window.period in ("quarterly", "annual") else None
    return summarize_facts(store.facts(window, channels, sample=sample),
                           store.facts(prev, channels, trend=False, ranked=False, sample=sample), window, prev,
                           year_ago=store.facts(ago, channels, trend=False, ranked=False) if ago else None,
                           year_ago_window=ago, topics=TOPICS, praise_topics=PRAISE, brand="Acme Air",
                           channels=channels, now=AT)


def assert_same(a: Summary, b: Summary) -> None:
    for field in dataclasses.fields(Summary):
        assert getattr(a, field.name) == getattr(b, field.name), field.name


def test_rollups_give_the_summary_of_every_mention(store: Store) -> None:
    seen = 0
    for period, zone, channels in CASES:
        window = periods.last_complete(period, AT, ZoneInfo(zone))
        expected = from_frames(store, window, channels)
        assert expected.volume.value > 0 and expected.most_negative.rows, (period, zone)
        assert_same(from_rollups(store, window, channels), expected)
        seen += expected.volume.value
    assert seen > 5000


def test_language_counts_equal_the_mentions_of_each_window(store: Store) -> None:
    seen = set()
    for period, zone, channels in CASES:
        window = periods.last_complete(period, AT, ZoneInfo(zone))
        raw = store.mentions(window.start_utc, window.end_utc, channels)
        expected = raw.groupby(["language", "sentiment"]).size().to_dict()
        facts = store.facts(window, channels, ranked=False)
        got = facts.language_counts.groupby(["language", "sentiment"])["n"].sum()
        assert {k: int(v) for k, v in got.items() if v} == expected, (period, zone, channels)
        if channels is not None:
            assert set(facts.language_counts["channel"]) <= set(channels)
        seen.update(raw["language"])
        summary = from_rollups(store, window, channels)
        assert summary.show_languages
        assert {r.code: r.mentions for r in summary.languages} == raw["language"].value_counts().to_dict()
        ja = next(r for r in summary.languages if r.code == "ja")
        assert ja.scored == 0 and ja.negative_share is None and ja.negative_share_display == "–"
    assert seen == {"en", "es", "ja", "und"}


def test_rollups_are_rebuilt_for_a_store_from_an_earlier_version(filled: str, store: Store) -> None:
    window = periods.last_complete("monthly", AT, ZoneInfo("Asia/Kolkata"))
    before = from_rollups(store, window, None)
    store.set_meta(ROLLUPS_META, None)  # as a store written before rollups existed
    again = Store.open(filled)
    try:
        assert again.get_meta(ROLLUPS_META) is not None
        assert_same(from_rollups(again, window, None), before)
    finally:
        again.close()


def test_daily_counts_add_up_to_the_hourly_ones(store: Store) -> None:
    with store.engine.connect() as conn:
        by_hour = conn.execute(sa.select(
            (mention_rollups.c.hour // 24).label("day"), mention_rollups.c.channel, mention_rollups.c.sentiment,
            mention_rollups.c.complaint, sa.func.sum(mention_rollups.c.n), sa.func.sum(mention_rollups.c.influential)
        ).group_by("day", mention_rollups.c.channel, mention_rollups.c.sentiment, mention_rollups.c.complaint)).all()
        by_day = conn.execute(sa.select(day_rollups.c.day, day_rollups.c.channel, day_rollups.c.sentiment,
                                        day_rollups.c.complaint, day_rollups.c.n, day_rollups.c.influential)).all()
    assert by_hour and sorted(map(tuple, by_day)) == sorted(map(tuple, by_hour))


def test_a_store_of_the_first_rollups_version_gets_its_daily_counts(filled: str, store: Store) -> None:
    window = periods.last_complete("annual", AT, ZoneInfo("America/New_York"))
    before = from_rollups(store, window, None)
    with store.engine.begin() as conn:  # as version 1 left a store: hourly counts only
        conn.execute(sa.delete(day_rollups))
    store.set_meta(ROLLUPS_META, "1")
    again = Store.open(filled)
    try:
        assert again.get_meta(ROLLUPS_META) == ROLLUPS_VERSION
        with again.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(day_rollups.c.n))).scalar_one() == \
                conn.execute(sa.select(sa.func.sum(mention_rollups.c.n))).scalar_one()
        assert_same(from_rollups(again, window, None), before)
    finally:
        again.close()


def test_a_year_reads_candidates_not_mentions(store: Store) -> None:
    window = periods.last_complete("annual", AT, ZoneInfo("America/New_York"))
    facts = store.facts(window, sample=PHRASE_SAMPLE)
    assert isinstance(facts, Facts) and not facts.exhaustive
    volume = int(facts.counts["n"].sum())
    assert volume > 1000
    lists = 3 + len(TOPICS)
    # at most KEEP per list from the rollups and from each of the two partial days at the window's edges
    assert len(facts.ranked) <= 3 * KEEP * lists < volume
    assert facts.counts["bucket"].nunique() == 12


def test_complaints_are_sampled_evenly_through_the_index(store: Store) -> None:
    window = periods.last_complete("annual", AT, ZoneInfo("UTC"))
    facts = store.facts(window, trend=False, ranked=False, sample=100)
    complaints = int(facts.counts.loc[facts.counts["complaint"], "n"].sum())
    assert complaints > 300
    sample = facts.complaint_sample
    assert 50 <= len(sample) <= 100 and sample["complaint"].all()
    assert sample["id"].is_unique
    # spread over the year, not the first hundred
    months = sample["published"].dt.month.nunique()
    assert months >= 10
    s = from_rollups(store, window, None, sample=100)
    assert s.phrases_note == f"from a sample of {len(sample)} of {complaints:,} complaints"


def test_counts_between_two_instants_read_whole_hours_from_the_rollups(store: Store) -> None:
    frame = store.mentions(AT - timedelta(days=40), AT)
    starts = [AT - timedelta(days=30, minutes=17), AT - timedelta(hours=5, seconds=3), AT - timedelta(minutes=40)]
    for start in starts:
        for end in (start + timedelta(minutes=20), start + timedelta(hours=7, minutes=31), AT):
            rows = frame[(frame["published"] >= start) & (frame["published"] < end)]
            assert store.count_mentions_between(start, end) == len(rows)
            negative = int((rows["sentiment"] == "negative").sum())
            assert store.count_mentions_between(start, end, sentiment="negative") == negative
