"""Embeddings in the creator service: the inference client's EmbedTexts call, against a real inference service."""

from __future__ import annotations

import math

import pytest

from scripts.pgcluster import free_port
from services.creator.inference_client import InferenceClient, InferenceUnavailable


async def test_client_embed_texts_gives_a_unit_vector_per_text_and_none_for_letterless_ones(
    inference_addr: str,
) -> None:
    client = InferenceClient(inference_addr, deadline_s=30)
    try:
        texts = ["Sourdough with an open crumb", "🔥", *[f"caption number {i} about baking" for i in range(70)]]
        vectors = await client.embed_texts(texts)  # more than one call's worth of texts
    finally:
        await client.close()
    assert len(vectors) == len(texts)
    assert vectors[1] is None
    for vector in [vectors[0], *vectors[2:]]:
        assert vector is not None and len(vector) == 384
        assert abs(math.sqrt(sum(value * value for value in vector)) - 1.0) < 1e-4


async def test_client_embed_texts_maps_a_failed_call_to_inference_unavailable() -> None:
    client = InferenceClient(f"127.0.0.1:{free_port()}", deadline_s=1)
    try:
        with pytest.raises(InferenceUnavailable, match="EmbedTexts: UNAVAILABLE"):
            await client.embed_texts(["a caption"])
    finally:
        await client.close()
