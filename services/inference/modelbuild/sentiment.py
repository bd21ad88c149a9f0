"""Trains the sentiment head: a one-hidden-layer perceptron on MiniLM int8 embeddings of the VADER human-rated
sentences (Hutto & Gilbert, ICWSM 2014; shipped only in the vaderSentiment source distribution).

The result (`heads/sentiment.npz`, 390 KB) is committed so that `make models` does not redo the 80 s of embedding.
Retrain with `python -m services.inference.modelbuild.sentiment` (downloads the sdist with pip into the model cache).
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from services.inference.modelbuild.encoder import embed, export_quantized, minilm_source
from services.inference.modelcache import cache_root
from services.inference.texts import model_text

HEAD_FILE = Path(__file__).parent / "heads" / "sentiment.npz"
LABELS = ("negative", "neutral", "positive")
VADER_SDIST = "vaderSentiment==3.3.2"
# Mean ratings are on -4..4; within half a point of zero the raters did not agree on a direction.
NEUTRAL_BAND = 0.5
GROUND_TRUTH_FILES = (
    "tweets_GroundTruth.txt",
    "movieReviewSnippets_GroundTruth.txt",
    "amazonReviewSnippets_GroundTruth.txt",
    "nytEditorialSnippets_GroundTruth.txt",
)


def vader_sentences(download_dir: Path) -> tuple[list[str], np.ndarray]:
    """(sentences, labels) from the sdist's hutto_ICWSM_2014 ground truth files; labels index LABELS."""
    download_dir.mkdir(parents=True, exist_ok=True)
    archives = sorted(download_dir.glob("vaderSentiment-*.tar.gz"))
    if not archives:
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", VADER_SDIST]
        subprocess.run([*pip, "-d", str(download_dir)], check=True)
        archives = sorted(download_dir.glob("vaderSentiment-*.tar.gz"))
    texts: list[str] = []
    ratings: list[float] = []
    with tarfile.open(archives[0]) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner = sdist.extractfile(member)
        assert inner is not None
        with tarfile.open(fileobj=inner) as data:
            for name in GROUND_TRUTH_FILES:
                entry = next(m for m in data.getmembers() if m.name.endswith(name))
                handle = data.extractfile(entry)
                assert handle is not None
                for line in handle.read().decode("utf-8", errors="replace").splitlines():
                    parts = line.strip().split("\t", 2)
                    if len(parts) == 3 and parts[2].strip():
                        ratings.append(float(parts[1]))
                        texts.append(parts[2].strip())
    values = np.asarray(ratings)
    labels = np.where(values <= -NEUTRAL_BAND, 0, np.where(values >= NEUTRAL_BAND, 2, 1))
    return texts, labels


def fit_mlp(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """One hidden ReLU layer (256), L2-regularised, early-stopped on a 10% split; deterministic (fixed seed).

    On 3,000 held-out VADER sentences it beats a linear head (accuracy 0.71 against 0.67, macro-F1 0.67 against 0.65).
    """
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier((256,), alpha=1e-2, max_iter=60, early_stopping=True, random_state=0).fit(x, y)
    return [
        (weight.astype(np.float32), bias.astype(np.float32))
        for weight, bias in zip(model.coefs_, model.intercepts_, strict=True)
    ]


def predict(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    for index, (weight, bias) in enumerate(layers):
        x = x @ weight + bias
        if index < len(layers) - 1:
            x = np.maximum(x, 0)
    return x


def load_head() -> tuple[tuple[tuple[np.ndarray, np.ndarray], ...], list[str]]:
    """The committed head: its layers, in order, and its labels."""
    with np.load(HEAD_FILE) as trained:
        count = sum(1 for name in trained.files if name.startswith("weight"))
        layers = tuple((trained[f"weight{i}"], trained[f"bias{i}"]) for i in range(count))
        return layers, [str(label) for label in trained["labels"]]


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        print("exporting and quantizing the encoder", flush=True)
        graph = export_quantized(minilm_source(), Path(work))
        texts, labels = vader_sentences(cache_root() / "downloads")
        print(f"embedding {len(texts)} VADER sentences ({np.bincount(labels).tolist()} neg/neu/pos)", flush=True)
        vectors = embed(graph, minilm_source(), [model_text(text) for text in texts])
    rng = np.random.default_rng(7)
    order = rng.permutation(len(texts))
    held_out, train = order[:3000], order[3000:]
    predicted = predict(fit_mlp(vectors[train], labels[train]), vectors[held_out]).argmax(axis=1)
    print(f"held-out accuracy on VADER sentences: {(predicted == labels[held_out]).mean():.3f}")
    layers = fit_mlp(vectors, labels)
    arrays: dict[str, np.ndarray] = {"labels": np.array(LABELS)}
    for index, (weight, bias) in enumerate(layers):
        arrays[f"weight{index}"], arrays[f"bias{index}"] = weight, bias
    with HEAD_FILE.open("wb") as handle:
        np.savez(handle, **arrays)  # type: ignore[arg-type]  # numpy stubs type **kwds as allow_pickle
    print(f"wrote {HEAD_FILE.name} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
