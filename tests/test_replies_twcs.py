"""Issue 16 as it will be checked: customer-care conversations between customers and several brands' support
accounts, in the shape of the public "Customer Support on Twitter" corpus (twcs.csv), ingested through the
CLI as a `csv` export mapping `author` and `reply_to`; the digest's rate and median must be what the
conversations show.

The corpus is not in the repository: `corpus()` writes conversations of that shape from a fixed seed --
several brands, multi-turn threads (customer, brand, customer follow-up, brand), customers continuing their
own post before the brand answers, customers never answered, answers days later and after the week, replies
above their questions in the file, brand replies that name no brand, customers naming the brand only by
@handle (any case), numeric customer ids, float reply ids, `response_tweet_id` lists. The expected figures
are computed here from the rows alone, by the issue's definitions, without the product's code.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli

HEADER = ["tweet_id", "author_id", "inbound", "created_at", "text", "response_tweet_id", "in_response_to_tweet_id"]
START = datetime(2017, 10, 23, tzinfo=UTC)  # a Monday: three weeks of conversations from here
WEEKS = [(START + timedelta(days=7 * i), START + timedelta(days=7 * (i + 1))) for i in range(3)]
# (handle, how customers name the product without the handle, what the product is called in sources.yaml)
BRANDS = {"AppleSupport": ["my iphone", "ios 11", "my macbook"],
          "AmazonHelp": ["my package", "prime", "the order"],
          "SpotifyCares": ["my playlist", "premium", "the app"],
          "Delta": ["my flight", "the gate agent", "my bag"]}
COMPLAINTS = ["keeps crashing since the update, this is awful", "never arrived and nobody helps, terrible",
              "charged me twice, worst service ever", "was cancelled and I am stuck, unacceptable"]
QUESTIONS = ["how do I change the settings?", "can you check the status?", "is there a way to get a refund?",
             "what are your opening hours?"]
# what customers add to their own post or to the brand's answer: no brand, no product
FOLLOW_UPS = ["still waiting, this is ridiculous", "ok I sent you a DM", "it happened again this morning",
              "thanks, that worked!", "no, that did not help at all", "and now it is worse"]
ANSWERS = ["Sorry to hear that. Can you DM us the details?", "We'd like to help. Which version are you on?",
           "Thanks for waiting, this is fixed now.", "Please follow the link we sent in DM. ^JS"]


@dataclass
class Tweet:
    id: int
    author: str
    at: datetime
    text: str
    to: int | None = None
    replies: list[int] = field(default_factory=list)


class Corpus:
    """Conversations from a seed; `rows()` in the corpus' CSV shape, in the order of the file."""

    def __init__(self, seed: int, threads: int) -> None:
        self.rng = random.Random(seed)
        self.tweets: dict[int, Tweet] = {}
        self.next_id = 1000
        self.next_customer = 115700
        for _ in range(threads):
            self.thread()

    def add(self, author: str, at: datetime, text: str, to: Tweet | None = None) -> Tweet:
        self.next_id += self.rng.randrange(1, 4)  # ids with gaps, as in the corpus
        t = Tweet(self.next_id, author, at, text, to.id if to else None)
        self.tweets[t.id] = t
        if to is not None:
            to.replies.append(t.id)
        return t

    def customer_text(self, handle: str, *, named: bool = True) -> str:
        r = self.rng
        if not named:
            return r.choice(FOLLOW_UPS)
        body = f"{r.choice(BRANDS[handle])} {r.choice(COMPLAINTS if r.random() < 0.6 else QUESTIONS)}"
        shown = r.choice([f"@{handle}", f"@{handle}", f"@{handle.lower()}", f"@{handle.upper()}"])
        return f"{shown} {body}" if r.random() < 0.8 else f"{body} {shown}"  # mostly first, as replies are

    def wait(self) -> timedelta:
        r = self.rng.random()
        if r < 0.6:
            return timedelta(minutes=self.rng.randrange(1, 90))
        if r < 0.9:
            return timedelta(minutes=self.rng.randrange(90, 24 * 60))
        return timedelta(days=self.rng.randrange(2, 7), minutes=self.rng.randrange(0, 600))  # days later

    def thread(self) -> None:
        r = self.rng
        handle = r.choice(list(BRANDS))
        self.next_customer += r.randrange(1, 50)
        customer = str(self.next_customer)
        at = START + timedelta(minutes=r.randrange(0, 21 * 24 * 60))
        root = self.add(customer, at, self.customer_text(handle))
        kind = r.random()
        if kind < 0.25:  # never answered
            return
        last = root
        if kind < 0.35:  # the customer adds to their own post (naming nothing) before the brand answers
            last = self.add(customer, at + timedelta(minutes=r.randrange(1, 10)),
                            self.customer_text(handle, named=False), root)
        elif kind < 0.42:  # the customer names a second brand too; only the first answers
            other = r.choice([h for h in BRANDS if h != handle])
            root.text += f" cc @{other}"
        answer = self.add(handle, last.at + self.wait(), f"@{customer} {r.choice(ANSWERS)}", last)
        if r.random() < 0.1:  # a second agent answers the same post (response_tweet_id "a,b"), earlier
            self.add(handle, last.at + (answer.at - last.at) / 2, f"@{customer} {r.choice(ANSWERS)}", last)
        if r.random() < 0.45:  # the customer follows up, mostly naming nobody but the brand's answer
            follow = self.add(customer, answer.at + timedelta(minutes=r.randrange(1, 300)),
                              self.customer_text(handle, named=r.random() < 0.3), answer)
            if r.random() < 0.7:
                self.add(handle, follow.at + self.wait(), f"@{customer} {r.choice(ANSWERS)}", follow)

    def rows(self) -> list[dict[str, str]]:
        order = list(self.tweets.values())
        self.rng.shuffle(order)  # replies above their questions, as often in the corpus
        return [{"tweet_id": str(t.id), "author_id": t.author, "inbound": str(t.author not in BRANDS),
                 "created_at": t.at.strftime("%a %b %d %H:%M:%S +0000 %Y"), "text": t.text,
                 "response_tweet_id": ",".join(map(str, t.replies)),
                 "in_response_to_tweet_id": f"{t.to}.0" if t.to else ""} for t in order]


