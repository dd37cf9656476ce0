"""Threads: the organisations' own posts (answers), matched with the mentions they answer, in either order.

Every mention keeps `post_key` (its id) and `reply_key` (the id of the post it answers), both
`thread_key(scope, id)`: ids are unique per export (scope: the source), or global for feeds (Atom ids).
A `responses` row per (mention, organisation) says whether the mention is *addressed* to it (names one
of its accounts, is a ticket, or replies to one of its posts) and when the first of its posts came
in the thread below the mention (`responded`: directly, or later in the thread, to any of the replies
below). The rows are kept up to date as posts and mentions arrive:

* a new organisation post marks the mentions replying to it as addressed, and walks up from the post
  it answers, lowering `responded` on each mention above it;
* a new mention takes its `responded` from the posts and mentions already replying to it, then walks up
  the same way (a thread's middle may arrive last).

`responded` is the earliest answer below a mention, so a mention's value is never earlier than its
ancestors'; a walk stops where an ancestor already has one as early. A period's figures are counted
from the rows of its mentions (an index on org, addressed, published): their cost grows with the
addressed mentions of the window, not with all mentions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..dates import storage_problem
from ..models import BRAND, Classification, Mention, OrgPost, ResponseCounts, ResponseFacts, Unanswered
from ..voice import as_json, competitor_names
from .base import StoreBase, chunks
from .rollups import add_rollups, remove_rollups
from .schema import ROLLUP_COLUMNS, mentions, org_posts, responses

log = logging.getLogger(__name__)

MAX_DEPTH = 200  # posts walked up from an answer (a longer thread is a loop or a bot)
# unanswered complaints listed, most influential first: the digest shows five lines of them, each folding in
# those that say the same (analysis.responses.fold_alike)
UNANSWERED_LISTED = 20
# overdue complaints looked at: turning the alert on must not page for last year's backlog
OVERDUE_LOOKBACK_DAYS = 7
OVERDUE_LIMIT = 50  # listed in one alert
_FLOAT_ID = re.compile(r"^(-?\d+)\.0+$")  # "3.0": a numeric id a spreadsheet or pandas wrote as a float


def thread_key(scope: str, ident: str) -> str | None:
    """The key by which a post is found in its thread: its id within `scope`; None without an id."""
    ident = ident.strip()
    if not ident:
        return None
    m = _FLOAT_ID.match(ident)
    if m:
        ident = m.group(1)
    return hashlib.sha256(f"{scope}\0{ident}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


def mention_thread_keys(m: Mention) -> tuple[str | None, str | None]:
    """(post_key, reply_key) of a mention or post."""
    return thread_key(m.scope, m.external_id), thread_key(m.scope, m.reply_to) if m.reply_to else None


def _wait(published: datetime, responded: datetime) -> float:
    return max(0.0, (responded - published).total_seconds() / 60)


def _with_org(about_brand: bool, competitors: tuple[str, ...], org: str) -> tuple[bool, tuple[str, ...]]:
    """Whom a mention is about once it is known to reply to `org`'s post (a reply to an organisation is
    addressed to it, hence about it, as a post naming its account is: organisations.tag)."""
    if org == BRAND:
        return True, competitors
    return about_brand, competitors if org in competitors else (*competitors, org)


def about_whom_they_answer(conn: Connection, items: Sequence[tuple[Mention, Classification]]
                           ) -> list[tuple[Mention, Classification]]:
    """The mentions about to be stored, each also about the organisations whose stored posts it replies to
    (a follow-up rarely names the brand: the source kept it for its thread, about nobody)."""
    reply_keys = sorted({r for m, _ in items if (r := mention_thread_keys(m)[1])})
    parent_org: dict[str, set[str]] = {}
    for chunk in chunks(reply_keys, 500):
        for key, org in conn.execute(sa.select(org_posts.c.post_key, org_posts.c.org)
                                     .where(org_posts.c.post_key.in_(chunk))):
            parent_org.setdefault(key, set()).add(org)
    if not parent_org:
        return list(items)
    out: list[tuple[Mention, Classification]] = []
    for m, c in items:
        about = (m.about_brand, m.competitors)
        for org in sorted(parent_org.get(mention_thread_keys(m)[1] or "", ())):
            about = _with_org(*about, org)
        out.append((m, c) if about == (m.about_brand, m.competitors)
                   else (dataclasses.replace(m, about_brand=about[0], competitors=about[1]), c))
    return out


def link_mentions(conn: Connection, added: Sequence[tuple[int, Mention, Classification]]) -> None:
    """Give the mentions just stored (id, mention, classification) their responses rows, and pass the
    answers already found below them up their threads."""
    keys = {mid: mention_thread_keys(m) for mid, m, _ in added}
    post_keys = sorted({k for k, _ in keys.values() if k})
    reply_keys = sorted({r for _, r in keys.values() if r})
    parent_org: dict[str, set[str]] = {}
    for chunk in chunks(reply_keys, 500):
        for key, org in conn.execute(sa.select(org_posts.c.post_key, org_posts.c.org)
                                     .where(org_posts.c.post_key.in_(chunk))):
            parent_org.setdefault(key, set()).add(org)
    below: dict[tuple[str, str], datetime] = {}  # (post_key, org) -> the earliest answer under it
    for chunk in chunks(post_keys, 500):
        p = org_posts.c
        for key, org, first in conn.execute(sa.select(p.reply_key, p.org, sa.func.min(p.published))
                                            .where(p.reply_key.in_(chunk)).group_by(p.reply_key, p.org)):
            _lower(below, (key, org), _utc(first))
        r, m = responses.c, mentions.c
        for key, org, first in conn.execute(
                sa.select(m.reply_key, r.org, sa.func.min(r.responded)).join(responses, r.mention_id == m.id)
                .where(m.reply_key.in_(chunk), r.responded.is_not(None)).group_by(m.reply_key, r.org)):
            _lower(below, (key, org), _utc(first))
    below_orgs: dict[str, set[str]] = {}
    for key, org in below:
        below_orgs.setdefault(key, set()).add(org)
    rows: list[dict[str, Any]] = []
    walks: list[tuple[str, datetime, str]] = []
    for mid, mention, c in added:
        post_key, reply_key = keys[mid]
        orgs = set(mention.addressed_to) | parent_org.get(reply_key or "", set())
        orgs |= below_orgs.get(post_key or "", set())
        for org in sorted(orgs):
            thread = below.get((post_key, org)) if post_key else None
            own = mention.responded if org == BRAND and mention.answered is not None else None
            responded = min((t for t in (thread, own) if t is not None), default=None)
            answered = responded is not None or (org == BRAND and bool(mention.answered))
            rows.append({"mention_id": mid, "org": org, "published": mention.published, "channel": mention.channel,
                         "complaint": c.complaint, "influence": mention.influence,
                         "addressed": org in mention.addressed_to or org in parent_org.get(reply_key or "", set()),
                         "answered": answered, "responded": responded,
                         "wait_minutes": _wait(mention.published, responded) if responded else None})
            if thread is not None and reply_key:
                walks.append((org, thread, reply_key))
    if rows:
        conn.execute(sa.insert(responses), rows)
    for org, at, key in walks:
        pass_up(conn, org, at, key)


def relink_seen(conn: Connection, copies: Mapping[int, Mention]) -> None:
    """Stored mentions seen again (id -> the copy just read) whose thread the store lacks: stored before
    threads were tracked (no post key), before `reply_to` was mapped, or before brand.accounts named the
    accounts they address. Their keys are filled in and their responses rows made again, as for a new
    mention; the copy's `about` is not applied (the rollups keep what they counted)."""
    wanted = {mid: m for mid, m in copies.items() if m.external_id}
    if not wanted:
        return
    m, r = mentions.c, responses.c
    stale: dict[int, tuple[str | None, str | None]] = {}
    complaint: dict[int, bool] = {}
    for chunk in chunks(sorted(wanted), 500):
        rows = conn.execute(sa.select(m.id, m.post_key, m.reply_key, m.complaint).where(m.id.in_(chunk))).all()
        addressed: dict[int, set[str]] = {}
        if any(wanted[x.id].addressed_to for x in rows):
            for mid, org in conn.execute(sa.select(r.mention_id, r.org)
                                         .where(r.mention_id.in_(chunk), r.addressed.is_(True))):
                addressed.setdefault(int(mid), set()).add(str(org))
        for x in rows:
            copy = wanted[x.id]
            post_key, reply_key = mention_thread_keys(copy)
            if (x.post_key is None and post_key) or (x.reply_key is None and reply_key) \
                    or not set(copy.addressed_to) <= addressed.get(x.id, set()):
                stale[x.id] = (post_key or x.post_key, reply_key or x.reply_key)
                complaint[x.id] = bool(x.complaint)
    if not stale:
        return
    for mid, (post_key, reply_key) in stale.items():
        conn.execute(sa.update(mentions).where(m.id == mid).values(post_key=post_key, reply_key=reply_key))
    for chunk in chunks(sorted(stale), 500):
        conn.execute(sa.delete(responses).where(r.mention_id.in_(chunk)))
    link_mentions(conn, [(mid, wanted[mid], Classification("neutral", 0.0, complaint[mid], ()))
                         for mid in sorted(stale)])


