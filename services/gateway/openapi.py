"""Generates the OpenAPI 3.1 document of the REST surface from the protos' descriptor set (never written by hand).

Paths and verbs come from the `google.api.http` annotations of the gateway-facing services, schemas from the messages,
descriptions from the proto comments; a route whose RPC renders another RPC's answer as JSON (`gateway.v1.json_of`)
is described as that RPC. The JSON shapes follow what the gateway's transcoder emits: proto field names
(snake_case), every scalar printed, 64-bit integers as strings, enums as names, timestamps as RFC 3339 strings.

    python -m services.gateway.openapi --write   # gen/openapi.json
    python -m services.gateway.openapi           # print to stdout

The gateway renders it when it starts and Envoy answers GET /api/openapi.json with it (services/gateway/config.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import sys
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as FieldProto

from services.gateway.contract import (
    GATEWAY_SERVICES,
    Method,
    comments,
    default_descriptor_path,
    gateway_methods,
    load_descriptor_set,
)

_MESSAGE_FIELD = 4  # FileDescriptorProto.message_type
_ENUM_FIELD = 5  # FileDescriptorProto.enum_type
_SYNTAX_FIELD = 12  # FileDescriptorProto.syntax: the file's leading comment sits there
_FIELD_FIELD = 2  # DescriptorProto.field

_SCALARS: dict[int, dict[str, Any]] = {
    FieldProto.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldProto.TYPE_FLOAT: {"type": "number", "format": "float"},
    FieldProto.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FieldProto.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    FieldProto.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    FieldProto.TYPE_INT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    FieldProto.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldProto.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    FieldProto.TYPE_BOOL: {"type": "boolean"},
    FieldProto.TYPE_STRING: {"type": "string"},
    FieldProto.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
}

_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
}

_ERROR_STATUSES = {
    "400": "Invalid request: unknown query parameter, malformed JSON, a field that breaks a rule "
    "(INVALID_ARGUMENT, INVALID_USERNAME), or the creator is not in a state to answer (EMBEDDING_PENDING: its "
    "captions are not embedded yet, retry shortly; FAILED_PRECONDITION).",
    "401": "Missing, invalid or expired JWT (TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED).",
    "403": "JWT audience not allowed, an operator route without the operator role, or the creator is not unlocked by "
    "the caller (WRONG_AUDIENCE, FORBIDDEN_ROLE, NOT_UNLOCKED).",
    "404": "No such route or no such creator (ROUTE_NOT_FOUND, CREATOR_NOT_FOUND).",
    "405": "The path exists with another verb, listed in `Allow` (METHOD_NOT_ALLOWED).",
    "413": "Request body over the gateway's limit (REQUEST_TOO_LARGE).",
    "414": "Request path and query over the gateway's limit (REQUEST_TOO_LARGE).",
    "429": "Rate limited or the fetch quota is spent (RATE_LIMITED, QUOTA_EXCEEDED); retry after `Retry-After`.",
    "503": "A service, its database or Instagram is unavailable (SERVICE_UNAVAILABLE, UPSTREAM_THROTTLED, "
    "UPSTREAM_UNAVAILABLE); retry after `Retry-After`.",
    "504": "The route's timeout expired (DEADLINE_EXCEEDED).",
}


# Example values of request fields by name (the rest by type), for the example of each route.
_EXAMPLES: dict[str, Any] = {"username": "fit.bayann", "page_size": 20, "page_token": "", "days": 7, "refresh": False}
_TYPE_EXAMPLES: dict[str, Any] = {"string": "", "integer": 1, "boolean": False, "number": 1.0}


def _example(name: str, schema: dict[str, Any]) -> Any:
    return _EXAMPLES.get(name, _TYPE_EXAMPLES.get(str(schema.get("type")), ""))


def _code_sample(verb: str, path: str, parameters: list[dict[str, Any]], body: Any, public: bool) -> str:
    """A curl line for the route with example values: what a first call looks like."""
    url = path
    query = []
    for parameter in parameters:
        if parameter["in"] == "path":
            url = url.replace("{" + parameter["name"] + "}", str(parameter["example"]))
        elif parameter["name"] in _EXAMPLES and parameter["example"] != "":
            query.append(f"{parameter['name']}={parameter['example']}")
    if query:
        url += "?" + "&".join(query)
    parts = ["curl", "-X", verb.upper(), f'"$API{url}"']
    if not public:
        parts += ["-H", '"Authorization: Bearer $TOKEN"']
    if body is not None:
        parts += ["-H", "'Content-Type: application/json'", "-d", f"'{json.dumps(body)}'"]
    return " ".join(parts)


class _Types:
    """Messages and enums of the descriptor set by full name, with their comments."""

    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.messages: dict[str, tuple[descriptor_pb2.DescriptorProto, dict[tuple[int, ...], str], tuple[int, ...]]]
        self.messages = {}
        self.enums: dict[str, tuple[descriptor_pb2.EnumDescriptorProto, str]] = {}
        self.file_comments: list[str] = []
        for file in files.file:
            notes = comments(file)
            prefix = file.package
            if file.package.split(".")[0] in {name.split(".")[0] for name in GATEWAY_SERVICES}:
                note = notes.get((_SYNTAX_FIELD,), "")
                if note:
                    self.file_comments.append(note)
            for mi, message in enumerate(file.message_type):
                self._add_message(f"{prefix}.{message.name}", message, notes, (_MESSAGE_FIELD, mi))
            for ei, enum in enumerate(file.enum_type):
                self.enums[f"{prefix}.{enum.name}"] = (enum, notes.get((_ENUM_FIELD, ei), ""))

    def _add_message(
        self,
        name: str,
        message: descriptor_pb2.DescriptorProto,
        notes: dict[tuple[int, ...], str],
        path: tuple[int, ...],
    ) -> None:
        self.messages[name] = (message, notes, path)
        for ni, nested in enumerate(message.nested_type):
            self._add_message(f"{name}.{nested.name}", nested, notes, (*path, 3, ni))
        for ei, enum in enumerate(message.enum_type):
            self.enums[f"{name}.{enum.name}"] = (enum, notes.get((*path, 4, ei), ""))


def _schema_name(full_name: str) -> str:
    """`creator.v1.Post` -> `Post`; types of other packages keep their package (`google_api_HttpBody`)."""
    if full_name.startswith(("creator.v1.", "cdn.v1.")):
        return full_name.split(".", 2)[2]
    return full_name.replace(".", "_")


class _Builder:
    def __init__(self, files: descriptor_pb2.FileDescriptorSet) -> None:
        self.types = _Types(files)
        self.schemas: dict[str, Any] = {}

    def field_schema(self, field: FieldProto, response: bool) -> dict[str, Any]:
        if field.type == FieldProto.TYPE_MESSAGE:
            schema = self.message_ref(field.type_name.lstrip("."), response)
        elif field.type == FieldProto.TYPE_ENUM:
            schema = self.enum_ref(field.type_name.lstrip("."))
        else:
            schema = dict(_SCALARS[field.type])
        if field.label == FieldProto.LABEL_REPEATED:
            return {"type": "array", "items": schema}
        return schema

    def enum_ref(self, full_name: str) -> dict[str, Any]:
        name = _schema_name(full_name)
        if name not in self.schemas:
            enum, note = self.types.enums[full_name]
            schema: dict[str, Any] = {"type": "string", "enum": [value.name for value in enum.value]}
            if note:
                schema["description"] = note
            self.schemas[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}

    def message_ref(self, full_name: str, response: bool) -> dict[str, Any]:
        if full_name in _WELL_KNOWN:
            return dict(_WELL_KNOWN[full_name])
        name = _schema_name(full_name)
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against recursion
            self.schemas[name] = self.message_schema(full_name, response, exclude=())
        return {"$ref": f"#/components/schemas/{name}"}

    def message_schema(self, full_name: str, response: bool, exclude: tuple[str, ...]) -> dict[str, Any]:
        message, notes, path = self.types.messages[full_name]
        properties: dict[str, Any] = {}
        required: list[str] = []
        for fi, field in enumerate(message.field):
            if field.name in exclude:
                continue
            schema = self.field_schema(field, response)
            note = notes.get((*path, _FIELD_FIELD, fi), "")
            properties[field.name] = {**schema, "description": note} if note and "$ref" not in schema else schema
            if note and "$ref" in schema:
                properties[field.name] = {"allOf": [schema], "description": note}
            # The gateway prints every scalar, enum and list, so responses always carry them; a proto3 `optional`
            # field is absent when unset (a figure no post qualifies for).
            printed = field.type != FieldProto.TYPE_MESSAGE or field.label == FieldProto.LABEL_REPEATED
            if response and printed and not field.proto3_optional:
                required.append(field.name)
        schema_out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema_out["required"] = required
        note = notes.get(path, "")
        if note:
            schema_out["description"] = note
        return schema_out

    def operation(self, method: Method) -> dict[str, Any]:
        assert method.binding is not None
        binding = method.binding
        first_paragraph = " ".join(method.comment.split("\n\n")[0].split())
        operation: dict[str, Any] = {
            "operationId": f"{method.service.rsplit('.', 1)[1]}_{method.name}",
            "tags": [method.service.rsplit(".", 1)[1]],
            "summary": first_paragraph.split(". ")[0].rstrip(".") if first_paragraph else method.name,
            "description": method.comment,
            "x-grpc-method": method.grpc_path,
        }
        message, notes, path = self.types.messages[method.input_type]
        parameters: list[dict[str, Any]] = []
        for fi, field in enumerate(message.field):
            location = "path" if field.name in binding.path_params else "query"
            if location == "query" and (binding.body == "*" or field.type == FieldProto.TYPE_MESSAGE):
                continue
            parameter: dict[str, Any] = {
                "name": field.name,
                "in": location,
                "required": location == "path",
                "schema": self.field_schema(field, response=False),
            }
            parameter["example"] = _example(field.name, parameter["schema"])
            note = notes.get((*path, _FIELD_FIELD, fi), "")
            if note:
                parameter["description"] = note
            parameters.append(parameter)
        if parameters:
            operation["parameters"] = parameters
        if binding.body == "*":
            body = self.message_schema(method.input_type, response=False, exclude=binding.path_params)
            # An empty body is the message's defaults (`{}`), so the body is optional.
            example = {name: _EXAMPLES[name] for name in body.get("properties", {}) if name in _EXAMPLES}
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": body, "example": example}},
            }
        if method.output_type == "google.api.HttpBody":
            ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
        else:
            ok = {"application/json": {"schema": self.message_ref(method.output_type, response=True)}}
        operation["responses"] = {
            "200": {"description": "OK", "content": ok},
            **{status: {"$ref": "#/components/responses/Error"} for status in _ERROR_STATUSES},
        }
        example_body = operation["requestBody"]["content"]["application/json"]["example"] if binding.body else None
        sample = _code_sample(binding.verb, binding.path, parameters, example_body, method.public)
        operation["x-codeSamples"] = [{"lang": "shell", "label": "curl", "source": sample}]
        if method.public:
            operation["security"] = []
        if method.operator:
            operation["summary"] += " (operator role)"
            operation["description"] = (
                f"{method.comment}\n\nOperators only: the token needs the operator role claim (by default Supabase "
                '`app_metadata.role` = "operator"); any other caller gets 403.'
            ).strip()
        return operation


ERROR_REASON_ENUM = "errors.v1.ErrorReason"

INT64_NOTE = (
    "64-bit integers (follower counts, ids) are JSON strings, as proto3 JSON prints them: a JavaScript number loses "
    "precision above 2^53. Parse them with BigInt, or Number when the value is known to be small."
)


def error_reasons(files: descriptor_pb2.FileDescriptorSet) -> dict[str, str]:
    """Every ErrorInfo.reason the API sends (errors.v1.ErrorReason) with its comment."""
    for file in files.file:
        for ei, enum in enumerate(file.enum_type):
            if f"{file.package}.{enum.name}" != ERROR_REASON_ENUM:
                continue
            trailing = {
                tuple(location.path): location.trailing_comments.strip()
                for location in file.source_code_info.location
                if location.trailing_comments.strip()
            }
            return {
                value.name: trailing.get((_ENUM_FIELD, ei, 2, vi), "")
                for vi, value in enumerate(enum.value)
                if value.number != 0
            }
    raise ValueError(f"the descriptor set lacks {ERROR_REASON_ENUM}: run `make protos`")


def _error_components(reasons: dict[str, str]) -> dict[str, Any]:
    listing = "\n".join(f"- `{name}`: {text}" if text else f"- `{name}`" for name, text in reasons.items())
    error_info = {
        "type": "object",
        "required": ["@type", "reason", "domain", "metadata"],
        "properties": {
            "@type": {"const": "type.googleapis.com/google.rpc.ErrorInfo"},
            "reason": {"type": "string", "enum": list(reasons), "description": "Stable; branch on it.\n\n" + listing},
            "domain": {"const": "following"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    retry_info = {
        "type": "object",
        "required": ["@type", "retry_delay"],
        "properties": {
            "@type": {"const": "type.googleapis.com/google.rpc.RetryInfo"},
            "retry_delay": {"type": "string", "pattern": "^[0-9]+s$", "examples": ["5s"]},
        },
    }
    error = {
        "type": "object",
        "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "integer", "description": "gRPC status code (google.rpc.Code)."},
            "message": {"type": "string", "description": "For people; may change. Do not parse it."},
            "details": {
                "type": "array",
                "description": "ErrorInfo first, always; RetryInfo when the same call may succeed later.",
                "items": {
                    "oneOf": [{"$ref": "#/components/schemas/ErrorInfo"}, {"$ref": "#/components/schemas/RetryInfo"}]
                },
            },
        },
        "examples": [
            {
                "code": 5,
                "message": "instagram has no account named 'nobody.at.all'",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "CREATOR_NOT_FOUND",
                        "domain": "following",
                        "metadata": {},
                    }
                ],
            }
        ],
    }
    return {"Error": error, "ErrorInfo": error_info, "RetryInfo": retry_info}


def build_document(files: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    builder = _Builder(files)
    reasons = error_reasons(files)
    paths: dict[str, dict[str, Any]] = {}
    methods = gateway_methods(files)
    by_name = {method.full_name: method for method in methods}
    for method in methods:
        if method.binding is None:
            continue
        # A route whose RPC answers the JSON of another RPC's message (gateway.v1.json_of) is documented as that RPC:
        # the same operation, documentation and response schema, so REST clients cannot tell the difference.
        rendered = by_name[f"{method.service}.{method.json_of}"] if method.json_of else method
        operation = builder.operation(dataclasses.replace(rendered, binding=method.binding))
        operation["x-grpc-method"] = method.grpc_path  # the RPC the gateway calls
        paths.setdefault(method.binding.path, {})[method.binding.verb] = operation
    errors = "\n".join(f"- {status}: {text}" for status, text in _ERROR_STATUSES.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Following API",
            "version": "v1",
            "description": "\n\n".join(builder.types.file_comments)
            + "\n\n"
            + INT64_NOTE
            + "\n\nErrors are a google.rpc.Status: `{code, message, details}`; `details[0]` is a google.rpc.ErrorInfo "
            "whose `reason` is stable (see the ErrorInfo schema), and a google.rpc.RetryInfo plus the `Retry-After` "
            "header (seconds) come when retrying helps.\n\nError statuses:\n" + errors,
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The access token of the user's Supabase session, in the Authorization header.",
                }
            },
            "responses": {
                "Error": {
                    "description": "An error; branch on `details[0].reason`, show `message` to people.",
                    "headers": {
                        "Retry-After": {
                            "description": "Seconds to wait before retrying; sent only when retrying helps.",
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    },
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                **_error_components(reasons),
                **dict(sorted(builder.schemas.items())),
            },
        },
    }


def render_document(files: descriptor_pb2.FileDescriptorSet) -> bytes:
    return (json.dumps(build_document(files), indent=2, ensure_ascii=False) + "\n").encode()


@functools.lru_cache(maxsize=1)
def load_document() -> bytes:
    """The document for the current descriptor set (gen/api_descriptor.pb), as UTF-8 JSON bytes."""
    return render_document(load_descriptor_set())


def default_output() -> Path:
    return default_descriptor_path().with_name("openapi.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.openapi", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write gen/openapi.json instead of printing")
    parser.add_argument("--descriptor", type=Path, help="descriptor set (default: gen/api_descriptor.pb)")
    args = parser.parse_args(argv)
    document = render_document(load_descriptor_set(args.descriptor))
    if args.write:
        output = default_output()
        output.write_bytes(document)
        print(f"openapi: wrote {output} ({len(document)} bytes)")
    else:
        sys.stdout.write(document.decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
