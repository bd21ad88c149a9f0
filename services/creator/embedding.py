"""A creator's embedding and discovery labels from its texts' embeddings (pure: no I/O).

The definitions are the proto's ("Discovery" in protos/creator/v1/creator.proto): the creator's embedding is the
L2-normalised mean of the sentence embeddings of its biography and of its recent captions, the biography weighted as
one caption; texts with no embedding (no letters) are left out. Its languages are those of at least LANGUAGE_SHARE of
its analysed recent captions, its topics the content categories of at least TOPIC_SHARE of them, most frequent first.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DIMENSIONS = 384
# A language a creator writes in at least this share of its captions is one a campaign could brief it in.
LANGUAGE_SHARE = 0.3
# A category of at least this share of its captions is a recurring topic, not a one-off post.
TOPIC_SHARE = 0.2


@dataclass(frozen=True, slots=True)
class CreatorEmbedding:
    vector: np.ndarray | None  # float32 (DIMENSIONS,), unit length; None when no text had an embedding
    texts: int  # how many embeddings the mean is over


def creator_embedding(bio: Sequence[float] | None, captions: Sequence[Sequence[float] | None]) -> CreatorEmbedding:
    """The normalised mean of the biography's and captions' embeddings (empty or None ones left out)."""
    rows = [np.asarray(e, dtype=np.float32) for e in (bio, *captions) if e is not None and len(e)]
    if not rows:
        return CreatorEmbedding(None, 0)
    for row in rows:
        if row.shape != (DIMENSIONS,):
            raise ValueError(f"an embedding has shape {row.shape}; expected ({DIMENSIONS},)")
    mean = np.mean(np.stack(rows), axis=0)
    norm = float(np.linalg.norm(mean))
    if norm == 0.0:  # opposite texts cancel out: there is no direction to rank by
        return CreatorEmbedding(None, len(rows))
    return CreatorEmbedding((mean / norm).astype(np.float32), len(rows))


def frequent(labels: Sequence[str], share: float) -> list[str]:
    """The labels (empty ones are not labels) making up at least `share` of `labels`, most frequent first (ties by
    name, so the order is stable)."""
    counted = Counter(label for label in labels if label)
    total = len(labels)
    if total == 0:
        return []
    kept = [(label, n) for label, n in counted.items() if n / total >= share]
    return [label for label, _ in sorted(kept, key=lambda item: (-item[1], item[0]))]


def languages(caption_languages: Sequence[str]) -> list[str]:
    """CreatorSummary.languages from the languages of its analysed captions ("und" is no language)."""
    return frequent([code if code != "und" else "" for code in caption_languages], LANGUAGE_SHARE)


def topics(caption_categories: Sequence[str]) -> list[str]:
    """CreatorSummary.topics from the categories of its analysed captions (empty when a caption was skipped)."""
    return frequent(caption_categories, TOPIC_SHARE)
