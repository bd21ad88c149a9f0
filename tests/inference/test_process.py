"""The service as a real process: SERVING once the models are loaded, a clean exit on SIGTERM, and a refusal to start
that names MODELS_DIR when it holds no models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
from inference.v1 import inference_pb2 as pb
from inference.v1 import inference_pb2_grpc

from following.healthcheck import check
from tests.processes import ROOT, ServiceProcess


async def test_process_serves_after_loading_models_and_stops_cleanly(models_dir: Path, tmp_path: Path) -> None:
    service = ServiceProcess("services.inference.server", {"MODELS_DIR": str(models_dir)}, tmp_path / "inference.log")
    await service.start_serving()
    try:
        assert await check(service.address, "inference.v1.InferenceService") == "SERVING"
        async with grpc.aio.insecure_channel(service.address) as channel:
            stub = inference_pb2_grpc.InferenceServiceStub(channel)
            response = await stub.AnalyzeTexts(pb.AnalyzeTextsRequest(texts=["Leg day done"]), timeout=30)
        assert response.results[0].status == pb.TEXT_STATUS_ANALYZED
    finally:
        code = service.terminate()
    assert code == 0, service.log_tail()


def test_process_refuses_to_start_without_models_naming_models_dir(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "services.inference.server"],
        cwd=ROOT,
        env={"MODELS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "MODELS_DIR" in done.stderr and "manifest.json" in done.stderr
