"""Renders the gateway's Envoy configuration from `envoy.yaml.j2`, the settings and the API contract.

What the gateway promises lives here as data: which routes exist (from the protos), which are public, how long each may
take, which may be retried, which HTTP status maps to which error code, and the hints for known client mistakes.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from google.protobuf import descriptor_pb2

from services.gateway import lua
from services.gateway.contract import GATEWAY_SERVICES, Method, gateway_methods, load_descriptor_set
from services.gateway.docs import DOCS_PATH, Document, docs_documents
from services.gateway.openapi import build_document, render_document
from services.gateway.settings import GatewaySettings, JwksUrl, SettingsError

TEMPLATE = Path(__file__).with_name("envoy.yaml.j2")

# Envoy reads the local JWKS (which holds the HS256 secret) from this variable, so the rendered file has no secret.
JWKS_ENV = "GATEWAY_LOCAL_JWKS"

# Headers only the gateway may set; a client's copies are removed before any filter runs.
STRIPPED_HEADERS = ("x-user-id", "x-jwt-payload", "x-envoy-original-path", "x-envoy-original-method")

ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
DOMAIN = "following"


@dataclass(frozen=True)
class StatusError:
    """HTTP status of an Envoy-generated error -> the gRPC code in its JSON body (what the transcoder writes for the
    services' errors, per google.rpc.Code) and the reason it carries when no more precise mapper matched."""

    http_status: int
    code: int
    reason: str
    retry_after_s: int | None = None


STATUS_ERRORS: tuple[StatusError, ...] = (
    StatusError(400, 3, "INVALID_ARGUMENT"),  # unknown query parameter, body/path collision, malformed JSON
    StatusError(401, 16, "TOKEN_INVALID"),  # missing and expired tokens are told apart before this
    StatusError(403, 7, "FORBIDDEN_ROLE"),  # the wrong audience is told apart before this
    StatusError(404, 5, "ROUTE_NOT_FOUND"),
    StatusError(405, 12, "METHOD_NOT_ALLOWED"),
    StatusError(408, 4, "DEADLINE_EXCEEDED"),
    StatusError(413, 8, "REQUEST_TOO_LARGE"),
    StatusError(414, 3, "REQUEST_TOO_LARGE"),
    StatusError(429, 8, "RATE_LIMITED", 1),
    StatusError(431, 8, "REQUEST_TOO_LARGE"),
    StatusError(500, 13, "INTERNAL"),
    StatusError(501, 12, "METHOD_NOT_ALLOWED"),
    StatusError(502, 14, "SERVICE_UNAVAILABLE", 1),
    StatusError(503, 14, "SERVICE_UNAVAILABLE", 1),  # upstream down, circuit open
    StatusError(504, 4, "DEADLINE_EXCEEDED"),  # route timeout
)


def error_body(code: int, message: str, reason: str, retry_after_s: int | None = None) -> dict[str, Any]:
    """The google.rpc.Status JSON of a gateway-made error, the same shape the transcoder gives the services' errors."""
    details: list[dict[str, Any]] = [{"@type": ERROR_INFO, "reason": reason, "domain": DOMAIN, "metadata": {}}]
    if retry_after_s is not None:
        details.append({"@type": RETRY_INFO, "retry_delay": f"{retry_after_s}s"})
    return {"code": code, "message": message, "details": details}


def _cel(expression: str) -> dict[str, Any]:
    return {
        "extension_filter": {
            "name": "envoy.access_loggers.extension_filters.cel",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter",
                "expression": expression,
            },
        }
    }


@dataclass(frozen=True)
class DetailError:
    """A local reply told apart by what Envoy says caused it (its response code details), keeping its status."""

    name: str
    expression: str
    code: int
    reason: str
    retry_after_s: int | None = None

    @property
    def filter(self) -> dict[str, Any]:
        return _cel(self.expression)

    @property
    def body(self) -> dict[str, Any]:
        return error_body(self.code, "%LOCAL_REPLY_BODY%", self.reason, self.retry_after_s)


