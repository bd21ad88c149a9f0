"""Converts py3langid's naive Bayes language identifier into an ONNX graph plus featurizer arrays.

The byte n-gram DFA (py3langid's tokenizer) is saved as `featurizer.npz` and run in Python by the service, like a
tokenizer; the scoring (sum over features of log1p(count) * log P(feature | language) + log P(language), divided by
sqrt(bytes)) is the graph. The model is restricted to LANGUAGES: naive Bayes over 97 languages confuses close ones
(ms/id, da/no, gl/pt) on short captions; a restricted set is what py3langid recommends for a known audience.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The languages of the creators this product serves; extend this list and rebuild for more.
LANGUAGES: tuple[str, ...] = (
    "ar",
    "de",
    "el",
    "en",
    "es",
    "fa",
    "fr",
    "he",
    "hi",
    "id",
    "it",
    "ja",
    "ko",
    "nl",
    "pl",
    "pt",
    "ro",
    "ru",
    "sv",
    "th",
    "tr",
    "uk",
    "vi",
    "zh",
)
OPSET = 17


def _graph(ptc: np.ndarray, pc: np.ndarray) -> onnx.ModelProto:
    inputs = [
        helper.make_tensor_value_info("feature_ids", TensorProto.INT64, ["batch", "features"]),
        helper.make_tensor_value_info("feature_weights", TensorProto.FLOAT, ["batch", "features"]),
        helper.make_tensor_value_info("inv_temperature", TensorProto.FLOAT, ["batch", 1]),
    ]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", ptc.shape[1]])
    nodes = [
        helper.make_node("Gather", ["log_p_feature", "feature_ids"], ["per_feature"]),  # (batch, features, langs)
        helper.make_node("Unsqueeze", ["feature_weights", "axis_one"], ["weights_row"]),  # (batch, 1, features)
        helper.make_node("MatMul", ["weights_row", "per_feature"], ["summed_row"]),  # (batch, 1, langs)
        helper.make_node("Squeeze", ["summed_row", "axis_one"], ["summed"]),
        helper.make_node("Add", ["summed", "log_p_language"], ["scores"]),
        helper.make_node("Mul", ["scores", "inv_temperature"], ["logits"]),
    ]
    initializers = [
        numpy_helper.from_array(ptc.astype(np.float32), "log_p_feature"),
        numpy_helper.from_array(pc.astype(np.float32), "log_p_language"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_one"),
    ]
    graph = helper.make_graph(nodes, "py3langid_naive_bayes", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="following")
    onnx.checker.check_model(model)
    return model


def build_langid(target: Path, languages: Sequence[str] = LANGUAGES) -> None:
    """Write model.onnx, featurizer.npz and config.json (id2label = language codes) into `target`."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE  # type: ignore[import-untyped]
    from py3langid.modelio import load_model  # type: ignore[import-untyped]

    ptc, pc, classes, nextmove, row, emits = load_model(MODEL_DIR / MODEL_FILE)
    unknown = sorted(set(languages) - set(classes))
    if unknown:
        raise ValueError(f"py3langid does not know the languages {unknown}")
    columns = [classes.index(code) for code in languages]
    target.mkdir(parents=True, exist_ok=True)
    onnx.save(_graph(np.asarray(ptc)[:, columns], np.asarray(pc)[columns]), str(target / "model.onnx"))
    np.savez(
        target / "featurizer.npz",
        nextmove=np.asarray(nextmove, dtype=np.uint32),
        nextmove_row=np.asarray(row, dtype=np.uint32),
        out_feat=np.asarray(emits, dtype=np.int32),
    )
    config = {"model_type": "py3langid-naive-bayes", "id2label": dict(enumerate(languages))}
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
