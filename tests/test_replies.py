"""Issue 16, "Did we answer?": the brand's own posts are answers, matched with the mentions they answer
(in either arrival order, through threads), and each period's response figures (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import random
import statistics
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from digest.models import BRAND, Classification, Mention, OrgPost, SourceResult
from digest.sources import fetch_source
from digest.sources.replies import account_key, names_account, split_posts
from digest.store import Store
from tests.helpers_http import make_config, make_ctx

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
LATER = T0 + timedelta(days=30)  # when the exports are read
HEADER = ["tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id"]
FIELDS = {"id": "tweet_id", "author": "author_id", "text": "text", "published": "created_at",
          "reply_to": "in_response_to_tweet_id"}
NEGATIVE = Classification("negative", -0.5, True, ())
NEUTRAL = Classification("neutral", 0.0, False, ())


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def twitter_time(at: datetime) -> str:
    return at.strftime("%a %b %d %H:%M:%S +0000 %Y")


def care_csv(rows: list[dict[str, Any]]) -> str:
    """A customer-care export shaped like the public "customer support on Twitter" corpus (ids as floats)."""
    out = io.StringIO()
    w = csv.DictWriter(out, HEADER)
    w.writeheader()
    for r in rows:
        w.writerow({"tweet_id": r["id"], "author_id": r["author"], "inbound": r["author"] != "AcmeAirHelp",
                    "created_at": twitter_time(r["at"]), "text": r["text"], "response_tweet_id": "",
                    "in_response_to_tweet_id": f"{r['to']}.0" if r.get("to") else ""})
    return out.getvalue()


def fetch_care(tmp_path: Path, session: requests.Session, rows: list[dict[str, Any]], *,
               name: str = "care-1.csv", accounts: tuple[str, ...] = ("AcmeAir", "AcmeAirHelp")) -> SourceResult:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(care_csv(rows))
    spec = {"name": "care", "kind": "csv", "path": "exports/care-*.csv", "channel": "twitter", "fields": FIELDS}
    config = make_config(tmp_path, [spec], brand={"name": "Acme Air", "keywords": ["acme"],
                                                 "accounts": list(accounts)})
    return fetch_source(config.sources.sources[0], make_ctx(config, session, now=LATER))


def test_brand_posts_are_answers_not_mentions(tmp_path: Path, session: requests.Session) -> None:
    result = fetch_care(tmp_path, session, [
        {"id": 1, "author": "115712", "at": T0, "text": "@AcmeAirHelp my bag never arrived"},
        {"id": 2, "author": "AcmeAirHelp", "at": T0 + timedelta(minutes=12), "text": "@115712 So sorry, DM us",
         "to": 1},
        {"id": 3, "author": "115712", "at": T0 + timedelta(minutes=20), "text": "@AcmeAirHelp done", "to": 2},
        {"id": 4, "author": "99", "at": T0, "text": "acme lost my bag too"},
        {"id": 5, "author": "88", "at": T0, "text": "nothing about the brand here"},
    ])
    assert result.status == "ok", result.problems
    assert [m.external_id for m in result.mentions] == ["1", "3", "4"]
    # the brand's reply names no keyword and is kept all the same, as an answer
    assert [(p.org, p.post.external_id, p.post.reply_to) for p in result.posts] == [(BRAND, "2", "1.0")]
    by_id = {m.external_id: m for m in result.mentions}
    assert by_id["1"].addressed_to == (BRAND,) and by_id["4"].addressed_to == ()
    assert by_id["3"].reply_to == "2.0" and by_id["1"].published == T0  # Twitter's created_at format
    assert by_id["1"].scope == "care"


def test_accounts_are_matched_as_handles_and_authors() -> None:
    assert names_account("thanks @AcmeAir!", ["AcmeAir"])
    assert names_account("cc @acmeair@mastodon.social", ["@AcmeAir"])
    assert not names_account("@AcmeAirlines is another one", ["AcmeAir"])
    assert not names_account("mail me at bob@acmeair.example", ["AcmeAir"])
    assert not names_account("AcmeAir without the at sign", ["AcmeAir"])
    assert account_key("u/AcmeAir") == account_key("@AcmeAir@mastodon.social") == account_key(" acmeair ")
    # an export may name the brand's accounts by numeric user id, which a spreadsheet writes as a float
    assert account_key("115712.0") == account_key("115712") == "115712" != account_key("115712.5")
    assert split_posts([Mention("s", "twitter", "2", None, "", "Sorry!", "987.0", T0)], {BRAND: ["987"]})[1]
    m = Mention("s", "twitter", "1", None, "", "hi", "@ACMEAIR", T0)
    assert split_posts([m], {BRAND: ["AcmeAir"]}) == ([], [OrgPost(BRAND, m)])


def _mention(ident: str, at: datetime, *, to: str = "", addressed: bool = True, channel: str = "twitter",
             influence: float = 0.0, text: str = "") -> Mention:
    return Mention("care", channel, ident, f"https://x.example/{ident}", "", text or f"customer post {ident}",
                   f"c{ident}", at, influence, reply_to=to, scope="care",
                   addressed_to=(BRAND,) if addressed else ())


def _answer(ident: str, at: datetime, to: str) -> OrgPost:
    return OrgPost(BRAND, Mention("care", "twitter", ident, None, "", f"answer {ident}", "AcmeAirHelp", at,
                                  reply_to=to, scope="care"))


def conversations(seed: int, n: int) -> tuple[list[tuple[Mention, Classification]], list[OrgPost],
                                              dict[str, float | None]]:
    """`n` customer posts over two weeks, some answered after a known wait (some after the week ends),
    some answered only further down their thread; with each post's expected wait in minutes (None: none)."""
    rng = random.Random(seed)
    mentions: list[tuple[Mention, Classification]] = []
    answers: list[OrgPost] = []
    expected: dict[str, float | None] = {}
    for i in range(n):
        ident = str(1000 + i)
        at = T0 + timedelta(minutes=rng.randrange(0, 14 * 24 * 60))
        mentions.append((_mention(ident, at), NEGATIVE if i % 3 == 0 else NEUTRAL))
        kind = rng.random()
        if kind < 0.55:  # answered directly
            wait = float(rng.randrange(1, 600))
            answers.append(_answer(f"a{ident}", at + timedelta(minutes=wait), ident))
            expected[ident] = wait
        elif kind < 0.7:  # the customer added to their post, and the brand answered the addition
            extra = f"{ident}x"
            mentions.append((_mention(extra, at + timedelta(minutes=3), to=ident), NEUTRAL))
            wait = float(rng.randrange(5, 900))
            answers.append(_answer(f"a{extra}", at + timedelta(minutes=wait), extra))
            expected[ident] = wait
            expected[extra] = wait - 3
        else:
            expected[ident] = None
    return mentions, answers, expected


