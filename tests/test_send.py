"""`digest send` and `digest run` end to end against a real SMTP server: once, exactly once, even racing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import webbrowser
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.store import Store

from .conftest import SmtpServer, project_db_url, run_cli


@pytest.fixture
def ingested(ingested_project: Path) -> Path:
    return ingested_project


def test_send_daily_twice_sends_once(ingested: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    first = run_cli(capsys, "--config", str(ingested), "send", "daily")
    assert first.code == 0, first.err
    daily_people = ["ceo@acme.example", "service@acme.example"]
    assert sorted(rcpt for _, [rcpt] in smtp_server.envelopes) == daily_people
    assert "2 digests sent, 0 already sent, 0 failed" in first.out
    second = run_cli(capsys, "--config", str(ingested), "send", "daily")
    assert second.code == 0
    assert "0 digests sent, 2 already sent, 0 failed" in second.out
    assert len(smtp_server.messages) == 2
    again = run_cli(capsys, "--config", str(ingested), "send", "daily", "--to", "ceo@acme.example", "--resend")
    assert again.code == 0 and len(smtp_server.messages) == 3
    msg = smtp_server.messages[0]
    assert msg["Auto-Submitted"] == "auto-generated" and msg["List-Id"] and msg["Message-ID"]
    assert "daily" in msg["Subject"].lower()


def test_channel_filter_shapes_the_digest(ingested: Path, smtp_server: SmtpServer,
                                          capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    assert run_cli(capsys, "--config", str(ingested), "send", "weekly").code == 0
    by_to = {m["To"].addresses[0].addr_spec: m for m in smtp_server.messages}
    ceo = by_to["ceo@acme.example"].get_body(("plain",)).get_content()
    service = by_to["service@acme.example"].get_body(("plain",)).get_content()
    assert ceo != service
    assert "Filtered to" in service and "Filtered to" not in ceo


def test_failed_send_is_retried_on_next_run(ingested: Path, smtp_server: SmtpServer,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    smtp_server.fail_with = "451 4.3.0 try again later"
    failed = run_cli(capsys, "--config", str(ingested), "send", "daily")
    assert failed.code == 1
    assert "451 4.3.0 try again later" in failed.out
    smtp_server.fail_with = None
    retry = run_cli(capsys, "--config", str(ingested), "send", "daily")
    assert retry.code == 0 and "2 digests sent" in retry.out
    assert len(smtp_server.messages) == 2


def test_unreachable_smtp_fails_with_exit_1(ingested: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from .conftest import free_port
    monkeypatch.setenv("DIGEST_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DIGEST_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("DIGEST_SMTP_TLS", "none")
    r = run_cli(capsys, "--config", str(ingested), "send", "daily")
    assert r.code == 1 and "connection refused" in r.out and "Traceback" not in r.err


def test_two_concurrent_sends_deliver_exactly_once(ingested: Path, smtp_server: SmtpServer) -> None:
    env = {**os.environ, **smtp_server.env()}  # DIGEST_DB as the project fixture set it
    cmd = [sys.executable, "-m", "digest", "--config", str(ingested), "send", "weekly"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    weekly_people = {"ceo@acme.example", "cmo@acme.example", "service@acme.example", "apac@acme.example"}
    got = [rcpt for _, [rcpt] in smtp_server.envelopes]
    assert sorted(got) == sorted(weekly_people)


def test_dry_run_sends_and_records_nothing(ingested: Path, smtp_server: SmtpServer,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    r = run_cli(capsys, "--config", str(ingested), "send", "monthly", "--dry-run")
    assert r.code == 0 and "dry-run" in r.out
    assert smtp_server.messages == []
    store = Store.open(project_db_url(ingested))
    assert store.deliveries() == []
    store.close()


def test_run_sends_due_digests_once_and_catches_up(ingested: Path, smtp_server: SmtpServer,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    before = datetime.now(UTC)
    first = run_cli(capsys, "--config", str(ingested), "run")
    after = datetime.now(UTC)
    assert first.code == 0, first.out + first.err
    n = len(smtp_server.messages)
    assert n >= 4  # every recipient's latest due digests, no history
    keys = [(d["recipient"], d["window_key"]) for d in
            Store.open(project_db_url(ingested)).deliveries()]
    assert len(keys) == len(set(keys)) == n
    # Each daily recipient gets the one latest day that is due in their own zone at their own send_at
    # (CEO 07:00, Head of Service 06:30, both New York): between 06:30 and 07:00 the two differ by a day.
    for rcpt, send_at in (("ceo@acme.example", clock_time(7, 0)), ("service@acme.example", clock_time(6, 30))):
        dailies = [k for r, k in keys if r == rcpt and k.startswith("daily:")]
        due = {_latest_due_daily(t, "America/New_York", send_at) for t in (before, after)}
        assert len(dailies) == 1 and dailies[0] in due, (rcpt, dailies, due)
    second = run_cli(capsys, "--config", str(ingested), "run")
    assert second.code == 0 and len(smtp_server.messages) == n


def _latest_due_daily(now: datetime, zone: str, send_at: clock_time) -> str:
    local = now.astimezone(ZoneInfo(zone))
    day = local.date() - timedelta(days=1 if local.time() >= send_at else 2)
    return f"daily:{day.isoformat()}"


def test_preview_writes_html_text_and_eml(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in ("html", "txt", "eml"):
        out = ingested / f"p.{suffix}"
        r = run_cli(capsys, "--config", str(ingested), "preview", "weekly", "--date",
                    datetime.now(UTC).date().isoformat(), "--recipient", "service@acme.example",
                    "--out", str(out))
        assert r.code == 0, r.err
        assert out.stat().st_size > 500
    assert "<html" in (ingested / "p.html").read_text()
    assert "<" not in (ingested / "p.txt").read_text().replace("<http", "").replace("<mailto", "")[:200]


def test_usage_errors_exit_2(ingested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    r = run_cli(capsys, "--config", str(ingested), "send", "hourly")
    assert r.code == 2 and "'hourly' is not one of" in r.err
    r = run_cli(capsys, "--config", str(ingested), "send", "daily", "--date", "yesterday")
    assert r.code == 2 and "not an ISO date" in r.err
    r = run_cli(capsys, "--config", str(ingested), "ingest", "--source", "Nope")
    assert r.code == 2 and "no source named 'Nope'" in r.err


def test_a_bare_date_means_the_recipients_own_day(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recipients = project / "recipients.yaml"
    recipients.write_text(recipients.read_text() + "\n  - name: West\n    email: west@acme.example\n"
                          "    digests: [daily]\n    timezone: America/Los_Angeles\n")
    out = project / "p.txt"
    r = run_cli(capsys, "--config", str(project), "preview", "daily", "--date", "2026-04-15",
                "--recipient", "west@acme.example", "--out", str(out))
    assert r.code == 0, r.err
    assert "Tue 14 Apr 2026" in r.out
    r = run_cli(capsys, "--config", str(project), "send", "daily", "--date", "2026-04-15", "--dry-run")
    assert "daily 2026-04-14 → west@acme.example: dry-run" in r.out


def test_resend_gives_a_new_message_id(ingested: Path, smtp_server: SmtpServer, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A resend is a new message on purpose (a copy after a crash keeps the first one's Message-ID)."""
    for k, v in smtp_server.env().items():
        monkeypatch.setenv(k, v)
    args = ("--config", str(ingested), "send", "weekly", "--to", "ceo@acme.example")
    assert run_cli(capsys, *args).code == 0
    assert run_cli(capsys, *args).code == 0  # already sent: nothing
    assert run_cli(capsys, *args, "--resend").code == 0
    first, again = smtp_server.messages
    assert first["Subject"] == again["Subject"] and first["Message-ID"] and again["Message-ID"]
    assert first["Message-ID"] != again["Message-ID"]
    store = Store.open(project_db_url(ingested))
    [row] = store.deliveries()
    store.close()
    assert (row["status"], row["message_id"]) == ("sent", again["Message-ID"].strip())