def write_csv(path: Path, rows: Iterable[dict[str, str]]) -> None:
    out = io.StringIO()
    w = csv.DictWriter(out, HEADER)
    w.writeheader()
    w.writerows(rows)
    path.write_text(out.getvalue())


def expected(rows: list[dict[str, str]], accounts: set[str], keywords: list[str], start: datetime,
             end: datetime) -> tuple[int, int, int, float | None]:
    """(mentions, addressed, answered, median minutes to the first answer) of the customers' posts in
    [start, end), from the rows alone: addressed when it names @one of `accounts` or replies to one of their
    posts, a mention when addressed or naming a keyword; answered by the earliest post of `accounts` anywhere
    below it in its thread."""
    by_id = {r["tweet_id"]: r for r in rows}
    children: dict[str, list[str]] = {}
    for r in rows:
        if r["in_response_to_tweet_id"]:
            children.setdefault(r["in_response_to_tweet_id"].removesuffix(".0"), []).append(r["tweet_id"])
    lowered = {a.lower() for a in accounts}
    handle = re.compile(r"(?<![\w@])@(" + "|".join(map(re.escape, lowered)) + r")(?!\w)", re.I)

    def ours(r: dict[str, str]) -> bool:
        return r["author_id"].lower() in lowered

    def when(r: dict[str, str]) -> datetime:
        return datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y")

    keyword = re.compile(r"\b(" + "|".join(map(re.escape, keywords)) + r")\b", re.I)
    volume = addressed = 0
    waits: list[float] = []
    for r in rows:
        if ours(r) or r["author_id"] in BRANDS or not start <= when(r) < end:
            continue
        parent = by_id.get(r["in_response_to_tweet_id"].removesuffix(".0"))
        if not (handle.search(r["text"]) or (parent is not None and ours(parent))):
            volume += bool(keyword.search(r["text"]))
            continue
        volume += 1
        addressed += 1
        below, answers = list(children.get(r["tweet_id"], [])), []
        while below:
            x = by_id[below.pop()]
            if ours(x):
                answers.append(when(x))
            below.extend(children.get(x["tweet_id"], []))
        if answers:
            waits.append((min(answers) - when(r)).total_seconds() / 60)
    return volume, addressed, len(waits), statistics.median(waits) if waits else None