def _expected_figures(mentions: list[tuple[Mention, Classification]], expected: dict[str, float | None],
                      start: datetime, end: datetime) -> tuple[int, int, float | None, int, int]:
    inside = [(m, c) for m, c in mentions if start <= m.published < end]
    waits = [expected[m.external_id] for m, _ in inside]
    answered = [w for w in waits if w is not None]
    complaints = [expected[m.external_id] for m, c in inside if c.complaint]
    return (len(inside), len(answered), statistics.median(answered) if answered else None, len(complaints),
            sum(w is not None for w in complaints))


@pytest.mark.parametrize("answers_first", [False, True], ids=["question-first", "answer-first"])
def test_known_rate_and_median_in_either_arrival_order(store: Store, answers_first: bool) -> None:
    mentions, answers, expected = conversations(16, 120)
    rng = random.Random(1)
    rng.shuffle(mentions)
    if answers_first:
        store.add_posts(answers, fetched=LATER)
    for i in range(0, len(mentions), 25):  # several ingests
        store.add_mentions(mentions[i:i + 25], fetched=LATER)
    if not answers_first:
        store.add_posts(answers, fetched=LATER)
    as_of = T0 + timedelta(days=30)
    for start in (T0, T0 + timedelta(days=7)):
        end = start + timedelta(days=7)
        got = store.response_facts(BRAND, start, end, as_of=as_of)
        want = _expected_figures(mentions, expected, start, end)
        t = got.total
        assert (t.addressed, t.answered, t.median_wait_minutes, t.complaints_addressed,
                t.complaints_answered) == pytest.approx(want)
        assert got.unanswered_total == want[3] - want[4]


