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
from zoneinfo import ZoneInfo

from ..formatting import number, plain_line
from ..periods import Window
from ..rollups import Facts
from .quotes import to_quotes
from .summary import MAX_EMERGING, MAX_PHRASES, Capped, PhraseRow

__all__ = ["EMERGING_GROWTH", "MIN_COUNT", "Phrase", "context_words", "stopwords", "top_phrases"]

EMERGING_GROWTH: Final = 2.0  # current count >= this x the baseline count (time-scaled)
MIN_COUNT: Final = 3  # fewer texts than this make no phrase
EMERGING_MIN: Final = 5  # fewer texts than this are too few to call anything emerging
MAX_WORDS: Final = 4
_MAX_TOKENS_PER_TEXT: Final = 400  # a 20,000-character narrative says its piece by then
_SUBSUMED_SHARE: Final = 0.6  # a longer phrase names the group when it covers this share of it
_SUBSUMED_MIN: Final = 0.3  # a longer phrase merges into a shorter one it is this common a form of
_SAME_TEXTS: Final = 0.6  # Jaccard overlap of the texts at which two phrases are one story
# candidate pool per requested phrase: merging looks this far down the ranking
_POOL_PER_PHRASE: Final = 30
# longer phrases say more: the ranking weight of a phrase of n words
_LENGTH_WEIGHT: Final = {1: 0.6, 2: 1.6, 3: 1.9, 4: 2.1}

_HANDLE_OR_URL = re.compile(r"(?:https?://|www\.)\S+|@\w+|&\w+;")
_CLAUSE = re.compile(r"[.!?;:,()\[\]{}\"\n\u2026\u2013\u2014|/]+|\s-+\s")
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


@functools.cache
def _lexicon_lines(name: str) -> list[list[str]]:
    text = (resources.files("digest") / "lexicon" / name).read_text("utf-8")
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.cache
def who_words() -> tuple[frozenset[str], frozenset[str]]:
    """digest/lexicon/who_words.txt: the words that say who, and the words they form compounds with."""
    who, compounds = _lexicon_lines("who_words.txt")
    return frozenset(who), frozenset(compounds)


@functools.cache
def context_words() -> frozenset[str]:
    """When, how long, who (digest/lexicon/context_words.txt and who_words.txt): in a phrase, never its content."""
    return frozenset(w for line in _lexicon_lines("context_words.txt") for w in line) | who_words()[0]


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
_NUMBER = "#"  # numbers and redactions ("XXXX"): they cut phrases

_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+")
_REDACTED = re.compile(r"x{2,}")


def _key_word(surface: str) -> str:
    """The word a phrase is keyed on: no apostrophes, singular; numbers and masks ("XXXX") are "#"."""
    bare = surface.replace("'", "")
    if bare.isdigit() or _REDACTED.fullmatch(bare):
        return _NUMBER
    return _singular(bare)


