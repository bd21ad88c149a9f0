"""Exports the production models from a local folder or the Hugging Face hub (when one is reachable):
a sequence classifier (cardiffnlp/twitter-roberta-base-sentiment-latest, papluca/xlm-roberta-base-language-detection)
or an NLI model used zero-shot for categories (facebook/bart-large-mnli). Each becomes a standard folder (model.onnx,
tokenizer files, config.json with id2label) and a manifest entry; the service needs no code change to use them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from services.inference.manifest import TaskName
from services.inference.modelbuild.categories import LABELS as CATEGORY_LABELS

HYPOTHESIS_TEMPLATE = "This post is about {}."


def file_version(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def export_classifier(source: str, target: Path, quantize: bool) -> tuple[str, str]:
    """Export `source` (folder or hub id) for text classification; returns (graph file name, quantization)."""
    from optimum.exporters.onnx import main_export

    local = Path(source).is_dir()
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main_export(
        model_name_or_path=source,
        output=target,
        task="text-classification",
        library_name="transformers",
        local_files_only=local,
        do_validation=False,
    )
    if not quantize:
        return "model.onnx", "fp32"
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    quantizer = ORTQuantizer.from_pretrained(target, file_name="model.onnx")
    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
    quantizer.quantize(quantization_config=config, save_dir=target)
    (target / "model.onnx").unlink()
    return "model_quantized.onnx", "int8-dynamic-per-channel"


def production_entry(task: TaskName, source: str, target: Path, quantize: bool) -> dict[str, Any]:
    """Export one production model into `target` and describe it for the manifest."""
    graph, quantization = export_classifier(source, target, quantize)
    entry: dict[str, Any] = {
        "name": target.name,
        "file": graph,
        "featurizer": "tokenizer",
        "max_length": 128,
        "quantization": quantization,
        "version": file_version(target / graph),
        "source": source,
    }
    if task == TaskName.CATEGORY:
        entry["kind"] = "nli-zero-shot"
        entry["hypothesis_template"] = HYPOTHESIS_TEMPLATE
        entry["heads"] = [{"task": task.value, "output": "logits", "labels": list(CATEGORY_LABELS)}]
    else:
        entry["kind"] = "classifier"
        entry["heads"] = [{"task": task.value, "output": "logits"}]
    return entry
