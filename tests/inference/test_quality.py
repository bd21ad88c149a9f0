"""Quality floors of the default models on the evaluation set in tests/data, measured through the gRPC service.

Measured on this build: language accuracy 0.995 (all captions), category accuracy 0.841 and sentiment macro-F1 0.761
(English captions). Every caption runs on its own graph call, so these answers do not depend on how the requests below
group the captions. The sentiment head was chosen on a separate dev set (services/inference/modelbuild/data), never on
this one; its floor is the required 0.75, 0.011 under the measured figure (services/inference/README.md)."""

from __future__ import annotations

from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from services.inference.analysis import Category, Language, Sentiment, TextAnalysis, TextStatus
from services.inference.evaluate import load_examples, task_scores

SENTIMENT_NAMES = {
    pb.SENTIMENT_LABEL_NEGATIVE: "negative",
    pb.SENTIMENT_LABEL_NEUTRAL: "neutral",
    pb.SENTIMENT_LABEL_POSITIVE: "positive",
}


def from_proto(message: pb.TextAnalysis) -> TextAnalysis:
    status = TextStatus.NO_TEXT if message.status == pb.TEXT_STATUS_NO_TEXT else TextStatus.ANALYZED
    return TextAnalysis(
        status=status,
        sentiment=Sentiment(SENTIMENT_NAMES[message.sentiment.label], message.sentiment.score, ()),
        language=Language(message.language.code, message.language.confidence),
        category=Category(message.category.label, message.category.score, ()) if message.HasField("category") else None,
    )


async def test_default_models_meet_the_quality_floors_on_the_evaluation_set(
    stub: inference_pb2_grpc.InferenceServiceStub,
) -> None:
    examples = load_examples()
    assert len(examples) >= 150
    results: list[TextAnalysis] = []
    for start in range(0, len(examples), 64):
        texts = [e.text for e in examples[start : start + 64]]
        response = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=texts), timeout=60)
        results.extend(from_proto(result) for result in response.results)
    scores = task_scores(examples, results)
    assert scores["language (all)"].accuracy >= 0.98, scores
    assert scores["category (en)"].accuracy >= 0.83, scores
    assert scores["sentiment (en)"].macro_f1 >= 0.75, scores
    no_text = [r for e, r in zip(examples, results, strict=True) if "no_text" in e.tags]
    assert no_text and all(r.status == TextStatus.NO_TEXT for r in no_text)
