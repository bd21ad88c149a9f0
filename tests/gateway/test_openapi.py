"""The OpenAPI document: valid 3.1, generated from the current protos, and true to what the gateway answers."""

from __future__ import annotations

import html
import importlib.resources
import json
import socket
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
import pytest
from errors.v1 import errors_pb2
from gateway.v1 import annotations_pb2 as gateway_annotations
from google.api import annotations_pb2
from grpc_tools import protoc
from openapi_spec_validator import validate

from services.gateway.contract import gateway_methods, load_descriptor_set
from services.gateway.openapi import load_document, render_document
from services.gateway.process import EnvoyProcess
from tests.gateway.envoys import ORIGIN, StartGateway
from tests.gateway.test_routes import REST_CASES
from tests.gateway.tokens import Keys

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(load_document())
    return loaded


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_document_matches_a_fresh_compile_of_the_protos(tmp_path: Path) -> None:
    """Fails when gen/ (and so the served document and Envoy's descriptor) is stale against protos/."""
    protos = REPO / "protos"
    googleapis = Path(annotations_pb2.__file__).resolve().parents[2]
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    out = tmp_path / "api_descriptor.pb"
    files = sorted(str(p.relative_to(protos)) for p in protos.rglob("*.proto"))
    status = protoc.main(
        [
            "protoc",
            f"-I{protos}",
            f"-I{googleapis}",
            f"-I{well_known}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *files,
        ]
    )
    assert status == 0
    assert render_document(load_descriptor_set(out)) == load_document(), "run `make protos`"


def test_every_annotated_rpc_is_documented_once_with_its_verb(document: dict[str, Any]) -> None:
    documented = {
        (verb, path, operation["x-grpc-method"])
        for path, operations in document["paths"].items()
        for verb, operation in operations.items()
    }
    annotated = {
        (m.binding.verb, m.binding.path, m.grpc_path) for m in gateway_methods(load_descriptor_set()) if m.binding
    }
    assert documented == annotated


def test_the_json_search_route_is_documented_as_search_creator_answering_a_creator_report(
    document: dict[str, Any],
) -> None:
    search = document["paths"]["/api/v1/creator/search/{username}"]["post"]
    assert search["x-grpc-method"] == "/creator.v1.CreatorService/SearchCreatorJson"  # what the gateway calls
    assert search["operationId"] == "CreatorService_SearchCreator"
    assert search["description"].startswith("Returns the whole report of a creator in one response")
    ok = search["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/CreatorReport"}


def test_a_json_of_option_naming_no_fitting_rpc_fails_the_contract() -> None:
    files = load_descriptor_set()
    creator_file = next(f for f in files.file if f.package == "creator.v1")
    service = next(s for s in creator_file.service if s.name == "CreatorService")
    method = next(m for m in service.method if m.name == "SearchCreatorJson")
    method.options.Extensions[gateway_annotations.json_of] = "NoSuchRpc"
    with pytest.raises(ValueError, match="NoSuchRpc"):
        gateway_methods(files)
    method.options.Extensions[gateway_annotations.json_of] = "ListUnlocked"  # another request type
    with pytest.raises(ValueError, match="same request"):
        gateway_methods(files)


def test_only_the_health_checks_and_openapi_are_public(document: dict[str, Any]) -> None:
    public = {path for path, ops in document["paths"].items() for op in ops.values() if op.get("security") == []}
    assert public == {"/api/health", "/api/openapi.json", "/api/v1/cdn/health"}


def test_operator_routes_say_they_need_the_operator_role(document: dict[str, Any]) -> None:
    operator = {path for path, ops in document["paths"].items() for op in ops.values() if "operator" in op["summary"]}
    assert operator == {
        "/api/v1/cdn/metrics",
        "/api/v1/cdn/queue/status",
        "/api/v1/cdn/statistics",
        "/api/v1/cdn/dead-jobs",
        "/api/v1/cdn/dead-jobs/retry",
        "/api/v1/cdn/dead-jobs/discard",
    }
    assert document["security"] == [{"bearerAuth": []}]


