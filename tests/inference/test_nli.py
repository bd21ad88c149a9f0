"""The production-model path with an NLI zero-shot category model.

The model here is a tiny, randomly initialised BERT made in the test: its answers mean nothing. The test proves the
mechanics only: the build exports a local folder into a manifest entry, the service scores every (caption,
hypothesis) pair in batches, and its probabilities equal the PyTorch model's entailment softmax across labels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import grpc
import numpy as np
import pytest
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from services.inference.manifest import TaskName, load_manifest
from services.inference.modelbuild.categories import LABELS
from services.inference.modelbuild.production import HYPOTHESIS_TEMPLATE, production_entry
from services.inference.runners import NliRunner
from tests.inference.conftest import serving

WORDS = "this post is about the a and & my new day at gym food drink travel music art sports love great run".split()


def tiny_nli_model(folder: Path) -> None:
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    folder.mkdir()
    letters = list("abcdefghijklmnopqrstuvwxyz.,!?&")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters, *(f"##{c}" for c in letters)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    config = BertConfig(
        vocab_size=len(dict.fromkeys(vocab)),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).eval().save_pretrained(folder)


def reference_probabilities(folder: Path, texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = BertForSequenceClassification.from_pretrained(folder).eval()
    hypotheses = [HYPOTHESIS_TEMPLATE.format(label) for label in LABELS]
    rows = []
    with torch.no_grad():
        for text in texts:
            batch = tokenizer([text] * len(hypotheses), hypotheses, return_tensors="pt", padding=True)
            rows.append(torch.softmax(model(**batch).logits[:, 2], dim=0).numpy())
    return np.stack(rows)


@pytest.fixture(scope="module")
def nli_models_dir(models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nli-models")
    source = root / "source"
    tiny_nli_model(source)
    built = root / "models"
    built.mkdir()
    entry = production_entry(TaskName.CATEGORY, str(source), built / "category-tiny-nli", quantize=False)
    default = json.loads((models_dir / "manifest.json").read_text())["models"]
    for model in default:
        os.symlink(models_dir / model["name"], built / model["name"])
        model["heads"] = [head for head in model["heads"] if head["task"] != "category"]
    document = {"format": 1, "build": "test", "models": [*default, entry]}
    (built / "manifest.json").write_text(json.dumps(document))
    return built


def test_nli_runner_equals_the_pytorch_entailment_softmax(nli_models_dir: Path) -> None:
    spec, _ = load_manifest(nli_models_dir).head_for(TaskName.CATEGORY)
    assert spec.kind == "nli-zero-shot" and spec.entailment_index == 2
    texts = ["my new day at the gym", "great food and drink", "love this art", "run"] * 3
    probabilities = NliRunner(spec, threads=1).run(texts)[TaskName.CATEGORY]
    assert probabilities.shape == (len(texts), len(LABELS))
    np.testing.assert_allclose(
        probabilities, reference_probabilities(spec.folder.parents[1] / "source", texts), atol=1e-4
    )


async def test_service_serves_categories_from_an_nli_model_in_the_manifest(nli_models_dir: Path) -> None:
    async with serving(nli_models_dir) as runner, grpc.aio.insecure_channel(runner.address) as channel:
        stub = inference_pb2_grpc.InferenceServiceStub(channel)
        response = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=["great food", "my day at the gym"]))
        models = await stub.ListModels(pb.ListModelsRequest())
    for result in response.results:
        assert result.category.label in LABELS and len(result.category.top) == 3
        assert result.sentiment.label != pb.SENTIMENT_LABEL_UNSPECIFIED
    kinds = {model.task: model.kind for model in models.models}
    assert kinds[pb.TASK_CATEGORY] == "nli-zero-shot" and kinds[pb.TASK_SENTIMENT] == "head"
