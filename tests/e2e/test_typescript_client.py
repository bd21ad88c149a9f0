"""The TypeScript client's own tests (node's test runner) against the end-to-end stack, with two users' tokens."""

from __future__ import annotations

from tests.clients.npm import npm, require_installed
from tests.e2e.conftest import E2E


def test_typescript_client_searches_and_types_errors_against_the_stack(e2e: E2E) -> None:
    folder = require_installed("typescript")
    npm(
        folder,
        "test",
        env={
            "FOLLOWING_GATEWAY": e2e.gateway,
            "FOLLOWING_TOKEN_ALICE": e2e.token("ts-alice"),
            "FOLLOWING_TOKEN_BOB": e2e.token("ts-bob"),
        },
    )
