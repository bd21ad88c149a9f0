"""The TypeScript client's generated types are those of the current OpenAPI document: a proto change that alters the
contract fails here until `make client-types` regenerates them."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.gateway.contract import load_descriptor_set
from services.gateway.openapi import render_document
from tests.clients.npm import require_installed


def test_generated_typescript_types_match_the_openapi_document(tmp_path: Path) -> None:
    folder = require_installed("typescript")
    document = tmp_path / "openapi.json"
    document.write_bytes(render_document(load_descriptor_set()))
    generated = tmp_path / "schema.ts"
    subprocess.run(
        ["node_modules/.bin/openapi-typescript", str(document), "-o", str(generated)],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = (folder / "src" / "schema.ts").read_text()
    assert generated.read_text() == committed, "clients/typescript/src/schema.ts is stale: run `make client-types`"