_JWT_DENIED = "response.code_details.startsWith('jwt_authn_access_denied{"
DETAIL_ERRORS: tuple[DetailError, ...] = (
    DetailError("jwt-missing", _JWT_DENIED + "Jwt_is_missing')", 16, "TOKEN_MISSING"),
    DetailError("jwt-expired", _JWT_DENIED + "Jwt_is_expired')", 16, "TOKEN_EXPIRED"),
    DetailError("jwt-not-yet-valid", _JWT_DENIED + "Jwt_not_yet_valid')", 16, "TOKEN_EXPIRED"),
    DetailError("jwt-audience", _JWT_DENIED + "Audiences_in_Jwt_are_not_allowed')", 7, "WRONG_AUDIENCE"),
    DetailError("jwt-other", _JWT_DENIED + "')", 16, "TOKEN_INVALID"),
    DetailError("rate-limited", "response.code_details == 'local_rate_limited'", 8, "RATE_LIMITED", 1),
)

# A service may ask for 503 (only that) on an answer whose body must stay as it is; the header never reaches clients.
HTTP_STATUS_LUA = """
function envoy_on_response(handle)
  local status = handle:headers():get("x-http-status")
  if status ~= nil then
    handle:headers():remove("x-http-status")
    if status == "503" then
      handle:headers():replace(":status", "503")
    end
  end
end
"""

ACCESS_LOG_FORMAT: dict[str, str] = {
    "ts": "%START_TIME(%Y-%m-%dT%H:%M:%S.%3fZ)%",
    "level": "info",
    "service": "gateway",
    "logger": "access",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "user_id": "%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:jwt_payload:sub)%",
    "method": "%REQ(X-ENVOY-ORIGINAL-METHOD?:METHOD)%",
    "path": "%REQ_WITHOUT_QUERY(X-ENVOY-ORIGINAL-PATH?:PATH)%",
    "route": "%ROUTE_NAME%",
    "status": "%RESPONSE_CODE%",
    "details": "%RESPONSE_CODE_DETAILS%",
    "flags": "%RESPONSE_FLAGS%",
    "duration_ms": "%DURATION%",
    "upstream_ms": "%RESPONSE_DURATION%",
    "upstream": "%UPSTREAM_CLUSTER%",
    "bytes_in": "%BYTES_RECEIVED%",
    "bytes_out": "%BYTES_SENT%",
    "protocol": "%PROTOCOL%",
    "origin": "%REQ(ORIGIN)%",
    "user_agent": "%REQ(USER-AGENT)%",
}


@dataclass(frozen=True)
class Hint:
    """A known client mistake: when an error with one of `statuses` matches `headers`, answer `message` instead."""

    name: str
    statuses: tuple[int, ...]
    headers: tuple[dict[str, Any], ...]
    status: int
    code: int
    message: str
    response_headers: tuple[tuple[str, str], ...] = ()
    reason: str = "INVALID_ARGUMENT"

    @property
    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.reason)

    @property
    def filter(self) -> dict[str, Any]:
        """The local-reply AccessLogFilter: any of the statuses and every header matcher."""
        statuses = [
            {"status_code_filter": {"comparison": {"op": "EQ", "value": {"default_value": s, "runtime_key": "hint"}}}}
            for s in self.statuses
        ]
        status = statuses[0] if len(statuses) == 1 else {"or_filter": {"filters": statuses}}
        return {"and_filter": {"filters": [status, *({"header_filter": {"header": h}} for h in self.headers)]}}


def _path_regex(regex: str) -> dict[str, Any]:
    return {"name": ":path", "string_match": {"safe_regex": {"regex": regex}}}


_JWT_SHAPE = r"Bearer [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"

