"""The web console in headless Chromium (Debian's `chromium`, driven by playwright-core) against the end-to-end stack;
screenshots land in .run/console/."""

from __future__ import annotations

import os
import shutil

import pytest

from scripts.stack import ROOT
from tests.clients.npm import npm, require_installed
from tests.e2e.conftest import E2E

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def test_console_renders_reports_errors_and_keeps_users_apart_in_chromium(e2e: E2E) -> None:
    folder = require_installed("web")
    if not shutil.which(CHROMIUM):
        message = f"{CHROMIUM} is missing: run `make setup` (apt-get install chromium)"
        if os.environ.get("FOLLOWING_REQUIRE_CLIENTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    npm(folder, "build")
    port = e2e.stack.values["CONSOLE_LISTEN"].rpartition(":")[2]
    npm(
        folder,
        "test",
        env={
            "CONSOLE_URL": f"http://localhost:{port}/",
            "SCREENSHOT_DIR": str(ROOT / ".run" / "console"),
            "CHROMIUM_PATH": CHROMIUM,
        },
    )
