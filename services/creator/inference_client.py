"""The inference service client: one batched AnalyzeTexts call per search, with a deadline, sentence embeddings
(EmbedTexts), and the languages each model reads (ListModels, cached).

The creator's sentiment rule is applied here, once: the label is the band of the score (analytics.sentiment_label)
and the confidence is the model's probability of that label, so a stored label can never disagree with its score.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from services.creator.analytics import CaptionAnalysis, sentiment_label

MAX_TEXTS_PER_CALL = 64
# The models change only when the inference service is redeployed; failures are retried sooner.
MODELS_TTL_S = 300.0
MODELS_RETRY_S = 10.0
# Asked on the answer path: a hanging service must cost little.
MODELS_DEADLINE_S = 0.5
_TASKS = {
    inference_pb2.TASK_SENTIMENT: "sentiment",
    inference_pb2.TASK_LANGUAGE: "language",
    inference_pb2.TASK_CATEGORY: "category",
}
MAX_TEXT_CHARS = 4000
ROUND_ROBIN = (("grpc.lb_policy_name", "round_robin"),)


class InferenceUnavailable(Exception):
    """The inference service did not answer in time, or answered an error."""


@dataclass(frozen=True, slots=True)
class ModelLanguages:
    task: str
    model: str
    languages: tuple[str, ...]


def caption_analysis(result: inference_pb2.TextAnalysis) -> CaptionAnalysis:
    analysed = result.status == inference_pb2.TEXT_STATUS_ANALYZED
    sentiment = result.sentiment
    label = ""
    confidence = 0.0
    if analysed and not sentiment.skipped_reason:
        label = sentiment_label(sentiment.score)
        probabilities = {item.label: item.score for item in sentiment.probabilities}
        confidence = probabilities.get(label, sentiment.confidence)
    category_read = analysed and not result.category.skipped_reason
    return CaptionAnalysis(
        status="analyzed" if analysed else "no_text",
        sentiment=label,
        sentiment_score=sentiment.score if label else 0.0,
        language=result.language.code or "und",
        language_confidence=result.language.confidence,
        category=result.category.label if category_read else "",
        category_score=result.category.score if category_read else 0.0,
        top_categories=tuple((item.label, item.score) for item in result.category.top),
        sentiment_confidence=confidence,
        sentiment_skipped=sentiment.skipped_reason if analysed else "",
        category_skipped=result.category.skipped_reason if analysed else "",
        embedding=tuple(result.embedding),
    )


class InferenceClient:
    def __init__(self, address: str, deadline_s: float) -> None:
        self.address = address
        # On Kubernetes the name is a headless Service: spread calls over every pod it resolves to.
        self._channel = grpc.aio.insecure_channel(address, options=ROUND_ROBIN)
        self._stub = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self._deadline_s = deadline_s
        self._models: tuple[ModelLanguages, ...] = ()
        self._models_due = 0.0

    async def analyze(self, texts: Sequence[str], include_embedding: bool = False) -> list[CaptionAnalysis]:
        """One result per text, in order. Captions longer than the service's limit are cut.

        With `include_embedding`, each result carries its caption's embedding; when the loaded models have none
        (FAILED_PRECONDITION), the captions are analysed without: discovery degrades, the report does not."""
        results: list[CaptionAnalysis] = []
        for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
            chunk = [text[:MAX_TEXT_CHARS] for text in texts[start : start + MAX_TEXTS_PER_CALL]]
            request = inference_pb2.AnalyzeTextsRequest(texts=chunk, include_embedding=include_embedding)
            try:
                try:
                    reply = await self._stub.AnalyzeTexts(request, timeout=self._deadline_s)
                except grpc.aio.AioRpcError as exc:
                    if not include_embedding or exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                        raise
                    request.include_embedding = False
                    reply = await self._stub.AnalyzeTexts(request, timeout=self._deadline_s)
            except grpc.aio.AioRpcError as exc:
                raise InferenceUnavailable(f"inference AnalyzeTexts: {exc.code().name}: {exc.details()}") from exc
            if len(reply.results) != len(chunk):
                raise InferenceUnavailable(f"inference returned {len(reply.results)} results for {len(chunk)} texts")
            results.extend(caption_analysis(result) for result in reply.results)
        return results

    async def embed_texts(self, texts: Sequence[str]) -> list[list[float] | None]:
        """One unit-length embedding per text, in order; None for a text with nothing to embed (no letters). Texts
        longer than the service's limit are cut."""
        results: list[list[float] | None] = []
        for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
            chunk = [text[:MAX_TEXT_CHARS] for text in texts[start : start + MAX_TEXTS_PER_CALL]]
            try:
                reply = await self._stub.EmbedTexts(
                    inference_pb2.EmbedTextsRequest(texts=chunk), timeout=self._deadline_s
                )
            except grpc.aio.AioRpcError as exc:
                raise InferenceUnavailable(f"inference EmbedTexts: {exc.code().name}: {exc.details()}") from exc
            if len(reply.embeddings) != len(chunk):
                raise InferenceUnavailable(
                    f"inference returned {len(reply.embeddings)} embeddings for {len(chunk)} texts"
                )
            results.extend(list(item.values) if item.values else None for item in reply.embeddings)
        return results

    async def model_languages(self) -> tuple[ModelLanguages, ...]:
        """The languages each loaded model reads, from a cache; the last known (or none) when the service fails."""
        now = time.monotonic()
        if now < self._models_due:
            return self._models
        try:
            reply = await self._stub.ListModels(
                inference_pb2.ListModelsRequest(), timeout=min(self._deadline_s, MODELS_DEADLINE_S)
            )
        except grpc.aio.AioRpcError:
            self._models_due = now + MODELS_RETRY_S
            return self._models
        self._models = tuple(
            ModelLanguages(_TASKS.get(m.task, "unspecified"), f"{m.name} {m.version}".strip(), tuple(m.languages))
            for m in reply.models
        )
        self._models_due = now + MODELS_TTL_S
        return self._models

    async def close(self) -> None:
        await self._channel.close()
