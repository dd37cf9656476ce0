"""summarize(): exact figures on small known frames, trend buckets across DST, caps, quotes, health."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest import periods
from digest.analysis import PHRASE_SAMPLE, Spike, Summary, summarize, to_quotes
from digest.analysis.quotes import near_duplicate, word_set
from digest.analysis.summary import MAX_CHANNELS, MAX_TOPICS, QUOTE_CHARS
from digest.formatting import channel_label, plain_line
from digest.models import SourceHealth
from digest.periods import Period, Window

from . import factories as f

TZ = ZoneInfo("America/New_York")
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WEEK = periods.last_complete("weekly", NOW, TZ)  # Week 47 (16–22 Nov 2026)
PREV = periods.previous(WEEK)


def block(n: int, window: Window, **kw: object) -> pd.DataFrame:
    """n mentions spread over `window`."""
    return f.mentions(n, window.start_utc, window.end_utc, **kw)  # type: ignore[arg-type]


def summary(cur: pd.DataFrame, prev: pd.DataFrame, window: Window = WEEK, **kw: object) -> Summary:
    return summarize(cur, prev, window, periods.previous(window), brand="Acme Air", now=NOW, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def known() -> Summary:
    """20 mentions this week, 10 the week before, every count chosen by hand."""
    cur = f.concat(
        block(10, WEEK, channel="twitter", sentiment="negative", topics=["Baggage"]),
        block(5, WEEK, channel="twitter", sentiment="positive"),
        block(4, WEEK, channel="call_center", sentiment="negative", topics=["Billing"], url=None),
        block(1, WEEK, channel="call_center", sentiment="neutral", url=None),
    )
    prev = f.concat(
        block(5, PREV, channel="twitter", sentiment="negative", topics=["Baggage"]),
        block(5, PREV, channel="twitter", sentiment="neutral"),
    )
    return summary(cur, prev, topics={"Baggage": ["bag"], "Billing": ["refund"]})


def test_kpis_and_their_changes(known: Summary) -> None:
    v, neg, net, comp = known.kpis
    assert (v.value, v.display) == (20, "20")
    assert v.vs_previous is not None
    assert (v.vs_previous.previous, v.vs_previous.pct, v.vs_previous.display) == (10, 100.0, "+100%")
    assert (v.vs_previous.direction, v.vs_previous.tone) == ("up", "neutral")  # more volume is neither
    assert (neg.value, neg.display) == (70.0, "70%")
    assert neg.vs_previous is not None
    assert (neg.vs_previous.delta, neg.vs_previous.display, neg.vs_previous.tone) == (20.0, "+20 pts", "bad")
    assert neg.vs_previous.previous_display == "50%"
    assert (net.value, net.display) == (-45.0, "-45")  # (5 - 14) / 20
    assert net.vs_previous is not None
    assert (net.vs_previous.display, net.vs_previous.direction) == ("+5 pts", "up")
    assert net.vs_previous.tone == "good"
    assert (comp.value, comp.display) == (14, "14")
    assert comp.vs_previous is not None
    assert (comp.vs_previous.display, comp.vs_previous.tone, comp.vs_previous.arrow) == ("+180%", "bad", "▲")
    assert (known.negative, known.neutral, known.positive) == (14, 1, 5)
    assert v.vs_year_ago is None and known.year_ago_label is None


def test_headline_names_the_biggest_change_and_its_driver(known: Summary) -> None:
    assert known.headline == "Complaints rose 180% to 14, driven by Baggage; negative share 70% (+20 pts)."
    assert known.has_previous and not known.empty


def test_channel_table(known: Summary) -> None:
    rows = known.channels.rows
    assert [(r.channel, r.label, r.volume, r.negative, r.negative_share_display) for r in rows] == [
        ("twitter", "Twitter", 15, 10, "67%"),
        ("call_center", "Call center", 5, 4, "80%"),
    ]
    assert rows[0].change is not None and rows[0].change.display == "+50%"
    assert rows[1].change is not None and rows[1].change.display == "new"
    assert known.channels.more == 0 and known.filter_note == ""


def test_complaint_topics(known: Summary) -> None:
    rows = known.topics.rows
    assert [(t.name, t.count, t.share_display) for t in rows] == [
        ("Baggage", 10, "71%"), ("Billing", 4, "29%")]
    assert rows[0].change is not None and rows[0].change.display == "+100%" and rows[0].change.tone == "bad"
    assert rows[1].change is not None and rows[1].change.display == "new"
    assert known.uncategorized_complaints == 0
    assert rows[0].quote is not None and rows[0].quote.url and rows[0].quote.channel == "twitter"
    assert rows[1].quote is not None and rows[1].quote.url is None  # call center: no link


def test_trend_buckets_sum_to_volume(known: Summary) -> None:
    buckets = known.trend.buckets
    assert known.trend.grain == "day" and len(buckets) == 7
    assert [b.label for b in buckets] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert sum(b.total for b in buckets) == 20 and sum(b.negative for b in buckets) == 14
    assert known.trend.peak is not None
    assert max(b.negative_px + b.neutral_px + b.positive_px for b in buckets) <= known.trend.height + 2


def test_praise_and_lists(known: Summary) -> None:
    assert (known.praise.count, known.praise.share_display) == (5, "25%")
    assert known.praise.change is not None and known.praise.change.display == "new"
    assert known.praise.change.tone == "good"
    # the factory writes every text from one template ("negative mention N on CHANNEL"): a list shows one
    # quote per wording, whatever the number in it (tests/test_quotes.py has lists of distinct texts)
    assert known.most_negative.total == 14
    shown = [word_set(q.text) for q in known.most_negative.rows]
    assert 1 <= len(shown) <= 5
    assert not any(near_duplicate(a, b) for i, a in enumerate(shown) for b in shown[i + 1:])
    assert known.most_influential.total == 0  # every factory mention has influence 0


def test_first_period_without_previous_data() -> None:
    cur = block(4, WEEK, sentiment=["negative", "positive"])
    s = summary(cur, f.empty())
    assert not s.has_previous
    assert all(k.vs_previous is None for k in s.kpis)
    assert s.headline == ("4 mentions in Week 47 (16–22 Nov 2026), 50% negative, 2 complaints; "
                          "no mentions in Week 46 (9–15 Nov 2026) to compare with.")
    assert all(r.change is None for r in s.channels.rows)


@pytest.mark.parametrize("prev_n", [0, 10])
def test_empty_current_window(prev_n: int) -> None:
    s = summary(f.empty(), block(prev_n, PREV))
    assert s.empty and s.volume.value == 0 and s.negative_share.display == "–"
    expected = "No mentions were collected for Week 47 (16–22 Nov 2026)"
    if prev_n:
        expected += " (after 10 mentions in Week 46 (9–15 Nov 2026))"
    assert s.headline == expected + "."
    assert sum(b.total for b in s.trend.buckets) == 0 and s.trend.peak is None
    assert not s.topics.rows and not s.most_negative.rows and s.praise.count == 0


def test_a_bare_dataframe_means_no_mentions() -> None:
    s = summary(pd.DataFrame(), pd.DataFrame())
    assert s.empty and len(s.trend.buckets) == 7


def test_empty_headline_mentions_failing_sources() -> None:
    health = [SourceHealth("Feed", "twitter", NOW, None, "timeout", 2, 0)]
    s = summary(f.empty(), f.empty(), health=health)
    assert s.headline == ("No mentions were collected for Week 47 (16–22 Nov 2026); "
                          "1 of 1 source had problems.")


def test_steady_volume_headline() -> None:
    cur, prev = block(20, WEEK, sentiment="neutral"), block(20, PREV, sentiment="neutral")
    s = summary(cur, prev)
    assert s.headline == ("Mentions steady at 20 (no change on Week 46 (9–15 Nov 2026)); "
                          "negative share 0% (no change).")
    assert s.volume.vs_previous is not None and s.volume.vs_previous.display == "no change"
    assert s.volume.vs_previous.arrow == "="


def test_steady_headline_gives_the_volume_change_not_the_complaints_one() -> None:
    """Complaints moved most (+4%: 26 from 25) but under 5%: the headline's change is the volume's (+0.8%,
    as its tile says), not the complaints' (seen: "Mentions steady at 248 (+4% ...)" beside a +0.8% tile)."""
    cur = f.concat(block(26, WEEK, sentiment="negative"), block(100, WEEK, sentiment="positive"))
    prev = f.concat(block(25, PREV, sentiment="negative"), block(100, PREV, sentiment="positive"))
    s = summary(cur, prev)
    assert s.volume.vs_previous is not None and s.volume.vs_previous.display == "+0.8%"
    assert s.headline.startswith("Mentions steady at 126 (+0.8% on Week 46 (9–15 Nov 2026)); negative share 21%")


