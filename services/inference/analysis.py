"""The analysis domain (pure, no I/O): request limits, the answer for letterless texts, and turning per-task
probabilities into sentiment, language and category results. What each model sees is in `texts.py`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from following.errors import InvalidArgument
from services.inference.manifest import TaskName

UNDETERMINED_LANGUAGE = "und"
TOP_CATEGORIES = 3


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
    label: str
    score: float
    probabilities: tuple[LabelScore, ...]


@dataclass(frozen=True)
class Language:
    code: str
    confidence: float


@dataclass(frozen=True)
class Category:
    label: str
    score: float
    top: tuple[LabelScore, ...]


@dataclass(frozen=True)
class TextAnalysis:
    status: TextStatus
    sentiment: Sentiment | None = None
    language: Language | None = None
    category: Category | None = None


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


def sentiment_from(labels: Sequence[str], probabilities: Sequence[float]) -> Sentiment:
    by_label = {label: float(p) for label, p in zip(labels, probabilities, strict=True)}
    best = max(by_label, key=lambda label: by_label[label])
    score = max(-1.0, min(1.0, by_label["positive"] - by_label["negative"]))
    return Sentiment(best, score, tuple(LabelScore(label, by_label[label]) for label in labels))


def language_from(labels: Sequence[str], probabilities: Sequence[float]) -> Language:
    index = max(range(len(probabilities)), key=probabilities.__getitem__)  # the first of equal maxima, as argmax
    return Language(labels[index], float(probabilities[index]))


def category_from(labels: Sequence[str], probabilities: Sequence[float]) -> Category:
    order = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])[:TOP_CATEGORIES]  # stable
    top = tuple(LabelScore(labels[i], float(probabilities[i])) for i in order)
    return Category(top[0].label, top[0].score, top)


def analysed(
    tasks: Sequence[TaskName], labels: dict[TaskName, tuple[str, ...]], rows: dict[TaskName, Sequence[float]]
) -> TextAnalysis:
    """One text's result from its probability row per task (plain floats: rows of `ndarray.tolist()`)."""
    return TextAnalysis(
        status=TextStatus.ANALYZED,
        sentiment=sentiment_from(labels[TaskName.SENTIMENT], rows[TaskName.SENTIMENT])
        if TaskName.SENTIMENT in tasks
        else None,
        language=language_from(labels[TaskName.LANGUAGE], rows[TaskName.LANGUAGE])
        if TaskName.LANGUAGE in tasks
        else None,
        category=category_from(labels[TaskName.CATEGORY], rows[TaskName.CATEGORY])
        if TaskName.CATEGORY in tasks
        else None,
    )