def test_the_corpus_has_what_it_claims() -> None:
    """The conversations hold each case the issue's check may meet (so that the test below cannot lose one)."""
    corpus = Corpus(2017, 600)
    rows = corpus.rows()
    t = corpus.tweets
    place = {r["tweet_id"]: i for i, r in enumerate(rows)}
    customers = [x for x in t.values() if x.author not in BRANDS]
    answers = [x for x in t.values() if x.author in BRANDS]

    def week_end(at: datetime) -> datetime:
        return START + timedelta(days=7 * ((at - START).days // 7 + 1))

    assert len({x.author for x in answers}) == 4 and len(customers) > 500
    assert sum(x.to is not None and place[str(x.id)] < place[str(x.to)] for x in t.values()) > 100  # reply first
    assert sum(x.to is None and not x.replies for x in customers) > 100  # never answered
    assert sum(x.at >= week_end(t[x.to].at) for x in answers if x.to) > 10  # after the question's week
    assert sum(x.at - t[x.to].at > timedelta(days=2) for x in answers if x.to) > 20  # days later
    named = re.compile(r"@(" + "|".join(BRANDS) + r")\b", re.I)
    follow_ups = [x for x in customers if x.to and t[x.to].author in BRANDS]
    assert sum(not named.search(x.text) for x in follow_ups) > 30  # answering the brand, naming nobody
    assert sum(x.to is not None and t[x.to].author == x.author for x in customers) > 30  # adding to their own
    assert sum(f"@{h.lower()}" in x.text or f"@{h.upper()}" in x.text for x in customers for h in BRANDS) > 50
    assert sum("," in r["response_tweet_id"] for r in rows) > 10  # answered twice, the later answer listed first


def digest_json(capsys: pytest.CaptureFixture[str], home: Path, db: str, day: str) -> dict[str, object]:
    got = run_cli(capsys, "--config", str(home), "--db", db, "preview", "weekly", "--date", day, "--format", "json")
    assert got.code == 0, got.err
    data = json.loads(got.out)
    assert isinstance(data, dict)
    return data


BRAND_ONLY = ("brand: {name: Apple, keywords: [apple, iphone, macbook, ios], accounts: [AppleSupport]}\n"
              "competitors:\n"
              "  - {name: Amazon, keywords: [amazon, prime], accounts: ['@AmazonHelp']}\n"
              "  - {name: Spotify, keywords: [spotify, playlist], accounts: [spotifycares]}\n")
ALL_DESKS = ("brand: {name: Support desks, keywords: [apple, amazon, spotify, delta],\n"
             "        accounts: [AppleSupport, '@AmazonHelp', spotifycares, DELTA]}\n")


@pytest.mark.parametrize("brand", [BRAND_ONLY, ALL_DESKS], ids=["one-brand-of-four", "four-desks-one-brand"])
def test_the_digest_shows_what_the_conversations_show(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch, brand: str,
                                                      db_url: str) -> None:
    for var in ("DIGEST_SMTP_HOST", "DIGEST_DB", "DIGEST_CONFIG", "DIGEST_OUTBOX"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "sources.yaml").write_text(
        brand + "timezone: UTC\n"
        "sources:\n"
        "  - {name: care, kind: csv, path: exports/twcs-*.csv, channel: twitter,\n"
        "     fields: {id: tweet_id, author: author_id, text: text, published: created_at,\n"
        "              reply_to: in_response_to_tweet_id}}\n")
    (tmp_path / "recipients.yaml").write_text(
        'sender: "Digest <digest@acme.example>"\nrecipients:\n  - {name: A, email: a@acme.example}\n')
    rows = Corpus(2017, 600).rows()
    accounts = {"AppleSupport"} if brand == BRAND_ONLY else set(BRANDS)
    keywords = ["apple", "iphone", "macbook", "ios"] if brand == BRAND_ONLY else ["apple", "amazon", "spotify", "delta"]
    folder = tmp_path / "exports"
    folder.mkdir()
    # two exports, ingested one after the other: a thread's posts are split between them at random
    half = len(rows) // 2
    write_csv(folder / "twcs-1.csv", rows[:half])
    first = run_cli(capsys, "--config", str(tmp_path), "--db", db_url, "ingest")
    assert first.code == 0
    write_csv(folder / "twcs-2.csv", rows[half:])
    assert run_cli(capsys, "--config", str(tmp_path), "--db", db_url, "ingest").code == 0
    for (start, end), day in zip(WEEKS[:2], ("2017-11-01", "2017-11-08"), strict=True):
        volume, want_addressed, want_answered, want_median = expected(rows, accounts, keywords, start, end)
        assert want_addressed > 40 and 0 < want_answered < want_addressed and want_median is not None
        data = digest_json(capsys, tmp_path, db_url, day)
        assert data["start"] == start.isoformat()
        # the support accounts' answers are no mentions; a follow-up to one of them is, naming nothing
        assert data["kpis"]["mentions"] == volume
        r = data["responses"]
        assert isinstance(r, dict)
        assert (r["addressed"], r["answered"]) == (want_addressed, want_answered)
        assert r["rate"] == round(want_answered / want_addressed, 4)
        assert r["median_first_response_minutes"] == pytest.approx(want_median, abs=0.05)
        text = run_cli(capsys, "--config", str(tmp_path), "--db", db_url, "preview", "weekly", "--date", day,
                       "--format", "text").out
        assert f"{want_answered} of {want_addressed} addressed to us" in text
    assert re.search(r"care \[twitter\]: ok · \d+ items, \d+ about the brand, \d+ replies kept for their threads\n",
                     first.out), first.out


def test_dates_of_every_form_in_any_order() -> None:
    """The form that read the last date is tried first (speed: a Twitter date was the last of 18 forms);
    each date still reads as its own form says, whatever came before it."""
    from digest.sources.fields import parse_date

    want = {"Tue Oct 31 22:10:47 +0000 2017": datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC),
            "03/04/2024 10:00": datetime(2024, 3, 4, 10, 0, tzinfo=UTC),
            "04.03.2024 10:00": datetime(2024, 3, 4, 10, 0, tzinfo=UTC),
            "2024/03/04": datetime(2024, 3, 4, tzinfo=UTC),
            "Mar 4, 2024": datetime(2024, 3, 4, tzinfo=UTC),
            "Wed, 18 Mar 2020 14:05:00 -0400": datetime(2020, 3, 18, 18, 5, tzinfo=UTC)}
    order = list(want) * 3
    random.Random(4).shuffle(order)
    assert [parse_date(text, None, UTC) for text in order] == [want[text] for text in order]
    with pytest.raises(ValueError):
        parse_date("Tue Oct 31 not a date", None, UTC)