def test_volume_headline_names_the_channel_that_moved() -> None:
    cur = f.concat(block(25, WEEK, channel="twitter"), block(5, WEEK, channel="reddit"))
    prev = f.concat(block(10, PREV, channel="twitter"), block(10, PREV, channel="reddit"))
    s = summary(cur, prev)
    assert s.headline == "Mentions rose 50% to 30, mostly on Twitter; negative share 0% (no change)."


def test_falling_complaints_headline() -> None:
    cur = f.concat(block(5, WEEK, sentiment="negative", topics=["Baggage"]), block(15, WEEK))
    prev = f.concat(block(8, PREV, sentiment="negative", topics=["Baggage"]),
                    block(2, PREV, sentiment="negative", topics=["Delays"]), block(10, PREV))
    s = summary(cur, prev)
    assert s.headline == "Complaints fell 50% to 5, most of all in Baggage; negative share 25% (-25 pts)."
    assert s.complaints.vs_previous is not None and s.complaints.vs_previous.tone == "good"
    # a topic that went to zero is not a row (nothing to quote) but still counted as moved
    assert [t.name for t in s.topics.rows] == ["Baggage"]


@pytest.mark.parametrize(("day", "hours", "first_tick"), [("2026-03-08", 23, 5), ("2026-11-01", 25, 7),
                                                         ("2026-11-16", 24, 6)])
