"""The sentiment rule in the analysis domain: label and score come from one rule (score = P(positive) - P(negative),
label = the band the score falls in) and the confidence is the probability of that label, for any probabilities."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.inference.analysis import SENTIMENT_BAND, sentiment_from, sentiment_label

LABELS = ("negative", "neutral", "positive")
weights = st.tuples(*(st.floats(min_value=0.0, max_value=1.0, allow_nan=False) for _ in LABELS)).filter(
    lambda row: sum(row) > 1e-6
)


@given(weights)
def test_label_is_the_band_of_the_score_and_confidence_the_probability_of_that_label(
    row: tuple[float, float, float],
) -> None:
    probabilities = [value / sum(row) for value in row]
    result = sentiment_from(LABELS, probabilities)
    assert result.score == min(1.0, max(-1.0, probabilities[2] - probabilities[0]))
    assert result.label == sentiment_label(result.score)
    assert result.confidence == probabilities[LABELS.index(result.label)]
    if result.label == "positive":
        assert result.score >= SENTIMENT_BAND
    elif result.label == "negative":
        assert result.score <= -SENTIMENT_BAND
    else:
        assert -SENTIMENT_BAND < result.score < SENTIMENT_BAND


def test_a_mostly_neutral_text_leaning_positive_is_labelled_by_its_score_not_its_largest_probability() -> None:
    result = sentiment_from(LABELS, [0.05, 0.6, 0.35])  # score +0.30: the positive band
    assert result.label == "positive" and result.confidence == 0.35


def test_labels_in_another_order_give_the_same_answer() -> None:
    result = sentiment_from(("positive", "negative", "neutral"), [0.1, 0.7, 0.2])
    assert result.label == "negative" and abs(result.score + 0.6) < 1e-12 and result.confidence == 0.7
