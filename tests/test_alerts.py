"""Spike alerts against a real SMTP server, and `digest classify` as ops use it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.alerts import check_alerts, detect_spike
from digest.config import load_config, smtp_settings
from digest.mailer import SmtpMailer
from digest.models import Classification, Mention
from digest.render import Templates
from digest.store import Store

from .conftest import SmtpServer, run_cli

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
NEG = Classification("negative", -0.5, True, ("App & website",), -0.9)
POS = Classification("positive", 0.5, False, (), 0.8)

SOURCES = """\
brand: {name: Acme Air, keywords: [acme]}
timezone: America/New_York
sources:
  - {name: Social, kind: feed, url: feed.xml, channel: twitter}
topics:
  App & website: [app, crash]
alerts:
  recipients: [oncall@acme.example, lead@acme.example]
  window_minutes: 60
  baseline_days: 7
  min_negative: 5
  ratio: 3
"""
RECIPIENTS = """\
sender: "Customer Voice <digest@acme.example>"
recipients:
  - {name: Dana, email: ceo@acme.example}
"""


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> tuple[Path, Store]:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    (tmp_path / "recipients.yaml").write_text(RECIPIENTS)
    store = Store.open(db_url)
    # a week of ordinary life: one negative and two positive mentions every three hours
    items = []
    for h in range(3, 7 * 24, 3):
        t = NOW - timedelta(hours=h)
        items.append((Mention("Social", "twitter", f"n{h}", f"https://x.example/n{h}", "",
                              f"acme lost my booking again, ticket {h} still open", "a", t), NEG))
        for k in range(2):
            items.append((Mention("Social", "twitter", f"p{h}-{k}", f"https://x.example/p{h}-{k}", "",
                                  f"acme crew number {h}-{k} were lovely today thank you", "b", t), POS))
    store.add_mentions(items, fetched=NOW)
    return tmp_path, store


def burst(store: Store, n: int, at: datetime, tag: str) -> None:
    store.add_mentions([(Mention("Social", "twitter", f"{tag}{i}", f"https://x.example/{tag}{i}", "",
                                 f"the acme app crashes at check-in every time, attempt {tag}{i}, "
                                 "<script>alert(1)</script>", "c", at - timedelta(minutes=i + 1)), NEG)
                        for i in range(n)], fetched=at)


def test_ordinary_volume_is_no_spike(setup: tuple[Path, Store]) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    assert detect_spike(config, store, now=NOW) is None
    burst(store, 3, NOW, "small")  # three angry posts in an hour: under min_negative
    assert detect_spike(config, store, now=NOW) is None


def test_what_they_say_is_what_the_spike_says_that_the_usual_complaints_do_not(setup: tuple[Path, Store]) -> None:
    """A spike's phrases are its own: words every complaint uses ("lost my booking", "still open", the week's
    usual negatives) are left out even where the spike's texts use them too."""
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    texts = [f"acme lost my booking again, ticket {i} still open, and now the app crashes" if i % 2 else
             f"cannot check in, the acme app crashes every time I try ({i})" for i in range(10)]
    store.add_mentions([(Mention("Social", "twitter", f"s{i}", f"https://x.example/s{i}", "", text, "c",
                                 NOW - timedelta(minutes=i + 1)), NEG) for i, text in enumerate(texts)], fetched=NOW)
    spike = detect_spike(config, store, now=NOW)
    assert spike is not None and spike.negative == 10
    assert spike.phrases[0] == "app crashes", spike.phrases
    assert not any(w in p for p in spike.phrases for w in ("lost", "booking", "still", "open", "ticket")), \
        spike.phrases


def test_spike_phrases_keep_what_grew_as_a_share_of_the_complaints() -> None:
    from digest.alerts import spike_phrases
    from digest.analysis.phrases import Phrase
    found = [Phrase("flight", 6, 600, False, ()), Phrase("app crashes", 5, 10, False, ()),
             Phrase("check in", 4, 0, True, ()), Phrase("agent", 3, 150, False, ())]
    # 10 spike texts against 1,000 usual ones: "flight" is 60% of both, "agent" 30% against 15% (2x)
    assert spike_phrases(found, 10, 1000) == ["check in", "app crashes", "agent"]
    assert spike_phrases(found, 10, 1000, limit=1) == ["check in"]
    assert spike_phrases(found, 10, 0) == ["check in", "flight", "app crashes", "agent"]  # no baseline yet


