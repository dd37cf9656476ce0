"""The Classifier: one mention's sentiment, complaint and topics, from evidence, scores and the decision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .. import sentiment_model
from ..models import UNSCORED, Classification
from .cues import known_words, lexicon
from .decide import Decision, decide, model_inputs, model_may_change, with_model
from .evidence import Evidence, collect
from .grammar import cue_languages
from .language import SCORED, detect
from .language import load as load_language
from .lexicons import vader, vocabulary
from .scores import for_vader, load_textblob, textblob_polarity, vader_compound
from .tokens import word_costs
from .topics import TopicMatcher, language_words


class Classifier:
    """Decides sentiment (negative/neutral/positive, or unscored), complaint and topics of customer mentions."""

    def __init__(
        self,
        topics: Mapping[str, Sequence[str]] = {},  # noqa: B006 - read only, the interface's default
        praise_topics: Mapping[str, Sequence[str]] = {},  # noqa: B006
    ) -> None:
        # one matcher per language the classifier reads, each stemming the keywords as it stems the text
        self._topic_lists = (topics, praise_topics)
        self._matchers: dict[str, tuple[TopicMatcher, TopicMatcher]] = {}
        self._any_praise = any(praise_topics.values())
        self._vader = vader()
        # Load (and check) the English lexicons now, not on the first mention: TextBlob's loads lazily, and a
        # worker process forked from this one would otherwise read it again on each ingest. Another
        # language's cues and keywords are read on its first text: stemming them all took most of a
        # process's start, and most deployments read one or two languages.
        lexicon()
        known_words()
        vocabulary()
        word_costs()
        load_textblob()
        load_language()
        self._model = sentiment_model.shipped()

    def classify(self, text: str) -> Classification:
        """Classify one text; TextBlob's polarity is reported unchanged. A text in a language the classifier
        cannot score is "unscored": no complaint, no topics, score and polarity 0 (counted, never guessed)."""
        language = detect(text)
        if language not in SCORED:
            return Classification(sentiment=UNSCORED, polarity=0.0, complaint=False, topics=(), score=0.0,
                                  language=language)
        topical: list[bool] = []
        if language in cue_languages():
            # VADER, TextBlob and the learned model read English only: the language's own cues decide alone
            polarity = compound = 0.0
            evidence, stems = collect(text, topical=topical, language=language)
            decision = decide(evidence, compound, polarity)
        else:
            evidence, stems, compound, polarity, decision = self._english_rules(text, topical=topical)
            words = len(text.split())
            if model_may_change(decision, evidence, words=words):  # else the model need not be asked
                lean = self._model.lean(text, model_inputs(evidence, compound, polarity)).lean
                decision = with_model(decision, lean, evidence, words=words)
        topics: tuple[str, ...] = ()
        matcher = self._for(language)[0]
        if matcher and (decision.complaint or decision.sentiment == "negative"):
            # only the sentences that report the problem: "Sent from seat 19E" is no complaint about seats
            topics = matcher.match([s if keep else "|" for s, keep in zip(stems, topical, strict=True)])
        return Classification(
            sentiment=decision.sentiment,
            polarity=polarity,
            complaint=decision.complaint,
            topics=topics,
            score=decision.score,
            language=language,
        )

    def _english_rules(self, text: str, *, trace: list[str] | None = None, topical: list[bool] | None = None
                       ) -> tuple[Evidence, list[str], float, float, Decision]:
        """An English text's cue evidence and stems, VADER's compound, TextBlob's polarity and the rules'
        decision (before the learned model)."""
        polarity = textblob_polarity(text)
        compound = vader_compound(self._vader, for_vader(text))
        evidence, stems = collect(text, trace, topical=topical)
        return evidence, stems, compound, polarity, decide(evidence, compound, polarity)

    def cues(self, text: str) -> list[str]:
        """What decided `text`, for tuning: one line per cue matched ("complaint 1.20 on hold"), then, for an
        English text, what the learned model read (its lean and the words and evidence that moved it)."""
        trace: list[str] = []
        language = detect(text)
        if language in cue_languages() or language not in SCORED:
            collect(text, trace, language=language if language in cue_languages() else "en")
            return trace
        evidence, _, compound, polarity, rules = self._english_rules(text, trace=trace)
        lean = self._model.lean(text, model_inputs(evidence, compound, polarity), explain=True)
        final = with_model(rules, lean.lean, evidence, words=len(text.split()))
        trace.append(lean.explain())
        if (final.sentiment, final.complaint) != (rules.sentiment, rules.complaint):
            trace.append(f"the rules alone: {rules.sentiment}{', complaint' if rules.complaint else ''}")
        return trace

    def classify_many(self, texts: Sequence[str]) -> list[Classification]:
        """Classify many texts; repeated texts (retweets, reposts) are scored once."""
        seen: dict[str, Classification] = {}
        out: list[Classification] = []
        for text in texts:
            result = seen.get(text)
            if result is None:
                result = seen[text] = self.classify(text)
            out.append(result)
        return out

    def praise_topics(self, text: str, *, classification: Classification | None = None) -> tuple[str, ...]:
        """Names of the praise topics a positive text mentions; () for any other text."""
        if not self._any_praise:
            return ()
        result = classification if classification is not None else self.classify(text)
        language = result.language if result.language in cue_languages() else "en"
        praise = self._for(language)[1]
        if result.sentiment != "positive" or not praise:
            return ()
        return praise.match(language_words(text, language))

    def _for(self, language: str) -> tuple[TopicMatcher, TopicMatcher]:
        """The topic and praise-topic matchers of `language` (English for a language without cues)."""
        if language not in cue_languages():
            language = "en"
        found = self._matchers.get(language)
        if found is None:
            topics, praise = self._topic_lists
            found = self._matchers[language] = (TopicMatcher(topics, language), TopicMatcher(praise, language))
        return found