def test_a_thread_answered_further_down(store: Store) -> None:
    """root -> brand -> customer follow-up -> brand: both customer posts answered, each by its own first
    answer; a reply to a reply of the brand is addressed even without naming the brand."""
    store.add_mentions([(_mention("1", T0), NEGATIVE)], fetched=LATER)
    store.add_posts([_answer("2", T0 + timedelta(minutes=10), "1")], fetched=LATER)
    store.add_mentions([(_mention("3", T0 + timedelta(minutes=30), to="2", addressed=False), NEGATIVE)], fetched=LATER)
    day = (T0, T0 + timedelta(days=1))
    facts = store.response_facts(BRAND, *day, as_of=T0 + timedelta(days=1))
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (2, 1, 10.0)
    assert [u.id for u in facts.unanswered] and facts.unanswered[0].text == "customer post 3"
    store.add_posts([_answer("4", T0 + timedelta(minutes=70), "3")], fetched=LATER)
    facts = store.response_facts(BRAND, *day, as_of=T0 + timedelta(days=1))
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (2, 2, 25.0)
    assert facts.unanswered == () and facts.unanswered_total == 0


def test_a_thread_whose_middle_arrives_last(store: Store) -> None:
    """root, then the brand's answer to a follow-up not fetched yet, then the follow-up: the root is answered."""
    store.add_mentions([(_mention("1", T0), NEGATIVE)], fetched=LATER)
    store.add_posts([_answer("3", T0 + timedelta(minutes=45), "2")], fetched=LATER)
    store.add_mentions([(_mention("2", T0 + timedelta(minutes=5), to="1"), NEUTRAL)], fetched=LATER)
    facts = store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=T0 + timedelta(days=1))
    assert (facts.total.addressed, facts.total.answered) == (2, 2)
    assert facts.total.median_wait_minutes == pytest.approx((45 + 40) / 2)


def test_answers_after_the_period_count_for_it_as_of_the_digest(store: Store) -> None:
    late = T0 + timedelta(days=7) - timedelta(hours=1)  # Sunday night, answered on Monday
    store.add_mentions([(_mention("1", late, influence=50.0), NEGATIVE),
                        (_mention("2", late, channel="reddit"), NEGATIVE)], fetched=LATER)
    store.add_posts([_answer("9", late + timedelta(hours=3), "1")], fetched=LATER)
    week = (T0, T0 + timedelta(days=7))
    before = store.response_facts(BRAND, *week, as_of=late + timedelta(hours=2))
    after = store.response_facts(BRAND, *week, as_of=late + timedelta(hours=4))
    assert (before.total.answered, after.total.answered) == (0, 1)
    assert after.total.median_wait_minutes == 180.0
    assert [u.influence for u in before.unanswered] == [50.0, 0.0]  # the most influential first
    assert [(c.channel, c.addressed, c.answered) for c in after.channels] == [("reddit", 1, 0), ("twitter", 1, 1)]
    only_reddit = store.response_facts(BRAND, *week, as_of=late + timedelta(hours=4), channels=["reddit"])
    assert (only_reddit.total.addressed, only_reddit.total.answered) == (1, 0)
    next_week = store.response_facts(BRAND, T0 + timedelta(days=7), T0 + timedelta(days=14), as_of=late
                                     + timedelta(days=3))
    assert next_week.total.addressed == 0


