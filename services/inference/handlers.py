"""gRPC handlers of InferenceService: parse the request, call the analyzer or the embedder, map results to protobuf."""

from __future__ import annotations

import time
from typing import Any

import grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from following.errors import InvalidArgument
from services.inference import metrics
from services.inference.analysis import TextAnalysis, TextStatus
from services.inference.analyzer import Analyzer
from services.inference.embedder import Embedder, TextEmbedding
from services.inference.manifest import Manifest, TaskName

pb = inference_pb2
TASKS = {
    pb.TASK_SENTIMENT: TaskName.SENTIMENT,
    pb.TASK_LANGUAGE: TaskName.LANGUAGE,
    pb.TASK_CATEGORY: TaskName.CATEGORY,
}
TASK_ENUMS = {name: value for value, name in TASKS.items()}
SENTIMENTS = {
    "negative": pb.SENTIMENT_LABEL_NEGATIVE,
    "neutral": pb.SENTIMENT_LABEL_NEUTRAL,
    "positive": pb.SENTIMENT_LABEL_POSITIVE,
    "": pb.SENTIMENT_LABEL_UNSPECIFIED,  # the model did not read the text (skipped_reason says why)
}
STATUSES = {TextStatus.ANALYZED: pb.TEXT_STATUS_ANALYZED, TextStatus.NO_TEXT: pb.TEXT_STATUS_NO_TEXT}
EMBEDDING_TASK = "embedding"  # the `task` label of the texts counter for embeddings


def to_proto(result: TextAnalysis) -> inference_pb2.TextAnalysis:
    message = pb.TextAnalysis(status=STATUSES[result.status])
    if result.sentiment is not None:
        message.sentiment.label = SENTIMENTS[result.sentiment.label]
        message.sentiment.score = result.sentiment.score
        message.sentiment.confidence = result.sentiment.confidence
        message.sentiment.skipped_reason = result.sentiment.skipped_reason
        for item in result.sentiment.probabilities:
            message.sentiment.probabilities.add(label=item.label, score=item.score)
    if result.language is not None:
        message.language.code = result.language.code
        message.language.confidence = result.language.confidence
    if result.category is not None:
        message.category.label = result.category.label
        message.category.score = result.category.score
        message.category.skipped_reason = result.category.skipped_reason
        for item in result.category.top:
            message.category.top.add(label=item.label, score=item.score)
    message.embedding.extend(result.embedding)
    return message


def embedding_to_proto(result: TextEmbedding) -> inference_pb2.Embedding:
    return pb.Embedding(status=STATUSES[result.status], values=result.values)


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, analyzer: Analyzer, embedder: Embedder, manifest: Manifest) -> None:
        self._analyzer = analyzer
        self._embedder = embedder
        self._texts: dict[tuple[str, TextStatus], Any] = {}
        self._models = pb.ListModelsResponse()
        for spec in manifest.models:
            for head in spec.heads:
                self._models.models.add(
                    task=TASK_ENUMS[head.task],
                    name=spec.name,
                    version=spec.version,
                    backend="onnx",
                    quantization=spec.quantization,
                    labels=list(head.labels),
                    kind=spec.kind,
                    languages=list(head.languages),
                )

    async def AnalyzeTexts(
        self, request: inference_pb2.AnalyzeTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.AnalyzeTextsResponse:
        started = time.perf_counter()
        unknown = [value for value in request.tasks if value not in TASKS]
        if unknown:
            raise InvalidArgument(f"unknown tasks {unknown}; use TASK_SENTIMENT, TASK_LANGUAGE or TASK_CATEGORY")
        tasks = [TASKS[value] for value in request.tasks]
        results = await self._analyzer.analyze(list(request.texts), tasks, request.include_embedding)
        no_text = sum(1 for result in results if result.status is TextStatus.NO_TEXT)
        counted: list[str] = [*(tasks or TASKS.values())]
        if request.include_embedding:
            counted.append(EMBEDDING_TASK)
        self._count(counted, len(results), no_text)
        metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
        return pb.AnalyzeTextsResponse(results=[to_proto(result) for result in results])

    async def EmbedTexts(
        self, request: inference_pb2.EmbedTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.EmbedTextsResponse:
        results = await self._embedder.embed(list(request.texts))
        self._count([EMBEDDING_TASK], len(results), sum(1 for r in results if r.status is TextStatus.NO_TEXT))
        name, version = self._embedder.model
        return pb.EmbedTextsResponse(
            embeddings=[embedding_to_proto(result) for result in results],
            dimensions=self._embedder.dimensions,
            model=name,
            model_version=version,
        )

    def _count(self, tasks: list[str], texts: int, no_text: int) -> None:
        for task in tasks:
            for status, count in ((TextStatus.ANALYZED, texts - no_text), (TextStatus.NO_TEXT, no_text)):
                if count:
                    self._texts_counter(task, status).inc(count)

    def _texts_counter(self, task: str, status: TextStatus) -> Any:
        counter = self._texts.get((task, status))
        if counter is None:
            counter = self._texts[(task, status)] = metrics.TEXTS.labels(str(task), status.value)
        return counter

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        return self._models
