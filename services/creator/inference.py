"""The inference service client: one batched AnalyzeTexts call per search, with a deadline."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from services.creator.analytics import CaptionAnalysis

MAX_TEXTS_PER_CALL = 64
MAX_TEXT_CHARS = 4000
ROUND_ROBIN = (("grpc.lb_policy_name", "round_robin"),)
_SENTIMENTS = {
    inference_pb2.SENTIMENT_LABEL_NEGATIVE: "negative",
    inference_pb2.SENTIMENT_LABEL_NEUTRAL: "neutral",
    inference_pb2.SENTIMENT_LABEL_POSITIVE: "positive",
}


class InferenceUnavailable(Exception):
    """The inference service did not answer in time, or answered an error."""


def caption_analysis(result: inference_pb2.TextAnalysis) -> CaptionAnalysis:
    analysed = result.status == inference_pb2.TEXT_STATUS_ANALYZED
    return CaptionAnalysis(
        status="analyzed" if analysed else "no_text",
        sentiment=_SENTIMENTS.get(result.sentiment.label, "neutral"),
        sentiment_score=result.sentiment.score,
        language=result.language.code or "und",
        language_confidence=result.language.confidence,
        category=result.category.label,
        category_score=result.category.score,
        top_categories=tuple((item.label, item.score) for item in result.category.top),
    )


class InferenceClient:
    def __init__(self, address: str, deadline_s: float) -> None:
        self.address = address
        # On Kubernetes the name is a headless Service: spread calls over every pod it resolves to.
        self._channel = grpc.aio.insecure_channel(address, options=ROUND_ROBIN)
        self._stub = inference_pb2_grpc.InferenceServiceStub(self._channel)
        self._deadline_s = deadline_s

    async def analyze(self, texts: Sequence[str]) -> list[CaptionAnalysis]:
        """One result per text, in order. Captions longer than the service's limit are cut."""
        results: list[CaptionAnalysis] = []
        for start in range(0, len(texts), MAX_TEXTS_PER_CALL):
            chunk = [text[:MAX_TEXT_CHARS] for text in texts[start : start + MAX_TEXTS_PER_CALL]]
            try:
                reply = await self._stub.AnalyzeTexts(
                    inference_pb2.AnalyzeTextsRequest(texts=chunk), timeout=self._deadline_s
                )
            except grpc.aio.AioRpcError as exc:
                raise InferenceUnavailable(f"inference AnalyzeTexts: {exc.code().name}: {exc.details()}") from exc
            if len(reply.results) != len(chunk):
                raise InferenceUnavailable(f"inference returned {len(reply.results)} results for {len(chunk)} texts")
            results.extend(caption_analysis(result) for result in reply.results)
        return results

    async def close(self) -> None:
        await self._channel.close()