def test_daily_trend_has_one_bucket_per_real_hour(day: str, hours: int, first_tick: int) -> None:
    at = datetime.fromisoformat(day).replace(tzinfo=TZ) + timedelta(days=1, hours=12)
    w = periods.last_complete("daily", at, TZ)
    # one mention in the middle of every real hour: each bucket must hold exactly one
    cur = block(hours, w)
    s = summary(cur, f.empty(), window=w)
    assert s.trend.grain == "hour" and len(s.trend.buckets) == hours
    assert [b.total for b in s.trend.buckets] == [1] * hours
    # the 00-05 label spans the real hours before 06:00: 5 when 02:00 is skipped, 7 when 01:00 repeats
    assert s.trend.buckets[0].label == "00" and s.trend.ticks[0] == ("00", first_tick)


def test_hourly_bucket_is_local_time() -> None:
    w = periods.last_complete("daily", NOW, TZ)  # Mon 23 Nov 2026, EST
    at = w.start + timedelta(hours=14, minutes=30)
    s = summary(block(1, w, at=at), f.empty(), window=w)
    hit = [b for b in s.trend.buckets if b.total]
    assert [b.label for b in hit] == ["14"] and hit[0].title == "Mon 23 Nov 14:00 EST"


@pytest.mark.parametrize(("period", "at", "n_buckets", "first_label"), [
    ("monthly", "2026-12-03", 30, "1"),
    ("quarterly", "2026-10-02", 14, "1 Jul"),
    ("annual", "2027-01-05", 12, "Jan"),
])
def test_trend_grain(period: Period, at: str, n_buckets: int, first_label: str) -> None:
    w = periods.last_complete(period, datetime.fromisoformat(at).replace(tzinfo=TZ), TZ)
    cur = f.random_mentions(500, w.start_utc, w.end_utc, seed=4)
    s = summary(cur, f.empty(), window=w)
    assert len(s.trend.buckets) == n_buckets and s.trend.buckets[0].label == first_label
    assert sum(b.total for b in s.trend.buckets) == 500
    assert sum(span for _, span in s.trend.ticks) == n_buckets


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(period=st.sampled_from(periods.PERIODS), n=st.integers(0, 400), seed=st.integers(0, 10_000),
       day=st.dates(datetime(2024, 1, 1).date(), datetime(2030, 12, 31).date()))
