"""Composition root of the inference service: reads settings, loads the models named by the manifest, warms them,
starts one batcher per model and serves InferenceService. Health turns SERVING only after the warm-up.

Run: `python -m services.inference.server` (MODELS_DIR defaults to the newest `make models` build).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import grpc
from inference.v1 import inference_pb2, inference_pb2_grpc

from following.server import RuntimeContext, run
from following.settings import EnvReader, RuntimeSettings, SettingsError
from services.inference import metrics
from services.inference.analyzer import ALL_TASKS, Analyzer
from services.inference.batcher import Batcher, ModelWorkers
from services.inference.embedder import Embedder
from services.inference.handlers import InferenceServicer
from services.inference.manifest import Manifest, ManifestError, load_manifest
from services.inference.runners import Runner, load_runners
from services.inference.settings import InferenceSettings

log = logging.getLogger(__name__)

# Short and long captions, so the warm-up allocates for the shapes real batches have.
WARMUP_TEXTS = (
    "Warm-up",
    "New personal record at the gym today, legs are shaking but so worth it",
    "Sunday brunch with friends in Lisbon, pancakes, fresh berries, too much coffee and a long walk by the river "
    "afterwards before the rain came in and we ran home laughing. " * 3,
)


class InferenceApp:
    name = "inference"
    migrations_dir: Path | None = None

    def __init__(self, settings: InferenceSettings) -> None:
        self.settings = settings
        self.manifest: Manifest = load_manifest(settings.models_dir)
        for task in ALL_TASKS:
            self.manifest.head_for(task)
        self.batchers: list[Batcher] = []
        # The models share the worker threads, so a cheap model's batches gather the texts that arrive while the
        # encoder runs instead of taking a thread per call.
        self._workers: ModelWorkers | None = None
        self._analyzer: Analyzer | None = None
        self._embedder: Embedder | None = None

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        inference_pb2_grpc.add_InferenceServiceServicer_to_server(_LazyServicer(self), server)
        return [inference_pb2.DESCRIPTOR.services_by_name["InferenceService"].full_name]

    async def start(self, ctx: RuntimeContext) -> None:
        runners = await asyncio.to_thread(load_runners, self.manifest, self.settings.threads)
        await asyncio.to_thread(_warm_up, runners)
        self._workers = workers = ModelWorkers(self.settings.workers)
        self.batchers = [
            Batcher(runner, self.settings.policy, metrics.observe_batch, metrics.observe_depth, workers)
            for runner in runners
        ]
        for batcher in self.batchers:
            batcher.start()
        self._analyzer = Analyzer(self.batchers, self.settings.limits)
        self._embedder = Embedder(self.batchers, self.settings.limits)
        log.info(
            "models loaded",
            extra={
                "models": [r.spec.name for r in runners],
                "build": self.manifest.build,
                "workers": self.settings.workers,
                "threads_per_batch": self.settings.threads,
                "embedding_dimensions": self._embedder.dimensions,
            },
        )

    async def stop(self, grace: float) -> None:
        await asyncio.gather(*(batcher.stop() for batcher in self.batchers))
        if self._workers is not None:
            await asyncio.to_thread(self._workers.shutdown)

    def servicer(self) -> InferenceServicer:
        if self._analyzer is None or self._embedder is None:
            raise RuntimeError("the inference app has not started")
        return InferenceServicer(self._analyzer, self._embedder, self.manifest)


class _LazyServicer(inference_pb2_grpc.InferenceServiceServicer):
    """Registered before the models load; the runtime's readiness gate keeps RPCs out until start() finished."""

    def __init__(self, app: InferenceApp) -> None:
        self._app = app
        self._inner: InferenceServicer | None = None

    def _get(self) -> InferenceServicer:
        if self._inner is None:
            self._inner = self._app.servicer()
        return self._inner

    async def AnalyzeTexts(
        self, request: inference_pb2.AnalyzeTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.AnalyzeTextsResponse:
        return await self._get().AnalyzeTexts(request, context)

    async def EmbedTexts(
        self, request: inference_pb2.EmbedTextsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.EmbedTextsResponse:
        return await self._get().EmbedTexts(request, context)

    async def ListModels(
        self, request: inference_pb2.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> inference_pb2.ListModelsResponse:
        return await self._get().ListModels(request, context)


def _warm_up(runners: Sequence[Runner]) -> None:
    for runner in runners:
        for size in (1, 8):
            runner.run([WARMUP_TEXTS[i % len(WARMUP_TEXTS)] for i in range(size)])


def build(env: EnvReader) -> tuple[InferenceApp, RuntimeSettings]:
    settings = InferenceSettings.read(env)
    env.check()
    try:
        return InferenceApp(settings), settings.runtime
    except ManifestError as exc:
        raise SettingsError(f"MODELS_DIR: {exc}") from exc


if __name__ == "__main__":
    run(build)
