"""`digest send` and `digest run` end to end against a real SMTP server: once, exactly once, even racing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from digest.store import Store

from .conftest import SmtpServer, project_db_url, run_cli


@pytest.fixture
def ingested(project: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    r = run_cli(capsys, "--config", str(project), "ingest")
    assert r.code == 0, r.out + r.err
    return project


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
    first = run_cli(capsys, "--config", str(ingested), "run")
    assert first.code == 0, first.out + first.err
    n = len(smtp_server.messages)
    assert n >= 4  # every recipient's latest due digests, no history
    keys = [(d["recipient"], d["window_key"]) for d in
            Store.open(project_db_url(ingested)).deliveries()]
    assert len(keys) == len(set(keys)) == n
    assert len({k for _, k in keys if k.startswith("daily:")}) == 1
    second = run_cli(capsys, "--config", str(ingested), "run")
    assert second.code == 0 and len(smtp_server.messages) == n


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
