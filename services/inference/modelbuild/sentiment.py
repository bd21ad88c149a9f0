"""Trains the sentiment head: multinomial logistic regression on MiniLM int8 embeddings of the VADER human-rated
sentences (Hutto & Gilbert, ICWSM 2014; shipped only in the vaderSentiment source distribution).

The result (`heads/sentiment.npz`, a few KB) is committed so that `make models` does not redo the 80 s of embedding.
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


def fit_softmax(
    x: np.ndarray, y: np.ndarray, classes: int, steps: int = 600, l2: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression by full-batch Adam; deterministic."""
    weight = np.zeros((x.shape[1], classes))
    bias = np.zeros(classes)
    counts = np.bincount(y, minlength=classes)
    sample_weight = (len(y) / (classes * counts))[y] / len(y)
    onehot = np.eye(classes)[y]
    moments = [np.zeros_like(weight), np.zeros_like(weight), np.zeros_like(bias), np.zeros_like(bias)]
    rate, beta1, beta2 = 0.05, 0.9, 0.999
    for step in range(1, steps + 1):
        logits = x @ weight + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        error = (probs - onehot) * sample_weight[:, None]
        grads = (x.T @ error + l2 * weight, error.sum(axis=0))
        for index, (param, grad) in enumerate(zip((weight, bias), grads, strict=True)):
            m, v = moments[2 * index], moments[2 * index + 1]
            m[:] = beta1 * m + (1 - beta1) * grad
            v[:] = beta2 * v + (1 - beta2) * grad * grad
            param -= rate * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
    return weight.astype(np.float32), bias.astype(np.float32)


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        print("exporting and quantizing the encoder", flush=True)
        graph = export_quantized(minilm_source(), Path(work))
        texts, labels = vader_sentences(cache_root() / "downloads")
        print(f"embedding {len(texts)} VADER sentences ({np.bincount(labels).tolist()} neg/neu/pos)", flush=True)
        vectors = embed(graph, minilm_source(), texts)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(texts))
    held_out, train = order[:2000], order[2000:]
    weight, bias = fit_softmax(vectors[train], labels[train], len(LABELS))
    predicted = (vectors[held_out] @ weight + bias).argmax(axis=1)
    print(f"held-out accuracy on VADER sentences: {(predicted == labels[held_out]).mean():.3f}")
    weight, bias = fit_softmax(vectors, labels, len(LABELS))
    np.savez(HEAD_FILE, weight=weight, bias=bias, labels=np.array(LABELS))
    print(f"wrote {HEAD_FILE.name} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
