"""AnalyzeTexts and ListModels through a real gRPC server with the default models."""

from __future__ import annotations

import grpc
import pytest
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from services.inference.analysis import SENTIMENT_BAND
from services.inference.evaluate import load_examples

Stub = inference_pb2_grpc.InferenceServiceStub


async def analyze(stub: Stub, texts: list[str], tasks: list[pb.Task] | None = None) -> list[pb.TextAnalysis]:
    response = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=texts, tasks=tasks or []), timeout=30)
    return list(response.results)


async def test_every_task_answers_with_probabilities_and_scores_in_range(stub: Stub) -> None:
    (result,) = await analyze(stub, ["Best ramen I have ever had, the broth was incredible and the staff so kind"])
    assert result.status == pb.TEXT_STATUS_ANALYZED
    assert result.sentiment.label == pb.SENTIMENT_LABEL_POSITIVE
    assert [p.label for p in result.sentiment.probabilities] == ["negative", "neutral", "positive"]
    assert sum(p.score for p in result.sentiment.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert -1.0 <= result.sentiment.score <= 1.0 and result.sentiment.score > 0.3
    assert result.language.code == "en" and 0.5 < result.language.confidence <= 1.0
    assert result.category.label == "Food & Drink"
    assert len(result.category.top) == 3
    assert result.category.top[0].label == result.category.label
    scores = [item.score for item in result.category.top]
    assert scores == sorted(scores, reverse=True) and scores[0] == pytest.approx(result.category.score)


async def test_results_come_back_in_request_order(stub: Stub) -> None:
    texts = [
        "Entrenamiento de piernas terminado, cada día más fuerte",
        "Our flight got cancelled and the airline lost our luggage, worst trip ever",
        "新しいカフェに行ってきました！ケーキがとても美味しかった",
        "Das neue Album ist endlich fertig, ich bin so stolz auf die Band",
    ]
    results = await analyze(stub, texts)
    assert [r.language.code for r in results] == ["es", "en", "ja", "de"]
    assert results[1].sentiment.label == pb.SENTIMENT_LABEL_NEGATIVE


async def test_empty_emoji_and_punctuation_texts_get_the_no_text_answer(stub: Stub) -> None:
    results = await analyze(stub, ["", "😍😍🔥🙌", "...!!! 123", "Love it"])
    for result in results[:3]:
        assert result.status == pb.TEXT_STATUS_NO_TEXT
        assert result.sentiment.label == pb.SENTIMENT_LABEL_NEUTRAL and result.sentiment.score == 0.0
        assert result.language.code == "und" and result.language.confidence == 0.0
        assert not result.HasField("category")
    assert results[3].status == pb.TEXT_STATUS_ANALYZED


async def test_only_the_requested_tasks_are_answered(stub: Stub) -> None:
    (result,) = await analyze(stub, ["Match day, the stadium is packed"], [pb.TASK_LANGUAGE])
    assert result.HasField("language")
    assert not result.HasField("sentiment") and not result.HasField("category")


async def test_too_many_texts_is_invalid_argument_naming_the_limit(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await analyze(stub, ["caption"] * 65)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 64" in (info.value.details() or "")


async def test_too_long_text_is_invalid_argument_naming_the_text_and_limit(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await analyze(stub, ["short", "x" * 4001])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "texts[1]" in (info.value.details() or "") and "4000" in (info.value.details() or "")


async def test_unknown_task_is_invalid_argument(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await analyze(stub, ["caption"], [pb.TASK_UNSPECIFIED])
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_list_models_describes_each_task_with_labels_and_quantization(stub: Stub) -> None:
    response = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
    by_task = {model.task: model for model in response.models}
    assert set(by_task) == {pb.TASK_SENTIMENT, pb.TASK_LANGUAGE, pb.TASK_CATEGORY}
    assert list(by_task[pb.TASK_SENTIMENT].labels) == ["negative", "neutral", "positive"]
    assert by_task[pb.TASK_SENTIMENT].quantization == "int8-dynamic-per-channel"
    assert by_task[pb.TASK_SENTIMENT].name == by_task[pb.TASK_CATEGORY].name  # one encoder pass, two heads
    assert len(by_task[pb.TASK_CATEGORY].labels) == 14
    assert "en" in by_task[pb.TASK_LANGUAGE].labels and by_task[pb.TASK_LANGUAGE].kind == "classifier"
    assert all(model.version and model.backend == "onnx" for model in response.models)


async def test_texts_in_a_language_the_models_do_not_read_get_no_sentiment_or_category_and_say_why(stub: Stub) -> None:
    texts = [
        "Déçue par cette marque, la livraison a pris trois semaines et le produit est arrivé cassé.",
        "Entrenamiento de piernas terminado, cada día más fuerte",
        "Our flight got cancelled and the airline lost our luggage, worst trip ever",
    ]
    french, spanish, english = await analyze(stub, texts)
    for result, code in ((french, "fr"), (spanish, "es")):
        assert result.status == pb.TEXT_STATUS_ANALYZED and result.language.code == code
        assert result.sentiment.label == pb.SENTIMENT_LABEL_UNSPECIFIED
        assert result.sentiment.skipped_reason == "unsupported_language"
        assert result.sentiment.confidence == 0.0 and not result.sentiment.probabilities
        assert result.category.label == "" and result.category.skipped_reason == "unsupported_language"
        assert not result.category.top
    assert english.sentiment.label == pb.SENTIMENT_LABEL_NEGATIVE and english.sentiment.skipped_reason == ""
    assert english.category.label and english.category.skipped_reason == ""


async def test_an_unsupported_language_is_skipped_even_when_only_sentiment_is_asked(stub: Stub) -> None:
    (result,) = await analyze(
        stub, ["Das neue Album ist endlich fertig, ich bin so stolz auf die Band"], [pb.TASK_SENTIMENT]
    )
    assert result.sentiment.skipped_reason == "unsupported_language"
    assert result.sentiment.label == pb.SENTIMENT_LABEL_UNSPECIFIED
    assert not result.HasField("language") and not result.HasField("category")


async def test_every_result_carries_a_confidence_and_the_label_never_disagrees_with_the_score(stub: Stub) -> None:
    texts = [example.text for example in load_examples() if example.language == "en"][:64]
    for result in await analyze(stub, texts):
        if result.status != pb.TEXT_STATUS_ANALYZED or result.sentiment.skipped_reason:
            continue
        sentiment = result.sentiment
        probabilities = {p.label: p.score for p in sentiment.probabilities}
        assert sentiment.score == pytest.approx(probabilities["positive"] - probabilities["negative"])
        band = (
            pb.SENTIMENT_LABEL_POSITIVE
            if sentiment.score >= SENTIMENT_BAND
            else pb.SENTIMENT_LABEL_NEGATIVE
            if sentiment.score <= -SENTIMENT_BAND
            else pb.SENTIMENT_LABEL_NEUTRAL
        )
        assert sentiment.label == band, (sentiment.label, sentiment.score)
        name = pb.SentimentLabel.Name(sentiment.label).removeprefix("SENTIMENT_LABEL_").lower()
        assert sentiment.confidence == pytest.approx(probabilities[name]) and 0.0 < sentiment.confidence <= 1.0
        assert 0.0 < result.category.score <= 1.0 and result.category.score == result.category.top[0].score


async def test_list_models_says_which_languages_each_model_reads(stub: Stub) -> None:
    response = await stub.ListModels(pb.ListModelsRequest(), timeout=10)
    by_task = {model.task: model for model in response.models}
    assert list(by_task[pb.TASK_SENTIMENT].languages) == ["en"]
    assert list(by_task[pb.TASK_CATEGORY].languages) == ["en"]
    assert list(by_task[pb.TASK_LANGUAGE].languages) == list(by_task[pb.TASK_LANGUAGE].labels)
    assert {"en", "es", "fr", "de", "ja"} <= set(by_task[pb.TASK_LANGUAGE].languages)
