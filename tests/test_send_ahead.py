"""Issue 19 item 2: a digest of a period that has not ended is refused (the preview stays free), and a
digest sent out of order never hides the ones that fall due before it. The clock is injected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest import pipeline
from digest.config import Config
from digest.errors import UsageError
from digest.mailer import OutboxMailer
from digest.periods import Period
from digest.render import Templates
from digest.store import Store

from .conftest import run_cli
from .helpers_cadence import fill, generate, write_config

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 4, 15, 10, tzinfo=NY)  # a Wednesday; ceo's send_at is 07:00 New York
CEO = "ceo@acme.example"
TEMPLATES = Templates()


def ny(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=NY)


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[tuple[Config, Store, OutboxMailer]]:
    store = Store.open(db_url)
    fill(store, generate(date(2026, 3, 1), date(2026, 4, 30)))
    try:
        yield write_config(tmp_path), store, OutboxMailer(tmp_path / "outbox")
    finally:
        store.close()


def sent(store: Store, who: str, prefix: str) -> dict[str, str]:
    return store.delivery_states(who, prefix)


@pytest.mark.parametrize(("period", "at", "message"), [
    # the week of 13-19 April is the last complete one before the 21st, but on the 15th it is still going on
    ("weekly", ny(2026, 4, 21), "weekly 2026-W16 has not ended yet (it ends 2026-04-20 00:00 America/New_York, "
                                f"for {CEO}): nothing sent; `digest preview` with the same --date shows it so far"),
    ("daily", date(2026, 4, 16), "daily 2026-04-15 has not ended yet (it ends 2026-04-16 00:00 America/New_York"),
    ("monthly", date(2027, 3, 1), "monthly 2027-02 has not ended yet (it ends 2027-03-01 00:00"),
])
def test_a_period_not_over_is_refused_and_nothing_is_recorded(
        setup: tuple[Config, Store, OutboxMailer], period: Period, at: datetime | date, message: str) -> None:
    config, store, mailer = setup
    with pytest.raises(UsageError) as refused:
        pipeline.send_period(config, store, mailer, period, at=at, templates=TEMPLATES, to=CEO, now=NOW)
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
    assert sent(store, CEO, f"{period}:") == {}
    assert not mailer.directory.exists() or not any(mailer.directory.iterdir())
    # looking ahead without sending is free: --dry-run records nothing
    dry = pipeline.send_period(config, store, mailer, period, at=at, templates=TEMPLATES, to=CEO, now=NOW,
                               dry_run=True)
    assert [d.status for d in dry] == ["dry-run"]


def test_a_period_that_ended_is_sent_even_before_it_is_due(setup: tuple[Config, Store, OutboxMailer]) -> None:
    config, store, mailer = setup
    early = ny(2026, 4, 15, 3)  # yesterday is over, its digest falls due at 07:00
    out = pipeline.send_period(config, store, mailer, "daily", at=early, templates=TEMPLATES, to=CEO, now=early)
    assert [(d.window.key, d.status) for d in out] == [("daily:2026-04-14", "sent")]


@pytest.mark.parametrize(("period", "ahead", "due"), [
    ("weekly", "weekly:2027-W08", ["weekly:2026-W15"]),  # the case: a --date in 2027, before the fix
    ("daily", "daily:2026-04-15", ["daily:2026-04-14"]),  # --date tomorrow: today's partial day
    ("monthly", "monthly:2026-04", ["monthly:2026-03"]),
])
def test_a_digest_sent_ahead_does_not_hide_what_falls_due(setup: tuple[Config, Store, OutboxMailer], period: Period,
                                                         ahead: str, due: list[str]) -> None:
    """A window sent out of order (as --date in the future did) is not the high-water mark of what was sent."""
    config, store, mailer = setup
    first = NOW - timedelta(days=60)
    store.setdefault_meta(pipeline.INSTALLED_AT, first.astimezone(UTC).isoformat())
    token = store.claim_delivery(CEO, ahead, now=first)
    assert token is not None
    store.finish_delivery(CEO, ahead, token, now=first, message_id="<ahead@acme.example>")
    ceo = config.find_recipient(CEO)
    assert ceo is not None
    out = pipeline.send_due(config, store, mailer, now=NOW, templates=TEMPLATES, period=period, only=[ceo])
    assert [(d.window.key, d.status) for d in out] == [(k, "sent") for k in due]
    # and the next windows follow as they fall due, up to the one sent ahead
    later = pipeline.send_due(config, store, mailer, now=NOW + timedelta(days=1), templates=TEMPLATES,
                              period=period, only=[ceo])
    if period == "daily":
        assert later == []  # the 15th was sent ahead: not twice
    assert all(d.status == "sent" for d in later)


def test_send_with_a_future_date_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(tmp_path)
    ahead = (datetime.now(UTC) + timedelta(days=40)).date()
    r = run_cli(capsys, "--config", str(tmp_path), "send", "monthly", "--date", ahead.isoformat(), "--to", CEO)
    assert r.code == 2, r.out + r.err
    [line] = r.err.splitlines()
    assert line.startswith("digest: monthly ") and "has not ended yet (it ends " in line
    assert not (tmp_path / "outbox").exists()
    preview = run_cli(capsys, "--config", str(tmp_path), "preview", "monthly", "--date", ahead.isoformat(),
                      "--format", "text")
    assert preview.code == 0, preview.err
