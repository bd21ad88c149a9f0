"""`make eval`, section "discovery": how well creator embeddings find lookalikes and answer topic queries, on the
sample upstream's labelled niche creators (fakes/instagram/niche_creators.json) with every other sample creator in the
pool as a distractor, and the queries of tests/data/discovery_queries.jsonl (written apart from the captions).

What the product computes, computed in-process: each text goes through the served MiniLM graph's `sentence_embedding`
output, one text per graph call as the inference service runs it, prepared as for the analysis heads
(`texts.model_text`; a text without letters has no embedding). A creator's texts are its biography and the captions
of its first DEFAULT_POST_LIMIT posts as the fake serves them (a private creator: its biography only); its embedding
is `services.creator.embedding.creator_embedding` of those. Ranking is exact cosine over the whole pool.

- lookalike precision@3: for each labelled creator, the share of its 3 most similar other creators that share its
  niche; averaged per niche, and over all labelled creators;
- topic-query hit rate: the share of queries whose 3 best creators are all in the query's niche.

Floors: precision@3 of every niche and overall, and the hit rate, at least 0.8 each; the report prints a verdict per
figure and tests/inference/test_discovery_quality.py enforces them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakes.instagram.catalogue import Catalogue
from fakes.instagram.niche_creators import LABELLED
from fakes.instagram.settings import SampleSettings
from services.creator.embedding import creator_embedding
from services.inference.featurizers import TokenizerFeaturizer
from services.inference.manifest import load_manifest
from services.inference.modelcache import resolve_models_dir
from services.inference.runners import session_for
from services.inference.texts import has_text, model_text

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "tests" / "data" / "discovery_queries.jsonl"
# The creator service's default post_limit: a creator's embedding is over the posts of a default search.
DEFAULT_POST_LIMIT = 12
K = 3
# The graph output modelbuild/encoder.py keeps next to the heads (EMBEDDING_OUTPUT there; not imported: that module
# needs onnx, which only the models group installs).
EMBEDDING_OUTPUT = "sentence_embedding"
PRECISION_FLOOR = 0.8
HIT_RATE_FLOOR = 0.8


@dataclass(frozen=True, slots=True)
class PooledCreator:
    username: str
    niche: str | None  # None: a sample creator outside the labelled set (a distractor)
    texts: tuple[str, ...]  # biography first, then captions


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    niche: str


@dataclass(frozen=True, slots=True)
class Precision:
    per_niche: dict[str, float]
    overall: float  # the mean over labelled creators


@dataclass(frozen=True, slots=True)
class QueryResult:
    query: Query
    top: tuple[str, ...]
    hit: bool


@dataclass(frozen=True, slots=True)
class DiscoveryReport:
    creators: int
    labelled: int
    niches: int
    precision: Precision
    queries: tuple[QueryResult, ...]
    neighbours: dict[str, tuple[str, ...]]  # labelled creator -> its K most similar

    @property
    def hit_rate(self) -> float:
        return sum(r.hit for r in self.queries) / len(self.queries) if self.queries else 0.0


def pool(settings: SampleSettings | None = None, post_limit: int = DEFAULT_POST_LIMIT) -> list[PooledCreator]:
    """Every creator the fake serves, with the texts the creator service would embed after a default search."""
    settings = settings or SampleSettings()
    catalogue = Catalogue(settings.seed, settings.now)
    labels = {creator.username: creator.niche for creator in LABELLED.creators}
    pooled = []
    for username in catalogue.usernames:
        spec = catalogue.by_username(username)
        assert spec is not None
        captions = [] if spec.private else [p.caption for p in catalogue.posts(spec)[:post_limit] if p.caption]
        pooled.append(PooledCreator(username, labels.get(username), (spec.biography, *captions)))
    return pooled


def load_queries(path: Path = QUERIES) -> list[Query]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Query(row["query"], row["niche"]) for row in rows]


class TextEncoder:
    """The served caption encoder's sentence embedding, one text per graph call (as the service runs `per-text`)."""

    def __init__(self, models_dir: Path, threads: int) -> None:
        for spec in load_manifest(models_dir).models:
            if spec.featurizer != "tokenizer":
                continue
            session = session_for(spec, threads)
            if EMBEDDING_OUTPUT in {output.name for output in session.get_outputs()}:
                self._session = session
                names = [i.name for i in session.get_inputs()]
                self._featurize = TokenizerFeaturizer(spec.folder, spec.max_length, names)
                return
        raise ValueError(f"no model in {models_dir} has a {EMBEDDING_OUTPUT!r} output")

    def embed(self, text: str) -> list[float] | None:
        """The text's embedding as the service answers it (a list of floats); None for a text without letters."""
        if not has_text(text):
            return None
        (inputs,) = self._featurize.each([model_text(text)])
        (row,) = self._session.run([EMBEDDING_OUTPUT], inputs)[0]
        return [float(value) for value in row]