def test_posts_are_stored_once_and_not_as_mentions(store: Store) -> None:
    post = _answer("2", T0, "1")
    assert store.add_posts([post, post], fetched=LATER) == 1
    assert store.add_posts([post], fetched=LATER) == 0
    assert store.count_posts(BRAND) == 1 and store.count_mentions() == 0


def test_a_ticket_answers_itself(tmp_path: Path, session: requests.Session, store: Store) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "calls-1.csv").write_text(
        "id,opened,first_reply,closed,status,notes\n"
        "T1,2026-11-02T09:00:00Z,2026-11-02T09:30:00Z,,open,Bag lost\n"
        "T2,2026-11-02T10:00:00Z,,2026-11-02T12:00:00Z,solved,Refund please\n"
        "T3,2026-11-02T11:00:00Z,,,solved,Seat broken\n"
        "T4,2026-11-02T11:00:00Z,,,new,Nobody called back\n"
        "T5,2026-11-02T11:00:00Z,not a date,,new,Bad row\n")
    spec = {"name": "calls", "kind": "csv", "path": "exports/calls-*.csv", "channel": "call_center",
            "brand_filter": False, "fields": {"id": "id", "published": "opened", "text": "notes",
                                              "first_response_at": "first_reply", "resolved_at": "closed",
                                              "status": "status"}}
    config = make_config(tmp_path, [spec])
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, now=LATER))
    assert result.status == "ok"
    assert "calls-1.csv line 6: bad date 'not a date' in 'first_reply'" in " ".join(result.problems)
    assert [(m.external_id, m.answered, m.addressed_to) for m in result.mentions] == [
        ("T1", True, (BRAND,)), ("T2", True, (BRAND,)), ("T3", True, (BRAND,)), ("T4", False, (BRAND,))]
    store.add_mentions([(m, NEGATIVE) for m in result.mentions], fetched=LATER, by_text=False)
    facts = store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=T0 + timedelta(days=1))
    # T3 is answered (its status says so) without a time: it is not in the median
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (4, 3, 75.0)
    assert [u.text for u in facts.unanswered] == ["Nobody called back"]


def test_feed_threading_and_authors(tmp_path: Path, session: requests.Session) -> None:
    (tmp_path / "f.xml").write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:thr="http://purl.org/syndication/thread/1.0"><title>t</title>'
        '<entry><id>tag:x,2026:1</id><title>q</title><author><name>bob</name></author>'
        '<updated>2026-11-02T09:00:00Z</updated><content>@AcmeAir where is my bag</content></entry>'
        '<entry><id>tag:x,2026:2</id><title>re</title><author><name>AcmeAir</name></author>'
        '<updated>2026-11-02T09:10:00Z</updated><thr:in-reply-to ref="tag:x,2026:1"/>'
        '<content>Sorry Bob, looking into it</content></entry></feed>')
    config = make_config(tmp_path, [{"name": "f", "kind": "feed", "url": "f.xml", "channel": "blogs"}],
                         brand={"name": "Acme Air", "keywords": ["acme"], "accounts": ["AcmeAir"]})
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, now=LATER))
    assert [(m.external_id, m.addressed_to) for m in result.mentions] == [("tag:x,2026:1", (BRAND,))]
    assert [(p.post.author, p.post.reply_to) for p in result.posts] == [("AcmeAir", "tag:x,2026:1")]


def test_a_store_written_before_threads_gets_the_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    Store.open(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as earlier versions left it
        conn.execute(sa.text("DROP INDEX ix_mentions_post_key"))
        conn.execute(sa.text("DROP INDEX ix_mentions_reply_key"))
        conn.execute(sa.text("ALTER TABLE mentions DROP COLUMN post_key"))
        conn.execute(sa.text("ALTER TABLE mentions DROP COLUMN reply_key"))
        conn.execute(sa.text("DROP TABLE responses"))
        conn.execute(sa.text("DROP TABLE org_posts"))
        conn.execute(sa.text("DELETE FROM meta WHERE key = 'threads_version'"))
    engine.dispose()
    store = Store.open(url)
    store.add_mentions([(_mention("1", T0), NEGATIVE)], fetched=LATER)
    store.add_posts([_answer("2", T0 + timedelta(minutes=4), "1")], fetched=LATER)
    facts = store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=T0 + timedelta(days=1))
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (1, 1, 4.0)
    store.close()