def _lower(found: dict[tuple[str, str], datetime], key: tuple[str, str], at: datetime) -> None:
    if key not in found or at < found[key]:
        found[key] = at


def _utc(value: Any) -> datetime:
    """A datetime read by an aggregate (min): aware UTC whatever the driver gave."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def pass_up(conn: Connection, org: str, at: datetime, key: str | None) -> None:
    """An answer of `org` at `at` below the post `key`: lower `responded` on each mention up the thread."""
    m, r, p = mentions.c, responses.c, org_posts.c
    visited: set[str] = set()
    while key and key not in visited and len(visited) < MAX_DEPTH:
        visited.add(key)
        row = conn.execute(sa.select(m.id, m.reply_key, m.published, m.channel, m.complaint, m.influence)
                           .where(m.post_key == key).order_by(m.id).limit(1)).first()
        if row is None:
            key = conn.execute(sa.select(p.reply_key).where(p.post_key == key)).scalar()
            continue
        have = conn.execute(sa.select(r.responded).where(r.mention_id == row.id, r.org == org)).first()
        wait = _wait(row.published, at)
        if have is None:
            conn.execute(sa.insert(responses).values(
                mention_id=row.id, org=org, published=row.published, channel=row.channel, complaint=row.complaint,
                influence=row.influence, addressed=False, answered=True, responded=at, wait_minutes=wait))
        elif have.responded is not None and have.responded <= at:
            return  # an earlier answer is below it, hence below every post above it too
        else:
            conn.execute(sa.update(responses).where(r.mention_id == row.id, r.org == org)
                         .values(answered=True, responded=at, wait_minutes=wait))
        key = row.reply_key


class Replies(StoreBase):
    """The organisations' own posts, and each period's response figures."""

    def add_posts(self, posts: Sequence[OrgPost], *, fetched: datetime) -> int:
        """Store the organisations' posts not seen before and match them with their threads; how many were new."""
        if not posts:
            return 0
        fresh: dict[str, tuple[OrgPost, str | None]] = {}
        for op in posts:
            post_key, reply_key = mention_thread_keys(op.post)
            problem = storage_problem(op.post.published)
            if problem is not None:  # as mentions are (store/mentions.py)
                log.warning("%s: answer %r not stored: %s", op.post.source, op.post.external_id[:80], problem)
            elif post_key:
                fresh.setdefault(post_key, (op, reply_key))
        with self.engine.begin() as conn:
            for chunk in chunks(sorted(fresh), 500):
                for known in conn.execute(sa.select(org_posts.c.post_key).where(org_posts.c.post_key.in_(chunk))
                                          ).scalars():
                    fresh.pop(known, None)
            if not fresh:
                return 0
            conn.execute(sa.insert(org_posts), [
                {"org": op.org, "source": op.post.source, "channel": op.post.channel,
                 "external_id": op.post.external_id[:1024], "post_key": key, "reply_key": reply_key,
                 "url": op.post.url, "author": op.post.author[:300], "text": op.post.text,
                 "published": op.post.published, "fetched": fetched}
                for key, (op, reply_key) in fresh.items()])
            moved: dict[str, list[int]] = {}  # org -> the stored mentions now about it, moved in one go
            for key, (op, reply_key) in sorted(fresh.items(), key=lambda kv: kv[1][0].post.published):
                moved.setdefault(op.org, []).extend(_address_replies(conn, op.org, key))
                pass_up(conn, op.org, op.post.published, reply_key)
            for org, ids in moved.items():
                for chunk in chunks(sorted(set(ids)), 500):
                    _make_about(conn, org, chunk)
        return len(fresh)

    def count_posts(self, org: str | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(org_posts)
        if org is not None:
            q = q.where(org_posts.c.org == org)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def response_facts(self, org: str, start: datetime, end: datetime, *, as_of: datetime,
                       channels: Iterable[str] | None = None, shown: int = UNANSWERED_LISTED) -> ResponseFacts:
        """`org`'s answers to the mentions published in [start, end) (of `channels`), counting the answers
        that came by `as_of` (also after the window: a mention's answer counts for the mention's period)."""
        r = responses.c
        where = [r.org == org, r.addressed.is_(True), r.published >= start, r.published < end]
        if channels is not None:
            where.append(r.channel.in_(sorted(set(channels))))
        answered = sa.and_(r.answered.is_(True), sa.or_(r.responded.is_(None), r.responded <= as_of))
        timed = sa.and_(r.responded.is_not(None), r.responded <= as_of)
        with self.engine.connect() as conn:
            per_channel = conn.execute(
                sa.select(r.channel, r.complaint, sa.func.count(), sa.func.sum(sa.case((answered, 1), else_=0)))
                .where(*where).group_by(r.channel, r.complaint)).all()
            counts: dict[str | None, list[int]] = {}
            for channel, complaint, n, n_answered in per_channel:
                for ch in (channel, None):
                    c = counts.setdefault(ch, [0, 0, 0, 0])
                    c[0] += n
                    c[1] += int(n_answered or 0)
                    if complaint:
                        c[2] += n
                        c[3] += int(n_answered or 0)

            def median(*extra: Any) -> float | None:
                q = sa.select(r.wait_minutes).where(*where, timed, *extra)
                n = int(conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one())
                if not n:
                    return None
                middle = [float(v) for v in conn.execute(q.order_by(r.wait_minutes).offset((n - 1) // 2)
                                                         .limit(2 - n % 2)).scalars()]
                return sum(middle) / len(middle)

            def row(channel: str | None) -> ResponseCounts:
                c = counts.get(channel, [0, 0, 0, 0])
                only = [r.channel == channel] if channel is not None else []
                return ResponseCounts(channel, c[0], c[1], median(*only) if c[1] else None, c[2], c[3],
                                      median(*only, r.complaint.is_(True)) if c[3] else None)

            total = row(None)
            by_channel = tuple(row(ch) for ch in sorted(k for k in counts if k is not None))
            waiting = sa.and_(*where, r.complaint.is_(True), sa.not_(answered))
            unanswered_total = int(conn.execute(sa.select(sa.func.count()).where(waiting)).scalar_one())
            m = mentions.c
            listed = conn.execute(
                sa.select(m.id, m.channel, m.url, m.author, m.title, m.text, m.published, m.influence)
                .join(responses, r.mention_id == m.id).where(waiting)
                .order_by(r.influence.desc(), r.published, r.mention_id).limit(shown)).all()
        return ResponseFacts(org, as_of, total, by_channel,
                             tuple(Unanswered(x.id, x.channel, x.url, x.author, x.title, x.text, x.published,
                                              float(x.influence)) for x in listed), unanswered_total)

    def overdue_complaints(self, org: str, *, now: datetime, after_hours: float, min_reach: float,
                           lookback_days: float = OVERDUE_LOOKBACK_DAYS, limit: int = OVERDUE_LIMIT
                           ) -> tuple[Unanswered, ...]:
        """`org`'s addressed complaints of reach `min_reach` or more, published between `after_hours` (plus
        `lookback_days`) and `after_hours` before `now`, with no answer by `now`: most influential, then
        longest waiting first."""
        r, m = responses.c, mentions.c
        latest = now - timedelta(hours=after_hours)
        answered = sa.and_(r.answered.is_(True), sa.or_(r.responded.is_(None), r.responded <= now))
        where = [r.org == org, r.addressed.is_(True), r.complaint.is_(True), sa.not_(answered),
                 r.published >= latest - timedelta(days=lookback_days), r.published <= latest,
                 r.influence >= min_reach]
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(m.id, m.channel, m.url, m.author, m.title, m.text, m.published, m.influence)
                .join(responses, r.mention_id == m.id).where(*where)
                .order_by(r.influence.desc(), r.published, r.mention_id).limit(limit)).all()
        return tuple(Unanswered(x.id, x.channel, x.url, x.author, x.title, x.text, _utc(x.published),
                                float(x.influence)) for x in rows)


def _address_replies(conn: Connection, org: str, post_key: str) -> list[int]:
    """The mentions replying to `org`'s post `post_key` are addressed to `org`; their ids (the caller makes
    them about `org`: _make_about)."""
    m, r = mentions.c, responses.c
    replying = conn.execute(sa.select(m.id, m.published, m.channel, m.complaint, m.influence)
                            .where(m.reply_key == post_key)).all()
    if not replying:
        return []
    ids = [x.id for x in replying]
    have = set(conn.execute(sa.select(r.mention_id).where(r.org == org, r.mention_id.in_(ids))).scalars())
    if have:
        conn.execute(sa.update(responses).where(r.org == org, r.mention_id.in_(sorted(have))).values(addressed=True))
    new = [x for x in replying if x.id not in have]
    if new:
        conn.execute(sa.insert(responses), [
            {"mention_id": x.id, "org": org, "published": x.published, "channel": x.channel, "complaint": x.complaint,
             "influence": x.influence, "addressed": True, "answered": False, "responded": None, "wait_minutes": None}
            for x in new])
    return ids


def _make_about(conn: Connection, org: str, ids: Sequence[int]) -> None:
    """The stored mentions `ids` are about `org` too: their rows and rollups say so."""
    before = pd.DataFrame([tuple(x) for x in conn.execute(
        sa.select(*(mentions.c[c] for c in ROLLUP_COLUMNS)).where(mentions.c.id.in_(list(ids))))],
        columns=list(ROLLUP_COLUMNS))
    changed: list[tuple[int, bool, tuple[str, ...]]] = []
    for mid, was_brand, was_competitors in zip(before["id"], before["about_brand"], before["competitors"],
                                               strict=True):
        have = (bool(was_brand), competitor_names(was_competitors))
        want = _with_org(*have, org)
        if want != have:
            changed.append((int(mid), *want))
    if not changed:
        return
    moved = before[before["id"].isin([mid for mid, _, _ in changed])].reset_index(drop=True)
    remove_rollups(conn, moved)
    for mid, about_brand, competitors in changed:
        conn.execute(sa.update(mentions).where(mentions.c.id == mid)
                     .values(about_brand=about_brand, competitors=as_json(competitors)))
    now_about = {mid: (about_brand, as_json(competitors)) for mid, about_brand, competitors in changed}
    add_rollups(conn, moved.assign(about_brand=[now_about[int(i)][0] for i in moved["id"]],
                                   competitors=[now_about[int(i)][1] for i in moved["id"]]))
