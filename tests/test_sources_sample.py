"""The offline sample and the shipped sources.yaml: every enabled source ingests it, with a story to tell."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from digest.config import Config, load_config
from digest.models import SourceResult
from digest.sample import write_sample
from digest.sources import fetch_source
from digest.text import normalize
from tests.helpers_http import make_ctx

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 3, 20, 15, 30, tzinfo=UTC)
RECIPIENTS = 'sender: "Digest <digest@acme.example>"\nrecipients:\n  - {name: A, email: a@acme.example}\n'


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The shipped sources.yaml beside a freshly written sample (and the shipped recipients.yaml if any)."""
    directory = tmp_path_factory.mktemp("sample")
    shutil.copy(ROOT / "sources.yaml", directory)
    if (ROOT / "recipients.yaml").exists():
        shutil.copy(ROOT / "recipients.yaml", directory)
    else:
        (directory / "recipients.yaml").write_text(RECIPIENTS)
    write_sample(directory, NOW)
    return load_config(directory)


@pytest.fixture(scope="module")
def results(config: Config) -> dict[str, SourceResult]:
    with requests.Session() as session:
        return {s.name: fetch_source(s, make_ctx(config, session, now=NOW))
                for s in config.sources.sources if s.enabled}


def test_sample_files_are_written(tmp_path: Path) -> None:
    paths = write_sample(tmp_path, NOW, days=120)
    names = [p.name for p in paths]
    assert names[:5] == ["social.xml", "alerts.xml", "reddit.xml", "reviews.xml", "blog.json"]
    assert names[5:] == ["calls-2023-11.csv", "calls-2023-12.csv", "calls-2024-01.csv", "calls-2024-02.csv",
                         "calls-2024-03.csv"]
    assert all(p.parent == tmp_path / "examples" / "generated" and p.stat().st_size > 1000 for p in paths)


def test_sample_is_deterministic(tmp_path: Path) -> None:
    a = [p.read_bytes() for p in write_sample(tmp_path / "a", NOW, seed=7)]
    b = [p.read_bytes() for p in write_sample(tmp_path / "b", NOW, seed=7)]
    c = [p.read_bytes() for p in write_sample(tmp_path / "c", NOW, seed=8)]
    assert a == b and a != c


def test_rewriting_replaces_old_monthly_exports(tmp_path: Path) -> None:
    write_sample(tmp_path, NOW - timedelta(days=200), days=30)
    paths = write_sample(tmp_path, NOW, days=30)
    on_disk = sorted(p.name for p in (tmp_path / "examples" / "generated").glob("calls-*.csv"))
    assert on_disk == sorted(p.name for p in paths if p.name.startswith("calls-"))


def test_the_shipped_config_is_valid_and_keeps_real_feeds_disabled(config: Config) -> None:
    disabled = {s.name for s in config.sources.sources if not s.enabled}
    assert disabled == {"Google Alerts", "Reddit search", "YouTube channel", "Mastodon #acmeair"}
    assert config.sources.alerts is not None and config.sources.alerts.recipients == ["oncall@acme.example"]


def test_every_enabled_source_ingests_the_sample(results: dict[str, SourceResult]) -> None:
    assert len(results) == 6
    for name, result in results.items():
        assert result.status == "ok", (name, result.error)
        assert result.error is None, (name, result.error)
        assert len(result.mentions) > 10, name


def test_brand_filter_drops_off_brand_posts(results: dict[str, SourceResult]) -> None:
    social = results["Social listening (sample)"]
    assert social.items_seen > len(social.mentions) > 0
    competitors = {"globex": "Globex Air", "initech": "Initech Airways"}
    for m in social.mentions:
        said = f"{m.title} {m.text}".casefold()
        assert "looney" not in said and "wile e" not in said
        # each kept post names the brand or a competitor, and records which (share of voice)
        # (customers abroad write the name in their script too: sources.yaml lists アクメエア and 아크메)
        assert any(name in said for name in ("acme", "アクメエア", "아크메")) == m.about_brand
        assert m.competitors == tuple(name for word, name in competitors.items() if word in said)
        assert m.about_brand or m.competitors
    assert {m.competitors for m in social.mentions} >= {(), ("Globex Air",), ("Initech Airways",)}
    alerts = results["Google Alerts (sample)"]
    assert alerts.items_seen > len(alerts.mentions)
    assert all(m.url is None or not m.url.startswith("https://www.google.com/") for m in alerts.mentions)