# Path hints fire only on the transcoder's "no such route" 404, so a real route (a creator named "media") never does.
HINTS: tuple[Hint, ...] = (
    Hint(
        name="plural-creators",
        statuses=(404,),
        headers=(_path_regex(r"/api/v1/creators([/?].*)?"),),
        status=404,
        code=5,
        message="There is no /api/v1/creators route: the path is singular, /api/v1/creator/... "
        "(every route is listed at GET /api/openapi.json).",
        reason="ROUTE_NOT_FOUND",
    ),
    Hint(
        name="media-route",
        statuses=(404,),
        headers=(_path_regex(r"/api/(.*/)?media([/?].*)?"),),
        status=404,
        code=5,
        message="There is no /media route: the avatar and every post image (image, carousel) come inside the report "
        "of POST /api/v1/creator/search/{username} and in GET /api/v1/creator/{username}/posts.",
        reason="ROUTE_NOT_FOUND",
    ),
    Hint(
        name="get-search",
        statuses=(404,),
        headers=(
            {"name": ":method", "string_match": {"exact": "GET"}},
            _path_regex(r"/api/v1/creator/search/[^/?]+/?(\?.*)?"),
        ),
        status=405,
        code=12,
        message='Search is POST /api/v1/creator/search/{username} with a JSON body ({} or {"refresh": true}); '
        "to list the creators you unlocked, GET /api/v1/creator/unlocked.",
        response_headers=(("allow", "POST"),),
        reason="METHOD_NOT_ALLOWED",
    ),
    # Envoy's codec refuses these before any filter runs and says nothing; the hints give the 400 its message.
    Hint(
        name="query-verb",
        statuses=(400,),
        headers=({"name": ":method", "string_match": {"exact": "QUERY"}},),
        status=405,
        code=12,
        message="This API has no QUERY routes: every route and its verb is listed at GET /api/openapi.json.",
        reason="METHOD_NOT_ALLOWED",
    ),
    Hint(
        name="path-fragment",
        statuses=(400,),
        headers=(_path_regex(r"[^#]*#.*"),),
        status=400,
        code=3,
        message="The request path contains '#': a URL fragment is not sent to a server; percent-encode it as %%23 "
        "if it is part of a value.",
        reason="INVALID_ARGUMENT",
    ),
    Hint(
        name="jwt-missing",
        statuses=(401,),
        headers=({"name": "authorization", "present_match": True, "invert_match": True},),
        status=401,
        code=16,
        message="Jwt is missing: send the Supabase session's access token as 'Authorization: Bearer <jwt>' "
        "(tokens in the query string are not read).",
        reason="TOKEN_MISSING",
    ),
    Hint(
        name="jwt-scheme",
        statuses=(401,),
        headers=({"name": "authorization", "string_match": {"prefix": "Bearer "}, "invert_match": True},),
        status=401,
        code=16,
        message="The Authorization header must read 'Bearer <jwt>' ('Bearer', capital B, then one space).",
        reason="TOKEN_INVALID",
    ),
    Hint(
        name="jwt-not-a-jwt",
        statuses=(401,),
        headers=(
            {"name": "authorization", "string_match": {"safe_regex": {"regex": _JWT_SHAPE}}, "invert_match": True},
        ),
        status=401,
        code=16,
        message="The bearer token is not a JWT: send the access_token of the user's Supabase session "
        "(three base64url parts separated by dots), not a placeholder such as 'test'.",
        reason="TOKEN_INVALID",
    ),
)


CORS_REFUSED = Hint(
    name="cors-refused",
    statuses=(403,),
    headers=(
        {"name": ":method", "string_match": {"exact": "OPTIONS"}},
        {"name": "access-control-request-method", "present_match": True},
    ),
    status=403,
    code=7,
    message="This origin is not allowed to call the API from a browser: add it to the gateway's CORS_ORIGINS (exact "
    "origins) or CORS_ORIGIN_PATTERNS (such as https://*.vercel.app).",
    reason="CORS_ORIGIN_REFUSED",
)

