"""Generates the OpenAPI 3.1 document of the REST surface from the protos' descriptor set (never written by hand).

Paths and verbs come from the `google.api.http` annotations of the gateway-facing services, schemas from the messages,
descriptions from the proto comments. The JSON shapes follow what the gateway's transcoder emits: proto field names
(snake_case), every scalar printed, 64-bit integers as strings, enums as names, timestamps as RFC 3339 strings.

    python -m services.gateway.openapi --write   # gen/openapi.json
    python -m services.gateway.openapi           # print to stdout

The creator service serves it at GET /api/openapi.json through `load_document()`.
"""

from __future__ import annotations

import argparse
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
    "400": "Invalid request: unknown query parameter, malformed JSON, a field that breaks a rule (INVALID_ARGUMENT).",
    "401": "Missing or invalid JWT (UNAUTHENTICATED).",
    "403": "JWT audience not allowed, an operator route without the operator role, or the creator is not unlocked by "
    "the caller (PERMISSION_DENIED).",
    "404": "No such route or no such resource (NOT_FOUND).",
    "413": "Request body over the gateway's limit.",
    "414": "Request path and query over the gateway's limit (INVALID_ARGUMENT).",
    "429": "Rate limited (RESOURCE_EXHAUSTED); retry after the `retry-after` seconds.",
    "503": "A service or its upstream is unavailable (UNAVAILABLE); retry later.",
    "504": "The route's timeout expired (DEADLINE_EXCEEDED).",
}


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
            note = notes.get((*path, _FIELD_FIELD, fi), "")
            if note:
                parameter["description"] = note
            parameters.append(parameter)
        if parameters:
            operation["parameters"] = parameters
        if binding.body == "*":
            body = self.message_schema(method.input_type, response=False, exclude=binding.path_params)
            # An empty body is the message's defaults (`{}`), so the body is optional.
            operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        if method.output_type == "google.api.HttpBody":
            ok: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
        else:
            ok = {"application/json": {"schema": self.message_ref(method.output_type, response=True)}}
        operation["responses"] = {
            "200": {"description": "OK", "content": ok},
            **{status: {"$ref": "#/components/responses/Error"} for status in _ERROR_STATUSES},
        }
        if method.public:
            operation["security"] = []
        if method.operator:
            operation["summary"] += " (operator role)"
            operation["description"] = (
                f"{method.comment}\n\nOperators only: the token needs the operator role claim (by default Supabase "
                '`app_metadata.role` = "operator"); any other caller gets 403.'
            ).strip()
        return operation


def build_document(files: descriptor_pb2.FileDescriptorSet) -> dict[str, Any]:
    builder = _Builder(files)
    paths: dict[str, dict[str, Any]] = {}
    for method in gateway_methods(files):
        if method.binding is None:
            continue
        paths.setdefault(method.binding.path, {})[method.binding.verb] = builder.operation(method)
    errors = "\n".join(f"- {status}: {text}" for status, text in _ERROR_STATUSES.items())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Following API",
            "version": "v1",
            "description": "\n\n".join(builder.types.file_comments) + "\n\nError statuses:\n" + errors,
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
                    "description": "An error; `code` is the gRPC status code, `message` says what to do.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "integer", "description": "gRPC status code (google.rpc.Code)."},
                        "message": {"type": "string"},
                        "details": {"type": "array", "items": {"type": "object"}},
                    },
                },
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
