"""The gateway's view of the API contract: which RPCs it exposes, their HTTP bindings and their doc comments.

Everything is read from the descriptor set that `make protos` writes (`gen/api_descriptor.pb`), so the Envoy routes,
the JWT rules and the OpenAPI document all follow the protos and cannot drift from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.v1 import annotations_pb2 as gateway_annotations
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

# Services the gateway routes, and the upstream cluster that serves each. Every other service in the descriptor
# (inference.v1.InferenceService, cdn.v1.CdnService) is internal and unreachable through the gateway.
GATEWAY_SERVICES: dict[str, str] = {
    "creator.v1.CreatorService": "creator",
    "creator.v1.SystemService": "creator",
    "cdn.v1.CdnStatusService": "cdn",
    "cdn.v1.CdnAdminService": "cdn",
}

# RPCs callable without a JWT (besides CORS preflights): the health checks an uptime monitor calls, and the docs.
PUBLIC_METHODS: frozenset[str] = frozenset(
    {
        "creator.v1.SystemService.GetHealth",
        "creator.v1.SystemService.GetOpenApi",
        "cdn.v1.CdnStatusService.GetHealth",
    }
)

# RPCs only a token with the operator role may call: the image pipeline's internals (queue, counters, history) and
# its dead-letter tools (list, retry, discard).
OPERATOR_METHODS: frozenset[str] = frozenset(
    {
        "cdn.v1.CdnStatusService.GetMetrics",
        "cdn.v1.CdnStatusService.GetQueueStatus",
        "cdn.v1.CdnStatusService.GetStatistics",
        "cdn.v1.CdnAdminService.ListDeadJobs",
        "cdn.v1.CdnAdminService.RetryDeadJobs",
        "cdn.v1.CdnAdminService.DiscardDeadJobs",
    }
)

# The health checks: their answer may carry `x-http-status: 503` (the product cannot work), which the gateway turns
# into the HTTP status; only their routes run that check.
HEALTH_METHODS: frozenset[str] = frozenset({"creator.v1.SystemService.GetHealth", "cdn.v1.CdnStatusService.GetHealth"})

HTTP_BODY = "google.api.HttpBody"

_SERVICE_FIELD = 6  # FileDescriptorProto.service
_METHOD_FIELD = 2  # ServiceDescriptorProto.method


@dataclass(frozen=True)
class HttpBinding:
    """One `google.api.http` rule: verb (lower case), path template and body selector."""

    verb: str
    path: str
    body: str

    @property
    def path_params(self) -> tuple[str, ...]:
        """Field names bound by `{name}` or `{name=...}` segments of the template, in order."""
        params: list[str] = []
        for segment in self.path.split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                params.append(segment[1:-1].split("=", 1)[0])
        return tuple(params)


@dataclass(frozen=True)
class Method:
    """One RPC of a gateway-facing service."""

    service: str
    name: str
    input_type: str
    output_type: str
    binding: HttpBinding | None
    comment: str
    # gateway.v1.json_of: the RPC of the same service whose answer this one's google.api.HttpBody renders as JSON.
    json_of: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.service}.{self.name}"

    @property
    def grpc_path(self) -> str:
        return f"/{self.service}/{self.name}"

    @property
    def cluster(self) -> str:
        return GATEWAY_SERVICES[self.service]

    @property
    def public(self) -> bool:
        return self.full_name in PUBLIC_METHODS

    @property
    def operator(self) -> bool:
        return self.full_name in OPERATOR_METHODS

    @property
    def health(self) -> bool:
        return self.full_name in HEALTH_METHODS

    @property
    def idempotent(self) -> bool:
        """Reads (GET bindings) may be retried; anything else may have effects and is never retried."""
        return self.binding is not None and self.binding.verb == "get"


def default_descriptor_path() -> Path:
    """`gen/api_descriptor.pb`, found next to the generated packages wherever gen/ is on the path."""
    import creator  # generated package; its parent folder is gen/

    return Path(creator.__file__).resolve().parent.parent / "api_descriptor.pb"


def load_descriptor_set(path: Path | None = None) -> descriptor_pb2.FileDescriptorSet:
    source = path or default_descriptor_path()
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"descriptor set {source} is missing: run `make protos`") from None
    return descriptor_pb2.FileDescriptorSet.FromString(data)


def comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Leading comments by source path (e.g. (4, 2, 2, 0) = first field of the third message), stripped."""
    found: dict[tuple[int, ...], str] = {}
    for location in file.source_code_info.location:
        text = location.leading_comments.strip()
        if text:
            lines = [line.strip() for line in text.splitlines()]
            found[tuple(location.path)] = "\n".join(lines).strip()
    return found


def _binding(method: descriptor_pb2.MethodDescriptorProto) -> HttpBinding | None:
    if not method.options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = method.options.Extensions[annotations_pb2.http]
    verb = rule.WhichOneof("pattern")
    if verb is None or verb == "custom":
        return None
    return HttpBinding(verb=verb, path=getattr(rule, verb), body=rule.body)


def _json_of(method: descriptor_pb2.MethodDescriptorProto) -> str:
    if not method.options.HasExtension(gateway_annotations.json_of):
        return ""
    return str(method.options.Extensions[gateway_annotations.json_of])


def _check_json_of(methods: list[Method]) -> None:
    """A json_of method answers an HttpBody and names an RPC of its own service that takes the same request."""
    by_name = {method.full_name: method for method in methods}
    for method in methods:
        if not method.json_of:
            continue
        rendered = by_name.get(f"{method.service}.{method.json_of}")
        if rendered is None:
            raise ValueError(f"{method.full_name}: json_of names {method.json_of!r}, not an RPC of {method.service}")
        if method.output_type != HTTP_BODY or rendered.input_type != method.input_type or rendered.json_of:
            raise ValueError(
                f"{method.full_name}: json_of needs a google.api.HttpBody answer and an RPC taking the same request"
            )


def gateway_methods(files: descriptor_pb2.FileDescriptorSet) -> list[Method]:
    """Every RPC of the services in GATEWAY_SERVICES, in declaration order; fails if one is missing or a json_of
    option names no fitting RPC."""
    methods: list[Method] = []
    seen: set[str] = set()
    for file in files.file:
        notes = comments(file)
        for si, service in enumerate(file.service):
            full = f"{file.package}.{service.name}" if file.package else service.name
            if full not in GATEWAY_SERVICES:
                continue
            seen.add(full)
            for mi, method in enumerate(service.method):
                methods.append(
                    Method(
                        service=full,
                        name=method.name,
                        input_type=method.input_type.lstrip("."),
                        output_type=method.output_type.lstrip("."),
                        binding=_binding(method),
                        comment=notes.get((_SERVICE_FIELD, si, _METHOD_FIELD, mi), ""),
                        json_of=_json_of(method),
                    )
                )
    missing = sorted(set(GATEWAY_SERVICES) - seen)
    if missing:
        raise ValueError(f"descriptor set lacks gateway services {missing}: run `make protos`")
    _check_json_of(methods)
    return methods
