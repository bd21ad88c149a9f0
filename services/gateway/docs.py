"""The `/api/docs` page and the files it loads. With the viewer installed (Swagger UI's static files, pinned in
docs-viewer/package-lock.json and installed by `make setup` or the image build) the page runs it on /api/openapi.json;
every file is served by Envoy itself from the same origin, so no script comes from the internet. Without the viewer
(a machine without node) the page is a plain HTML reference generated from the document: routes with their verb,
summary, auth and parameters, and every error reason; the viewer page carries the same reference for readers without
JavaScript."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS_PATH = "/api/docs"
VIEWER_DIR = Path(__file__).resolve().with_name("docs-viewer")
VIEWER_DIST = VIEWER_DIR / "node_modules" / "swagger-ui-dist"

# Only 'self': the viewer's script, style and the document all come from this gateway. Swagger UI's stylesheet draws
# its icons as data: SVGs, the only non-self source.
VIEWER_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The plain page has no script and its one inline style.
PLAIN_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Document:
    """A page Envoy serves itself (direct_response): the contract answers while every service is down. The body is
    inline, or a file Envoy reads when it loads the configuration."""

    name: str
    path: str
    content_type: str
    body: str = ""
    file: Path | None = None
    csp: str = PLAIN_CSP

    @property
    def size(self) -> int:
        return self.file.stat().st_size if self.file is not None else len(self.body.encode())


_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
# URL name -> (file, content type). start.js is ours (an inline script would need 'unsafe-inline').
_VIEWER_FILES = {
    "swagger-ui-bundle.js": (VIEWER_DIST / "swagger-ui-bundle.js", _JS),
    "swagger-ui.css": (VIEWER_DIST / "swagger-ui.css", _CSS),
    "start.js": (VIEWER_DIR / "start.js", _JS),
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45;"
    "color:#1b1b1b}code,pre{font-family:ui-monospace,monospace;font-size:.9em}table{border-collapse:collapse;"
    "width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}"
    ".verb{font-weight:700;text-transform:uppercase}pre{white-space:pre-wrap;background:#f5f5f5;padding:.75rem}"
)


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _route_rows(document: dict[str, Any]) -> list[str]:
    rows = []
    for path, operations in document["paths"].items():
        for verb, operation in operations.items():
            auth = "public" if operation.get("security") == [] else "Bearer JWT"
            parameters = ", ".join(p["name"] for p in operation.get("parameters", []))
            sample = operation["x-codeSamples"][0]["source"]
            rows.append(
                f"<tr><td class=verb>{_text(verb)}</td><td><code>{_text(path)}</code></td>"
                f"<td>{_text(operation.get('summary', ''))}<br><code>{_text(sample)}</code></td><td>{auth}</td>"
                f"<td>{_text(parameters)}</td></tr>"
            )
    return rows


def _reference(document: dict[str, Any]) -> list[str]:
    schemas = document["components"]["schemas"]
    reason = schemas["ErrorInfo"]["properties"]["reason"]
    example = schemas["Error"]["examples"][0]
    return [
        f"<pre>{_text(document['info']['description'])}</pre>",
        "<h2>Routes</h2><table><tr><th>Verb</th><th>Path</th><th>What</th><th>Auth</th><th>Parameters</th></tr>",
        *_route_rows(document),
        "</table><h2>Errors</h2><p>Every error body has this shape; branch on <code>details[0].reason</code>:</p>",
        f"<pre>{_text(json.dumps(example, indent=2))}</pre>",
        f"<pre>{_text(reason['description'])}</pre>",
    ]


def _contract_link() -> str:
    return '<p>The machine-readable contract: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>'


def render_docs_page(document: dict[str, Any]) -> str:
    """The plain HTML page for `document` (the dict `openapi.build_document` returns): no script, no viewer."""
    title = f"{_text(document['info']['title'])} {_text(document['info']['version'])}"
    return "\n".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{_text(document['info']['title'])}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{title}</h1>",
            _contract_link(),
            "<p>The interactive viewer is not installed here (it needs node: <code>make setup</code> installs it); "
            "this is the plain reference.</p>",
            *_reference(document),
            "</body></html>",
        ]
    )


def render_viewer_page(document: dict[str, Any]) -> str:
    """The page that runs the bundled viewer on /api/openapi.json; the plain reference is its <noscript>."""
    title = f"{_text(document['info']['title'])} {_text(document['info']['version'])}"
    return "\n".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            '<meta name=viewport content="width=device-width, initial-scale=1">',
            f"<title>{_text(document['info']['title'])}</title>",
            '<link rel=icon href="data:,">',  # else the browser asks the API for /favicon.ico (a 401)
            f'<link rel=stylesheet href="{DOCS_PATH}/swagger-ui.css">',
            f'<script defer src="{DOCS_PATH}/swagger-ui-bundle.js"></script>',
            f'<script defer src="{DOCS_PATH}/start.js"></script></head><body>',
            '<div id="swagger-ui"></div>',
            f"<noscript><h1>{title}</h1>",
            _contract_link(),
            *_reference(document),
            "</noscript></body></html>",
        ]
    )


def viewer_installed(files: dict[str, tuple[Path, str]] | None = None) -> bool:
    return all(path.is_file() for path, _ in (files or _VIEWER_FILES).values())


def docs_documents(document: dict[str, Any], files: dict[str, tuple[Path, str]] | None = None) -> list[Document]:
    """The docs page and, when the viewer is installed, its files (else the plain page alone)."""
    files = files or _VIEWER_FILES
    html_type = "text/html; charset=utf-8"
    if not viewer_installed(files):
        return [Document("docs", DOCS_PATH, html_type, render_docs_page(document))]
    assets = [
        Document(f"docs-{name}", f"{DOCS_PATH}/{name}", content_type, file=path, csp=VIEWER_CSP)
        for name, (path, content_type) in files.items()
    ]
    return [Document("docs", DOCS_PATH, html_type, render_viewer_page(document), csp=VIEWER_CSP), *assets]
