"""The decision: evidence and the general-purpose scores in, sentiment, complaint and a score out.

The rules decide first (`decide`); the learned model (digest/sentiment_model.py), which reads the same
evidence and scores as `model_inputs` lays them out, then corrects them where it is sure (`with_model`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from .. import sentiment_model
from ..models import Sentiment
from .evidence import Evidence

# Thresholds on the evidence sums. A clear problem report weighs about 1.0; mentions addressed
# to a company skew negative, so a little more than half of that (a weak cue and a negative
# tone, or one medium cue) decides. A round value checked on part of the evaluation tweets, not
# fitted (digest/lexicon/README.md).
_NEGATIVE_AT: Final = 0.6
_POSITIVE_AT: Final = 0.8
# an information request ("can I change my flight?") counts this much of its negativity unless it
# also reports a clear problem (complaint evidence of _REQUEST_CLEAR or more)
_REQUEST_DAMP: Final = 0.3
_REQUEST_CLEAR: Final = 1.5
_VADER_WEIGHT: Final = 1.5
_TEXTBLOB_WEIGHT: Final = 1.0
_MOCKED_AT: Final = _NEGATIVE_AT  # a reported problem this clear makes "great" sarcastic
_SINCERE_AT: Final = 1.5  # this much praise that is rarely sarcastic keeps "great" sincere
# praise far louder than the problem beside it is sincere ("great flight, great job... #seriously")
_SARCASM_RATIO: Final = 3.0


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict on one text."""

    sentiment: Sentiment
    complaint: bool
    score: float


def decide(ev: Evidence, compound: float, polarity: float) -> Decision:
    """Weigh the complaint side against the praise side."""
    neg = ev.complaint + _VADER_WEIGHT * max(0.0, -compound) + _TEXTBLOB_WEIGHT * max(0.0, -polarity)
    neg = max(0.0, neg - ev.sympathy)
    if ev.request and ev.complaint < _REQUEST_CLEAR:
        neg *= _REQUEST_DAMP  # "can I change my flight?" asks, it does not complain
    lexical_pos = _VADER_WEIGHT * max(0.0, compound) + _TEXTBLOB_WEIGHT * max(0.0, polarity)
    if ev.complaint >= _NEGATIVE_AT:
        # a concrete problem report outweighs words that merely sound positive ("I thought you
        # were the best... on hold for an hour")
        lexical_pos *= 0.5
    if ev.resolved > 0 and (ev.praise + ev.mocking) > 0:
        # thanks for a fix: the problem it fixed is the story, not the verdict
        neg = max(0.0, neg - ev.resolved)
        pos = ev.praise + ev.mocking + lexical_pos
    elif (ev.complaint - ev.loose >= _MOCKED_AT and 0 < ev.mocking < _SARCASM_RATIO * ev.complaint
          and ev.praise < _SINCERE_AT):
        # "great, another delay": sarcasm-prone praise next to a problem, and no praise that is
        # rarely sarcastic ("kudos", "helpful"), counts against
        neg += ev.mocking
        pos = ev.praise
    else:
        pos = ev.praise + ev.mocking + lexical_pos
    sentiment: Sentiment
    if neg >= _NEGATIVE_AT and neg >= pos:
        sentiment = "negative"
    elif pos >= _POSITIVE_AT and pos > neg:
        sentiment = "positive"
    else:
        sentiment = "neutral"
    score = math.tanh((pos - neg) / 2.0)
    # negative about the company is dissatisfaction; sympathy ("so sorry to hear") is not
    complaint = sentiment == "negative" and ev.sympathy < neg
    return Decision(sentiment, complaint, score)


def model_inputs(ev: Evidence, compound: float, polarity: float) -> list[float]:
    """The rules' evidence and the two scores as the learned model's direction part reads them."""
    return sentiment_model.direction_inputs(
        complaint=ev.complaint, loose=ev.loose, praise=ev.praise, mocking=ev.mocking, resolved=ev.resolved,
        request=ev.request, sympathy=ev.sympathy, compound=compound, polarity=polarity)


# How far the learned model may move the rules' verdict, in its lean (log-odds of negative against
# positive; the model only knows which way a text leans, never whether it leans at all, and reads words,
# not tone). Chosen on bench/eval_cross_domain.py with the training domains held out one at a time
# (Reddit comments, whole reviews and review titles), the intent sets as neutral, the airline tweets and
# the CFPB narratives -- not on one set:
# - a text the rules find no sentiment in takes the model's side when it is this sure ("the food was
#   bland", "runs small"), unless it asks for something ("can I change my flight?": a request is neutral
#   unless it reports a problem, which the rules would have found); lower finds more of them and calls
#   more plain statements and questions negative or positive;
_FILL_AT: Final = 2.0
# - a verdict the model contradicts this strongly is the model's ("Really great fit. I was worried the
#   slip would show, but..." is not a complaint), except a positive verdict the rules' praise cues made
#   ("not bad at all") and a problem the rules found reported in a short text ("Thanks for nothing.",
#   "Great, another delay. Thanks a lot."): words alone miss idioms, negation and irony;
_OVERRULE_AT: Final = 3.0
# - a reported problem in a text this short is the rules' call; in a longer one (a review, an email) the
#   model's reading of the whole overrules a negative verdict at this lean: praise beside a problem there is
#   usually sincere ("Perfect fit... the only problem is the buttons"), and the rules read it as sarcasm
_SHORT_WORDS: Final = 30
_OVERRULE_LONG_AT: Final = 2.0


def model_may_change(rules: Decision, ev: Evidence, *, words: int) -> bool:
    """Whether the learned model could move the rules' verdict at all (else it need not be asked)."""
    if rules.sentiment == "neutral":
        return not ev.request
    if rules.sentiment == "negative":
        return not (ev.complaint - ev.loose >= _MOCKED_AT and words < _SHORT_WORDS)  # a reported problem
    return ev.praise + ev.mocking == 0


def with_model(rules: Decision, lean: float, ev: Evidence, *, words: int) -> Decision:
    """The rules' decision corrected by the learned model's `lean` (> 0 negative) where it is sure;
    `ev` is the evidence the rules decided on, `words` the text's length in words."""
    if not model_may_change(rules, ev, words=words):
        return rules
    if rules.sentiment == "neutral":
        take = abs(lean) >= _FILL_AT
    elif rules.sentiment == "negative":
        take = lean <= -(_OVERRULE_AT if words < _SHORT_WORDS else _OVERRULE_LONG_AT)
    else:
        take = lean >= _OVERRULE_AT
    if not take:
        return rules
    sentiment: Sentiment = "negative" if lean > 0 else "positive"
    return Decision(sentiment, sentiment == "negative" and ev.sympathy == 0, -math.tanh(lean / 4.0))
