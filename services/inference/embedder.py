"""The embedding use case: sentence embeddings of texts from the encoder the analysis heads share, through that
encoder's batcher (so embedding and analysis requests share batches, and a text's embedding is computed by the same
graph call as its analysis). Letterless texts get no embedding and no model call, as in the analysis.

The encoder is the one model whose graph has a sentence-embedding output (runners.EMBEDDING_OUTPUT); with none
loaded, asking for embeddings is FAILED_PRECONDITION.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from following.errors import FailedPrecondition
from services.inference import analysis
from services.inference import texts as prepared
from services.inference.analysis import Limits, TextStatus
from services.inference.batcher import Batcher
from services.inference.runners import EMBEDDING


@dataclass(frozen=True)
class TextEmbedding:
    status: TextStatus
    values: tuple[float, ...]  # unit length; empty for NO_TEXT


def embedding_batcher(batchers: Sequence[Batcher]) -> Batcher | None:
    """The batcher of the first model with sentence embeddings, or None."""
    return next((batcher for batcher in batchers if batcher.runner.embedding_dimensions), None)


def require(batcher: Batcher | None) -> Batcher:
    if batcher is None:
        raise FailedPrecondition("the loaded models have no sentence-embedding output; embeddings are not available")
    return batcher


class Embedder:
    def __init__(self, batchers: Sequence[Batcher], limits: Limits) -> None:
        self.batcher = embedding_batcher(batchers)
        self.limits = limits

    @property
    def dimensions(self) -> int:
        return self.batcher.runner.embedding_dimensions if self.batcher is not None else 0

    @property
    def model(self) -> tuple[str, str]:
        """The encoder's model name and version (embeddings of different versions are not comparable)."""
        spec = require(self.batcher).runner.spec
        return spec.name, spec.version

    async def embed(self, texts: Sequence[str]) -> list[TextEmbedding]:
        analysis.check_request(texts, self.limits)
        batcher = require(self.batcher)
        with_text = [i for i, text in enumerate(texts) if prepared.has_text(text)]
        results = [TextEmbedding(TextStatus.NO_TEXT, ()) for _ in texts]
        if with_text:
            outputs = await batcher.enqueue([prepared.model_text(texts[i]) for i in with_text])
            rows = outputs[EMBEDDING].tolist()
            for row, index in zip(rows, with_text, strict=True):
                results[index] = TextEmbedding(TextStatus.ANALYZED, tuple(row))
        return results
