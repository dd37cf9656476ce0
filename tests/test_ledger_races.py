"""The delivery ledger raced by real processes (spawned, each with its own store connection) on SQLite and
PostgreSQL: a retry of a digest that already has a ledger row has exactly one winner, and a process whose
claim was taken over cannot finish the delivery with its stale token.

Threads in one interpreter share the GIL and tend to run one after another; separate processes released
by one barrier overlap for real, which is how two cron runs meet.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Barrier
from typing import Any

from digest.store import STALE_CLAIM, Store

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RECIPIENT = "ceo@acme.example"
RACERS = 6
TRIALS = 8
TIMEOUT = 120  # seconds: only catches a hang (a trial takes well under a second)


def _claim_racer(url: str, keys: list[str], barrier: Barrier, out: Any) -> None:
    """In a child process: for each key, wait for every racer, then try to claim it at NOW."""
    store = Store.open(url)
    try:
        for key in keys:
            barrier.wait(TIMEOUT)
            out.put((key, store.claim_delivery(RECIPIENT, key, now=NOW)))
    finally:
        store.close()


def _finisher(url: str, finishes: list[tuple[str, str, str | None, str]], barrier: Barrier) -> None:
    """In a child process: for each (key, token, error, message_id), wait for the other finisher, then finish."""
    store = Store.open(url)
    try:
        for key, token, error, message_id in finishes:
            barrier.wait(TIMEOUT)
            store.finish_delivery(RECIPIENT, key, token, now=NOW, error=error, message_id=message_id)
    finally:
        store.close()


def _run(ctx: Any, target: Any, argss: list[tuple[Any, ...]]) -> None:
    """Start one process per argument tuple, wait for all; a crashed or hung child fails the test."""
    procs = [ctx.Process(target=target, args=args) for args in argss]
    for p in procs:
        p.start()
    for p in procs:
        p.join(TIMEOUT)
    hung = [p for p in procs if p.is_alive()]
    for p in hung:
        p.kill()
        p.join()
    assert not hung, f"{len(hung)} racer(s) hung"
    assert [p.exitcode for p in procs] == [0] * len(procs)


def _row(store: Store, key: str) -> dict[str, Any]:
    [row] = [r for r in store.deliveries() if r["window_key"] == key]
    return row


def test_a_retry_raced_by_processes_has_exactly_one_winner(db_url: str) -> None:
    store = Store.open(db_url)
    keys: list[str] = []
    for trial in range(TRIALS):
        key = f"weekly:2026-W{trial + 10}"
        if trial % 2:  # a failed send, to be retried
            token = store.claim_delivery(RECIPIENT, key, now=NOW - timedelta(hours=1))
            assert token is not None
            store.finish_delivery(RECIPIENT, key, token, now=NOW - timedelta(hours=1), error="451 try later")
            assert store.delivery_status(RECIPIENT, key) == "failed"
        else:  # the claim of a process that died mid-send, stale by now
            assert store.claim_delivery(RECIPIENT, key, now=NOW - STALE_CLAIM * 2) is not None
            assert store.delivery_status(RECIPIENT, key) == "claimed"
        keys.append(key)
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RACERS)
    out = ctx.SimpleQueue()
    _run(ctx, _claim_racer, [(db_url, keys, barrier, out)] * RACERS)
    results: list[tuple[str, str | None]] = [out.get() for _ in range(RACERS * TRIALS)]
    winners = {key: [t for k, t in results if k == key and t is not None] for key in keys}
    assert {key: len(w) for key, w in winners.items()} == {key: 1 for key in keys}
    for key in keys:  # the ledger holds the one winner's claim
        row = _row(store, key)
        assert (row["status"], row["claim"]) == ("claimed", winners[key][0])
    store.close()


def test_a_stale_token_finishes_nothing_after_a_takeover(db_url: str) -> None:
    """The old holder (its claim gone stale, then taken over) finishes -- as failed, or as sent -- alone, then
    at the moment the new holder finishes as sent."""
    store = Store.open(db_url)
    stale = {"monthly:2026-09": "451 try later", "monthly:2026-10": None}  # key -> the old holder's error
    old: dict[str, str] = {}
    new: dict[str, str] = {}
    for key, error in stale.items():
        old_token = store.claim_delivery(RECIPIENT, key, now=NOW - STALE_CLAIM * 2)
        new_token = store.claim_delivery(RECIPIENT, key, now=NOW)
        assert old_token is not None and new_token is not None and old_token != new_token
        old[key], new[key] = old_token, new_token
        # alone first: the stale token changes nothing at all
        before = _row(store, key)
        store.finish_delivery(RECIPIENT, key, old_token, now=NOW, error=error, message_id="<old@x>")
        assert _row(store, key) == before

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    _run(ctx, _finisher, [(db_url, [(k, old[k], e, "<old@x>") for k, e in stale.items()], barrier),
                          (db_url, [(k, new[k], None, "<new@x>") for k in stale], barrier)])
    for key in stale:
        row = _row(store, key)
        assert (row["status"], row["claim"], row["message_id"], row["attempts"]) == ("sent", new[key], "<new@x>", 1)
        assert store.claim_delivery(RECIPIENT, key, now=NOW) is None  # sent once: no retry
    store.close()
