"""AnalyzeTexts and ListModels through a real gRPC server with the default models."""

from __future__ import annotations

import grpc
import pytest
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

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
