"""The store on real SQLite and PostgreSQL: dedup, source health, the delivery ledger under races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from digest.errors import StoreError
from digest.models import Classification, Mention, SourceResult
from digest.periods import window_containing
from digest.store import STALE_CLAIM, Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NEG = Classification("negative", -0.4, True, ("Billing",), -0.8)


def mention(i: int, *, source: str = "feed", url: str | None = None, text: str | None = None) -> Mention:
    return Mention(source, "twitter", f"id-{i}", url if url is not None else f"https://example.com/p/{i}",
                   f"title {i}", text or f"mention number {i} says the refund never arrived at all", "bob",
                   NOW - timedelta(hours=i))


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store.open(db_url)
    yield s  # type: ignore[misc]
    s.close()


def test_mentions_are_stored_once(store: Store) -> None:
    assert store.add_mentions([(mention(i), NEG) for i in range(5)], fetched=NOW) == 5
    assert store.add_mentions([(mention(i), NEG) for i in range(7)], fetched=NOW) == 2
    # same post through another source: same URL (tracking parameters and www. ignored)
    again = mention(1, source="alerts", url="https://www.example.com/p/1?utm_source=x", text="other words here")
    # a repost: same normalized text, other id and url
    repost = mention(99, url="https://other.example/x", text="RT @bob: Mention number 2 says the REFUND never "
                     "arrived at all!")
    assert store.add_mentions([(again, NEG), (repost, NEG)], fetched=NOW) == 0
    assert store.count_mentions() == 7


def test_mentions_dataframe(store: Store) -> None:
    store.add_mentions([(mention(i), NEG) for i in range(3)], fetched=NOW)
    df = store.mentions(NOW - timedelta(hours=1, minutes=30), NOW + timedelta(seconds=1))
    assert sorted(df["external_id"]) == ["id-0", "id-1"]
    assert str(df["published"].dt.tz) == "UTC"
    assert df["topics"].tolist() == [["Billing"], ["Billing"]]
    assert df["complaint"].tolist() == [True, True]
    assert store.mentions(NOW, NOW + timedelta(1), channels=["call_center"]).empty


def test_source_health_counts_consecutive_failures(store: Store) -> None:
    store.record_source(SourceResult("A", "twitter", "ok", items_seen=4, state={"etag": '"x"'}), at=NOW)
    store.record_source(SourceResult("A", "twitter", "error", error="timed out"), at=NOW + timedelta(hours=1))
    store.record_source(SourceResult("A", "twitter", "error", error="404"), at=NOW + timedelta(hours=2))
    [h] = store.health(["A"])
    assert (h.consecutive_failures, h.last_error, h.last_success, h.last_items) == (2, "404", NOW, 4)
    assert store.source_state("A") == {"etag": '"x"'}
    store.record_source(SourceResult("A", "twitter", "ok", items_seen=1), at=NOW + timedelta(hours=3))
    [h] = store.health(["A"])
    assert (h.consecutive_failures, h.last_error) == (0, None)
    [never] = store.health(["B"])
    assert never.last_attempt is None


def test_delivery_claimed_once_then_retried_after_failure(store: Store) -> None:
    token = store.claim_delivery("Ceo@acme.example", "daily:2026-11-22", now=NOW)
    assert token is not None
    assert store.claim_delivery("ceo@acme.example", "daily:2026-11-22", now=NOW) is None  # in flight
    store.finish_delivery("ceo@acme.example", "daily:2026-11-22", token, now=NOW, error="451 try later")
    retry = store.claim_delivery("ceo@acme.example", "daily:2026-11-22", now=NOW)
    assert retry is not None
    store.finish_delivery("ceo@acme.example", "daily:2026-11-22", retry, now=NOW, message_id="<m@x>")
    assert store.delivery_status("ceo@acme.example", "daily:2026-11-22") == "sent"
    assert store.claim_delivery("ceo@acme.example", "daily:2026-11-22", now=NOW) is None
    assert store.claim_delivery("ceo@acme.example", "daily:2026-11-22", now=NOW, resend=True) is not None


def test_stale_claim_of_a_dead_process_is_taken_over(store: Store) -> None:
    assert store.claim_delivery("a@x.example", "weekly:2026-W47", now=NOW) is not None
    assert store.claim_delivery("a@x.example", "weekly:2026-W47", now=NOW + STALE_CLAIM / 2) is None
    assert store.claim_delivery("a@x.example", "weekly:2026-W47", now=NOW + STALE_CLAIM * 2) is not None


def test_racing_claims_give_exactly_one_winner(db_url: str) -> None:
    stores = [Store.open(db_url) for _ in range(6)]
    wins: list[str] = []
    barrier = threading.Barrier(len(stores))

    def claim(s: Store) -> None:
        barrier.wait()
        token = s.claim_delivery("a@x.example", "monthly:2026-10", now=NOW)
        if token:
            wins.append(token)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    for s in stores:
        s.close()


def test_lock_excludes_a_second_holder(db_url: str) -> None:
    a, b = Store.open(db_url), Store.open(db_url)
    with a.lock("ingest") as got_a:
        assert got_a
        with b.lock("ingest", wait=0.3) as got_b:
            assert not got_b
    with b.lock("ingest") as got_b:
        assert got_b
    a.close()
    b.close()


def test_unreachable_store_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(StoreError) as info:
        Store.open("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "cannot open the store" in str(info.value) and "secret" not in str(info.value)
    with pytest.raises(StoreError):
        Store.open("sqlite:////proc/forbidden/x.sqlite3")


# -- a post that several sources deliver --------------------------------------------------------------

def _copy(source: str, channel: str, i: int = 1) -> Mention:
    """The same blog post as one source or another delivers it (its own id and channel, the same link)."""
    return Mention(source, channel, f"{source}-{i}", f"https://blog.example.com/post-{i}", "Post",
                   f"post {i}: the refund never arrived and nobody answers the phone at all", "bob",
                   NOW - timedelta(hours=1))


DAY = window_containing("daily", NOW - timedelta(hours=1), ZoneInfo("UTC"))


def _by_channel(store: Store) -> dict[str, int]:
    counts = store.facts(DAY).counts.groupby("channel")["n"].sum()
    return {str(c): int(n) for c, n in counts.items() if n}


RANK = {"Blog feed": 0, "Google Alerts": 1}


@pytest.mark.parametrize("path", ["add", "seen_again"])
def test_a_post_is_credited_to_the_first_source_in_sources_yaml_whichever_is_stored_first(store: Store,
                                                                                         path: str) -> None:
    assert store.add_mentions([(_copy("Google Alerts", "news"), NEG)], fetched=NOW, rank=RANK) == 1
    assert _by_channel(store) == {"news": 1}
    first = _copy("Blog feed", "blog")
    if path == "add":  # it reaches the store in a later batch
        assert store.add_mentions([(first, NEG)], fetched=NOW, rank=RANK) == 0
    else:  # the ingest saw it is stored already
        assert store.seen([(first, True)]) == [True]
        store.seen_again([(first, True)], rank=RANK)
    [row] = store.mentions(NOW - timedelta(days=1), NOW).to_dict("records")
    assert (row["source"], row["channel"], row["external_id"]) == ("Blog feed", "blog", "Blog feed-1")
    assert _by_channel(store) == {"blog": 1}  # the rollups moved with it: no channel counts it twice
    assert set(store.facts(DAY).ranked["channel"]) == {"blog"}  # and the quote candidates
    assert store.sources_of([row["id"]]) == {row["id"]: ["Blog feed", "Google Alerts"]}
    # seen again later by the second source: the credit stays, nothing is counted twice
    assert store.add_mentions([(_copy("Google Alerts", "news"), NEG)], fetched=NOW, rank=RANK) == 0
    store.seen_again([(_copy("Google Alerts", "news"), True)], rank=RANK)
    assert _by_channel(store) == {"blog": 1}
    assert store.count_mentions() == 1


def test_copies_in_one_batch_are_credited_by_source_order_not_arrival(store: Store) -> None:
    items = [(_copy("Google Alerts", "news", i), NEG) for i in range(3)] + \
            [(_copy("Blog feed", "blog", i), NEG) for i in range(3)]
    assert store.add_mentions(items, fetched=NOW, rank=RANK) == 3
    assert set(store.mentions(NOW - timedelta(days=1), NOW)["source"]) == {"Blog feed"}
    assert _by_channel(store) == {"blog": 3}
    assert all(s == ["Blog feed", "Google Alerts"] for s in store.sources_of(range(1, 10)).values())


def test_without_a_rank_the_copy_stored_first_keeps_the_credit(store: Store) -> None:
    store.add_mentions([(_copy("Google Alerts", "news"), NEG)], fetched=NOW)
    store.add_mentions([(_copy("Blog feed", "blog"), NEG)], fetched=NOW)
    assert list(store.mentions(NOW - timedelta(days=1), NOW)["source"]) == ["Google Alerts"]
    assert _by_channel(store) == {"news": 1}
