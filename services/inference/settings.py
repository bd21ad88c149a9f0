"""Settings of the inference service, read once from the environment at start-up."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from following.settings import EnvReader, RuntimeSettings
from services.inference.analysis import Limits
from services.inference.batcher import BatchPolicy
from services.inference.modelcache import CACHE_ENV, ModelsNotBuiltError, default_cache, resolve_models_dir

DEFAULT_GRPC_PORT = 50052


@dataclass(frozen=True)
class InferenceSettings:
    runtime: RuntimeSettings
    models_dir: Path
    policy: BatchPolicy
    limits: Limits
    workers: int
    threads: int

    @classmethod
    def read(cls, env: EnvReader) -> InferenceSettings:
        # The service has no tables: a DATABASE_URL in its environment (the local stack sets one) is not used.
        runtime = dataclasses.replace(
            RuntimeSettings.read("inference", env, default_grpc_port=DEFAULT_GRPC_PORT, needs_database=False),
            database_url=None,
        )
        try:
            cache = env.optional_text(CACHE_ENV)
            models_dir = resolve_models_dir(
                env.optional_text("MODELS_DIR"), Path(cache).expanduser() if cache else default_cache()
            )
        except ModelsNotBuiltError as exc:
            env.fail("MODELS_DIR", str(exc))
            models_dir = Path()
        # A per-text model costs the same per caption in any batch; larger batches only mean fewer hand-offs. At 32
        # clients x 12 captions (make bench-inference) 64 cost 1.44 ms of service CPU per text against 1.58 with 32.
        policy = BatchPolicy(
            max_batch=env.integer("INFERENCE_MAX_BATCH", 64, minimum=1, maximum=512),
            max_wait_seconds=env.number("INFERENCE_MAX_WAIT_MS", 0.0, minimum=0, maximum=1000) / 1000,
            max_queue=env.integer("INFERENCE_MAX_QUEUE", 1024, minimum=1, maximum=1_000_000),
        )
        limits = Limits(
            max_texts=env.integer("INFERENCE_MAX_TEXTS", 64, minimum=1, maximum=10_000),
            max_chars=env.integer("INFERENCE_MAX_CHARS", 4000, minimum=1, maximum=1_000_000),
        )
        # Batches run side by side, one per core, each on one onnxruntime thread: on 2 cores that ran 1,140 texts/s
        # against 887-963 for one batch at a time on two intra-op threads (make bench-inference, bare rows).
        workers = env.integer("INFERENCE_WORKERS", os.cpu_count() or 1, minimum=1, maximum=256)
        threads = env.integer("INFERENCE_THREADS", 1, minimum=1, maximum=256)
        if policy.max_queue < limits.max_texts:
            env.fail("INFERENCE_MAX_QUEUE", f"must be at least INFERENCE_MAX_TEXTS ({limits.max_texts})")
        return cls(
            runtime=runtime, models_dir=models_dir, policy=policy, limits=limits, workers=workers, threads=threads
        )