def test_trend_always_accounts_for_every_mention(period: Period, n: int, seed: int, day: object) -> None:
    at = datetime.fromisoformat(str(day)).replace(tzinfo=TZ)
    w = periods.last_complete(period, at, TZ)
    cur = f.random_mentions(n, w.start_utc, w.end_utc, seed=seed)
    s = summarize(cur, f.empty(), w, periods.previous(w), brand="Acme", now=at)
    assert len(s.trend.buckets) == len(periods.buckets(w))
    assert sum(b.total for b in s.trend.buckets) == n == s.volume.value
    assert sum(b.negative for b in s.trend.buckets) == s.negative


def test_mentions_outside_the_window_are_ignored() -> None:
    cur = f.concat(block(3, WEEK), block(2, PREV))  # a caller that fetched too much
    assert summary(cur, f.empty()).volume.value == 3


def test_channel_filter() -> None:
    cur = f.concat(block(6, WEEK, channel="twitter"), block(4, WEEK, channel="reddit"))
    s = summary(cur, f.empty(), channels=["twitter", "call_center"])
    assert s.volume.value == 6
    assert s.filter_note == "Filtered to: Twitter, Call center"
    assert [(r.label, r.volume) for r in s.channels.rows] == [("Twitter", 6), ("Call center", 0)]
    assert s.channels_filter == ("twitter", "call_center")


def test_caps_count_what_they_leave_out() -> None:
    things = "bag seat meal refund app gate lounge crew wifi fee booking upgrade".split()
    cur = f.concat(*(block(1, WEEK, channel=f"c{i:02d}", sentiment="negative", topics=[f"T{i:02d}"],
                           text=[f"the {things[i]} was a disaster"]) for i in range(12)))
    s = summary(cur, f.empty())
    assert (len(s.channels.rows), s.channels.more, s.channels.total) == (MAX_CHANNELS, 2, 12)
    assert (len(s.topics.rows), s.topics.more) == (MAX_TOPICS, 4)
    assert (len(s.most_negative.rows), s.most_negative.more) == (5, 7)


def test_configured_topics_restrict_the_complaint_table() -> None:
    cur = f.concat(block(3, WEEK, sentiment="negative", topics=[["Baggage", "Baggage"], ["Crew"], []]))
    s = summary(cur, f.empty(), topics={"Baggage": ["bag"]})
    assert [(t.name, t.count) for t in s.topics.rows] == [("Baggage", 1)]  # counted once per complaint
    assert s.uncategorized_complaints == 2


def test_representative_quote_is_the_most_negative_complaint() -> None:
    cur = block(3, WEEK, sentiment="negative", topics=["Baggage"], score=[-0.2, -0.9, -0.5],
                text=["mild", "furious", "annoyed"], influence=[100.0, 1.0, 5.0])
    s = summary(cur, f.empty())
    quote = s.topics.rows[0].quote
    assert quote is not None and quote.text == "furious"
    assert [q.text for q in s.most_negative] == ["furious", "annoyed", "mild"]
    assert [q.text for q in s.most_influential] == ["mild", "annoyed", "furious"]
    assert s.most_influential.rows[0].influence_display == "100 reach"


