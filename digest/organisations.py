"""Whom a mention is about: the brand, its competitors (sources.yaml `competitors:`), or several.

A source's brand filter keeps an entry that names the brand or any competitor; each kept mention records
whom it is about (`Mention.about_brand`, `Mention.competitors`), so that the brand's own figures count only
mentions about the brand while share of voice counts every organisation's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .config import SourcesConfig
from .models import BRAND, Mention
from .text import matches_brand

__all__ = ["About", "Organisation", "about", "organisations", "tag", "tag_all"]


@dataclasses.dataclass(frozen=True)
class Organisation:
    """The brand or a competitor, as the matching needs it."""

    name: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...]
    brand: bool


@dataclasses.dataclass(frozen=True)
class About:
    """Whom one text is about."""

    brand: bool
    competitors: tuple[str, ...]  # names, in the order of sources.yaml

    @property
    def anyone(self) -> bool:
        return self.brand or bool(self.competitors)

    def names(self, brand_name: str) -> list[str]:
        """Every organisation's name, the brand first."""
        return ([brand_name] if self.brand else []) + list(self.competitors)


def organisations(config: SourcesConfig) -> tuple[Organisation, ...]:
    """The brand, then each competitor."""
    b = config.brand
    out = [Organisation(b.name, tuple(b.keywords), tuple(b.exclude), True)]
    out += [Organisation(c.name, tuple(c.keywords), tuple(c.exclude), False) for c in config.competitors]
    return tuple(out)


def about(text: str, orgs: Sequence[Organisation]) -> About:
    """Whom `text` is about: each organisation whose keywords it names (and none of its `exclude`).

    A brand without keywords is named by everything (as the brand filter has always read it).
    """
    brand = False
    competitors: list[str] = []
    for org in orgs:
        if matches_brand(text, list(org.keywords), list(org.exclude)):
            if org.brand:
                brand = True
            else:
                competitors.append(org.name)
    return About(brand, tuple(competitors))


def tag(mention: Mention, orgs: Sequence[Organisation], *, brand_filter: bool = True,
        keep_replies: bool = False) -> Mention | None:
    """The mention with whom it is about recorded; None when it names no organisation.

    A mention addressed to an organisation (naming one of its accounts, or a ticket: `addressed_to`, see
    sources/replies.py) is about it. `brand_filter` off (the brand's own call-center export): every entry is
    about the brand only. `keep_replies`: a reply (`reply_to`) that names nobody is kept about nobody
    (counted nowhere), for its thread: it may answer an organisation's post that the store holds or will
    hold (then it is about that organisation, store/replies.py), or carry an answer up to the post above it.
    """
    if not brand_filter:
        found = About(True, ())
    else:
        named = about(f"{mention.title}\n{mention.text}", orgs)
        addressed = set(mention.addressed_to)
        competitors = tuple(o.name for o in orgs
                            if not o.brand and (o.name in named.competitors or o.name in addressed))
        found = About(named.brand or BRAND in addressed, competitors)
    if not found.anyone and not (keep_replies and mention.reply_to):
        return None
    if (mention.about_brand, mention.competitors) == (found.brand, found.competitors):
        return mention
    return dataclasses.replace(mention, about_brand=found.brand, competitors=found.competitors)


def tag_all(mentions: Sequence[Mention], orgs: Sequence[Organisation], *,
            brand_filter: bool = True, keep_replies: bool = False) -> tuple[Mention, ...]:
    """`tag` of each mention, leaving out those about nobody (but replies, with `keep_replies`)."""
    tagged = (tag(m, orgs, brand_filter=brand_filter, keep_replies=keep_replies) for m in mentions)
    return tuple(m for m in tagged if m is not None)