def write_care_config(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sources.yaml (one care export, brand account AcmeAirHelp, UTC) and recipients.yaml in `folder`, for the
    CLI; the environment's database, outbox, SMTP and config settings cleared."""
    for var in ("DIGEST_SMTP_HOST", "DIGEST_DB", "DIGEST_CONFIG", "DIGEST_OUTBOX"):
        monkeypatch.delenv(var, raising=False)
    (folder / "sources.yaml").write_text(
        "brand: {name: Acme Air, keywords: [acme], accounts: [AcmeAirHelp]}\n"
        "timezone: UTC\n"
        "sources:\n"
        "  - {name: care, kind: csv, path: exports/care-*.csv, channel: twitter,\n"
        "     fields: {id: tweet_id, author: author_id, text: text, published: created_at,\n"
        "              reply_to: in_response_to_tweet_id}}\n")
    (folder / "recipients.yaml").write_text(
        'sender: "Digest <digest@acme.example>"\nrecipients:\n  - {name: A, email: a@acme.example}\n')


def test_the_digest_json_and_text_say_whether_we_answered(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the CLI: the answers are fetched first, their questions in a later run; an answer after the
    week counts for the week; the figures in the JSON and the text part are the conversations' own."""
    from tests.conftest import run_cli

    write_care_config(tmp_path, monkeypatch)
    monday = T0  # the week of 2 Nov 2026, UTC
    q = [("1", monday + timedelta(hours=1), "@AcmeAirHelp my bag is lost and nobody helps, terrible"),
         ("2", monday + timedelta(days=1), "@AcmeAirHelp can I change my seat?"),
         ("3", monday + timedelta(days=6, hours=14), "@AcmeAirHelp refund still missing, awful service"),
         ("4", monday + timedelta(days=2), "@AcmeAirHelp my flight was cancelled and no one answers, awful")]
    answers = [{"id": "a1", "author": "AcmeAirHelp", "at": q[0][1] + timedelta(minutes=10), "text": "Sorry!",
                "to": "1"},
               {"id": "a2", "author": "AcmeAirHelp", "at": q[1][1] + timedelta(minutes=30), "text": "Yes.", "to": "2"},
               {"id": "a3", "author": "AcmeAirHelp", "at": q[2][1] + timedelta(hours=48), "text": "Done.", "to": "3"}]
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "care-1.csv").write_text(care_csv(answers))
    assert run_cli(capsys, "--config", str(tmp_path), "ingest").code == 0
    (folder / "care-1.csv").write_text(care_csv(answers + [{"id": i, "author": f"c{i}", "at": at, "text": text}
                                                           for i, at, text in q]))
    assert run_cli(capsys, "--config", str(tmp_path), "ingest").code == 0
    got = run_cli(capsys, "--config", str(tmp_path), "preview", "weekly", "--date", "2026-11-12", "--format", "json")
    assert got.code == 0, got.err
    import json

    data = json.loads(got.out)
    r = data["responses"]
    assert data["kpis"]["mentions"] == 4  # the brand's answers are no mentions
    assert (r["addressed"], r["answered"], r["rate"], r["median_first_response_minutes"]) == (4, 3, 0.75, 30.0)
    assert r["complaints_addressed"] == r["complaints_answered"] + r["unanswered_total"]
    assert [u["text"] for u in r["unanswered"]] == (
        ["@AcmeAirHelp my flight was cancelled and no one answers, awful"] if r["unanswered_total"] else [])
    text = run_cli(capsys, "--config", str(tmp_path), "preview", "weekly", "--date", "2026-11-12", "--format", "text")
    assert "DID WE ANSWER?" in text.out and "75%" in text.out and "30 min" in text.out
    html = run_cli(capsys, "--config", str(tmp_path), "preview", "weekly", "--date", "2026-11-12")
    assert "Did we answer?" in html.out and "3 of 4 addressed" in html.out


def test_unanswered_complaints_that_say_the_same_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Five lines of unanswered complaints show five problems: a copy, or the same words with other numbers,
    is counted in the line that says it ("and 2 more like it"), and "and 1 more" counts the rest (singular)."""
    import json

    from tests.conftest import run_cli

    write_care_config(tmp_path, monkeypatch)
    texts = ["@AcmeAirHelp my bag is lost and nobody helps, terrible",
             "@AcmeAirHelp refund still missing after 3 weeks, awful service",
             "@AcmeAirHelp my flight was cancelled and no one answers, awful",
             "@AcmeAirHelp refund still missing after 5 weeks, awful service",
             "@AcmeAirHelp the app crashes at check-in every time, useless",
             "@AcmeAirHelp charged twice for my seat and nobody will fix it, awful",
             "@AcmeAirHelp refund still missing after 3 weeks, awful service",
             "@AcmeAirHelp rude staff at the gate, worst airline ever"]
    rows = [{"id": str(i + 1), "author": f"c{i}", "at": T0 + timedelta(hours=i + 1), "text": t}
            for i, t in enumerate(texts)]
    rows.append({"id": "a1", "author": "AcmeAirHelp", "at": T0 + timedelta(days=1), "text": "Sorry!", "to": "99"})
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "care-1.csv").write_text(care_csv(rows))
    assert run_cli(capsys, "--config", str(tmp_path), "ingest").code == 0
    week = ("preview", "weekly", "--date", "2026-11-12")
    got = run_cli(capsys, "--config", str(tmp_path), *week, "--format", "json")
    assert got.code == 0, got.err
    r = json.loads(got.out)["responses"]
    assert r["unanswered_total"] == 8
    assert [(u["text"], u["alike"]) for u in r["unanswered"]] == [
        (texts[0], 0), (texts[1], 2), (texts[2], 0), (texts[4], 0), (texts[5], 0)]
    text = run_cli(capsys, "--config", str(tmp_path), *week, "--format", "text").out
    assert text.count("and 2 more like it") == 1 and "and 1 more unanswered complaint\n" in text
    listed = text.split("Unanswered complaints (8)")[1].split("and 1 more unanswered complaint")[0]
    assert listed.count("refund still missing") == 1 and listed.count("· waiting ") == 5
    html = run_cli(capsys, "--config", str(tmp_path), *week).out
    assert html.count("and 2 more like it") == 1 and "and 1 more unanswered complaint<" in html


def test_a_mention_credited_to_another_source_moves_channel_in_the_figures(store: Store) -> None:
    """The same post from two sources: credited to the first in sources.yaml, its answer counted in that
    source's channel (the responses rows follow the credit as the rollups do)."""
    def copy(source: str, channel: str) -> Mention:
        return Mention(source, channel, f"{source}-1", "https://x.example/p/1", "", "@AcmeAirHelp bag lost",
                       "c1", T0, scope=source, addressed_to=(BRAND,))

    rank = {"first": 0, "second": 1}
    store.add_mentions([(copy("second", "reddit"), NEGATIVE)], fetched=LATER, rank=rank)
    store.add_mentions([(copy("first", "twitter"), NEGATIVE)], fetched=LATER, rank=rank)
    facts = store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=LATER)
    assert [(c.channel, c.addressed) for c in facts.channels] == [("twitter", 1)]
    assert store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=LATER, channels=["reddit"]
                                ).total.addressed == 0