def test_quotes_are_one_clean_line_with_safe_links() -> None:
    long = "first line\r\nsecond\tline \u202e " + "word " * 100
    cur = block(3, WEEK, sentiment="negative", text=[long, "short", "x"],
                url=["javascript:alert(1)", "https://ok.example/p?a=1&b=2", None], author="eve\r\nBcc: x")
    quotes = {q.id: q for q in summary(cur, f.empty()).most_negative}
    q1, q2, q3 = quotes[1], quotes[2], quotes[3]
    assert len(q1.text) <= QUOTE_CHARS and q1.text.endswith("word…")
    assert q1.text.startswith("first line second line word")
    assert not any(c in q1.text + q1.author for c in "\r\n\t\u202e")
    assert q1.author == "eve Bcc: x"
    assert (q1.url, q2.url, q3.url) == (None, "https://ok.example/p?a=1&b=2", None)


def test_to_quotes_shows_local_time() -> None:
    cur = block(1, WEEK, at=datetime(2026, 11, 17, 19, 5, tzinfo=UTC))
    (q,) = to_quotes(cur, TZ)
    assert q.when == "Tue 17 Nov 14:05" and q.published.tzinfo == TZ


def test_praise_topics_match_whole_words_or_the_topics_column() -> None:
    cur = block(5, WEEK, sentiment="positive",
                text=["The CREW was great", "I got screwed", "crew!!", "nice lounge", "left early"],
                topics=[[], [], [], [], ["Punctuality"]])
    s = summary(cur, f.empty(),
                praise_topics={"Crew": ["crew"], "Lounge": ["lounge"], "Punctuality": ["on time"]})
    assert [(t.name, t.count) for t in s.praise.topics] == [("Crew", 2), ("Lounge", 1), ("Punctuality", 1)]
    assert len(s.praise.quotes.rows) == 3 and s.praise.quotes.total == 5


def test_year_ago_comparison() -> None:
    q = periods.last_complete("quarterly", NOW, TZ)  # Q3 2026
    ya = periods.year_before(q)
    s = summarize(block(20, q), block(10, periods.previous(q)), q, periods.previous(q),
                  year_ago=block(16, ya), year_ago_window=ya, brand="Acme", now=NOW)
    assert s.year_ago_label == "Q3 2025"
    assert s.volume.vs_year_ago is not None
    assert (s.volume.vs_year_ago.display, s.volume.vs_year_ago.against) == ("+25%", "Q3 2025")
    assert s.volume.vs_previous is not None and s.volume.vs_previous.display == "+100%"


def test_data_health() -> None:
    health = [
        SourceHealth("Twitter", "twitter", NOW, NOW - timedelta(hours=1), None, 0, 10),
        SourceHealth("Reddit", "reddit", NOW, NOW - timedelta(days=3), "HTTP 503\r\nServer: x", 3, 0),
        SourceHealth("Calls", "call_center", NOW - timedelta(hours=30), NOW - timedelta(hours=30), None, 0,
                     4),
        SourceHealth("News", "news", None, None, None, 0, 0),
    ]
    s = summary(f.empty(), f.empty(), health=health).health
    assert (s.total, s.ok, s.complete) == (4, 1, False)
    assert [(r.name, r.status, r.detail) for r in s.problems] == [
        ("Reddit", "failed", "failed 3 times in a row (HTTP 503 Server: x); last success 3 days ago"),
        ("Calls", "stale", "no successful fetch for 30 h"),
        ("News", "stale", "never fetched successfully"),
    ]
    assert s.sentence == ("3 of 4 sources had problems, so figures for Call center, News, Reddit "
                          "may be incomplete.")
    filtered = summary(f.empty(), f.empty(), health=health, channels=["twitter"]).health
    assert (filtered.total, filtered.complete) == (1, True)
    assert filtered.sentence == "All 1 source fetched normally in the last 24 h."
    assert summary(f.empty(), f.empty()).health.sentence.startswith("No source status was recorded")


def test_plain_line_and_channel_label() -> None:
    assert plain_line("a\r\nb\x00c\ud800 d", 50) == "a b c d"
    assert plain_line("one two three", 9) == "one two…"
    assert channel_label("call_center") == "Call center"
    assert channel_label("my-forum") == "My forum"


