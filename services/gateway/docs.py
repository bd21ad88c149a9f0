"""The `/api/docs` page: a self-contained HTML reference generated from the OpenAPI document when the gateway starts
(routes with their verb, summary, auth and parameters; every error reason), so it needs no script and no service."""

from __future__ import annotations

import html
import json
from typing import Any

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


def render_docs_page(document: dict[str, Any]) -> str:
    """The HTML page for `document` (the dict `openapi.build_document` returns)."""
    schemas = document["components"]["schemas"]
    reason = schemas["ErrorInfo"]["properties"]["reason"]
    example = schemas["Error"]["examples"][0]
    return "\n".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            f"<title>{_text(document['info']['title'])}</title><style>{_STYLE}</style></head><body>",
            f"<h1>{_text(document['info']['title'])} {_text(document['info']['version'])}</h1>",
            '<p>The machine-readable contract: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1).</p>',
            f"<pre>{_text(document['info']['description'])}</pre>",
            "<h2>Routes</h2><table><tr><th>Verb</th><th>Path</th><th>What</th><th>Auth</th><th>Parameters</th></tr>",
            *_route_rows(document),
            "</table><h2>Errors</h2><p>Every error body has this shape; branch on <code>details[0].reason</code>:</p>",
            f"<pre>{_text(json.dumps(example, indent=2))}</pre>",
            f"<pre>{_text(reason['description'])}</pre>",
            "</body></html>",
        ]
    )
