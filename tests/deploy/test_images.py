"""Each service folder declares what its image installs; the Dockerfiles get those names' lock entries, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from deploy.checks.dockerfiles import check_image, code_stage, envoy_version
from deploy.checks.imports import closure
from deploy.images import (
    IMAGES,
    MODELS_LOCK,
    REQUIREMENT_SETS,
    ROOT,
    RUNTIME_LOCK,
    RequirementError,
    canonical,
    declared,
    lock_entries,
    requirements,
)


def test_each_image_installs_the_names_its_service_folder_declares() -> None:
    for name, image in IMAGES.items():
        assert (ROOT / "services" / name / "requirements.in").is_file()
        assert image.distributions == declared(name) != ()
    assert "aioboto3" in IMAGES["cdn"].distributions
    assert "onnxruntime" not in IMAGES["creator"].distributions


def test_a_declaration_file_lists_names_without_versions(tmp_path: Path) -> None:
    folder = tmp_path / "services" / "shop"
    folder.mkdir(parents=True)
    (folder / "requirements.in").write_text("# what the shop image installs\ngrpcio\n\nasyncpg  # the store\n")
    assert declared("shop", tmp_path) == ("grpcio", "asyncpg")
    assert declared("absent", tmp_path) == ()


@pytest.mark.parametrize("name", list(REQUIREMENT_SETS))
def test_every_requirement_set_is_hashed_lock_entries(name: str) -> None:
    entries = requirements(name)
    assert entries
    for entry in entries:
        pin, *hashes = entry.splitlines()
        assert "==" in pin and hashes and all(h.strip().startswith("--hash=sha256:") for h in hashes)


@pytest.mark.parametrize("name", list(IMAGES))
def test_the_lock_entries_of_an_image_cover_every_dependency_pip_would_install(name: str) -> None:
    # `# via` annotations stand in for package metadata in a bare build stage: they must not drop a dependency, or
    # `pip install --require-hashes` fails there.
    locked = {entry.splitlines()[0].split("==")[0].split("[")[0] for entry in requirements(name)}
    assert closure(IMAGES[name].distributions) - {canonical(n) for n in locked} == set()


def test_a_name_missing_from_the_lock_is_an_error(tmp_path: Path) -> None:
    lock = tmp_path / "runtime.txt"
    lock.write_text(
        "grpcio==1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via following (pyproject.toml)\n",
    )
    with pytest.raises(RequirementError, match="asyncpg"):
        requirements("creator", lock)


def test_lock_entries_follow_via_annotations_and_keep_forked_versions(tmp_path: Path) -> None:
    lock = tmp_path / "dev.txt"
    digest = "--hash=sha256:" + "1" * 64
    lock.write_text(
        f"app==1.0 \\\n    {digest}\n    # via following (pyproject.toml)\n"
        f"lib==2.0 ; python_full_version < '3.12' \\\n    {digest}\n    # via app\n"
        f"lib==3.0 ; python_full_version >= '3.12' \\\n    {digest}\n    # via\n    #   app\n    #   other\n"
        f"other==1.0 \\\n    {digest}\n"
    )
    entries = lock_entries(lock)
    assert [(e.name, sorted(e.via)) for e in entries] == [
        ("app", []),
        ("lib", ["app"]),
        ("lib", ["app", "other"]),
        ("other", []),
    ]


def test_the_locks_pin_every_package_shared_by_two_groups_to_one_version() -> None:
    runtime = {e.name: e.text.split()[0] for e in lock_entries(RUNTIME_LOCK)}
    models = {e.name: e.text.split()[0] for e in lock_entries(MODELS_LOCK)}
    assert {name: (runtime[name], models[name]) for name in runtime.keys() & models.keys()} == {
        name: (runtime[name], runtime[name]) for name in runtime.keys() & models.keys()
    }


def test_a_pip_install_without_hashes_is_flagged(tmp_path: Path) -> None:
    source = IMAGES["cdn"].dockerfile.read_text()
    old = ".venv/bin/pip install --require-hashes -r /tmp/runtime.txt"
    assert old in source
    path = tmp_path / "Dockerfile"
    path.write_text(source.replace(old, ".venv/bin/pip install -r /tmp/runtime.txt"))
    problems = check_image(IMAGES["cdn"], path)
    assert len(problems) == 1 and "pip install without `--require-hashes -r`" in problems[0]


def test_the_gateway_serves_from_the_official_envoy_image_of_the_locked_envoy_release(tmp_path: Path) -> None:
    gateway = IMAGES["gateway"]
    source = gateway.dockerfile.read_text()
    assert f"ARG ENVOY_IMAGE=envoyproxy/envoy:v{envoy_version()}\n" in source
    path = tmp_path / "Dockerfile"
    for base in ("envoyproxy/envoy:v1.39.0", "python:3.11.14-slim-bookworm"):
        path.write_text(source.replace(f"envoyproxy/envoy:v{envoy_version()}", base))
        assert any("must be FROM envoyproxy/envoy:v" in p for p in check_image(gateway, path))
    path.write_text(source.replace(". /etc/envoy/rendered/launch.sh && ", ""))
    assert any("must source /etc/envoy/rendered/launch.sh" in p for p in check_image(gateway, path))


def test_the_gateway_render_stage_runs_the_renderer_into_the_shared_folder() -> None:
    stage = code_stage(IMAGES["gateway"])
    assert stage[0].arguments.endswith(" AS render")
    entrypoint = [i.arguments for i in stage if i.command == "ENTRYPOINT"][-1]
    assert entrypoint == '["python", "-m", "services.gateway.run", "render", "--out-dir", "/etc/envoy/rendered"]'


def test_the_lock_files_pin_every_direct_dependency_at_the_version_pyproject_asks_for() -> None:
    # pyproject.toml edited without `make lock` would install the old versions everywhere: this catches it.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"runtime.txt": project["dependencies"], "dev.txt": project["optional-dependencies"]["dev"]}
    groups["models.txt"] = project["optional-dependencies"]["models"]
    for lock, lines in groups.items():
        pins = {e.name: e.text.split()[0].split("==", 1)[1] for e in lock_entries(ROOT / "requirements" / lock)}
        for line in lines:
            requirement = line.split(";", 1)[0].strip()  # an environment marker is not part of the pin
            name, version = re.split(r"(?:\[[^\]]*\])?==", requirement)
            assert pins.get(canonical(name), "").split("+")[0] == version, f"{lock}: {line} (run `make lock`)"