_MALFORMED_PATH = _path_regex(r"[^?]*(%2[fF]|%5[cC]|%00|/\.\.?(/|\?|$)|/%2[eE]).*")
_MALFORMED_PATH_MESSAGE = (
    "The request path is malformed: encoded slashes or backslashes, NUL bytes and '.' or '..' segments are not "
    "allowed. Put the username in the path as Instagram shows it (letters, digits, '.' and '_'), not a profile URL."
)


def allowed_origin_regex(cors_origins: tuple[str, ...], patterns: tuple[str, ...] = ()) -> str:
    """One RE2 regex matching exactly the allowed origins (and origin patterns), for the replies the CORS filter does
    not see."""
    return "|".join([*(re.escape(o) for o in cors_origins), *(f"(?:{p})" for p in patterns)])


def malformed_path_hints(cors_origins: tuple[str, ...], patterns: tuple[str, ...] = ()) -> list[Hint]:
    """Envoy refuses such paths before routing (path_normalization_failed) with an empty body and before the CORS
    filter runs, so the hint adds the CORS headers itself, for allowed origins only."""
    allowed = {
        "name": "origin",
        "string_match": {"safe_regex": {"regex": allowed_origin_regex(cors_origins, patterns)}},
    }
    cors_headers = (
        ("access-control-allow-origin", "%REQ(ORIGIN)%"),
        ("access-control-allow-credentials", "true"),
        ("vary", "Origin"),
    )
    with_cors = Hint(
        "malformed-path-cors", (400,), (_MALFORMED_PATH, allowed), 400, 3, _MALFORMED_PATH_MESSAGE, cors_headers
    )
    return [with_cors, Hint("malformed-path", (400,), (_MALFORMED_PATH,), 400, 3, _MALFORMED_PATH_MESSAGE)]


def method_hints(methods: list[Method]) -> list[Hint]:
    """A known path with the wrong verb gets 405 with `allow`, instead of the transcoder's "no such route" 404."""
    verbs: dict[str, list[str]] = {}
    for method in methods:
        if method.binding is not None:
            verbs.setdefault(method.binding.path, []).append(method.binding.verb.upper())
    hints = []
    for template, allowed in verbs.items():
        segments = ["[^/?]+" if s.startswith("{") else re.escape(s) for s in template.split("/")]
        allow = ", ".join(sorted(allowed))
        hints.append(
            Hint(
                name=f"method-{template}",
                statuses=(404,),
                headers=(_path_regex("/".join(segments) + r"/?(\?.*)?"),),
                status=405,
                code=12,
                message=f"{template} only answers {allow} (every route is listed at GET /api/openapi.json).",
                response_headers=(("allow", allow),),
                reason="METHOD_NOT_ALLOWED",
            )
        )
    return hints


@dataclass(frozen=True)
class Provider:
    name: str
    remote: JwksUrl | None = None


@dataclass(frozen=True)
class MethodRoute:
    name: str
    path: str
    cluster: str
    timeout: str
    retries: int
    operator: bool
    # The health checks, whose answer may ask for its HTTP status with `x-http-status`.
    http_status: bool = False


@dataclass(frozen=True)
class Rendered:
    """The YAML to give Envoy and the environment variables it must run with."""

    yaml: str
    environment: dict[str, str] = field(default_factory=dict)


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


def local_jwks(settings: GatewaySettings) -> dict[str, Any] | None:
    """The HS256 secret as an `oct` key (its raw UTF-8 bytes, as Supabase uses it) plus the keys of the JWKS file."""
    keys: list[dict[str, Any]] = []
    if settings.jwt_secret:
        secret = base64.urlsafe_b64encode(settings.jwt_secret.encode()).rstrip(b"=").decode()
        keys.append({"kty": "oct", "alg": "HS256", "k": secret})
    if settings.jwks_file:
        try:
            document = json.loads(settings.jwks_file.read_text())
        except (OSError, ValueError) as exc:
            raise SettingsError(f"SUPABASE_JWKS_FILE: cannot read a JWKS from {settings.jwks_file}: {exc}") from None
        file_keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(file_keys, list) or not file_keys:
            raise SettingsError(f"SUPABASE_JWKS_FILE: {settings.jwks_file} has no 'keys' list")
        keys.extend(file_keys)
    return {"keys": keys} if keys else None


