"""Fine-tunes the MiniLM encoder end to end for sentiment, at build time, on two CPU threads within about a minute.

The network is the served one: mean-pooled, normalised MiniLM embedding -> the sentiment head (one hidden layer,
committed in `heads/sentiment.npz`, trained on frozen embeddings). Both the encoder and the head are trained, starting
from those weights, on the caption-like training sentences (`data/train_captions*.jsonl`) and a fixed, class-balanced
sample of the VADER human-rated sentences (`data/vader_sample.jsonl.gz`, drawn from the vaderSentiment 3.3.2 sdist by
`sentiment.py`). The category head is zero-shot on the same embedding, so every encoder step is also pulled back
toward the original model's embedding of the same batch (a squared-distance term): the encoder learns sentiment without
losing what the category prototypes rely on.

Deterministic: fixed seeds, a fixed order, two intra-op threads, no dropout; the same inputs give the same weights on
the same machine. Choices were made on `data/dev_captions.jsonl` (117 captions, never trained on): against the head
on frozen embeddings (dev macro-F1 0.891 by largest probability, 0.853 by the score band of 0.3), one pass over 500
VADER sentences per label plus the 498 captions twice, top three layers trained, gave 0.898 and 0.872 (band 0.2: 0.871,
0.5: 0.880), with 92% of the dev captions keeping the category the original encoder gave them (mean cosine to the
original embedding 0.996). Later candidates (more VADER sentences, all six layers, 1,200 captions from other writers,
other rates and weights) fit the build's time budget but did not keep the evaluation figure; the inference README
lists each with its dev, second dev and evaluation figures.
"""

from __future__ import annotations

import gzip
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.inference.texts import model_text

DATA = Path(__file__).parent / "data"
TRAIN_CAPTIONS = (DATA / "train_captions.jsonl", DATA / "train_captions_extra.jsonl")
VADER_SAMPLE = DATA / "vader_sample.jsonl.gz"
LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Settings:
    """Training options; the defaults are the shipped choice (see the module docstring for how it was made)."""

    epochs: int = 1
    batch_size: int = 32
    encoder_lr: float = 3e-5
    head_lr: float = 3e-4
    caption_repeats: int = 2
    anchor_weight: float = 1.0  # weight of the squared distance to the original embedding
    trainable_layers: int = 3  # the top transformer layers trained; the ones below and the embeddings stay frozen
    max_length: int = 64  # tokens in training; captions longer than this are rare and keep their start
    threads: int = 2
    seed: int = 0


def read_jsonl(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def training_set(settings: Settings) -> tuple[list[str], list[int]]:
    """(texts as the model sees them, label indices), in a fixed shuffled order."""
    texts: list[str] = []
    labels: list[int] = []
    for path in TRAIN_CAPTIONS:
        for row in read_jsonl(path):
            texts.extend([row["text"]] * settings.caption_repeats)
            labels.extend([LABELS.index(row["sentiment"])] * settings.caption_repeats)
    for row in read_jsonl(VADER_SAMPLE):
        texts.append(row["text"])
        labels.append(LABELS.index(row["sentiment"]))
    order = np.random.default_rng(settings.seed).permutation(len(texts))
    return [model_text(texts[i]) for i in order], [labels[i] for i in order]


def length_batches(lengths: Sequence[int], settings: Settings) -> list[list[int]]:
    """Batches of texts of similar length (little padding: about a third less compute here), in a shuffled order.
    Texts are sorted by length within windows of 50 batches, so every batch still mixes sources and labels."""
    window = settings.batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(lengths), window):
        chunk = sorted(range(start, min(start + window, len(lengths))), key=lambda i: lengths[i])
        batches.extend(chunk[i : i + settings.batch_size] for i in range(0, len(chunk), settings.batch_size))
    order = np.random.default_rng(settings.seed + 1).permutation(len(batches))
    return [batches[i] for i in order]


def finetune(
    source: Path,
    target: Path,
    head: Sequence[tuple[np.ndarray, np.ndarray]],
    texts: Sequence[str],
    labels: Sequence[int],
    settings: Settings = Settings(),
    progress: Callable[[int, int, float], None] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train encoder and head on (texts, labels); writes the encoder as a copy of the `source` sentence-transformers
    folder into `target` and returns the trained head layers (weight (in, out), bias (out,))."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    anchor = AutoModel.from_pretrained(str(source), local_files_only=True).eval()
    model.eval()  # no dropout: deterministic, and the anchor term compares like with like
    layers = torch.nn.ModuleList(torch.nn.Linear(weight.shape[0], weight.shape[1]) for weight, _ in head)
    with torch.no_grad():
        for linear, (weight, bias) in zip(layers, head, strict=True):
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight.T)))  # type: ignore[operator]
            linear.bias.copy_(torch.from_numpy(bias))  # type: ignore[operator]

    def embed(encoder: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def logits(embedding: torch.Tensor) -> torch.Tensor:
        for index, linear in enumerate(layers):
            embedding = linear(embedding)
            if index < len(layers) - 1:
                embedding = torch.relu(embedding)
        return embedding

    frozen = [model.embeddings, *model.encoder.layer[: len(model.encoder.layer) - settings.trainable_layers]]
    for module in frozen:
        module.requires_grad_(False)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in model.parameters() if p.requires_grad], "lr": settings.encoder_lr},
            {"params": layers.parameters(), "lr": settings.head_lr},
        ],
        weight_decay=0.01,
    )
    batches = length_batches(
        [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=settings.max_length)["input_ids"]],
        settings,
    )
    steps = settings.epochs * len(batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(1, steps)))
    target_labels = torch.tensor(list(labels))
    for _ in range(settings.epochs):
        for indices in batches:
            batch = tokenizer(
                [texts[i] for i in indices],
                padding=True,
                truncation=True,
                max_length=settings.max_length,
                return_tensors="pt",
            )
            embedding = embed(model, batch)
            loss = torch.nn.functional.cross_entropy(logits(embedding), target_labels[indices])
            if settings.anchor_weight:
                with torch.no_grad():
                    original = embed(anchor, batch)
                loss = loss + settings.anchor_weight * ((embedding - original) ** 2).sum(-1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            if progress and schedule.last_epoch % 20 == 0:
                progress(schedule.last_epoch, steps, float(loss.detach()))
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "README.md"))
    model.save_pretrained(str(target))
    return [
        (
            linear.weight.detach().numpy().T.astype(np.float32).copy(),  # type: ignore[operator]
            linear.bias.detach().numpy().astype(np.float32),  # type: ignore[operator]
        )
        for linear in layers
    ]
