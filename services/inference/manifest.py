"""The manifest in MODELS_DIR: which model folder serves which task, and which graph output holds which head.

Format (`manifest.json`, written by `make models`, hand-editable for production models):

    {"format": 1, "build": "<hash>",
     "models": [{"name": "<folder>", "file": "model.onnx", "kind": "head" | "classifier" | "nli-zero-shot",
                 "featurizer": "tokenizer" | "byte-ngram", "max_length": 128, "batching": "padded" | "per-text",
                 "quantization": "int8-dynamic-per-channel", "version": "<hash or release>",
                 "heads": [{"task": "sentiment", "output": "sentiment_logits", "labels": ["negative", ...],
                            "languages": ["en"]}],
                 "hypothesis_template": "This post is about {}."}]}

`batching` (default "padded"): "padded" runs a batch as one graph call, padded to its longest text; "per-text" runs
each text of a batch as its own graph call, unpadded (tokenizer featurizer only). Per-text suits dynamically quantized
graphs: their activation scales are computed per call, so a padded batch's results depend on its batch-mates and
its padding, while a text run alone gets the same answer in any batch and no padding is computed.

`languages` (optional, ISO 639-1 codes): the languages the head reads; texts identified as another language get no
answer from it (`unsupported_language`). Left out or empty: it reads any language.

`labels` may be left out: they are then read from `id2label` in the folder's `config.json`. For "nli-zero-shot" the
head's labels are the candidate labels, and the entailment index comes from `label2id` in `config.json`.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
KINDS = ("head", "classifier", "nli-zero-shot")
FEATURIZERS = ("tokenizer", "byte-ngram")
BATCHING = ("padded", "per-text")
SENTIMENT_LABELS = ("negative", "neutral", "positive")


class TaskName(enum.StrEnum):
    SENTIMENT = "sentiment"
    LANGUAGE = "language"
    CATEGORY = "category"


class ManifestError(ValueError):
    """The manifest or a model folder does not hold what the service needs."""


@dataclass(frozen=True)
class HeadSpec:
    task: TaskName
    output: str
    labels: tuple[str, ...]
    languages: tuple[str, ...] = ()  # ISO 639-1 codes the head reads; empty: any


@dataclass(frozen=True)
class ModelSpec:
    name: str
    folder: Path
    file: str
    kind: str
    featurizer: str
    max_length: int
    quantization: str
    version: str
    heads: tuple[HeadSpec, ...]
    hypothesis_template: str = "This example is {}."
    entailment_index: int = 0
    batching: str = "padded"

    @property
    def path(self) -> Path:
        return self.folder / self.file


@dataclass(frozen=True)
class Manifest:
    build: str
    models: tuple[ModelSpec, ...]

    def head_for(self, task: TaskName) -> tuple[ModelSpec, HeadSpec]:
        for model in self.models:
            for head in model.heads:
                if head.task == task:
                    return model, head
        raise ManifestError(f"no model serves the task {task.value}")


def _config(folder: Path) -> dict[str, Any]:
    path = folder / "config.json"
    if not path.is_file():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _id2label(config: dict[str, Any], where: str) -> tuple[str, ...]:
    raw = config.get("id2label")
    if not isinstance(raw, dict) or not raw:
        raise ManifestError(f"{where}: no labels in the manifest and no id2label in config.json")
    return tuple(str(raw[key]).lower() for key in sorted(raw, key=int))


def _entailment_index(config: dict[str, Any], where: str) -> int:
    for label, index in dict(config.get("label2id") or {}).items():
        if str(label).lower() == "entailment":
            return int(index)
    raise ManifestError(f"{where}: an nli-zero-shot model needs label2id with 'entailment' in config.json")


def _parse_model(raw: dict[str, Any], root: Path) -> ModelSpec:
    name = str(raw.get("name", ""))
    where = f"manifest model {name!r}"
    folder = root / name
    kind = str(raw.get("kind", ""))
    featurizer = str(raw.get("featurizer", "tokenizer"))
    if not name or not folder.is_dir():
        raise ManifestError(f"{where}: folder {folder} does not exist")
    if kind not in KINDS:
        raise ManifestError(f"{where}: kind must be one of {KINDS}, got {kind!r}")
    if featurizer not in FEATURIZERS:
        raise ManifestError(f"{where}: featurizer must be one of {FEATURIZERS}, got {featurizer!r}")
    batching = str(raw.get("batching", "padded"))
    if batching not in BATCHING:
        raise ManifestError(f"{where}: batching must be one of {BATCHING}, got {batching!r}")
    if batching == "per-text" and (featurizer != "tokenizer" or kind == "nli-zero-shot"):
        raise ManifestError(f"{where}: per-text batching needs the tokenizer featurizer and a head or classifier kind")
    config = _config(folder)
    heads = []
    for head in raw.get("heads", []):
        try:
            task = TaskName(head["task"])
        except (KeyError, ValueError) as exc:
            raise ManifestError(f"{where}: head task must be one of {[t.value for t in TaskName]}") from exc
        labels = tuple(str(label) for label in head["labels"]) if head.get("labels") else _id2label(config, where)
        if task == TaskName.SENTIMENT and sorted(labels) != sorted(SENTIMENT_LABELS):
            raise ManifestError(f"{where}: sentiment labels must be {SENTIMENT_LABELS}, got {labels}")
        languages = head.get("languages") or []
        if not isinstance(languages, list) or not all(isinstance(code, str) and code for code in languages):
            raise ManifestError(f"{where}: head languages must be a list of ISO 639-1 codes, got {languages!r}")
        heads.append(
            HeadSpec(task=task, output=str(head.get("output", "logits")), labels=labels, languages=tuple(languages))
        )
    if not heads:
        raise ManifestError(f"{where}: no heads")
    spec = ModelSpec(
        name=name,
        folder=folder,
        file=str(raw.get("file", "model.onnx")),
        kind=kind,
        featurizer=featurizer,
        max_length=int(raw.get("max_length", 128)),
        quantization=str(raw.get("quantization", "fp32")),
        version=str(raw.get("version", "unknown")),
        heads=tuple(heads),
        hypothesis_template=str(raw.get("hypothesis_template", "This example is {}.")),
        entailment_index=_entailment_index(config, where) if kind == "nli-zero-shot" else 0,
        batching=batching,
    )
    if not spec.path.is_file():
        raise ManifestError(f"{where}: graph file {spec.path} does not exist")
    if kind == "nli-zero-shot" and len(heads) != 1:
        raise ManifestError(f"{where}: an nli-zero-shot model serves exactly one task")
    return spec


def load_manifest(models_dir: Path) -> Manifest:
    """Read and check `models_dir/manifest.json`; every task may be served by one head only."""
    path = models_dir / "manifest.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from exc
    if raw.get("format") != FORMAT_VERSION:
        raise ManifestError(f"{path}: format must be {FORMAT_VERSION}, got {raw.get('format')!r}")
    models = tuple(_parse_model(model, models_dir) for model in raw.get("models", []))
    tasks = [head.task for model in models for head in model.heads]
    duplicated = sorted({task.value for task in tasks if tasks.count(task) > 1})
    if duplicated:
        raise ManifestError(f"{path}: tasks served twice: {duplicated}")
    return Manifest(build=str(raw.get("build", "")), models=models)


def write_manifest(models_dir: Path, build: str, models: list[dict[str, Any]]) -> None:
    document = {"format": FORMAT_VERSION, "build": build, "models": models}
    (models_dir / "manifest.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