UNSCORED = Classification("unscored", 0.0, False, (), 0.0, "ja")


def unscored_burst(store: Store, n: int, at: datetime, tag: str) -> None:
    store.add_mentions([(Mention("Social", "twitter", f"{tag}{i}", f"https://x.example/{tag}{i}", "",
                                 f"アクメエアのアプリがまた落ちた、{tag}{i}回目", "j", at - timedelta(minutes=i + 1)),
                         UNSCORED) for i in range(n)], fetched=at)


def test_unscored_mentions_are_neither_spike_nor_baseline(setup: tuple[Path, Store]) -> None:
    """Mentions in a language the classifier cannot score (issue 18) may be complaints or not: a burst of them
    pages nobody, and a week of them does not raise the usual negative rate."""
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    for day in range(1, 7):  # a week of Japanese mentions, 30 a day, in the baseline
        unscored_burst(store, 30, NOW - timedelta(days=day), f"w{day}-")
    unscored_burst(store, 40, NOW, "now")  # and 40 in the alert window
    assert detect_spike(config, store, now=NOW) is None
    burst(store, 12, NOW, "a")
    spike = detect_spike(config, store, now=NOW)
    assert spike is not None and spike.negative == 12
    assert spike.baseline_per_hour == pytest.approx(55 / (7 * 24 - 1), rel=0.05)  # as without them
    assert all(e.text.startswith("the acme app crashes") for e in spike.examples)


def test_spike_alerts_once_per_episode(setup: tuple[Path, Store], smtp_server: SmtpServer) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    templates = Templates()
    burst(store, 12, NOW, "a")
    spike = detect_spike(config, store, now=NOW)
    assert spike is not None and spike.negative == 12
    assert spike.baseline_per_hour == pytest.approx(55 / (7 * 24 - 1), rel=0.05)
    assert any("crash" in p for p in spike.phrases), spike.phrases
    first = check_alerts(config, store, mailer, now=NOW, templates=templates)
    assert sorted(first.sent) == ["lead@acme.example", "oncall@acme.example"]
    msg = smtp_server.messages[0]
    html = msg.get_body(("html",)).get_content()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert msg["Auto-Submitted"] == "auto-generated"
    # the same spike ten minutes later: nobody is paged again
    burst(store, 3, NOW + timedelta(minutes=10), "b")
    again = check_alerts(config, store, mailer, now=NOW + timedelta(minutes=10), templates=templates)
    assert again.spike is not None and again.sent == () and len(smtp_server.messages) == 2
    # calm returns, then a new spike the next day is a new episode
    calm = check_alerts(config, store, mailer, now=NOW + timedelta(hours=5), templates=templates)
    assert calm.spike is None
    later = NOW + timedelta(days=1)
    burst(store, 15, later, "c")
    new = check_alerts(config, store, mailer, now=later, templates=templates)
    assert len(new.sent) == 2 and len(smtp_server.messages) == 4


def test_failed_alert_is_retried_without_repaging_others(setup: tuple[Path, Store],
                                                        smtp_server: SmtpServer) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    mailer = SmtpMailer(smtp_settings(smtp_server.env()))  # type: ignore[arg-type]
    burst(store, 12, NOW, "a")
    smtp_server.fail_with = "451 4.3.0 busy"
    failed = check_alerts(config, store, mailer, now=NOW, templates=Templates())
    assert len(failed.failed) == 2 and failed.sent == ()
    smtp_server.fail_with = None
    retry = check_alerts(config, store, mailer, now=NOW + timedelta(minutes=5), templates=Templates())
    assert sorted(retry.sent) == ["lead@acme.example", "oncall@acme.example"]