class _Vocabulary:
    """Key word of each surface word, and per key word the edge rules of phrases (one per call)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.start: dict[str, bool] = {_NUMBER: False}
        self.end: dict[str, bool] = {_NUMBER: False}
        self.content: dict[str, bool] = {_NUMBER: False}
        for word in stopwords():
            for form in (word, _singular(word)):  # "does" is keyed "doe"
                self.start[form] = word in _START_OK
                self.end[form] = word in _END_OK
                self.content[form] = False
        for word in context_words():  # may start or end a phrase, but a phrase needs another word too
            for form in (word, _singular(word)):
                self.start[form] = self.end[form] = True
                self.content[form] = False
        who, compounds = who_words()
        # who-words start a phrase only before these (a compound's first half)
        self.who = frozenset(_singular(w) for w in who)
        self.when = frozenset(_singular(w) for w in context_words()) - self.who
        self.compounds = frozenset(_singular(w) for w in compounds)

    def key(self, surface: str) -> str:
        """Look up (and learn) one surface word."""
        key = self.keys[surface] = _key_word(surface)
        if key not in self.content:
            # a single letter ("a", "u", "s" of "'s") is no word of a phrase
            self.start[key] = self.end[key] = self.content[key] = len(key) > 1
        return key


def _clauses(text: str, exclude: frozenset[Key], vocab: _Vocabulary) -> list[Key]:
    """The clauses of one text as tuples of key words; excluded terms (brand names) cut clauses."""
    text = _HANDLE_OR_URL.sub(" | ", text.translate(_APOSTROPHES).lower())
    out: list[Key] = []
    keys, learn = vocab.keys, vocab.key
    budget = _MAX_TOKENS_PER_TEXT
    for part in _CLAUSE.split(text):
        words = _WORD.findall(part)
        if not words:
            continue
        clause = [keys[w] if w in keys else learn(w) for w in words[:budget]]
        budget -= len(words)
        if _NUMBER in clause:  # "on hold for 40 minutes": numbers cut phrases, they never join one
            out.extend(_split_at_numbers(clause))
        else:
            out.append(tuple(clause))
        if budget <= 0:
            break
    if exclude:
        out = [piece for clause in out for piece in _drop_excluded(clause, exclude)]
    return out


def _split_at_numbers(clause: list[str]) -> list[Key]:
    """The pieces of a clause between its numbers."""
    pieces: list[Key] = []
    start = 0
    for i, w in enumerate(clause + [_NUMBER]):
        if w == _NUMBER:
            if i > start:
                pieces.append(tuple(clause[start:i]))
            start = i + 1
    return pieces


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


def _grams(clauses: Sequence[Key], vocab: _Vocabulary, out: set[Key],
           firsts: frozenset[str] | None = None) -> None:
    """Add the candidate n-grams of one text to `out` (only those starting with `firsts` if given)."""
    start, end, content, add = vocab.start, vocab.end, vocab.content, out.add
    who, compounds = vocab.who, vocab.compounds
    for clause in clauses:
        n_words = len(clause)
        for i in range(n_words):
            first = clause[i]
            if not start[first] or (firsts is not None and first not in firsts):
                continue
            if first in who and (i + 1 == n_words or clause[i + 1] not in compounds):
                continue  # "Customer charged twice": the phrase is what the customer was or did
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
    words: set[str] = field(default_factory=set)  # of all members: a phrase sharing none is no variant


def _contains(long: Key, short: Key) -> bool:
    """Is `short` a run of words inside the longer `long`?"""
    n = len(short)
    return len(long) > n and any(long[i : i + n] == short for i in range(len(long) - n + 1))


def _belongs(key: Key, docs: set[int], group: _Group, postings: dict[Key, set[int]]) -> bool:
    """Is `key` a variant of a phrase in the group: inside one, or one inside it, used alike?

    "on hold for hours" joins "on hold" when it is a common way of saying it (not "flight
    attendant" to "flight": few flights mentioned are about attendants); "hold" joins "on hold"
    when it mostly stands there (not "bank" to "on hold with the bank" when most texts about the
    bank are about something else).
    """
    for member in group.members:
        if _contains(key, member):  # a longer form of a member
            if len(docs) >= _SUBSUMED_MIN * len(postings[member]):
                return True
        elif _contains(member, key):  # a part of a member
            if len(docs & group.docs) >= _SUBSUMED_SHARE * len(docs):
                return True
    return False


def _merge(pool: list[tuple[float, Key]], postings: dict[Key, set[int]], vocab: _Vocabulary
           ) -> list[_Group]:
    """Greedy merge, best candidates first, of variants, sub-phrases and same-text phrases."""
    groups: list[_Group] = []
    for score, key in pool:
        docs = postings[key]
        n = len(docs)
        home: _Group | None = None
        for g in groups:
            if not g.words.isdisjoint(key) and _belongs(key, docs, g, postings):
                home = g
                break
            m = len(g.docs)
            if min(n, m) >= _SAME_TEXTS * max(n, m):  # else the overlap cannot reach _SAME_TEXTS
                common = len(docs & g.docs)
                if common >= _SAME_TEXTS * (n + m - common):
                    home = g
                    break
        if home is None:
            groups.append(_Group([key], set(docs), score, words=set(key)))
        else:
            home.members.append(key)
            home.docs |= docs
            home.words.update(key)
    for g in groups:
        g.label = _label(g, postings, vocab)
        g.score = len(g.docs) * _LENGTH_WEIGHT[len(g.label)]
    return groups


def _label(group: _Group, postings: dict[Key, set[int]], vocab: _Vocabulary) -> Key:
    """The member that names the group: the longest one that still covers most of its texts, and one that
    opens on what happened rather than when ("missed my connection", not "hours and i missed")."""
    top = max(len(postings[m]) for m in group.members)
    fitting = [m for m in group.members if len(postings[m]) >= _SUBSUMED_SHARE * top]
    return max(fitting, key=lambda m: (m[0] not in vocab.when, len(postings[m]) * _LENGTH_WEIGHT[len(m)], len(m)))


def _exclusions(exclude: Sequence[str]) -> frozenset[Key]:
    """The excluded terms as keys."""
    keys = set()
    for term in exclude:
        words = [_key_word(w) for w in _WORD.findall(term.translate(_APOSTROPHES).lower())]
        if words:
            keys.add(tuple(words))
            if len(words) > 1:  # "Acme Air" also as the handle-like "acmeair"
                keys.add(("".join(words),))
    return frozenset(keys)


def top_phrases(texts: Sequence[str], baseline: Sequence[str] = (), *, limit: int = 10,
                baseline_scale: float = 1.0, exclude: Sequence[str] = (),
                background: Sequence[str] = ()) -> list[Phrase]:
    """The `limit` phrases most texts share, merged, with their baseline counts and emerging flag.

    baseline_scale is len(current window) / len(baseline window) in time, so that a count in the
    baseline times baseline_scale is the count expected now. `exclude` names words or terms
    (brand names, handles) that never form part of a phrase. `background`: texts of another kind (the
    mentions that are no complaints); a phrase they use as often as `texts` do ("customer", "flight")
    ranks below one that is `texts`' own ("on hold", "lost bag"), see _distinctive.
    """
    if limit <= 0 or not texts:
        return []
    excluded = _exclusions(exclude)
    vocab = _Vocabulary()
    docs = [_clauses(t, excluded, vocab) for t in texts]

    df: Counter[Key] = Counter()
    grams: set[Key] = set()
    for clauses in docs:
        grams.clear()
        _grams(clauses, vocab, grams)
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
        _grams(clauses, vocab, grams, firsts)
        for key in grams & wanted:
            postings[key].add(i)

    merged = _merge(pool, postings, vocab)
    if background:
        _distinctive(merged, len(texts), background, excluded, vocab)
    groups = sorted(merged, key=lambda g: (-g.score, g.label))[:limit]

    base_hits: list[set[int]] = []
    if baseline:
        member_of = {m: n for n, g in enumerate(groups) for m in g.members}
        base_firsts = frozenset(m[0] for m in member_of)
        for text in baseline:
            grams.clear()
            _grams(_clauses(text, excluded, vocab), vocab, grams, base_firsts)
            base_hits.append({member_of[k] for k in grams if k in member_of})
    out: list[Phrase] = []
    for n, g in enumerate(groups):
        count = len(g.docs)
        base = sum(1 for hit in base_hits if n in hit)
        expected = base * baseline_scale
        emerging = bool(baseline) and count >= EMERGING_MIN and (
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
        flat = _WORD.findall(_HANDLE_OR_URL.sub(" ", text.translate(_APOSTROPHES).lower()))
        keys = [_key_word(w) for w in flat]
        for i in range(len(keys) - n + 1):
            if tuple(keys[i : i + n]) == label:
                seen[" ".join(flat[i : i + n])] += 1
    return seen.most_common(1)[0][0] if seen else " ".join(label)


def _examples(group: _Group, postings: dict[Key, set[int]], texts: Sequence[str],
              k: int = 5) -> tuple[int, ...]:
    """Texts that show the phrase best: those with the label itself, then of readable length."""
    labelled = postings[group.label]

    def rank(i: int) -> tuple[int, int, int]:
        # the label's own texts first, then the ones nearest a tweet's length, then the oldest
        return (0 if i in labelled else 1, abs(len(texts[i]) - 140), i)

    return tuple(heapq.nsmallest(k, group.docs, key=rank))


# -- the digest's phrase lists -------------------------------------------------------------------------

def _distinctive(groups: Sequence[_Group], n_texts: int, background: Sequence[str], excluded: frozenset[Key],
                 vocab: _Vocabulary) -> None:
    """Weigh each group's score by how much more its texts use it than the background does: share in the
    texts / (that share + the background's), squared — 1 for a phrase the background never uses, 1/4 for
    one it uses as often."""
    member_of = {m: n for n, g in enumerate(groups) for m in g.members}
    firsts = frozenset(m[0] for m in member_of)
    hits = [0] * len(groups)
    grams: set[Key] = set()
    for text in background:
        grams.clear()
        _grams(_clauses(text, excluded, vocab), vocab, grams, firsts)
        for n in {member_of[k] for k in grams if k in member_of}:
            hits[n] += 1
    for n, g in enumerate(groups):
        ours = len(g.docs) / n_texts
        theirs = (hits[n] + 0.5) / (len(background) + 1)
        g.score *= (ours / (ours + theirs)) ** 2


def phrase_section(cur: Facts, prev: Facts | None, n_comp: int, n_base: int, window: Window, previous_window: Window,
             brand: str, tz: ZoneInfo) -> tuple[Capped[PhraseRow], Capped[PhraseRow], str]:
    """Frequent and emerging complaint phrases, each with an example quote.

    `n_comp` and `n_base` count every complaint of the two windows; the facts hold a sample of them. The
    baseline (`prev`, `previous_window`) may span several earlier periods: a phrase then emerges against the
    average of them, not against one period that happened to be quiet.
    """
    sample = cur.complaint_sample
    empty: Capped[PhraseRow] = Capped((), 0)
    if not n_comp or sample.empty:
        return empty, empty, ""
    base_sample = prev.complaint_sample if prev is not None else sample.iloc[0:0]
    if prev is None:
        n_base = 0
    fc = len(sample) / n_comp
    fb = len(base_sample) / n_base if n_base else 1.0
    span = (window.end_utc - window.start_utc) / (previous_window.end_utc - previous_window.start_utc)
    # top_phrases compares rates as baseline_count * baseline_scale; sampling changes both counts
    scale = span * fc / fb
    other = cur.other_sample["text"].astype(str).tolist() if cur.other_sample is not None else []
    found = top_phrases(sample["text"].astype(str).tolist(), base_sample["text"].astype(str).tolist(),
                        limit=MAX_PHRASES * 3, baseline_scale=scale, exclude=[brand], background=other)
    brand_words = _words_of(brand)
    rows = []
    for p in found:
        words = _words_of(p.text)
        if not words or words <= brand_words:  # "acme air" says nothing about the complaint
            continue
        count = round(p.count / fc)
        baseline = round(p.baseline_count / fb)
        growth = ""
        if p.emerging:
            expected = baseline * span
            growth = "new" if expected == 0 else f"up {count / expected:.1f}×"
        quote = to_quotes(sample.iloc[[p.examples[0]]], tz)[0] if p.examples else None
        rows.append(PhraseRow(plain_line(p.text, 60), count, ("≈" if fc < 1 else "") + number(count), baseline,
                              baseline * span, p.emerging, growth, quote))
    emerging = [r for r in rows if r.emerging]
    note = f"from a sample of {number(len(sample))} of {number(n_comp)} complaints" if fc < 1 else ""
    top = Capped(tuple(rows[:MAX_PHRASES]), len(rows))
    return top, Capped(tuple(emerging[:MAX_EMERGING]), len(emerging)), note


def _words_of(brand: str) -> set[str]:
    return {w for w in re.split(r"[^\w]+", brand.casefold()) if w}
