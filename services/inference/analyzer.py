"""The analysis use case: checks a request, answers letterless texts without a model, sends the others to the
batcher of each model that serves a requested task (all models at once), and assembles one result per text.
When a requested task's model reads only some languages, the language model runs too, so that texts in other
languages are answered "unsupported_language" instead of a guess. With `include_embedding` each text's sentence
embedding comes from the encoder's batch that computes its heads (embedder.py): no second encoder pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence

from services.inference import analysis
from services.inference import texts as prepared
from services.inference.analysis import Limits, TextAnalysis
from services.inference.batcher import Batcher
from services.inference.embedder import embedding_batcher, require
from services.inference.manifest import TaskName
from services.inference.runners import EMBEDDING, Probabilities

ALL_TASKS = (TaskName.SENTIMENT, TaskName.LANGUAGE, TaskName.CATEGORY)


class Analyzer:
    def __init__(self, batchers: Sequence[Batcher], limits: Limits) -> None:
        self.batchers = list(batchers)
        self.limits = limits
        heads = [head for batcher in self.batchers for head in batcher.runner.spec.heads]
        self.labels: dict[TaskName, tuple[str, ...]] = {head.task: head.labels for head in heads}
        self.languages: dict[TaskName, frozenset[str]] = {head.task: frozenset(head.languages) for head in heads}
        self.encoder = embedding_batcher(self.batchers)

    async def analyze(
        self, texts: Sequence[str], tasks: Sequence[TaskName], include_embedding: bool = False
    ) -> list[TextAnalysis]:
        analysis.check_request(texts, self.limits)
        encoder = require(self.encoder) if include_embedding else None
        wanted = tuple(dict.fromkeys(tasks or ALL_TASKS))
        restricted = any(self.languages.get(task) for task in wanted) and TaskName.LANGUAGE in self.labels
        computed = tuple(dict.fromkeys((*wanted, TaskName.LANGUAGE))) if restricted else wanted
        with_text = [i for i, text in enumerate(texts) if prepared.has_text(text)]
        running: list[asyncio.Future[Probabilities]] = []
        embedded: asyncio.Future[Probabilities] | None = None
        try:
            for batcher in self.batchers:
                if with_text and (set(batcher.runner.tasks) & set(computed) or batcher is encoder):
                    prepare = (
                        prepared.language_text if batcher.runner.tasks == (TaskName.LANGUAGE,) else prepared.model_text
                    )
                    running.append(batcher.enqueue([prepare(texts[i]) for i in with_text]))
                    if batcher is encoder:
                        embedded = running[-1]
            finished = await asyncio.gather(*running)
        except BaseException:
            for future in running:  # one model refused or failed: the others' queued texts need not run
                future.cancel()
            raise
        merged: Probabilities = {}
        for result in finished:
            merged.update(result)  # the tasks' rows; EMBEDDING is read from the encoder's own result below
        results = [analysis.no_text_analysis(wanted) for _ in texts]
        matrices = {task: merged[task].tolist() for task in computed} if with_text else {}  # once per task
        for row, index in enumerate(with_text):
            rows: dict[TaskName, Sequence[float]] = {task: matrices[task][row] for task in computed}
            results[index] = analysis.analysed(wanted, self.labels, rows, self.languages)
        if embedded is not None:
            for row, index in zip(embedded.result()[EMBEDDING].tolist(), with_text, strict=True):
                results[index] = dataclasses.replace(results[index], embedding=tuple(row))
        return results
