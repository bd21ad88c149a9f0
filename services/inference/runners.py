"""Model adapters: one runner per model folder of the manifest, turning a batch of texts into per-task probabilities
with onnxruntime. A "head" or "classifier" folder runs once per batch (padded) or once per text (`batching:
per-text`) and softmaxes each head's output; an "nli-zero-shot" folder scores every (text, hypothesis) pair and
softmaxes the entailment logits across the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import onnxruntime as ort

from services.inference.featurizers import ByteNgramFeaturizer, TokenizerFeaturizer
from services.inference.manifest import Manifest, ModelSpec, TaskName

Probabilities = dict[TaskName, np.ndarray]
# (caption, hypothesis) pairs per NLI session call; bounds memory when a batch has many texts x labels.
NLI_PAIRS_PER_RUN = 128


class Runner(Protocol):
    spec: ModelSpec

    @property
    def tasks(self) -> tuple[TaskName, ...]: ...

    def run(self, texts: Sequence[str]) -> Probabilities:
        """Probabilities (texts x labels) for each task this model serves; called off the event loop."""
        ...


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    result: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
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
        outputs = {o.name for o in self.session.get_outputs()}
        missing = [name for name in self._outputs if name not in outputs]
        if missing:
            raise ValueError(f"model {spec.name}: the graph has no outputs {missing} (it has {sorted(outputs)})")

    @property
    def tasks(self) -> tuple[TaskName, ...]:
        return tuple(head.task for head in self.spec.heads)

    def run(self, texts: Sequence[str]) -> Probabilities:
        if self._per_text is not None:
            calls = [self.session.run(self._outputs, inputs) for inputs in self._per_text.each(texts)]
            logits = [np.concatenate(outputs) for outputs in zip(*calls, strict=True)]
        else:
            logits = self.session.run(self._outputs, self._featurize(texts))
        return {head.task: softmax(out) for head, out in zip(self.spec.heads, logits, strict=True)}


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
