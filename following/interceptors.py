"""The one server interceptor: request id, caller identity, readiness gate, domain-error mapping and RPC metrics.

A database connection error that reaches it (the database is down or restarting) is answered UNAVAILABLE with a
retry-after, never INTERNAL, and its message names no host, port or exception class (the log keeps them). So is a
transaction PostgreSQL rolled back to resolve a conflict (SQLSTATE class 40: a deadlock or a serialization failure):
nothing of it was applied, and the same call succeeds when made again.

Handlers stay thin: they read the caller with `caller_user_id()`, raise `DomainError`s, and never touch status codes.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import grpc

from following.db import CONNECTION_ERRORS, DATABASE_RETRY_AFTER_S
from following.errors import DomainError, Unauthenticated, Unavailable, rich_status
from following.logs import request_id_var, user_id_var
from following.metrics import RPC_HANDLED, RPC_IN_FLIGHT, RPC_LATENCY

log = logging.getLogger(__name__)

USER_ID_HEADER = "x-user-id"
REQUEST_ID_HEADER = "x-request-id"
#: The retry-after (seconds) of a call whose transaction PostgreSQL rolled back on a conflict.
CONFLICT_RETRY_AFTER_S = 1.0
_PASS_THROUGH = ("/grpc.health.v1.", "/grpc.reflection.")


def caller_user_id() -> str:
    """The user id the gateway verified (JWT `sub`); raises UNAUTHENTICATED when the call carries none."""
    user_id = user_id_var.get()
    if not user_id:
        raise Unauthenticated("no verified user: call through the gateway with 'Authorization: Bearer <jwt>'")
    return user_id


class Readiness:
    """Whether the service finished starting; RPCs other than health and reflection wait for it."""

    def __init__(self) -> None:
        self.ready = False


class CallInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, service: str, readiness: Readiness) -> None:
        self._service = service
        self._readiness = readiness
        # Per method: the registered handler and its wrapped form, built once (the wrapper reads the call's metadata
        # from its context), and the metric children per (method, code), looked up once.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}
        self._handled: dict[tuple[str, grpc.StatusCode], Any] = {}
        self._latency: dict[str, Any] = {}
        self._in_flight: dict[str, Any] = {}
        self._labels: dict[str, tuple[str, str, str]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or method.startswith(_PASS_THROUGH):
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary is not None:
            self._labels[method] = ("unary", *_split(method))
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            self._labels[method] = ("server_stream", *_split(method))
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _enter(self, context: grpc.aio.ServicerContext) -> None:
        request_id = user_id = None
        for key, value in context.invocation_metadata() or ():
            if key == REQUEST_ID_HEADER:
                request_id = value
            elif key == USER_ID_HEADER:
                user_id = value
        request_id_var.set(str(request_id or secrets.token_hex(16)))
        user_id_var.set(str(user_id or ""))
        if not self._readiness.ready:
            raise Unavailable("the service is starting; retry in a moment", retry_after=1)

    def _wrap_unary(self, method: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = self._start(method)
            code = grpc.StatusCode.OK
            try:
                self._enter(context)
                return await inner(request, context)
            except Exception as raised:
                exc = _retryable_database_error(raised, method)
                code = _status_of(exc, context)
                await self._fail(exc, method, context)
            finally:
                self._observe(method, code, started)

        return handle

    def _wrap_stream(self, method: str, inner: Callable[..., Any]) -> Callable[..., Any]:
        async def handle(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = self._start(method)
            code = grpc.StatusCode.OK
            try:
                self._enter(context)
                async for item in inner(request, context):
                    yield item
            except Exception as raised:
                exc = _retryable_database_error(raised, method)
                code = _status_of(exc, context)
                await self._fail(exc, method, context)
            finally:
                self._observe(method, code, started)

        return handle

    async def _fail(self, exc: Exception, method: str, context: grpc.aio.ServicerContext) -> None:
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        if isinstance(exc, DomainError):
            log.info("rpc failed", extra={"method": method, "code": exc.code.name, "error": exc.message})
            await context.abort_with_status(rich_status(exc))
        log.exception("rpc crashed", extra={"method": method})
        crash = DomainError(f"internal error (request id {request_id_var.get()})")
        await context.abort_with_status(rich_status(crash))

    def _start(self, method: str) -> float:
        in_flight = self._in_flight.get(method)
        if in_flight is None:
            in_flight = self._in_flight[method] = RPC_IN_FLIGHT.labels(*self._labels[method])
        in_flight.inc()
        return time.perf_counter()

    def _observe(self, method: str, code: grpc.StatusCode, started: float) -> None:
        labels = self._labels[method]
        handled = self._handled.get((method, code))
        if handled is None:
            handled = self._handled[(method, code)] = RPC_HANDLED.labels(*labels, code.name)
        latency = self._latency.get(method)
        if latency is None:
            latency = self._latency[method] = RPC_LATENCY.labels(*labels)
        handled.inc()
        latency.observe(time.perf_counter() - started)
        self._in_flight[method].dec()


def _retryable_database_error(exc: Exception, method: str) -> Exception:
    """A connection error, or a transaction rolled back on a conflict, as UNAVAILABLE with a retry-after; anything else
    unchanged."""
    if isinstance(exc, asyncpg.TransactionRollbackError):
        log.warning("database rolled back a conflicting transaction", extra={"method": method, "error": str(exc)})
        return Unavailable("the database rolled back a conflicting write; retry", retry_after=CONFLICT_RETRY_AFTER_S)
    if isinstance(exc, DomainError) or not isinstance(exc, CONNECTION_ERRORS):
        return exc
    log.warning("database unreachable", extra={"method": method, "error": f"{type(exc).__name__}: {exc}"})
    return Unavailable("database unavailable; retry shortly", retry_after=DATABASE_RETRY_AFTER_S)


def _split(method: str) -> tuple[str, str]:
    """("creator.v1.CreatorService", "SearchCreator") of "/creator.v1.CreatorService/SearchCreator"."""
    service, _, name = method.lstrip("/").rpartition("/")
    return service, name


def _status_of(exc: Exception, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    if isinstance(exc, DomainError):
        return exc.code
    if isinstance(exc, grpc.aio.AbortError):
        code = context.code()
        return code if isinstance(code, grpc.StatusCode) else grpc.StatusCode.UNKNOWN
    return grpc.StatusCode.INTERNAL