def test_a_mention_stored_before_its_thread_was_known_is_matched_when_seen_again(store: Store, db_url: str) -> None:
    """Mentions stored before threads were tracked (no post key), or before reply_to and brand.accounts were
    configured, are matched with their answers when their source serves them again."""
    old = Mention("care", "twitter", "1", None, "", "@AcmeAirHelp my bag never arrived", "c1", T0, scope="care")
    unmapped = Mention("care", "twitter", "3", None, "", "@AcmeAirHelp still nothing", "c1",
                       T0 + timedelta(minutes=30), scope="care")
    store.add_mentions([(old, NEGATIVE), (unmapped, NEGATIVE)], fetched=LATER)
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:  # as a version before threads left the first one
        conn.execute(sa.text("UPDATE mentions SET post_key = NULL WHERE external_id = '1'"))
    engine.dispose()
    store.add_posts([_answer("2", T0 + timedelta(minutes=10), "1"), _answer("4", T0 + timedelta(minutes=50), "3")],
                    fetched=LATER)
    day = (T0, T0 + timedelta(days=1))
    assert store.response_facts(BRAND, *day, as_of=LATER).total.addressed == 0
    # the next ingest reads the export again, now with accounts and reply_to configured
    again = [dataclasses.replace(old, addressed_to=(BRAND,)),
             dataclasses.replace(unmapped, reply_to="2", addressed_to=(BRAND,))]
    assert store.add_mentions([(m, NEGATIVE) for m in again], fetched=LATER) == 0
    facts = store.response_facts(BRAND, *day, as_of=LATER)
    # 1 answered after 10 min; 3 after 20 min by its own answer (and it is below 1's answer, in its thread)
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (2, 2, 15.0)
    store.seen_again([(m, True) for m in again])  # seen once more: nothing changes
    assert store.response_facts(BRAND, *day, as_of=LATER).total == facts.total