def unit(vector: np.ndarray) -> np.ndarray:
    result: np.ndarray = vector / np.linalg.norm(vector)
    return result


def nearest(vectors: Mapping[str, np.ndarray], to: np.ndarray, k: int, exclude: str = "") -> tuple[str, ...]:
    """The k usernames whose unit vectors have the highest cosine with unit vector `to` (ties: by name)."""
    scored = sorted((-float(np.dot(vector, to)), name) for name, vector in vectors.items() if name != exclude)
    return tuple(name for _, name in scored[:k])


def precision_at_k(vectors: Mapping[str, np.ndarray], labels: Mapping[str, str | None], k: int = K) -> Precision:
    """For each labelled creator, the share of its k nearest other creators with its label; per label and overall."""
    shares: dict[str, list[float]] = {}
    for name, label in labels.items():
        if label is None or name not in vectors:
            continue
        top = nearest(vectors, vectors[name], k, exclude=name)
        shares.setdefault(label, []).append(sum(labels.get(other) == label for other in top) / k)
    every = [share for values in shares.values() for share in values]
    per_niche = {label: sum(values) / len(values) for label, values in sorted(shares.items())}
    return Precision(per_niche, sum(every) / len(every) if every else 0.0)


def query_results(
    queries: Sequence[Query],
    query_vectors: Sequence[np.ndarray],
    vectors: Mapping[str, np.ndarray],
    labels: Mapping[str, str | None],
    k: int = K,
) -> tuple[QueryResult, ...]:
    """Each query's k best creators, and whether all of them are in its niche."""
    results = []
    for query, vector in zip(queries, query_vectors, strict=True):
        top = nearest(vectors, unit(vector), k)
        results.append(QueryResult(query, top, len(top) == k and all(labels.get(name) == query.niche for name in top)))
    return tuple(results)


def evaluate(models_dir: Path, threads: int) -> DiscoveryReport:
    encoder = TextEncoder(models_dir, threads)
    pooled = pool()
    vectors: dict[str, np.ndarray] = {}
    for creator in pooled:
        bio, *captions = [encoder.embed(text) for text in creator.texts]
        embedding = creator_embedding(bio, captions)
        if embedding.vector is not None:  # no text: never listed, as in the product
            vectors[creator.username] = embedding.vector
    labels = {creator.username: creator.niche for creator in pooled}
    queries = load_queries()
    query_vectors = []
    for query in queries:
        vector = encoder.embed(query.text)
        if vector is None:
            raise ValueError(f"{QUERIES}: query {query.text!r} has no letters")
        query_vectors.append(np.asarray(vector, dtype=np.float32))
    labelled = [name for name, label in labels.items() if label is not None]
    return DiscoveryReport(
        creators=len(vectors),
        labelled=len(labelled),
        niches=len({labels[name] for name in labelled}),
        precision=precision_at_k(vectors, labels),
        queries=query_results(queries, query_vectors, vectors, labels),
        neighbours={name: nearest(vectors, vectors[name], K, exclude=name) for name in labelled if name in vectors},
    )


def verdict(value: float, floor: float) -> str:
    return f"floor {floor:.2f}: {'met' if value >= floor else 'MISSED'}"


def print_report(report: DiscoveryReport, show_misses: bool = False) -> None:
    print(
        f"discovery: {report.labelled} labelled creators in {report.niches} niches among {report.creators} sample"
        f" creators with an embedding (the others are distractors); exact cosine"
    )
    print("lookalike precision@3")
    for niche, value in report.precision.per_niche.items():
        print(f"  {niche:<26}{value:>7.3f}   {verdict(value, PRECISION_FLOOR)}")
    print(f"  {'overall':<26}{report.precision.overall:>7.3f}   {verdict(report.precision.overall, PRECISION_FLOOR)}")
    hits = sum(result.hit for result in report.queries)
    print(
        f"{'topic-query hit rate':<28}{report.hit_rate:>7.3f}   {verdict(report.hit_rate, HIT_RATE_FLOOR)}"
        f"  ({hits} of {len(report.queries)} queries with all top {K} in the niche; {QUERIES.name})"
    )
    if show_misses:
        for name, top in report.neighbours.items():
            print(f"  neighbours of {name}: {', '.join(top)}")
        for result in report.queries:
            if not result.hit:
                print(f"  miss: {result.query.text!r} ({result.query.niche}) -> {', '.join(result.top)}")


def main() -> None:
    models_dir = resolve_models_dir(os.environ.get("MODELS_DIR"))
    report = evaluate(models_dir, os.cpu_count() or 1)
    print_report(report, show_misses=bool(os.environ.get("EVAL_SHOW_MISSES")))


if __name__ == "__main__":
    main()