def test_parameters_and_bodies_follow_the_http_rules(document: dict[str, Any]) -> None:
    search = document["paths"]["/api/v1/creator/search/{username}"]["post"]
    assert [(p["name"], p["in"]) for p in search["parameters"]] == [("username", "path")]
    body = search["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert set(body) == {"refresh", "post_limit"}  # the path field is not repeated in the body
    unlocked = document["paths"]["/api/v1/creator/unlocked"]["get"]
    assert {(p["name"], p["in"]) for p in unlocked["parameters"]} == {("page_size", "query"), ("page_token", "query")}
    assert "requestBody" not in unlocked


def test_descriptions_come_from_the_proto_comments(document: dict[str, Any]) -> None:
    profile = document["components"]["schemas"]["Profile"]["properties"]
    assert profile["followers_count"]["type"] == "string"  # int64 as a JSON string
    assert "Lower-case username" in profile["username"]["description"]
    assert (
        "Searching unlocks the creator" in document["paths"]["/api/v1/creator/search/{username}"]["post"]["description"]
    )


@pytest.mark.parametrize(("verb", "path", "body"), [c[:3] for c in REST_CASES], ids=[c[1] for c in REST_CASES])
async def test_gateway_responses_match_the_documented_schemas(
    gateway: EnvoyProcess,
    http: aiohttp.ClientSession,
    keys: Keys,
    document: dict[str, Any],
    verb: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    template = next(
        t for t, ops in document["paths"].items() if verb.lower() in ops and _matches(t, path.split("?")[0])
    )
    schema = document["paths"][template][verb.lower()]["responses"]["200"]["content"]["application/json"]["schema"]
    headers = {"Authorization": f"Bearer {keys.hs256(app_metadata={'role': 'operator'})}"}
    async with http.request(verb, gateway.base_url + path, json=body, headers=headers) as response:
        answer = await response.json()
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(answer)


async def test_error_bodies_match_the_documented_error_schema(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, document: dict[str, Any]
) -> None:
    error_schema = {"$ref": "#/components/schemas/Error", "components": document["components"]}
    for url in ("/api/v1/creator/unlocked", "/api/v1/creators/x"):
        async with http.get(gateway.base_url + url) as response:
            jsonschema.Draft202012Validator(error_schema).validate(await response.json())


def _matches(template: str, path: str) -> bool:
    parts, actual = template.split("/"), path.split("/")
    return len(parts) == len(actual) and all(p == a or p.startswith("{") for p, a in zip(parts, actual, strict=True))


def test_every_error_reason_and_the_int64_rule_are_documented(document: dict[str, Any]) -> None:
    reason = document["components"]["schemas"]["ErrorInfo"]["properties"]["reason"]
    assert reason["enum"] == [name for name in errors_pb2.ErrorReason.keys() if name != "ERROR_REASON_UNSPECIFIED"]
    assert all(f"`{name}`" in reason["description"] for name in reason["enum"])
    assert "Retry-After" in document["components"]["responses"]["Error"]["headers"]
    assert "BigInt" in document["info"]["description"]


async def test_the_document_and_the_docs_page_answer_while_every_service_is_down(
    start_gateway: StartGateway, http: aiohttp.ClientSession, document: dict[str, Any]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"127.0.0.1:{probe.getsockname()[1]}"
    gateway = await start_gateway(CREATOR_ADDR=nowhere, CDN_ADDR=nowhere)
    async with http.get(gateway.base_url + "/api/v1/creator/unlocked") as down:
        assert down.status in (401, 503)  # the services are really unreachable behind this gateway
    async with http.get(gateway.base_url + "/api/openapi.json", headers={"Origin": ORIGIN}) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["access-control-allow-origin"] == ORIGIN
        assert await response.json() == document
    async with http.get(gateway.base_url + "/api/docs") as page:
        assert page.status == 200
        assert page.headers["content-type"].startswith("text/html")
        text = await page.text()
    for path in document["paths"]:
        assert html.escape(path) in text
    assert all(name in text for name in document["components"]["schemas"]["ErrorInfo"]["properties"]["reason"]["enum"])
    async with http.post(gateway.base_url + "/api/openapi.json") as wrong_verb:
        assert wrong_verb.status == 405


async def test_every_route_has_an_example_that_the_gateway_answers(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys, document: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {keys.hs256(app_metadata={'role': 'operator'})}"}
    for template, operations in document["paths"].items():
        for verb, operation in operations.items():
            assert operation["x-codeSamples"][0]["source"].startswith(f"curl -X {verb.upper()}")
            path, query = template, {}
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    path = path.replace("{" + parameter["name"] + "}", str(parameter["example"]))
                elif parameter["example"] != "":
                    query[parameter["name"]] = str(parameter["example"]).lower()
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
            async with http.request(verb, gateway.base_url + path, params=query, json=body, headers=headers) as answer:
                assert answer.status == 200, (verb, path, query, await answer.text())
