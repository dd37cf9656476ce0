"""Sentiment, complaint and topics of one customer mention, offline: rules first, a learned model after.

Lexicon sentiment alone misses most complaints ("on hold for 40 minutes" has no sentiment word),
so the decision combines three kinds of evidence:

* hand-authored cue lexicons (digest/lexicon/*.txt) of service failures, dissatisfaction, thanks
  and praise, information requests, sarcasm-prone praise and resolutions, matched on lightly
  stemmed words with negation, boosters, contrast ("but"), capitals and elongation;
* VADER's general-purpose valence (MIT, its lexicon ships inside the package);
* TextBlob's polarity, which the product owner asked for and which is reported unchanged;

then, for English texts, a learned model (digest/sentiment_model.py, trained on the licence-clean sets
of ../shared/data/train by bench/train_sentiment.py) reads the words and that evidence and says which
way the text leans; it corrects the rules only where it is sure (decide.with_model). The cue lexicons
are hand-written, not learned; the airline tweets used by bench/eval_classifier.py are non-commercial
and for evaluation only.

The package, in the order a text goes through it:

* tokens.py: normalization (tokens, stems, hashtags);
* lexicons.py / cues.py: the lexicon files as read, and their phrases normalized as text is;
* evidence.py: the cues one text matches, summed per kind;
* scores.py: VADER and TextBlob;
* decide.py: evidence and scores to sentiment and complaint, then the learned model's corrections;
* topics.py: topic keywords; classifier.py: the Classifier that runs them all.
"""

from .classifier import Classifier
from .cues import words
from .tokens import stem

__all__ = ["Classifier", "stem", "words"]
