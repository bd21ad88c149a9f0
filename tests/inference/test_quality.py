"""Quality floors of the default models on the evaluation set and the sentiment challenge set in tests/data, measured
through the gRPC service.

Measured on this build (MiniLM fine-tuned end to end at build time): language accuracy 0.995 (all captions), category
macro-F1 0.823 and sentiment macro-F1 0.789 (English captions); non-English captions all skipped as
"unsupported_language"; challenge set sentiment macro-F1 0.766 with 3 of 15 emoji pairs flipped by their one emoji.
Every caption runs on its own graph call, so these answers do not depend on how the requests below group the
captions. The sentiment model was chosen on a separate dev set (services/inference/modelbuild/data), never on these;
the floors sit a little under the measured figures (services/inference/README.md counts the looks)."""

from __future__ import annotations

from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from services.inference.analysis import Category, Language, Sentiment, TextAnalysis, TextStatus
from services.inference.evaluate import (
    CHALLENGE_SET,
    Example,
    challenge_scores,
    load_examples,
    skipped_share,
    task_scores,
)

CHALLENGE_FLOOR = 0.74  # measured 0.766
MAX_FLIPPED_PAIRS = 3  # measured 3 of 15: the aim is none

SENTIMENT_NAMES = {
    pb.SENTIMENT_LABEL_NEGATIVE: "negative",
    pb.SENTIMENT_LABEL_NEUTRAL: "neutral",
    pb.SENTIMENT_LABEL_POSITIVE: "positive",
}


def from_proto(message: pb.TextAnalysis) -> TextAnalysis:
    status = TextStatus.NO_TEXT if message.status == pb.TEXT_STATUS_NO_TEXT else TextStatus.ANALYZED
    return TextAnalysis(
        status=status,
        sentiment=Sentiment(
            SENTIMENT_NAMES.get(message.sentiment.label, ""),
            message.sentiment.score,
            (),
            message.sentiment.confidence,
            message.sentiment.skipped_reason,
        ),
        language=Language(message.language.code, message.language.confidence),
        category=Category(message.category.label, message.category.score, (), message.category.skipped_reason)
        if message.HasField("category")
        else None,
    )


async def analysed(stub: inference_pb2_grpc.InferenceServiceStub, examples: list[Example]) -> list[TextAnalysis]:
    results: list[TextAnalysis] = []
    for start in range(0, len(examples), 64):
        texts = [e.text for e in examples[start : start + 64]]
        response = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=texts), timeout=60)
        results.extend(from_proto(result) for result in response.results)
    return results


async def test_default_models_meet_the_quality_floors_on_the_evaluation_set(
    stub: inference_pb2_grpc.InferenceServiceStub,
) -> None:
    examples = load_examples()
    assert len(examples) >= 150
    results = await analysed(stub, examples)
    scores = task_scores(examples, results)
    assert scores["language (all)"].accuracy >= 0.99, scores
    assert scores["category (en)"].macro_f1 >= 0.80, scores
    assert scores["sentiment (en)"].macro_f1 >= 0.77, scores
    no_text = [r for e, r in zip(examples, results, strict=True) if "no_text" in e.tags]
    assert no_text and all(r.status == TextStatus.NO_TEXT for r in no_text)
    assert skipped_share(examples, results).accuracy >= 0.95  # non-English: skipped, not guessed


async def test_default_models_meet_the_floor_on_the_challenge_set_and_one_emoji_flips_no_caption(
    stub: inference_pb2_grpc.InferenceServiceStub,
) -> None:
    examples = load_examples(CHALLENGE_SET)
    assert len(examples) >= 60
    sentiment, flipped, pairs = challenge_scores(examples, await analysed(stub, examples))
    assert pairs >= 10
    assert sentiment.macro_f1 >= CHALLENGE_FLOOR, sentiment
    assert flipped <= MAX_FLIPPED_PAIRS, (flipped, pairs)