def test_hostile_sample_posts_come_out_harmless(results: dict[str, SourceResult]) -> None:
    mentions = [m for r in results.values() for m in r.mentions]
    assert all(m.url is None or m.url.startswith("https://") for m in mentions)
    assert not [m for m in mentions if "<script" in m.title or "onerror" in m.text or "\n" in m.author]
    hostile = {m.external_id: m for m in results["Social listening (sample)"].mentions}["hostile-0"]
    assert hostile.url is None and hostile.title == "Acme Air lost my bag"


def test_the_recent_spike_stands_out(results: dict[str, SourceResult]) -> None:
    mentions = [m for r in results.values() for m in r.mentions]

    def crashes(start: datetime, end: datetime) -> int:
        return sum(1 for m in mentions if start <= m.published < end
                   and any(w in m.text.casefold() for w in ("crash", "check in", "check-in")))
    last_two_days = crashes(NOW - timedelta(days=2), NOW)
    two_days_before = crashes(NOW - timedelta(days=4), NOW - timedelta(days=2))
    assert last_two_days >= 100 and last_two_days > 10 * max(1, two_days_before)
    assert crashes(NOW - timedelta(hours=1), NOW) >= 5  # enough for a spike alert right now


def test_volume_has_a_weekly_rhythm_and_grows(results: dict[str, SourceResult]) -> None:
    calls = results["Call center (sample)"].mentions
    weekday = sum(1 for m in calls if m.published.weekday() < 5) / 5
    weekend = sum(1 for m in calls if m.published.weekday() >= 5) / 2
    assert weekend < 0.8 * weekday
    first_month = sum(1 for m in calls if NOW - timedelta(days=110) <= m.published < NOW - timedelta(days=80))
    last_month = sum(1 for m in calls if NOW - timedelta(days=33) <= m.published < NOW - timedelta(days=3))
    assert last_month > first_month
    assert any("\n" in m.text for m in calls)  # multi-line notes survive the CSV round trip
    assert all(NOW - timedelta(days=121) <= m.published < NOW for m in calls)


def test_posts_are_worded_differently(results: dict[str, SourceResult]) -> None:
    """The store folds identical texts of a channel into one: templated posts must not collapse."""
    for name, result in results.items():
        if name.startswith("Call center"):
            continue  # exports are deduplicated by ticket id only
        distinct = {normalize(m.text) for m in result.mentions}
        assert len(distinct) >= 0.75 * len(result.mentions), name


def test_the_care_account_answers_most_posts_addressed_to_it_threaded(results: dict[str, SourceResult]) -> None:
    """The social sample's answers by @AcmeAirHelp are the brand's posts (brand.accounts), never mentions,
    each threaded (thr:in-reply-to) to a customer post addressed to @AcmeAir."""
    social = results["Social listening (sample)"]
    answers = [p.post for p in social.posts if p.post.author.lstrip("@").casefold() == "acmeairhelp"]
    assert {p.org for p in social.posts} == {"brand"}  # the brand, not a competitor
    mentions = {m.external_id: m for m in social.mentions}
    assert answers and all(p.reply_to in mentions for p in answers)
    assert all("@acmeair" in mentions[p.reply_to].text.casefold() for p in answers)
    assert not any(m.author.lstrip("@").casefold() == "acmeairhelp" for m in social.mentions)
    addressed = [m for m in social.mentions if "@acmeair" in m.text.casefold()]
    assert 0.5 <= len(answers) / len(addressed) <= 0.9  # most, not all: "Did we answer?" has something to say