def method_routes(settings: GatewaySettings, methods: list[Method]) -> list[MethodRoute]:
    routes = []
    for method in methods:
        timeout = settings.read_timeout_s if method.idempotent else settings.write_timeout_s
        routes.append(
            MethodRoute(
                name=method.full_name,
                path=method.grpc_path,
                cluster=method.cluster,
                timeout=_duration(timeout),
                retries=settings.read_retries if method.idempotent else 0,
                operator=method.operator,
                http_status=method.health,
            )
        )
    return routes


def public_paths(methods: list[Method]) -> list[str]:
    paths: list[str] = []
    for method in methods:
        if method.public:
            paths.append(method.grpc_path)
            if method.binding is not None:
                paths.append(method.binding.path)
    return paths


OPENAPI_PATH = "/api/openapi.json"


def documents(files: descriptor_pb2.FileDescriptorSet) -> list[Document]:
    """The OpenAPI document and the docs page (with the viewer's files), rendered from the descriptor set the gateway
    starts with."""
    document = build_document(files)
    return [
        Document("openapi", OPENAPI_PATH, "application/json", render_document(files).decode()),
        *docs_documents(document),
    ]


def render(settings: GatewaySettings) -> Rendered:
    files = load_descriptor_set(settings.descriptor)
    methods = gateway_methods(files)
    pages = documents(files)
    jwks = local_jwks(settings)
    providers = [Provider("supabase")] if jwks else []
    if settings.jwks_url:
        providers.append(Provider("supabase_remote", remote=settings.jwks_url))
    environment = {JWKS_ENV: json.dumps(jwks)} if jwks else {}
    jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    jinja.filters["tojson"] = json.dumps  # JSON is YAML: every value is quoted and escaped by the same rule
    template = jinja.from_string(TEMPLATE.read_text())
    yaml = template.render(
        s=settings,
        jwks_env=JWKS_ENV,
        jwks_url=settings.jwks_url,
        stripped_headers=STRIPPED_HEADERS,
        access_log_format=ACCESS_LOG_FORMAT,
        request_check_lua=lua.request_check(settings, files, methods),
        identity_check_lua=lua.identity_check(settings),
        operator_check_lua=lua.operator_check(settings, methods),
        http_status_lua=HTTP_STATUS_LUA,
        hints=[
            *malformed_path_hints(settings.cors_origins, settings.cors_origin_patterns),
            CORS_REFUSED,
            *HINTS,
            *method_hints(methods),
        ],
        detail_errors=DETAIL_ERRORS,
        status_errors=[(e, error_body(e.code, "%LOCAL_REPLY_BODY%", e.reason, e.retry_after_s)) for e in STATUS_ERRORS],
        default_error=error_body(2, "%LOCAL_REPLY_BODY%", "INTERNAL"),
        method_routes=method_routes(settings, methods),
        read_timeout=_duration(settings.read_timeout_s),
        connect_timeout=_duration(settings.connect_timeout_s),
        providers=providers,
        public_paths=[*public_paths(methods), *(page.path for page in pages if page.path.startswith(DOCS_PATH))],
        documents=pages,
        allowed_origin_regex=allowed_origin_regex(settings.cors_origins, settings.cors_origin_patterns),
        max_document_bytes=max(page.size for page in pages) + 4096,
        services=list(GATEWAY_SERVICES),
        clusters=[
            {"name": "creator", "address": settings.creator_addr},
            {"name": "cdn", "address": settings.cdn_addr},
        ],
    )
    return Rendered(yaml=yaml, environment=environment)
