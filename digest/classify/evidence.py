"""The evidence of one text: cue matches summed per kind, with negation, contrast, emphasis and questions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from . import grammar as _grammar
from .cues import known_words, lexicon
from .tokens import Token, tokens

# words that may come before a question's first words ("hi, can you", "ok so is there")
_OPENERS: Final = frozenset("hi hey hello ok okay so also and just quick please then well yes yeah no".split())
_BEFORE_BUT: Final = 0.5
_AFTER_BUT: Final = 1.5
_NEGATOR_ALONE: Final = 0.4
_NEGATION_SCOPE: Final = 3  # "not very helpful"
_COMPLAINT_NEGATION_SCOPE: Final = 2  # "not delayed", "not that bad"
_BOOSTERS: Final = frozenset(
    "so very really extremely super totally absolutely completely incredibly truly such too "
    "utterly highly most seriously beyond insanely ridiculously".split()
)
_BOOST: Final = 1.3
# emoticons as _emoticon() writes them: ":-(", ";(" and "=((" are all ":("
_EMOTICONS_NEG: Final = frozenset({":(", ":/", ":\\", ":|", ":[", "</3"})
_EMOTICONS_POS: Final = frozenset({":)", ":d", ":p", ":]", "<3"})
_EMOTICON_NOSE: Final = re.compile(r"^>?([:;=])[\-o*']?(.)\2*$")
_EMOJI_NEG: Final = frozenset("😡😠🤬😤😒🙄😞😢👎💔😩😫😖😣😑😐🤦😕😟😔🙁☹😰😱🤢🤮💩")
_EMOJI_POS: Final = frozenset("😀😁😃😄😊😍🥰😘😎👍👏🙌💯🎉❤💙💜💚💛🧡♥😂🤗✨⭐🌟🥳🙂😆😉💕💖")
_EMOJI_WEIGHT: Final = 1.0
# "?!" and "???" read as exasperation, not as a question
_INTERROBANG: Final = re.compile(r"\?\s*!|!\s*\?|\?\s*\?\s*\?")
_INTERROBANG_WEIGHT: Final = 0.8
# a problem word inside a question ("is my flight delayed?") is often a status check, and praise
# there ("is it on time?") is no praise: they count this much; rhetorical questions ("why is it
# always late?") are listed apart and count in full
_QUESTION_DAMP: Final = 0.6


@dataclass(slots=True)
class Evidence:
    """What the cues of one text add up to, per kind."""

    complaint: float = 0.0
    praise: float = 0.0
    mocking: float = 0.0  # praise that turns into complaint when a problem is reported
    resolved: float = 0.0
    request: bool = False
    sympathy: float = 0.0
    loose: float = 0.0  # of `complaint`, what negators outside any cue add ("no", "never" alone)


def _emoticon(symbol: str) -> str:
    """An emoticon without its nose, with ":" for eyes and one mouth (";-))" -> ":)"); emoji as they are."""
    m = _EMOTICON_NOSE.match(symbol)
    return f":{m.group(2)}" if m else symbol


def _contrast_sides(toks: Sequence[Token]) -> list[int]:
    """1 for a token before a "but" of its own sentence, -1 after one, 0 elsewhere."""
    side = [0] * len(toks)
    seen_but = False
    for i, t in enumerate(toks):  # after: a "but" earlier in the sentence
        if t.ends:
            seen_but = False
        elif t.contrast:
            seen_but = True
        elif seen_but:
            side[i] = -1
    seen_but = False
    for i in range(len(toks) - 1, -1, -1):  # before: a "but" later in the sentence
        t = toks[i]
        if t.ends:
            seen_but = False
        elif t.contrast:
            seen_but = True
        elif seen_but and side[i] == 0:
            side[i] = 1
    return side


def collect(text: str, trace: list[str] | None = None, topical: list[bool] | None = None,
            language: str = "en") -> tuple[Evidence, list[str]]:
    """Sum the cue evidence of one text in a single left-to-right pass; also return its stems.

    `trace`, if given, receives one line per cue matched: its kind, weight and stems. `topical`, if given,
    receives one flag per stem returned: whether the stem's sentence reports a problem (see _topical).
    `language` is English ("en") or one of grammar.cue_languages(): its cues, normalization and grammar words.
    """
    cues, longest = lexicon(language)
    if language == "en":
        boosters, openers = _BOOSTERS, _OPENERS
        found = tokens(text, known_words())
    else:
        g = _grammar.grammar(language)
        boosters, openers = g.boosters, frozenset()
        found = _grammar.tokens(text, g)
    ev = Evidence()
    toks: list[Token] = []
    for t in found:
        if isinstance(t, Token):
            toks.append(t)
            continue
        symbol = _emoticon(t[1])
        if symbol in _EMOTICONS_NEG or symbol in _EMOJI_NEG:
            ev.complaint += _EMOJI_WEIGHT
            if trace is not None:
                trace.append(f"complaint {_EMOJI_WEIGHT:.2f} {t[1]}")
        elif symbol in _EMOTICONS_POS or symbol in _EMOJI_POS:
            ev.praise += _EMOJI_WEIGHT
            if trace is not None:
                trace.append(f"praise {_EMOJI_WEIGHT:.2f} {t[1]}")
    if _INTERROBANG.search(text):
        ev.complaint += _INTERROBANG_WEIGHT
        if trace is not None:
            trace.append(f"complaint {_INTERROBANG_WEIGHT:.2f} ?!")
    n = len(toks)
    for k in range(n - 1 if language == "en" else 0):  # "not only ... but also" negates nothing
        if toks[k].negator and toks[k + 1].stem == "only":
            toks[k] = Token(toks[k].stem, toks[k].emphasis)
    stems = [t.stem for t in toks]
    # per token: 1 if a "but" follows it in its sentence, -1 if one precedes it, 0 if neither
    side = _contrast_sides(toks)
    negator_used = [False] * n  # has negated a cue
    in_cue = [False] * n  # is part of a cue (so not weak evidence on its own)
    # evidence of the current sentence, softened if it turns out to be a question
    pending = pending_praise = 0.0
    problem_at: list[int] = []  # tokens where complaint evidence was found
    i = 0
    while i < n:
        tok = toks[i]
        if tok.boundary:
            if tok.ends:
                damp = _QUESTION_DAMP if tok.asks else 1.0
                if trace is not None and tok.asks and (pending or pending_praise):
                    trace.append(f"question x{damp:.2f} (the cues before it)")
                ev.complaint += pending * damp
                ev.praise += pending_praise * damp
                pending = pending_praise = 0.0
            i += 1
            continue
        span = longest.get(tok.stem, 0)
        match: dict[str, float] | None = None
        length = 0
        for length in range(min(span, n - i), 0, -1):
            match = cues.get(tuple(stems[i : i + length]))
            if match is not None:
                break
        if match is None:
            i += 1
            continue
        # negation: a free negator shortly before, within the clause
        negated = False
        negator_at = -1
        by_complaint = False  # the negator belongs to a complaint cue: it flips praise only
        if not toks[i].negator:
            for j in range(i - 1, max(-1, i - 1 - _NEGATION_SCOPE), -1):
                if toks[j].boundary or toks[j].contrast:
                    break
                if toks[j].negator and not negator_used[j]:
                    negated, by_complaint, negator_at = True, in_cue[j], j
                    if not by_complaint or "complaint" not in match:
                        negator_used[j] = True
                    break
        scale = tok.emphasis if length == 1 else max(t.emphasis for t in toks[i : i + length])
        if i > 0 and toks[i - 1].stem in boosters:
            scale *= _BOOST
        contrast = side[i]
        for kind, weight in match.items():
            if kind == "praise" and "mocking" in match:
                continue  # listed as both: sarcasm-prone decides
            w = weight * scale
            # "..., but ...": what follows weighs more; praise before it is taken back, a problem
            # before it still stands ("says delivered but nothing is there")
            if contrast < 0:
                w *= _AFTER_BUT
            elif contrast > 0 and kind in ("praise", "mocking", "no_problem"):
                w *= _BEFORE_BUT
            if kind == "complaint":
                # "never received my refund" keeps "refund"; "can't tell me where my bag is" is
                # no negated "where my bag": a complaint is negated by a word right before it
                if not negated or by_complaint or i - negator_at > _COMPLAINT_NEGATION_SCOPE:
                    pending += w
                    problem_at.append(i)
                else:
                    w = 0.0  # "not delayed"
            elif kind == "rhetorical":
                ev.complaint += w
                problem_at.append(i)
            elif kind in ("praise", "mocking"):
                if negated:  # "not helpful", "never on time"
                    ev.complaint += 0.8 * w
                    problem_at.append(i)
                elif kind == "praise":
                    pending_praise += w
                else:
                    ev.mocking += w
            elif kind == "resolved":
                if negated:  # "still hasn't been resolved"
                    ev.complaint += 0.8 * w
                    problem_at.append(i)
                else:
                    ev.resolved += w
            elif kind == "no_problem":
                ev.praise += w
            elif kind == "request":
                # "can I ...", "is there ..." ask at the start of a sentence; elsewhere the words
                # are a statement's ("this is the worst", "which is ridiculous")
                k = i - 1
                while k >= 0 and toks[k].stem in openers:
                    k -= 1
                if k < 0 or toks[k].boundary:
                    ev.request = True
                else:
                    w = 0.0
            elif kind == "sympathy":
                ev.sympathy += w
            if trace is not None:
                said = " ".join(stems[i : i + length])
                flipped = negated and kind in ("praise", "mocking", "resolved")
                note = " (negated: counts 0.8x as complaint)" if flipped else " (negated)" if negated else ""
                trace.append(f"{kind} {w:.2f} {said}{note}")
        # a negator inside a cue is spent ("no response", "not bad"), except in a complaint, whose
        # negation carries on ("nobody was helpful", "didn't get any help")
        carries = "complaint" in match or "rhetorical" in match
        for j in range(i, i + length):
            in_cue[j] = True
            if not carries:
                negator_used[j] = True
        i += length
    ev.complaint += pending
    ev.praise += pending_praise
    alone = [k for k, t in enumerate(toks) if t.negator and not (negator_used[k] or in_cue[k])]
    loose = len(alone)
    ev.loose = _NEGATOR_ALONE * loose
    ev.complaint += ev.loose
    if trace is not None and loose:
        trace.append(f"complaint {_NEGATOR_ALONE * loose:.2f} negation alone x{loose}")
    if topical is not None:
        topical.extend(_topical(toks, [*problem_at, *alone]))
    return ev, [s for s, t in zip(stems, toks, strict=True) if not t.boundary]


# a colon this close to a sentence's start ends a heading ("Status report:", "Update:", "Day 3 of my trip:")
_HEADING_WORDS: Final = 5


def _topical(toks: Sequence[Token], problem_at: Sequence[int]) -> list[bool]:
    """Per word token: whether its sentence reports a problem (holds complaint evidence).

    A complaint's topics are what it complains about: a sentence of its own that reports nothing ("Sent from
    seat 19E.", a heading like "Status report:") names no topic. A text whose problem no sentence shows
    (only its tone is negative) keeps every word.
    """
    sentence = [0] * len(toks)
    current = words = 0
    for k, t in enumerate(toks):
        sentence[k] = current
        if t.boundary:
            if t.ends or (t.colon and 0 < words <= _HEADING_WORDS):
                current += 1
                words = 0
        else:
            words += 1
    reporting = {sentence[k] for k in problem_at}
    flags = [sentence[k] in reporting for k, t in enumerate(toks) if not t.boundary]
    return flags if any(flags) else [True] * len(flags)