def test_reddit_comments_answer_their_post(tmp_path: Path, session: requests.Session, store: Store) -> None:
    """Reddit's comments feed (preset reddit): a comment's link names its post, so the brand account's
    comment answers the post; which comment a comment answers the feed does not say."""
    feed = Path(__file__).parent / "feeds" / "atom_reddit_comments.xml"
    config = make_config(tmp_path, [{"name": "r", "kind": "feed", "url": feed.as_uri(), "channel": "reddit",
                                     "preset": "reddit"}],
                         brand={"name": "Acme Air", "keywords": ["acme"], "accounts": ["u/AcmeAirHelp"]})
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, now=LATER))
    assert [(p.post.external_id, p.post.reply_to) for p in result.posts] == [("t1_kx01aa", "t3_ghi789")]
    assert [(m.external_id, m.reply_to, m.addressed_to) for m in result.mentions] == [
        ("t3_ghi789", "", (BRAND,)), ("t1_kx02bb", "t3_ghi789", ()), ("t1_kx03cc", "t3_ghi789", ())]
    store.add_mentions([(m, NEGATIVE) for m in result.mentions], fetched=LATER)
    store.add_posts(result.posts, fetched=LATER)
    day = datetime(2024, 3, 19, tzinfo=UTC)
    facts = store.response_facts(BRAND, day, day + timedelta(days=1), as_of=LATER)
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (1, 1, 45.0)


