"""gRPC handlers of InferenceService: parse the request, call the analyzer, map results to protobuf."""

from __future__ import annotations

import time
from typing import Any

import grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from following.errors import InvalidArgument
from services.inference import metrics
from services.inference.analysis import TextAnalysis, TextStatus
from services.inference.analyzer import Analyzer
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
    return message


class InferenceServicer(inference_pb2_grpc.InferenceServiceServicer):
    def __init__(self, analyzer: Analyzer, manifest: Manifest) -> None:
        self._analyzer = analyzer
        self._texts: dict[tuple[TaskName, TextStatus], Any] = {}
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
        results = await self._analyzer.analyze(list(request.texts), tasks)
        no_text = sum(1 for result in results if result.status is TextStatus.NO_TEXT)
        for task in tasks or TASKS.values():
            for status, count in ((TextStatus.ANALYZED, len(results) - no_text), (TextStatus.NO_TEXT, no_text)):
                if count:
                    self._texts_counter(task, status).inc(count)
        metrics.REQUEST_SECONDS.observe(time.perf_counter() - started)
        return pb.AnalyzeTextsResponse(results=[to_proto(result) for result in results])

    def _texts_counter(self, task: TaskName, status: TextStatus) -> Any:
        counter = self._texts.get((task, status))
        if counter is None:
            counter = self._texts[(task, status)] = metrics.TEXTS.labels(task.value, status.value)
        return counter

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        return self._models
