"""Frequent and emerging complaint phrases, without NLTK.

Texts are cut into clauses at punctuation, words are found with a regular expression, and every
run of 1-4 words that neither starts nor ends with a function word is a candidate, counted once
per text. Candidates that say the same thing are merged into one phrase: singular and plural
("lost bag" / "lost bags"), a phrase inside a longer one ("on hold" / "on hold for hours") and
phrases that keep turning up in the same texts ("baggage claim" / "claim desk"). A phrase is
emerging when the baseline never had it, or when it grows at least EMERGING_GROWTH times faster
than the baseline rate.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Final

__all__ = ["EMERGING_GROWTH", "MIN_COUNT", "Phrase", "top_phrases"]

EMERGING_GROWTH: Final = 3.0  # current count >= this x the baseline count (time-scaled)
MIN_COUNT: Final = 3  # fewer texts than this make no phrase, and nothing emerging
MAX_WORDS: Final = 4
_MAX_TOKENS_PER_TEXT: Final = 400  # a 20,000-character narrative says its piece by then
_SUBSUMED_SHARE: Final = 0.6  # a longer phrase names the group when it covers this share of it
_SUBSUMED_MIN: Final = 0.3  # a longer phrase merges into a shorter one it is this common a form of
_SAME_TEXTS: Final = 0.5  # Jaccard overlap of the texts at which two phrases are one story
# candidate pool per requested phrase: merging looks this far down the ranking
_POOL_PER_PHRASE: Final = 30
# longer phrases say more: the ranking weight of a phrase of n words
_LENGTH_WEIGHT: Final = {1: 0.6, 2: 1.6, 3: 1.9, 4: 2.1}

_HANDLE_OR_URL = re.compile(r"(?:https?://|www\.)\S+|@\w+|&\w+;")
_CLAUSE = re.compile(r"[.!?;:,()\[\]{}\"\n\u2026\u2013\u2014|/]+|\s-+\s")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})

# function words that do carry meaning at one edge of a phrase
_START_OK: Final = frozenset(
    "no not never nothing nobody none without cant wont dont didnt doesnt isnt wasnt "
    "couldnt wouldnt havent hasnt on off out down over".split()
)
_END_OK: Final = frozenset("in on out up down off over back".split())


@dataclass(frozen=True)
class Phrase:
    """A phrase that many texts share."""

    text: str  # e.g. "on hold"
    count: int  # texts in `texts` that contain it (after merging variants)
    baseline_count: int  # texts in `baseline` that contain it
    emerging: bool  # new, or growing much faster than the baseline
    examples: tuple[int, ...]  # indexes into `texts`, most representative first


@functools.cache
def stopwords() -> frozenset[str]:
    """The English function words of digest/lexicon/stopwords.txt (apostrophes dropped)."""
    text = (resources.files("digest") / "lexicon" / "stopwords.txt").read_text("utf-8")
    return frozenset(w for line in text.splitlines() if not line.startswith("#") for w in line.split())


@functools.lru_cache(maxsize=1 << 16)
def _singular(word: str) -> str:
    """The singular of a plural noun, roughly ("bags" -> "bag", "fees" -> "fee", "flies" -> "fly")."""
    if len(word) <= 3 or not word.endswith("s") or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    return word[:-1]


Key = tuple[str, ...]
_NUMBER = "#"  # numbers and redactions ("XXXX") sit inside phrases, never at an edge

_TOKEN = re.compile(r"([^\W\d_]+(?:'[^\W\d_]+)*)|(\d+)|([.!?;:,()\[\]{}\"\n\u2026\u2013\u2014|/]+|\s-+\s)")
_REDACTED = re.compile(r"x{2,}")


@functools.lru_cache(maxsize=1 << 17)
def _key_word(surface: str) -> str:
    """The word a phrase is keyed on: no apostrophes, singular; redaction masks count as numbers."""
    bare = surface.replace("'", "")
    if _REDACTED.fullmatch(bare):
        return _NUMBER
    return _singular(bare)


class _Edges:
    """Per key word: may a phrase start with it, end a longer phrase with it, is it content."""

    def __init__(self) -> None:
        stop = stopwords()
        self.start: dict[str, bool] = {_NUMBER: False}
        self.end: dict[str, bool] = {_NUMBER: False}
        self.content: dict[str, bool] = {_NUMBER: False}
        for w in stop:
            self.start[w] = w in _START_OK
            self.end[w] = w in _END_OK
            self.content[w] = False

    def learn(self, word: str) -> None:
        self.start[word] = self.end[word] = self.content[word] = True


def _clauses(text: str, exclude: frozenset[Key], edges: _Edges) -> list[Key]:
    """The clauses of one text as tuples of key words; excluded terms (brand names) cut clauses."""
    text = _HANDLE_OR_URL.sub(" | ", text.translate(_APOSTROPHES).lower())
    out: list[Key] = []
    words: list[str] = []
    known = edges.content
    budget = _MAX_TOKENS_PER_TEXT
    for word, number, _ in _TOKEN.findall(text):
        if word:
            key = _key_word(word)
            if key not in known:
                edges.learn(key)
            words.append(key)
        elif number:
            words.append(_NUMBER)
        elif words:
            out.append(tuple(words))
            budget -= len(words)
            words = []
            if budget <= 0:
                break
    if words and budget > 0:
        out.append(tuple(words))
    if exclude:
        out = [piece for clause in out for piece in _drop_excluded(clause, exclude)]
    return out


def _drop_excluded(clause: Key, exclude: frozenset[Key]) -> list[Key]:
    """The pieces of a clause between the excluded terms in it."""
    longest = max(len(k) for k in exclude)
    pieces: list[Key] = []
    start = i = 0
    while i < len(clause):
        for n in range(min(longest, len(clause) - i), 0, -1):
            if clause[i : i + n] in exclude:
                if i > start:
                    pieces.append(clause[start:i])
                i += n
                start = i
                break
        else:
            i += 1
    if start < len(clause):
        pieces.append(clause[start:])
    return pieces


def _grams(clauses: Sequence[Key], edges: _Edges, out: set[Key],
           firsts: frozenset[str] | None = None) -> None:
    """Add the candidate n-grams of one text to `out` (only those starting with `firsts` if given)."""
    start, end, content, add = edges.start, edges.end, edges.content, out.add
    for clause in clauses:
        n_words = len(clause)
        for i in range(n_words):
            first = clause[i]
            if not start[first] or (firsts is not None and first not in firsts):
                continue
            has_content = content[first]
            if has_content:
                add(clause[i : i + 1])
            for j in range(i + 1, min(i + MAX_WORDS, n_words)):
                last = clause[j]
                has_content = has_content or content[last]
                if has_content and end[last]:
                    add(clause[i : j + 1])


@dataclass
class _Group:
    """Candidates merged into one phrase."""

    members: list[Key]
    docs: set[int]
    score: float
    label: Key = field(default=())


def _contains(long: Key, short: Key) -> bool:
    n = len(short)
    return len(long) > n and any(long[i : i + n] == short for i in range(len(long) - n + 1))


def _subsumes(a: Key, b: Key, postings: dict[Key, set[int]]) -> bool:
    """One phrase inside the other, and the longer one a common way of saying the shorter.

    "on hold" / "on hold for hours" merge; "flight" / "flight attendant" do not: few flights
    mentioned are about attendants.
    """
    if _contains(a, b):
        long, short = a, b
    elif _contains(b, a):
        long, short = b, a
    else:
        return False
    return len(postings[long]) >= _SUBSUMED_MIN * len(postings[short])


def _merge(pool: list[tuple[float, Key]], postings: dict[Key, set[int]]) -> list[_Group]:
    """Greedy merge, best candidates first, of variants, sub-phrases and same-text phrases."""
    groups: list[_Group] = []
    for score, key in pool:
        docs = postings[key]
        home: _Group | None = None
        for g in groups:
            if any(_subsumes(m, key, postings) for m in g.members):
                home = g
                break
            small, big = sorted((len(docs), len(g.docs)))
            if small >= _SAME_TEXTS * big:  # else the overlap cannot reach _SAME_TEXTS
                common = len(docs & g.docs)
                if common >= _SAME_TEXTS * (len(docs) + len(g.docs) - common):
                    home = g
                    break
        if home is None:
            groups.append(_Group([key], set(docs), score))
        else:
            home.members.append(key)
            home.docs |= docs
    for g in groups:
        g.label = _label(g, postings)
        g.score = len(g.docs) * _LENGTH_WEIGHT[len(g.label)]
    return groups


def _label(group: _Group, postings: dict[Key, set[int]]) -> Key:
    """The member that names the group: the longest one that still covers most of its texts."""
    top = max(len(postings[m]) for m in group.members)
    fitting = [m for m in group.members if len(postings[m]) >= _SUBSUMED_SHARE * top]
    return max(fitting, key=lambda m: (len(postings[m]) * _LENGTH_WEIGHT[len(m)], len(m)))


def _exclusions(exclude: Sequence[str]) -> frozenset[Key]:
    keys = set()
    for term in exclude:
        words = [_key_word(w) for w, _, _ in _TOKEN.findall(term.translate(_APOSTROPHES).lower()) if w]
        if words:
            keys.add(tuple(words))
            if len(words) > 1:  # "Acme Air" also as the handle-like "acmeair"
                keys.add(("".join(words),))
    return frozenset(keys)


def top_phrases(texts: Sequence[str], baseline: Sequence[str] = (), *, limit: int = 10,
                baseline_scale: float = 1.0, exclude: Sequence[str] = ()) -> list[Phrase]:
    """The `limit` phrases most texts share, merged, with their baseline counts and emerging flag.

    baseline_scale is len(current window) / len(baseline window) in time, so that a count in the
    baseline times baseline_scale is the count expected now. `exclude` names words or terms
    (brand names, handles) that never form part of a phrase.
    """
    if limit <= 0 or not texts:
        return []
    excluded = _exclusions(exclude)
    edges = _Edges()
    docs = [_clauses(t, excluded, edges) for t in texts]

    df: Counter[Key] = Counter()
    grams: set[Key] = set()
    for clauses in docs:
        grams.clear()
        _grams(clauses, edges, grams)
        df.update(grams)
    ranked = sorted(((c * _LENGTH_WEIGHT[len(k)], k) for k, c in df.items() if c >= MIN_COUNT),
                    key=lambda x: (-x[0], x[1]))
    del df
    pool = ranked[: limit * _POOL_PER_PHRASE]
    if not pool:
        return []

    wanted = frozenset(k for _, k in pool)
    firsts = frozenset(k[0] for k in wanted)
    postings: dict[Key, set[int]] = {k: set() for k in wanted}
    for i, clauses in enumerate(docs):
        grams.clear()
        _grams(clauses, edges, grams, firsts)
        for key in grams & wanted:
            postings[key].add(i)

    groups = sorted(_merge(pool, postings), key=lambda g: (-g.score, g.label))[:limit]

    base_hits: list[set[int]] = []
    if baseline:
        member_of = {m: n for n, g in enumerate(groups) for m in g.members}
        base_firsts = frozenset(m[0] for m in member_of)
        for text in baseline:
            grams.clear()
            _grams(_clauses(text, excluded, edges), edges, grams, base_firsts)
            base_hits.append({member_of[k] for k in grams if k in member_of})
    out: list[Phrase] = []
    for n, g in enumerate(groups):
        count = len(g.docs)
        base = sum(1 for hit in base_hits if n in hit)
        expected = base * baseline_scale
        emerging = bool(baseline) and count >= MIN_COUNT and (
            base == 0 or count >= EMERGING_GROWTH * expected
        )
        examples = _examples(g, postings, texts)
        out.append(Phrase(_surface(g.label, [texts[i] for i in examples]), count, base, emerging, examples))
    return out


def _surface(label: Key, samples: Sequence[str]) -> str:
    """The label as customers wrote it most often ("lost bags", "can't log in")."""
    seen: Counter[str] = Counter()
    n = len(label)
    for text in samples:
        words = [w for w, _, _ in _TOKEN.findall(text.translate(_APOSTROPHES).lower()) if w] or []
        numbered = _TOKEN.findall(text.translate(_APOSTROPHES).lower())
        flat = [w or num for w, num, _ in numbered if w or num]
        keys = [_key_word(w) if w.isalpha() or "'" in w else _NUMBER for w in flat]
        for i in range(len(keys) - n + 1):
            if tuple(keys[i : i + n]) == label:
                seen[" ".join(flat[i : i + n])] += 1
        del words
    if seen:
        return seen.most_common(1)[0][0]
    return " ".join(label)


def _examples(group: _Group, postings: dict[Key, set[int]], texts: Sequence[str],
              k: int = 5) -> tuple[int, ...]:
    """Texts that show the phrase best: those with the label itself, then of readable length."""
    labelled = postings[group.label]

    def rank(i: int) -> tuple[int, int, int]:
        # the label's own texts first, then the ones nearest a tweet's length, then the oldest
        return (0 if i in labelled else 1, abs(len(texts[i]) - 140), i)

    return tuple(heapq.nsmallest(k, group.docs, key=rank))
