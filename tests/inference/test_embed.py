"""EmbedTexts and AnalyzeTextsRequest.include_embedding through a real gRPC server with the default models, and a
server whose encoder graph has no embedding output."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import onnx
import pytest
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from services.inference.runners import EMBEDDING_OUTPUT
from tests.inference.conftest import serving

Stub = inference_pb2_grpc.InferenceServiceStub
CAPTION = "Sourdough loaf number forty, finally an open crumb and a crackly crust"
MATES = [
    "Leg day at the gym, new squat record 💪",
    "Sunset over the rice terraces in Bali",
    "Unboxing the new phone: the camera is unreal",
    "🔥🔥🔥",
]


async def embed(stub: Stub, texts: list[str]) -> pb.EmbedTextsResponse:
    response: pb.EmbedTextsResponse = await stub.EmbedTexts(pb.EmbedTextsRequest(texts=texts), timeout=30)
    return response


async def test_embeddings_are_unit_length_384_values_and_name_the_encoder(stub: Stub) -> None:
    response = await embed(stub, [CAPTION, MATES[0]])
    assert response.dimensions == 384
    assert response.model == "minilm-l6-heads" and response.model_version
    assert len(response.embeddings) == 2
    for item in response.embeddings:
        assert item.status == pb.TEXT_STATUS_ANALYZED
        assert len(item.values) == 384
        assert abs(float(np.linalg.norm(item.values)) - 1.0) < 1e-4


async def test_a_text_embeds_the_same_alone_and_among_any_batch_mates(stub: Stub) -> None:
    alone = np.array((await embed(stub, [CAPTION])).embeddings[0].values)
    batched = await embed(stub, [MATES[0], CAPTION, *MATES[1:]])
    concurrent = await asyncio.gather(*(embed(stub, [*MATES[:i], CAPTION]) for i in range(len(MATES))))
    seen = [batched.embeddings[1].values] + [response.embeddings[-1].values for response in concurrent]
    for values in seen:
        np.testing.assert_allclose(np.array(values), alone, atol=1e-6)


async def test_letterless_texts_are_no_text_with_no_values_and_keep_request_order(stub: Stub) -> None:
    response = await embed(stub, ["", CAPTION, "🔥🔥", "!!!"])
    assert [item.status for item in response.embeddings] == [
        pb.TEXT_STATUS_NO_TEXT,
        pb.TEXT_STATUS_ANALYZED,
        pb.TEXT_STATUS_NO_TEXT,
        pb.TEXT_STATUS_NO_TEXT,
    ]
    assert [len(item.values) for item in response.embeddings] == [0, 384, 0, 0]
    only_emoji = await embed(stub, ["🔥"])
    assert only_emoji.dimensions == 384 and not only_emoji.embeddings[0].values


async def test_embeddings_place_texts_of_one_topic_closer_than_texts_of_another(stub: Stub) -> None:
    texts = [CAPTION, "Baked a rye bread with my starter this morning", "Ranked match tonight, streaming at 9"]
    vectors = [np.array(item.values) for item in (await embed(stub, texts)).embeddings]
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.1


async def test_embed_texts_refuses_too_many_or_too_long_texts_naming_the_limit(stub: Stub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as many:
        await embed(stub, ["caption"] * 65)
    assert many.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "at most 64" in (many.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as long:
        await embed(stub, ["short", "x" * 4001])
    assert long.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "texts[1]" in (long.value.details() or "") and "4000" in (long.value.details() or "")


async def test_include_embedding_returns_the_vector_embed_texts_gives_from_the_same_analysis(stub: Stub) -> None:
    texts = [MATES[0], "", CAPTION, "Café con leche y churros en Madrid, qué maravilla"]
    embedded = await embed(stub, texts)
    analysed = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=texts, include_embedding=True), timeout=30)
    for result, item in zip(analysed.results, embedded.embeddings, strict=True):
        assert result.status == item.status
        np.testing.assert_allclose(np.array(result.embedding), np.array(item.values), atol=1e-6)
    assert analysed.results[2].sentiment.label and analysed.results[2].category.label  # the heads still answer
    assert analysed.results[3].sentiment.skipped_reason == "unsupported_language"
    assert len(analysed.results[3].embedding) == 384  # the encoder still embeds a text its heads skip


async def test_analysis_has_no_embedding_unless_asked_and_gives_one_for_any_task(stub: Stub) -> None:
    plain = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=[CAPTION]), timeout=30)
    assert not plain.results[0].embedding
    language_only = pb.AnalyzeTextsRequest(texts=[CAPTION], tasks=[pb.TASK_LANGUAGE], include_embedding=True)
    result = (await stub.AnalyzeTexts(language_only, timeout=30)).results[0]
    assert result.language.code == "en" and not result.HasField("sentiment")
    alone = (await embed(stub, [CAPTION])).embeddings[0].values
    np.testing.assert_allclose(np.array(result.embedding), np.array(alone), atol=1e-6)


def without_embedding_output(models: Path, target: Path) -> Path:
    """A copy of the models whose encoder graph keeps only the heads' outputs."""
    target.mkdir()
    for folder in models.iterdir():
        if not folder.is_dir():
            (target / folder.name).symlink_to(folder)
            continue
        (target / folder.name).mkdir()
        for item in folder.iterdir():
            (target / folder.name / item.name).symlink_to(item)
        graph = folder / "model.onnx"
        model = onnx.load(str(graph))
        if any(output.name == EMBEDDING_OUTPUT for output in model.graph.output):
            kept = [output for output in model.graph.output if output.name != EMBEDDING_OUTPUT]
            del model.graph.output[:]
            model.graph.output.extend(kept)
            (target / folder.name / "model.onnx").unlink()
            onnx.save(model, str(target / folder.name / "model.onnx"))
    return target


async def test_models_without_an_embedding_output_refuse_embeddings_but_still_analyse(
    models_dir: Path, tmp_path: Path
) -> None:
    async with serving(without_embedding_output(models_dir, tmp_path / "models")) as runner:
        async with grpc.aio.insecure_channel(runner.address) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await embed(stub, [CAPTION])
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            with pytest.raises(grpc.aio.AioRpcError) as included:
                await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=[CAPTION], include_embedding=True), timeout=30)
            assert included.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            plain = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=[CAPTION]), timeout=30)
            assert plain.results[0].sentiment.label and not plain.results[0].embedding


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        name: float(value)
        for line in text.splitlines()
        if line and not line.startswith("#")
        for name, _, value in [line.rpartition(" ")]
    }


async def test_metrics_count_embedded_texts_under_the_embedding_task(models_dir: Path) -> None:
    async with serving(models_dir, {"METRICS_LISTEN": "127.0.0.1:0"}) as runner:
        assert runner.metrics is not None
        before = scrape(runner.metrics.port)
        async with grpc.aio.insecure_channel(runner.address) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)
            await embed(stub, [CAPTION, "🔥", MATES[0]])
            request = pb.AnalyzeTextsRequest(texts=[CAPTION], tasks=[pb.TASK_LANGUAGE], include_embedding=True)
            await stub.AnalyzeTexts(request, timeout=30)
        after = scrape(runner.metrics.port)
    grew = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
    assert grew['inference_texts_total{status="analyzed",task="embedding"}'] == 3
    assert grew['inference_texts_total{status="no_text",task="embedding"}'] == 1
    assert grew['inference_texts_total{status="analyzed",task="language"}'] == 1