def test_ingest_one_source_even_a_disabled_one(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = project / "sources.yaml"
    text = sources.read_text()
    marker = "    url: examples/generated/reddit.xml\n"
    assert marker in text
    sources.write_text(text.replace(marker, marker + "    enabled: false\n"))
    full = run_cli(capsys, "--config", str(project), "ingest")
    assert full.code == 0, full.out + full.err
    assert "Reddit (sample)" not in full.out
    store = Store.open(project_db_url(project))
    try:
        before = store.count_mentions()
        [health] = store.health(["Reddit (sample)"])
        assert health.last_attempt is None  # disabled: the full ingest left it alone
        one = run_cli(capsys, "--config", str(project), "ingest", "--source", "Reddit (sample)")
        assert one.code == 0, one.out + one.err
        lines = one.out.splitlines()
        assert len(lines) == 2 and lines[0].startswith("  Reddit (sample) [reddit]: ok · "), one.out
        assert lines[1].startswith("1 source: 1 ok, 0 not modified, 0 failed · ")
        [health] = store.health(["Reddit (sample)"])
        assert health.last_attempt is not None and store.count_mentions() > before
    finally:
        store.close()


def test_preview_open_hands_the_written_file_to_the_browser(ingested: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: Path) -> None:
    """BROWSER names a script that records what it was asked to open, as a real browser would be called."""
    seen = tmp_path / "browser-args"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{seen}"\n')
    script.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(script))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # webbrowser reads BROWSER once, at first use
    monkeypatch.setattr(webbrowser, "_browsers", {})
    r = run_cli(capsys, "--config", str(ingested), "preview", "weekly", "--open")
    assert r.code == 0, r.err
    *_, written = r.out.strip().splitlines()
    path = Path(written.removeprefix("→ "))
    assert path.suffix == ".html" and "<html" in path.read_text()
    deadline = time.monotonic() + 30  # the browser runs in the background
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert seen.read_text().splitlines() == [path.resolve().as_uri()]