def test_a_feed_keeps_the_replies_naming_nobody_only_inside_its_threads(tmp_path: Path,
                                                                       session: requests.Session) -> None:
    """Atom threading: a reply naming nobody is kept (about nobody, for its thread) when it answers an entry
    of the same feed that is kept or is the brand's; a reply to a post the feed does not hold is dropped."""
    def entry(ident: str, author: str, text: str, to: str = "") -> str:
        reply = f'<thr:in-reply-to ref="tag:x,2026:{to}"/>' if to else ""
        return (f"<entry><id>tag:x,2026:{ident}</id><title></title><author><name>{author}</name></author>"
                f"<updated>2026-11-02T09:0{ident}:00Z</updated>{reply}<content>{text}</content></entry>")

    (tmp_path / "f.xml").write_text(
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
        'xmlns:thr="http://purl.org/syndication/thread/1.0"><title>t</title>'
        + entry("1", "bob", "Acme lost my bag")
        + entry("2", "AcmeAir", "Sorry Bob, DM us", to="1")
        + entry("3", "bob", "done, still waiting", to="2")
        + entry("4", "bob", "and it is cold here", to="3")
        + entry("5", "eve", "lovely weather", to="9")
        + entry("6", "eve", "no brand here either") + "</feed>")
    config = make_config(tmp_path, [{"name": "f", "kind": "feed", "url": "f.xml", "channel": "blogs"}],
                         brand={"name": "Acme Air", "keywords": ["acme"], "accounts": ["AcmeAir"]})
    result = fetch_source(config.sources.sources[0], make_ctx(config, session, now=LATER))
    assert [(m.external_id[-1], m.about_brand) for m in result.mentions] == [("1", True), ("3", False),
                                                                              ("4", False)]


def test_mastodon_api_statuses_from_two_endpoints_match(tmp_path: Path, session: requests.Session,
                                                        store: Store) -> None:
    """Mastodon's RSS says nothing of replies; its API does (`in_reply_to_id`). The customers' statuses
    (a tag timeline) and the brand's (its account's statuses) are two http_json sources on one instance:
    their ids are the instance's, so the brand's reply matches the status it answers."""
    from tests.helpers_http import serving

    def status(ident: str, acct: str, at: str, html: str, to: str | None = None) -> dict[str, Any]:
        return {"id": ident, "created_at": at, "in_reply_to_id": to, "account": {"acct": acct},
                "content": html, "url": f"https://social.example/@{acct}/{ident}"}

    fields = {"id": "id", "text": "content", "published": "created_at", "author": "account.acct",
              "url": "url", "reply_to": "in_reply_to_id"}
    with serving() as server:
        server.static("/api/v1/timelines/tag/acme", json.dumps([
            status("1101", "bob@other.example", "2026-11-02T09:00:00.000Z",
                   '<p><span class="h-card"><a href="https://social.example/@AcmeAir" class="u-url mention">'
                   "@<span>AcmeAir</span></a></span> my bag is lost</p>"),
            status("1103", "bob@other.example", "2026-11-02T09:30:00.000Z", "<p>thanks, sent</p>", to="1102"),
        ]).encode(), "application/json")
        server.static("/api/v1/accounts/7/statuses", json.dumps([
            status("1102", "AcmeAir", "2026-11-02T09:20:00.000Z", "<p>@bob so sorry, DM us</p>", to="1101"),
            status("1104", "AcmeAir", "2026-11-02T10:30:00.000Z", "<p>@bob rebooked</p>", to="1103"),
        ]).encode(), "application/json")
        specs = [{"name": name, "kind": "http_json", "url": server.url(path), "channel": "mastodon", "fields": fields}
                 for name, path in (("tag", "/api/v1/timelines/tag/acme"), ("ours", "/api/v1/accounts/7/statuses"))]
        config = make_config(tmp_path, specs, brand={"name": "Acme Air", "keywords": ["acme"],
                                                     "accounts": ["AcmeAir"]})
        tag, ours = (fetch_source(s, make_ctx(config, session, now=LATER)) for s in config.sources.sources)
    assert [m.text for m in tag.mentions] == ["@AcmeAir my bag is lost", "thanks, sent"]
    assert [p.post.external_id for p in ours.posts] == ["1102", "1104"]
    store.add_posts(ours.posts, fetched=LATER)
    store.add_mentions([(m, NEGATIVE) for m in tag.mentions], fetched=LATER, by_text=False)
    facts = store.response_facts(BRAND, T0, T0 + timedelta(days=1), as_of=LATER)
    # 1101 answered after 20 min; 1103 (replying to the brand, naming nobody) after 60 min
    assert (facts.total.addressed, facts.total.answered, facts.total.median_wait_minutes) == (2, 2, 40.0)
