"""The "still unanswered" alert (issue 16): influential addressed complaints nobody answered in time go to the
alert recipients once, against a real store (SQLite and PostgreSQL) and a real SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.alerts import check_alerts
from digest.config import load_config, smtp_settings
from digest.errors import ConfigError
from digest.mailer import SmtpMailer
from digest.models import BRAND, Classification, Mention, OrgPost
from digest.render import Templates
from digest.store import Store

from .conftest import SmtpServer, run_cli

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
COMPLAINT = Classification("negative", -0.6, True, (), -0.9)
NOT_COMPLAINT = Classification("positive", 0.6, False, (), 0.8)

SOURCES = """\
brand: {name: Acme Air, keywords: [acme], accounts: [AcmeAir]}
timezone: Europe/London
sources:
  - {name: care, kind: feed, url: feed.xml, channel: twitter}
competitors:
  - {name: Globex, keywords: [globex], accounts: [Globex]}
alerts:
  recipients: [ceo@acme.example, coo@acme.example]
  unanswered_after_hours: 4
  unanswered_min_reach: 1000
"""
RECIPIENTS = """\
sender: "Customer Voice <digest@acme.example>"
recipients:
  - {name: Dana, email: dana@acme.example}
"""


def mention(ident: str, at: datetime, *, reach: float = 50_000, org: str = BRAND, text: str = "") -> Mention:
    return Mention("care", "twitter", ident, f"https://x.example/s/{ident}?a=1&b=2", "",
                   text or f"@AcmeAir lost my bag on flight {ident}, nobody replies", f"flyer{ident}", at, reach,
                   scope="care", addressed_to=(org,))


def answer(ident: str, at: datetime, to: str, org: str = BRAND) -> OrgPost:
    return OrgPost(org, Mention("care", "twitter", ident, None, "", f"answer {ident}", "AcmeAir", at,
                                reply_to=to, scope="care"))


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> tuple[Path, Store]:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    (tmp_path / "recipients.yaml").write_text(RECIPIENTS)
    return tmp_path, Store.open(db_url)


def test_only_influential_overdue_unanswered_brand_complaints_alert_once(setup: tuple[Path, Store],
                                                                       smtp_server: SmtpServer) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    h = timedelta(hours=1)
    store.add_mentions([
        (mention("late", NOW - 6 * h, text="@AcmeAir lost my bag on flight late <b>&</b> nobody replies"), COMPLAINT),
        (mention("answered", NOW - 6 * h), COMPLAINT),   # answered within the limit
        (mention("small", NOW - 6 * h, reach=999), COMPLAINT),  # below the reach
        (mention("fresh", NOW - 3 * h), COMPLAINT),      # not overdue yet
        (mention("after", NOW - 6 * h), COMPLAINT),      # answered after the limit, before the check
        (mention("praise", NOW - 6 * h, text="@AcmeAir flight praise was lovely"), NOT_COMPLAINT),
        (mention("rival", NOW - 6 * h, org="Globex"), COMPLAINT),  # addressed to a competitor
        (mention("old", NOW - 4 * h - timedelta(days=8)), COMPLAINT),  # older than the lookback
    ], fetched=NOW)
    store.add_posts([answer("a1", NOW - 5 * h, "answered"), answer("a2", NOW - timedelta(minutes=30), "after")],
                    fetched=NOW)
    templates = Templates()
    first = check_alerts(config, store, mailer, now=NOW, templates=templates)
    assert first.spike is None and sorted(first.unanswered_sent) == ["ceo@acme.example", "coo@acme.example"]
    assert len(smtp_server.messages) == 2
    msg = smtp_server.messages[0]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "flight late" in text and "flight late" in html
    for other in ("answered", "small", "fresh", "after", "praise", "rival", "old"):
        assert f"flight {other}" not in text and f"flight {other}" not in html, other
    assert "<b>&</b>" not in html and "&lt;b&gt;&amp;&lt;/b&gt;" in html
    assert 'href="https://x.example/s/late?a=1&amp;b=2"' in html and "https://x.example/s/late?a=1&b=2" in text
    assert "50k reach" in text and "waiting 6 h" in text and "flyerlate" in text
    assert "1 complaint waiting over 4 h" in str(msg["Subject"]) and msg["Auto-Submitted"] == "auto-generated"
    # the next check: nothing new is overdue, nobody is mailed again
    again = check_alerts(config, store, mailer, now=NOW + timedelta(minutes=10), templates=templates)
    assert again.unanswered_sent == () and again.overdue == () and len(smtp_server.messages) == 2
    # two hours later the fresh one is overdue: it alone goes
    later = check_alerts(config, store, mailer, now=NOW + 2 * h, templates=templates)
    assert sorted(later.unanswered_sent) == ["ceo@acme.example", "coo@acme.example"]
    text = smtp_server.messages[-1].get_body(("plain",)).get_content()
    assert "flight fresh" in text and "flight late" not in text


def test_a_failed_send_is_retried_next_check_and_others_not_repaged(setup: tuple[Path, Store],
                                                                   smtp_server: SmtpServer) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    store.add_mentions([(mention("late", NOW - timedelta(hours=5)), COMPLAINT)], fetched=NOW)
    smtp_server.fail_with = "451 4.3.0 busy"
    failed = check_alerts(config, store, mailer, now=NOW, templates=Templates())
    assert len(failed.unanswered_failed) == 2 and failed.unanswered_sent == ()
    smtp_server.fail_with = None
    retry = check_alerts(config, store, mailer, now=NOW + timedelta(minutes=5), templates=Templates())
    assert sorted(retry.unanswered_sent) == ["ceo@acme.example", "coo@acme.example"]
    assert len(smtp_server.messages) == 2
    done = check_alerts(config, store, mailer, now=NOW + timedelta(minutes=10), templates=Templates())
    assert done.unanswered_sent == () and len(smtp_server.messages) == 2


def test_dry_run_sends_nothing_and_says_what_would_go(setup: tuple[Path, Store], smtp_server: SmtpServer) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    store.add_mentions([(mention("late", NOW - timedelta(hours=5)), COMPLAINT)], fetched=NOW)
    dry = check_alerts(config, store, mailer, now=NOW, templates=Templates(), dry_run=True)
    assert [addr for addr, _ in dry.overdue] == ["ceo@acme.example", "coo@acme.example"]
    assert dry.unanswered_sent == () and smtp_server.messages == [] and "would go" in dry.note
    real = check_alerts(config, store, mailer, now=NOW, templates=Templates())
    assert len(real.unanswered_sent) == 2


def test_min_reach_zero_alerts_every_addressed_complaint(setup: tuple[Path, Store], smtp_server: SmtpServer
                                                         ) -> None:
    cfg_dir, store = setup
    (cfg_dir / "sources.yaml").write_text(SOURCES.replace("unanswered_min_reach: 1000", "unanswered_min_reach: 0"))
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    store.add_mentions([(mention("small", NOW - timedelta(hours=5), reach=0), COMPLAINT)], fetched=NOW)
    out = check_alerts(config, store, mailer, now=NOW, templates=Templates())
    assert len(out.unanswered_sent) == 2


@pytest.mark.parametrize(("line", "where"), [
    ("unanswered_after_hours: 0", "unanswered_after_hours"),
    ("unanswered_after_hours: 721", "unanswered_after_hours"),
    ("unanswered_after_hours: soon", "unanswered_after_hours"),
    ("unanswered_min_reach: -1", "unanswered_min_reach"),
])
def test_config_errors_are_located(tmp_path: Path, line: str, where: str) -> None:
    key = line.split(":")[0]
    body = "\n".join(ln for ln in SOURCES.splitlines() if not ln.strip().startswith(key)) + f"\n  {line}\n"
    (tmp_path / "sources.yaml").write_text(body)
    (tmp_path / "recipients.yaml").write_text(RECIPIENTS)
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert "sources.yaml" in str(err.value) and f"alerts.{where}" in str(err.value)


def test_alert_command_reports_unanswered(setup: tuple[Path, Store], smtp_server: SmtpServer,
                                         capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """`digest check` accepts the fields; `digest alert --dry-run` lists what would go, `digest alert` sends it
    and says so in its summary, once."""
    cfg_dir, store = setup
    now = datetime.now(UTC)
    store.add_mentions([(mention("late", now - timedelta(hours=5)), COMPLAINT)], fetched=now)
    (mid,) = [u.id for u in store.overdue_complaints(BRAND, now=now, after_hours=4, min_reach=1000)]
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    db = store.url.render_as_string(hide_password=False)
    r = run_cli(capsys, "--config", str(cfg_dir), "check")
    assert r.code == 0, r.err + r.out
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", db, "alert", "--dry-run")
    assert r.code == 0, r.err
    assert f"unanswered → ceo@acme.example: mention {mid} (twitter, 50,000 reach" in r.out
    assert "1 unanswered complaint would go to 2 recipients" in r.out and smtp_server.messages == []
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", db, "alert")
    assert r.code == 0, r.err
    assert r.out.strip().endswith("alerts: 0 sent, 0 failed, unanswered 2 sent, 0 failed · no spike")
    assert len(smtp_server.messages) == 2
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", db, "alert")
    assert r.out.strip().endswith("alerts: 0 sent, 0 failed · no spike") and len(smtp_server.messages) == 2


def test_run_quiet_says_the_unanswered_alerts_in_its_one_line(setup: tuple[Path, Store], smtp_server: SmtpServer,
                                                             capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """`digest -q run` (cron) ingests, sends what is due and checks alerts: its one summary line counts the
    unanswered alerts, which go to the alert recipients once."""
    cfg_dir, store = setup
    (cfg_dir / "feed.xml").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>care</title>'
                                      "<link>https://x.example/</link><description>d</description></channel></rss>")
    now = datetime.now(UTC)
    store.add_mentions([(mention("late", now - timedelta(hours=5)), COMPLAINT)], fetched=now)
    for key, value in smtp_server.env().items():
        monkeypatch.setenv(key, value)
    db = store.url.render_as_string(hide_password=False)
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", db, "-q", "run")
    assert r.code == 0, r.err + r.out
    assert len(r.out.strip().splitlines()) == 1, r.out
    assert "alerts: 0 sent, 0 failed, unanswered 2 sent, 0 failed" in r.out, r.out
    paged = sorted(rcpt for _, [rcpt] in smtp_server.envelopes if rcpt != "dana@acme.example")
    assert paged == ["ceo@acme.example", "coo@acme.example"]
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", db, "-q", "run")
    assert "unanswered" not in r.out and sorted(
        rcpt for _, [rcpt] in smtp_server.envelopes if rcpt != "dana@acme.example") == paged


def test_serve_alert_job_logs_whom_the_unanswered_went_to(setup: tuple[Path, Store], smtp_server: SmtpServer,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    """`digest serve`'s alert job sends the unanswered alert once and says so in the log, to whom."""
    import logging

    from digest import schedule

    cfg_dir, store = setup
    store.add_mentions([(mention("late", NOW - timedelta(hours=5)), COMPLAINT)], fetched=NOW)
    settings = smtp_settings(smtp_server.env())
    assert settings is not None
    sched = schedule.build_scheduler(load_config(cfg_dir), store, SmtpMailer(settings), templates=Templates(),
                                     clock=lambda: NOW)
    job = sched.get_job("alerts")
    assert job is not None
    with caplog.at_level(logging.WARNING, logger="digest.schedule"):
        job.func()
        job.func()  # once: the second check sends nothing, and says nothing
    said = [r.getMessage() for r in caplog.records if "unanswered" in r.getMessage()]
    assert said == ["unanswered complaints: alerts sent to ceo@acme.example, coo@acme.example"], said
    assert sorted(rcpt for _, [rcpt] in smtp_server.envelopes) == ["ceo@acme.example", "coo@acme.example"]
