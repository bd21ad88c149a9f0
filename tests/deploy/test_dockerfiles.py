"""The Dockerfiles copy what exists, run what the local stack runs, and install what their code imports."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from deploy.checks.dockerfiles import check_dockerfiles, check_image, dockerignored
from deploy.checks.imports import check_image_imports, check_imports
from deploy.images import IMAGES, ROOT


def test_every_dockerfile_passes() -> None:
    assert check_dockerfiles() == []


def test_every_image_installs_exactly_what_its_code_imports() -> None:
    assert check_imports() == []


def broken(tmp_path: Path, name: str, old: str, new: str) -> Path:
    source = IMAGES[name].dockerfile.read_text()
    assert old in source
    path = tmp_path / "Dockerfile"
    path.write_text(source.replace(old, new))
    return path


def test_a_copy_source_that_does_not_exist_is_flagged(tmp_path: Path) -> None:
    path = broken(tmp_path, "cdn", "COPY services/cdn services/cdn", "COPY services/cnd services/cdn")
    problems = check_image(IMAGES["cdn"], path)
    assert any("COPY source services/cnd does not exist" in p for p in problems)


def test_an_unpinned_base_a_root_user_and_another_entry_point_are_flagged(tmp_path: Path) -> None:
    path = broken(tmp_path, "creator", "python:3.11.14-slim-bookworm", "python:latest")
    path.write_text(
        path.read_text()
        .replace("USER 10001:10001", "USER root")
        .replace('"services.creator.server"', '"services.creator.app"')
    )
    problems = check_image(IMAGES["creator"], path)
    assert any("base image 'python:latest' is not pinned" in p for p in problems)
    assert any("numeric non-root USER" in p for p in problems)
    assert any("ENTRYPOINT" in p and "services.creator.app" in p for p in problems)


def test_an_entry_point_the_local_stack_does_not_run_is_flagged(tmp_path: Path) -> None:
    stack = tmp_path / "stack.py"
    stack.write_text('MODULES = ["services.creator.server"]\n')
    assert check_image(IMAGES["creator"], stack=stack) == []
    problems = check_image(IMAGES["cdn"], stack=stack)
    assert problems == ["services/cdn/Dockerfile: the local stack (scripts/stack.py) does not run services.cdn.server"]


def test_dockerignore_sends_only_the_copied_paths() -> None:
    assert not dockerignored("following/server.py")
    assert not dockerignored("deploy/images.py")
    assert dockerignored(".venv")
    assert dockerignored("gen/creator/v1/creator_pb2.py")
    assert dockerignored("services/cdn/__pycache__/jobs.cpython-311.pyc")
    assert dockerignored("services/gateway/docs-viewer/node_modules/swagger-ui-dist/swagger-ui-bundle.js")


def test_an_import_the_image_does_not_install_is_flagged() -> None:
    image = IMAGES["cdn"]
    without_pillow = replace(image, distributions=tuple(d for d in image.distributions if d != "pillow"))
    assert any("imports PIL" in p and "pillow" in p for p in check_image_imports(without_pillow))
    with_extra = replace(image, distributions=(*image.distributions, "onnxruntime"))
    assert check_image_imports(with_extra) == [
        "cdn image: installs onnxruntime, which none of its code imports (keep images slim)"
    ]


def test_the_inference_models_stage_follows_the_model_cache_layout() -> None:
    from services.inference.modelcache import CACHE_ENV, POINTER_NAME

    text = IMAGES["inference"].dockerfile.read_text()
    assert f"{CACHE_ENV}=/build/cache" in text
    assert f'cp -r "/build/cache/$(cat /build/cache/{POINTER_NAME})" /models' in text
    assert "COPY --from=models /models /opt/models" in text and "MODELS_DIR=/opt/models" in text


def test_an_import_is_traced_to_its_distribution_without_importing_it() -> None:
    """Namespace packages shared by several distributions included; importing to find out would load torch for the
    models stage."""
    probe = (
        "import sys\n"
        "from deploy.checks.imports import distribution_of\n"
        "print(*(distribution_of(m) for m in sys.argv[1:]))\n"
        "print(*(m for m in ('grpc', 'google.protobuf', 'PIL') if m in sys.modules))\n"
    )
    modules = ["google.api.annotations_pb2", "google.protobuf.descriptor_pb2", "grpc.aio", "PIL.Image"]
    result = subprocess.run(
        [sys.executable, "-c", probe, *modules], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    owners, imported = result.stdout.split("\n")[:2]
    assert owners.split() == ["googleapis-common-protos", "protobuf", "grpcio", "pillow"]
    assert imported == ""
