"""Telling an organisation's own posts from its customers' (issue 16, "Did we answer?").

A post written by one of `brand.accounts` is an answer, never a mention: it leaves the mentions before the
brand filter (a reply rarely names its own brand) and is stored as an OrgPost, so that the store can match
it with the post it answers whichever arrives first. A customer's post is *addressed* to an organisation
when it names one of its accounts (`@AcmeAir`); whether it replies to one of the organisation's posts is
the store's to find out (digest/store/replies.py), since that post may come later.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Collection, Iterable, Mapping

from ..config import SourcesConfig
from ..models import BRAND, Mention, OrgPost
from ..text import account_key

Orgs = Mapping[str, Collection[str]]  # organisation key -> its accounts


def orgs_of(config: SourcesConfig) -> dict[str, tuple[str, ...]]:
    """The organisations whose own posts are answers: the brand's accounts, and each competitor's under its
    name (share of voice, issue 17); an organisation without accounts is left out."""
    out = {BRAND: tuple(config.brand.accounts)}
    out.update((c.name, tuple(c.accounts)) for c in config.competitors)
    return {org: accounts for org, accounts in out.items() if accounts}


def answers_visible(config: SourcesConfig) -> bool:
    """Whether some enabled source can show the brand's answers: tickets that say so, or posts whose
    author can be one of brand.accounts (feeds give authors; exports and APIs when they map one)."""
    for s in config.sources:
        if not s.enabled:
            continue
        if s.kind == "feed":
            if config.brand.accounts:
                return True
            continue
        f = s.fields
        if f.first_response_at or f.resolved_at or f.status or (config.brand.accounts and f.author):
            return True
    return False


@functools.lru_cache(maxsize=64)
def _handles(accounts: tuple[str, ...]) -> re.Pattern[str] | None:
    """`@Name` for each account, not inside a longer handle or an email address."""
    names = sorted({account_key(a) for a in accounts if account_key(a)}, key=len, reverse=True)
    if not names:
        return None
    return re.compile(r"(?<![\w@.])@(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE)


def names_account(text: str, accounts: Iterable[str]) -> bool:
    """Whether `text` names one of `accounts` as a handle (`@AcmeAir`, `@AcmeAir@mastodon.social`)."""
    pattern = _handles(tuple(accounts))
    return pattern is not None and pattern.search(text) is not None


def split_posts(mentions: Iterable[Mention], orgs: Orgs) -> tuple[list[Mention], list[OrgPost]]:
    """(customers' mentions, each with the organisations it addresses; the organisations' own posts).

    A ticket (a mention whose export says whether it was answered) is addressed to the brand.
    """
    owners = {account_key(a): org for org, accounts in orgs.items() for a in accounts if account_key(a)}
    customers: list[Mention] = []
    posts: list[OrgPost] = []
    for m in mentions:
        owner = owners.get(account_key(m.author)) if m.author else None
        if owner is not None:
            posts.append(OrgPost(owner, m))
            continue
        said = f"{m.title}\n{m.text}"
        addressed = tuple(org for org, accounts in orgs.items() if names_account(said, accounts))
        if m.answered is not None and BRAND not in addressed:
            addressed = (BRAND, *addressed)
        customers.append(dataclasses.replace(m, addressed_to=addressed) if addressed else m)
    return customers, posts