def test_spike_properties() -> None:
    start = datetime(2026, 11, 24, 14, tzinfo=TZ)
    spike = Spike("Acme", start, start + timedelta(hours=1), negative=84, baseline_per_hour=20.0)
    assert spike.ratio == pytest.approx(4.2) and spike.ratio_display == "4.2×"
    assert spike.summary_line == ("84 negative mentions in 1 h, 4.2× the usual 20 "
                                  "(Tue 24 Nov 14:00–15:00 EST).")
    fresh = Spike("Acme", start, start + timedelta(minutes=30), negative=5, baseline_per_hour=0.0)
    assert fresh.ratio_display == "new" and "usually none" in fresh.summary_line


# -- discovered phrases (digest.analysis.phrases) -------------------------------------------------------------------


def test_emerging_complaint_phrase_with_example() -> None:
    cur = f.concat(
        block(30, WEEK, sentiment="negative",
              text=[f"they lost my luggage at the gate again {i}" for i in range(30)]),
        block(10, WEEK, sentiment="negative", text=[f"the flight was late {i}" for i in range(10)]),
    )
    prev = block(30, PREV, sentiment="negative", text=[f"the flight was late {i}" for i in range(30)])
    s = summary(cur, prev)
    hits = [p for p in s.emerging if "luggage" in p.text]
    assert hits, [p.text for p in s.emerging]
    assert hits[0].growth == "new" and hits[0].quote is not None and "luggage" in hits[0].quote.text
    assert not any(p.emerging and "late" in p.text for p in s.phrases)


def test_brand_is_never_a_complaint_phrase() -> None:
    cur = block(40, WEEK, sentiment="negative", text=[f"Acme Air lost my bag {i}" for i in range(40)])
    s = summary(cur, f.empty())
    assert s.phrases.rows
    assert all(p.text.casefold() not in ("acme", "air", "acme air") for p in s.phrases)


def test_phrases_are_sampled_on_large_volumes() -> None:
    n = PHRASE_SAMPLE + 1000
    cur = f.random_mentions(n, WEEK.start_utc, WEEK.end_utc, sentiment_weights=(1.0, 0.0, 0.0),
                            complaint_rate=1.0)
    s = summary(cur, f.empty())
    assert s.phrases_note == f"from a sample of {PHRASE_SAMPLE:,} of {n:,} complaints"
    assert all(p.count_display.startswith("≈") for p in s.phrases)


def test_hundred_thousand_mentions_are_summarized() -> None:
    """Speed is bench/bench_summarize.py's business; the bound here (20x a slow machine) only catches a hang."""
    cur = f.random_mentions(100_000, WEEK.start_utc, WEEK.end_utc, seed=1)
    prev = f.random_mentions(80_000, PREV.start_utc, PREV.end_utc, seed=2)
    started = time.perf_counter()
    s = summary(cur, prev, topics={"Baggage": [], "Delays": []}, praise_topics={"Crew": ["crew"]})
    elapsed = time.perf_counter() - started
    assert s.volume.value == 100_000
    assert elapsed < 60, f"summarize took {elapsed:.2f}s"


def test_a_topic_quote_is_mainly_about_its_topic() -> None:
    # the most negative complaint names both topics: each topic shows one about it alone
    cur = block(3, WEEK, sentiment="negative", topics=[["Baggage", "Billing"], ["Baggage"], ["Billing"]],
                score=[-0.9, -0.5, -0.4], text=["both", "bag only", "bill only"])
    quotes = {t.name: t.quote.text for t in summary(cur, f.empty()).topics if t.quote}
    assert quotes == {"Baggage": "bag only", "Billing": "bill only"}


def test_topics_do_not_repeat_a_quote_nor_a_copy_of_it() -> None:
    cur = block(3, WEEK, sentiment="negative", topics=[["Baggage", "Billing"]] * 3, score=[-0.9, -0.8, -0.4],
                text=["Lost my bag and was charged twice for it, flight 12",
                      "Lost my bag and was charged twice for it, flight 99", "Billed for a bag that never came"])
    quotes = {t.name: t.quote.text for t in summary(cur, f.empty()).topics if t.quote}
    assert quotes == {"Baggage": "Lost my bag and was charged twice for it, flight 12",
                      "Billing": "Billed for a bag that never came"}
