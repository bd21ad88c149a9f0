"""The analysis domain (pure, no I/O): request limits, the answer for letterless texts, turning per-task
probabilities into sentiment, language and category results, and skipping a model for a language it does not read.
What each model sees is in `texts.py`.

Sentiment has one rule for label and score (documented in protos/inference/v1/inference.proto): score = P(positive) -
P(negative); the label is the band the score falls in (<= -SENTIMENT_BAND negative, >= SENTIMENT_BAND positive,
neutral between), so a label can never contradict its score. Its confidence is the probability of that label.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from following.errors import InvalidArgument
from services.inference.manifest import TaskName

UNDETERMINED_LANGUAGE = "und"
TOP_CATEGORIES = 3
# Half-width of the neutral band of the sentiment score; chosen on the dev captions (modelbuild/finetune.py).
SENTIMENT_BAND = 0.3
# Below this a sentiment confidence or category score is low-confidence: the label is less likely than not
# (documented in the proto; the caller decides what to do with such results).
LOW_CONFIDENCE = 0.5
UNSUPPORTED_LANGUAGE = "unsupported_language"


class TextStatus(enum.Enum):
    ANALYZED = "analyzed"
    NO_TEXT = "no_text"


@dataclass(frozen=True)
class Limits:
    max_texts: int
    max_chars: int


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float


@dataclass(frozen=True)
class Sentiment:
    label: str  # "negative", "neutral", "positive"; "" when skipped
    score: float
    probabilities: tuple[LabelScore, ...]
    confidence: float = 0.0
    skipped_reason: str = ""


@dataclass(frozen=True)
class Language:
    code: str
    confidence: float


@dataclass(frozen=True)
class Category:
    label: str  # "" when skipped
    score: float
    top: tuple[LabelScore, ...]
    skipped_reason: str = ""


@dataclass(frozen=True)
class TextAnalysis:
    status: TextStatus
    sentiment: Sentiment | None = None
    language: Language | None = None
    category: Category | None = None
    embedding: tuple[float, ...] = ()  # when asked for; empty for NO_TEXT


def check_request(texts: Sequence[str], limits: Limits) -> None:
    """Raise InvalidArgument naming the limit a request breaks."""
    if len(texts) > limits.max_texts:
        raise InvalidArgument(f"too many texts: {len(texts)}; at most {limits.max_texts} per request")
    for index, text in enumerate(texts):
        if len(text) > limits.max_chars:
            raise InvalidArgument(f"texts[{index}] has {len(text)} characters; at most {limits.max_chars} per text")


def no_text_analysis(tasks: Sequence[TaskName]) -> TextAnalysis:
    """The defined answer for an empty or letterless text: neutral, undetermined language, no category."""
    sentiment = Sentiment(
        "neutral", 0.0, (LabelScore("negative", 0.0), LabelScore("neutral", 1.0), LabelScore("positive", 0.0))
    )
    return TextAnalysis(
        status=TextStatus.NO_TEXT,
        sentiment=sentiment if TaskName.SENTIMENT in tasks else None,
        language=Language(UNDETERMINED_LANGUAGE, 0.0) if TaskName.LANGUAGE in tasks else None,
    )


def sentiment_label(score: float) -> str:
    """The band `score` falls in: the one rule that names a sentiment."""
    if score <= -SENTIMENT_BAND:
        return "negative"
    if score >= SENTIMENT_BAND:
        return "positive"
    return "neutral"


def sentiment_from(labels: Sequence[str], probabilities: Sequence[float]) -> Sentiment:
    by_label = {label: float(p) for label, p in zip(labels, probabilities, strict=True)}
    score = max(-1.0, min(1.0, by_label["positive"] - by_label["negative"]))
    label = sentiment_label(score)
    return Sentiment(label, score, tuple(LabelScore(name, by_label[name]) for name in labels), by_label[label])


def skipped_sentiment(reason: str) -> Sentiment:
    return Sentiment("", 0.0, (), 0.0, reason)


def skipped_category(reason: str) -> Category:
    return Category("", 0.0, (), reason)


def language_from(labels: Sequence[str], probabilities: Sequence[float]) -> Language:
    index = max(range(len(probabilities)), key=probabilities.__getitem__)  # the first of equal maxima, as argmax
    return Language(labels[index], float(probabilities[index]))


def category_from(labels: Sequence[str], probabilities: Sequence[float]) -> Category:
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:TOP_CATEGORIES]  # stable
    top = tuple(LabelScore(labels[i], float(probabilities[i])) for i in order)
    return Category(top[0].label, top[0].score, top)


def reads(languages: frozenset[str], language: Language | None) -> bool:
    """Whether a model covering `languages` (empty: any) reads a text identified as `language`."""
    return not languages or language is None or language.code in languages


def analysed(
    tasks: Sequence[TaskName],
    labels: dict[TaskName, tuple[str, ...]],
    rows: dict[TaskName, Sequence[float]],
    languages: dict[TaskName, frozenset[str]] | None = None,
) -> TextAnalysis:
    """One text's result from its probability row per task (plain floats: rows of `ndarray.tolist()`).

    `languages` are the languages each task's model covers (missing or empty: any); when the text's identified
    language (its `TaskName.LANGUAGE` row, present whenever a model is restricted) is not among them, that task's
    result is skipped with UNSUPPORTED_LANGUAGE instead of a guess."""
    covered = languages or {}
    language = language_from(labels[TaskName.LANGUAGE], rows[TaskName.LANGUAGE]) if TaskName.LANGUAGE in rows else None
    sentiment = category = None
    if TaskName.SENTIMENT in tasks:
        if reads(covered.get(TaskName.SENTIMENT, frozenset()), language):
            sentiment = sentiment_from(labels[TaskName.SENTIMENT], rows[TaskName.SENTIMENT])
        else:
            sentiment = skipped_sentiment(UNSUPPORTED_LANGUAGE)
    if TaskName.CATEGORY in tasks:
        if reads(covered.get(TaskName.CATEGORY, frozenset()), language):
            category = category_from(labels[TaskName.CATEGORY], rows[TaskName.CATEGORY])
        else:
            category = skipped_category(UNSUPPORTED_LANGUAGE)
    return TextAnalysis(
        status=TextStatus.ANALYZED,
        sentiment=sentiment,
        language=language if TaskName.LANGUAGE in tasks else None,
        category=category,
    )
