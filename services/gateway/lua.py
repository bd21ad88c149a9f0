"""The gateway's Lua filters: their sources (in `lua/`) with the settings they need prepended as a `CONFIG` table.

request.lua checks REST requests before the transcoder, identity.lua checks the verified `sub`, operator.lua guards
the operator-only RPCs after the transcoder. Values become Lua literals here, so no setting is spliced in as code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2

from services.gateway.contract import Method
from services.gateway.settings import GatewaySettings

SOURCES = Path(__file__).with_name("lua")

# Longest `sub` accepted; Supabase's are UUIDs (36 characters).
MAX_SUB_CHARS = 128


def literal(value: Any) -> str:
    """A Lua literal for JSON-like data; strings use decimal escapes for every byte that is not ASCII alphanumeric."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # Three digits always: Lua reads up to three, so "\\32" before a "1" would become "\\321".
        return (
            '"'
            + "".join(chr(b) if chr(b).isascii() and chr(b).isalnum() else f"\\{b:03d}" for b in value.encode())
            + '"'
        )
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(literal(item) for item in value) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ", ".join(f"[{literal(item)}] = true" for item in sorted(value)) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{literal(key)}] = {literal(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no Lua literal for {type(value).__name__}")


def source(name: str, config: dict[str, Any]) -> str:
    return f"local CONFIG = {literal(config)}\n" + (SOURCES / f"{name}.lua").read_text()


def bool_fields(files: descriptor_pb2.FileDescriptorSet, methods: list[Method]) -> set[str]:
    """JSON names (proto and camelCase) of the boolean fields of every request a REST binding fills; a name that is
    boolean in one request and not in another would make the one Lua check ambiguous, so it fails the render."""
    messages = {f"{file.package}.{message.name}": message for file in files.file for message in file.message_type}
    kinds: dict[str, set[bool]] = {}
    for method in methods:
        if method.binding is None:
            continue
        for field in messages[method.input_type].field:
            is_bool = field.type == descriptor_pb2.FieldDescriptorProto.TYPE_BOOL
            for name in {field.name, field.json_name}:
                kinds.setdefault(name, set()).add(is_bool)
    ambiguous = sorted(name for name, seen in kinds.items() if len(seen) > 1)
    if ambiguous:
        raise ValueError(f"request fields {ambiguous} are boolean in one request and not in another")
    return {name for name, seen in kinds.items() if seen == {True}}


def request_check(settings: GatewaySettings, files: descriptor_pb2.FileDescriptorSet, methods: list[Method]) -> str:
    return source("request", {"max_path_bytes": settings.max_path_bytes, "bool_fields": bool_fields(files, methods)})


def identity_check(settings: GatewaySettings) -> str:
    return source("identity", {"max_sub_chars": MAX_SUB_CHARS, "max_lifetime_s": settings.jwt_max_lifetime_s})


def operator_check(settings: GatewaySettings, methods: list[Method]) -> str:
    return source(
        "operator",
        {
            "operator_paths": {m.grpc_path for m in methods if m.operator},
            "claim": list(settings.operator_claim),
            "claim_name": ".".join(settings.operator_claim),
            "role": settings.operator_role,
        },
    )
