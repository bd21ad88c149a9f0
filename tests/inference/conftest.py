"""Fixtures of the inference tests: the default models (built by `make models`, or here when missing) and a real
inference server on a loopback port, started in-process so tests can look at its batchers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import onnx
import pytest
from inference.v1 import inference_pb2_grpc

from following.server import ServiceRunner
from following.settings import EnvReader
from services.inference.modelcache import cache_root, current_build
from services.inference.runners import EMBEDDING_OUTPUT
from services.inference.server import InferenceApp
from services.inference.settings import InferenceSettings
from tests.processes import ROOT


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The current default build; `python -m services.inference.modelbuild` is a cache hit when it is up to date."""
    subprocess.run([sys.executable, "-m", "services.inference.modelbuild"], cwd=ROOT, check=True)
    return current_build(cache_root())


@asynccontextmanager
async def serving(models: Path, env: Mapping[str, str] | None = None) -> AsyncIterator[ServiceRunner]:
    values = {"GRPC_LISTEN": "127.0.0.1:0", "METRICS_LISTEN": "off", "MODELS_DIR": str(models), **(env or {})}
    reader = EnvReader(values)
    settings = InferenceSettings.read(reader)
    reader.check()
    runner = ServiceRunner(InferenceApp(settings), settings.runtime)
    await runner.start()
    try:
        yield runner
    finally:
        await runner.stop(grace=1)


@pytest.fixture(scope="session")
async def server(models_dir: Path) -> AsyncIterator[ServiceRunner]:
    async with serving(models_dir) as runner:
        yield runner


@pytest.fixture(scope="session")
async def stub(server: ServiceRunner) -> AsyncIterator[inference_pb2_grpc.InferenceServiceStub]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield inference_pb2_grpc.InferenceServiceStub(channel)


@pytest.fixture(scope="session")
def app(server: ServiceRunner) -> InferenceApp:
    assert isinstance(server.app, InferenceApp)
    return server.app


def without_embedding_output(models: Path, target: Path) -> Path:
    """A copy of the models whose encoder graph keeps only the heads' outputs."""
    target.mkdir()
    for folder in models.iterdir():
        if not folder.is_dir():
            (target / folder.name).symlink_to(folder)
            continue
        (target / folder.name).mkdir()
        for item in folder.iterdir():
            (target / folder.name / item.name).symlink_to(item)
        graph = folder / "model.onnx"
        model = onnx.load(str(graph))
        if any(output.name == EMBEDDING_OUTPUT for output in model.graph.output):
            kept = [output for output in model.graph.output if output.name != EMBEDDING_OUTPUT]
            del model.graph.output[:]
            model.graph.output.extend(kept)
            (target / folder.name / "model.onnx").unlink()
            onnx.save(model, str(target / folder.name / "model.onnx"))
    return target