def test_alert_command_dry_run(setup: tuple[Path, Store], capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_dir, store = setup
    monkeypatch.delenv("DIGEST_SMTP_HOST", raising=False)
    r = run_cli(capsys, "--config", str(cfg_dir), "--db", str(store.url.render_as_string(hide_password=False)),
                "alert", "--dry-run")
    assert r.code == 0, r.err
    assert r.out.strip().endswith("alerts: 0 sent, 0 failed · no spike")


def test_classify_prints_one_json_object_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES)
    (tmp_path / "recipients.yaml").write_text(RECIPIENTS)
    texts = tmp_path / "texts.txt"
    texts.write_text("been on hold for 40 minutes and the app keeps crashing\n\n"
                     "thank you, the crew was wonderful\nwhat time does the lounge open?\n")
    r = run_cli(capsys, "--config", str(tmp_path), "classify", str(texts))
    assert r.code == 0, r.err
    rows = [json.loads(line) for line in r.out.splitlines()]
    assert [row["sentiment"] for row in rows] == ["negative", "positive", "neutral"]
    assert [row["complaint"] for row in rows] == [True, False, False]
    assert rows[0]["topics"] == ["App & website"]
    assert all(isinstance(row["polarity"], float) for row in rows)
    assert all("cues" not in row for row in rows)

    r = run_cli(capsys, "--config", str(tmp_path), "classify", "--why", str(texts))
    assert r.code == 0, r.err
    cues = [json.loads(line)["cues"] for line in r.out.splitlines()]
    assert "complaint 1.20 on hold" in cues[0]
    assert any(cue.startswith("praise") for cue in cues[1])
    assert any(cue.startswith("request") for cue in cues[2])


def test_classify_says_whom_each_text_is_about_when_competitors_are_configured(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "sources.yaml").write_text(SOURCES + "competitors:\n  - {name: Globex Air, keywords: [globex]}\n")
    (tmp_path / "recipients.yaml").write_text(RECIPIENTS)
    texts = tmp_path / "texts.txt"
    texts.write_text("acme lost my bag\nglobex lost my bag\nacme and globex both lost my bag\nno airline here\n")
    r = run_cli(capsys, "--config", str(tmp_path), "classify", str(texts))
    assert r.code == 0, r.err
    assert [json.loads(line)["about"] for line in r.out.splitlines()] == [
        ["Acme Air"], ["Globex Air"], ["Acme Air", "Globex Air"], []]
    # without competitors the output is as it was
    (tmp_path / "sources.yaml").write_text(SOURCES)
    r = run_cli(capsys, "--config", str(tmp_path), "classify", str(texts))
    assert all("about" not in json.loads(line) for line in r.out.splitlines())


def test_a_spike_says_what_grew_shows_no_copies_and_its_window_in_the_brands_zone(
        setup: tuple[Path, Store]) -> None:
    cfg_dir, store = setup
    config = load_config(cfg_dir)
    burst(store, 12, NOW, "a")  # one template: "the acme app crashes at check-in every time, attempt aN"
    milder = Classification("negative", -0.3, True, (), -0.5)
    store.add_mentions([(Mention("Social", "twitter", f"q{i}", f"https://x.example/q{i}", "", text, "d",
                                 NOW - timedelta(minutes=30 + i)), milder)
                        for i, text in enumerate(["acme lost my booking again, the queue at the desk is endless",
                                                  "Waited at the acme gate for an hour, nobody told us anything"])],
                       fetched=NOW)  # (less negative than the template's copies, which rank first)
    spike = detect_spike(config, store, now=NOW)
    assert spike is not None
    assert "crash" in spike.phrases[0] or "check" in spike.phrases[0], spike.phrases  # what grew comes first
    texts = [q.text for q in spike.examples]
    assert sum("crashes at check-in" in t for t in texts) == 1, texts  # the template once, not three times
    assert len(texts) == 3
    assert str(spike.start.tzinfo) == "America/New_York" and spike.window_label.endswith("EST")
    assert all(str(q.published.tzinfo) == "America/New_York" for q in spike.examples)
