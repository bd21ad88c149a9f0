"""The model runners on the default models are shared by the worker threads: calls from several threads at once give
exactly what the same calls give one after another."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from following.settings import EnvReader, SettingsError
from services.inference.evaluate import load_examples
from services.inference.featurizers import TokenizerFeaturizer
from services.inference.manifest import load_manifest
from services.inference.runners import ClassifierRunner, load_runners
from services.inference.settings import InferenceSettings


def test_runners_called_from_two_threads_at_once_answer_as_one_after_another(models_dir: Path) -> None:
    texts = [example.text for example in load_examples()][:96]
    batches = [texts[start : start + 6] for start in range(0, len(texts), 6)]
    for runner in load_runners(load_manifest(models_dir), 1):
        alone = [runner.run(batch) for batch in batches]
        with ThreadPoolExecutor(max_workers=2) as pool:
            together = list(pool.map(runner.run, batches))
        for one, other in zip(alone, together, strict=True):
            assert one.keys() == other.keys()
            for task in one:
                np.testing.assert_allclose(one[task], other[task], rtol=1e-5, atol=1e-6)


def test_tokenizer_featurizer_serves_single_texts_and_pairs_from_threads_at_once(models_dir: Path) -> None:
    spec = next(spec for spec in load_manifest(models_dir).models if spec.featurizer == "tokenizer")
    featurize = TokenizerFeaturizer(spec.folder, 16, ["input_ids", "attention_mask"])
    long_text = "a caption that is much longer than sixteen tokens, about a long day by the sea with friends " * 2
    single = featurize([long_text, "short"])
    pairs = featurize.pairs([long_text], ["This example is about travel."])
    with ThreadPoolExecutor(max_workers=4) as pool:
        calls = [pool.submit(featurize, [long_text, "short"]) for _ in range(50)]
        calls += [pool.submit(featurize.pairs, [long_text], ["This example is about travel."]) for _ in range(50)]
        answers = [call.result() for call in calls]
    assert single["input_ids"].shape == (2, 16) and pairs["input_ids"].shape == (1, 16)
    assert all(np.array_equal(a["input_ids"], single["input_ids"]) for a in answers[:50])
    assert all(np.array_equal(a["input_ids"], pairs["input_ids"]) for a in answers[50:])
    hypothesis = featurize(["This example is about travel."])["input_ids"][0][1:].tolist()  # without [CLS]
    assert pairs["input_ids"][0][-len(hypothesis) :].tolist() == hypothesis  # only the caption was truncated


def test_a_per_text_model_answers_a_caption_the_same_whatever_its_batch_mates(models_dir: Path) -> None:
    manifest = load_manifest(models_dir)
    spec = next(spec for spec in manifest.models if spec.batching == "per-text")  # the default MiniLM heads
    runner = ClassifierRunner(spec, 1)
    caption = "Best brunch in town, the pancakes were unreal 🥞"
    other = "Worst service ever, waited an hour for cold food 😤"
    mates = [[caption], [caption, "ok"], [other, caption], [caption] * 5]
    answers = [runner.run(batch) for batch in mates]
    for answer, batch in zip(answers, mates, strict=True):
        for task, rows in answer.items():
            assert rows.shape[0] == len(batch)
            np.testing.assert_array_equal(rows[batch.index(caption)], answers[0][task][0])
    # Run alone, a padded batch of one is the same computation: per-text is padded batching without batch-mates.
    padded = ClassifierRunner(dataclasses.replace(spec, batching="padded"), 1).run([caption])
    for task in padded:
        np.testing.assert_allclose(padded[task], answers[0][task], rtol=1e-6, atol=1e-7)


def test_tokenizer_featurizer_gives_each_text_unpadded(models_dir: Path) -> None:
    spec = next(spec for spec in load_manifest(models_dir).models if spec.featurizer == "tokenizer")
    featurize = TokenizerFeaturizer(spec.folder, 16, ["input_ids", "attention_mask", "token_type_ids"])
    texts = ["short", "a somewhat longer caption about the sea", "x " * 40]
    padded = featurize(texts)
    each = featurize.each(texts)
    assert [inputs["input_ids"].shape for inputs in each] == [(1, int(n)) for n in padded["attention_mask"].sum(1)]
    for row, inputs in enumerate(each):
        length = inputs["input_ids"].shape[1]
        assert length <= 16 and inputs["attention_mask"].all()
        for name, array in inputs.items():
            assert array.dtype == np.int64
            np.testing.assert_array_equal(array[0], padded[name][row, :length])


@pytest.mark.parametrize(("name", "value"), [("INFERENCE_WORKERS", "0"), ("INFERENCE_THREADS", "0")])
def test_worker_and_thread_counts_must_be_positive(models_dir: Path, name: str, value: str) -> None:
    reader = EnvReader({"MODELS_DIR": str(models_dir), name: value})
    InferenceSettings.read(reader)
    with pytest.raises(SettingsError, match=name):
        reader.check()


def test_workers_default_to_the_cores_each_on_one_thread(models_dir: Path) -> None:
    reader = EnvReader({"MODELS_DIR": str(models_dir)})
    settings = InferenceSettings.read(reader)
    reader.check()
    assert settings.threads == 1 and settings.workers >= 1
