"""Model adapters: one runner per model folder of the manifest, turning a batch of texts into per-task probabilities
with onnxruntime. A "head" or "classifier" folder runs once per batch (padded) or once per text (`batching:
per-text`) and softmaxes each head's output; an "nli-zero-shot" folder scores every (text, hypothesis) pair and
softmaxes the entailment logits across the labels.

A head graph that also outputs its encoder's `sentence_embedding` (the served MiniLM does) returns it under
EMBEDDING from the same graph call, L2-normalised: embeddings cost no second encoder pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import onnxruntime as ort

from services.inference.featurizers import ByteNgramFeaturizer, TokenizerFeaturizer
from services.inference.manifest import Manifest, ModelSpec, TaskName

# Per TaskName value: probabilities (texts x labels); under EMBEDDING: sentence embeddings (texts x dimensions).
Probabilities = dict[str, np.ndarray]
EMBEDDING = "embedding"
# The graph output holding the encoder's sentence embedding (services/inference/modelbuild/encoder.py keeps it).
EMBEDDING_OUTPUT = "sentence_embedding"
# (caption, hypothesis) pairs per NLI session call; bounds memory when a batch has many texts x labels.
NLI_PAIRS_PER_RUN = 128


class Runner(Protocol):
    spec: ModelSpec

    @property
    def tasks(self) -> tuple[TaskName, ...]: ...

    @property
    def embedding_dimensions(self) -> int:
        """The length of the sentence embeddings `run` returns under EMBEDDING; 0 when the model has none."""
        ...

    def run(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities (texts x labels) for each task this model serves, and EMBEDDING when the model has
        embeddings; called off the event loop."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return result


def normalised(rows: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero), so cosine similarity is the dot product."""
    norms = np.linalg.norm(rows, axis=-1, keepdims=True)
    result: np.ndarray = (rows / np.maximum(norms, 1e-12)).astype(np.float32)
    return result


def session_for(spec: ModelSpec, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads would spin on the cores the event loop and the other model's batches need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(spec.path), options, providers=["CPUExecutionProvider"])


class ClassifierRunner:
    """A folder whose graph maps featurized texts to one or more logits outputs (heads or a plain classifier)."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        self.spec = spec
        # The byte n-gram graph is a gather and a small matmul: more threads only contend with the encoder's.
        self.session = session_for(spec, 1 if spec.featurizer == "byte-ngram" else threads)
        names = [i.name for i in self.session.get_inputs()]
        tokenizer = TokenizerFeaturizer(spec.folder, spec.max_length, names) if spec.featurizer == "tokenizer" else None
        self._featurize = tokenizer or ByteNgramFeaturizer(spec.folder)
        # The manifest allows per-text only with the tokenizer featurizer.
        self._per_text = tokenizer if spec.batching == "per-text" else None
        self._outputs = [head.output for head in spec.heads]
        outputs = {o.name: o for o in self.session.get_outputs()}
        missing = [name for name in self._outputs if name not in outputs]
        if missing:
            raise ValueError(f"model {spec.name}: the graph has no outputs {missing} (it has {sorted(outputs)})")
        self._embedding_dimensions = 0
        embedding = outputs.get(EMBEDDING_OUTPUT)
        if embedding is not None and EMBEDDING_OUTPUT not in self._outputs:
            shape = embedding.shape
            self._embedding_dimensions = shape[-1] if shape and isinstance(shape[-1], int) else self._probe_dimensions()
            self._outputs.append(EMBEDDING_OUTPUT)  # fetched with the heads: the same call computes it

    @property
    def tasks(self) -> tuple[TaskName, ...]:
        return tuple(head.task for head in self.spec.heads)

    @property
    def embedding_dimensions(self) -> int:
        return self._embedding_dimensions

    def run(self, texts: Sequence[str]) -> Probabilities:
        if self._per_text is not None:
            calls = [self.session.run(self._outputs, inputs) for inputs in self._per_text.each(texts)]
            outputs = [np.concatenate(rows) for rows in zip(*calls, strict=True)]
        else:
            outputs = self.session.run(self._outputs, self._featurize(texts))
        heads = len(self.spec.heads)
        result: Probabilities = {
            head.task: softmax(out) for head, out in zip(self.spec.heads, outputs[:heads], strict=True)
        }
        if self._embedding_dimensions:
            result[EMBEDDING] = normalised(outputs[heads])
        return result

    def _probe_dimensions(self) -> int:
        """The embedding length of a graph whose output shape leaves it symbolic: one text run through it."""
        (row,) = self.session.run([EMBEDDING_OUTPUT], self._featurize(["dimensions"]))
        return int(row.shape[-1])


class NliRunner:
    """Zero-shot classification with an NLI model: P(label) = softmax over labels of the entailment logit of
    (text, template.format(label)), as the Hugging Face zero-shot pipeline does for single-label classification."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        self.spec = spec
        self.session = session_for(spec, threads)
        names = [i.name for i in self.session.get_inputs()]
        self._featurize = TokenizerFeaturizer(spec.folder, spec.max_length, names)
        self._head = spec.heads[0]
        self._hypotheses = [spec.hypothesis_template.format(label) for label in self._head.labels]

    @property
    def tasks(self) -> tuple[TaskName, ...]:
        return (self._head.task,)

    @property
    def embedding_dimensions(self) -> int:
        return 0

    def run(self, texts: Sequence[str]) -> Probabilities:
        labels = len(self._hypotheses)
        firsts = [text for text in texts for _ in range(labels)]
        seconds = self._hypotheses * len(texts)
        entailment = np.zeros(len(firsts), dtype=np.float32)
        for start in range(0, len(firsts), NLI_PAIRS_PER_RUN):
            end = start + NLI_PAIRS_PER_RUN
            inputs = self._featurize.pairs(firsts[start:end], seconds[start:end])
            (logits,) = self.session.run([self._head.output], inputs)
            entailment[start:end] = logits[:, self.spec.entailment_index]
        return {self._head.task: softmax(entailment.reshape(len(texts), labels))}


def load_runners(manifest: Manifest, threads: int) -> list[Runner]:
    runners: list[Runner] = []
    for spec in manifest.models:
        runners.append(NliRunner(spec, threads) if spec.kind == "nli-zero-shot" else ClassifierRunner(spec, threads))
    return runners
