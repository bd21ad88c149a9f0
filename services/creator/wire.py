"""The wire form of a search answer: the stored report's bytes with the per-response parts spliced in, so that a
cached search neither parses nor re-serialises the whole report (for a 12-post report that is most of the service's
CPU per answer).

A stored report (reports.build_report) has every part but the per-response ones: its freshness holds fetched_at only,
and unlocked_at and models are absent. Protobuf writes a message as its fields one after another (tag, then value) in
field-number order. The answer is the stored report's top-level fields with the completed freshness in place of the
stored one and unlocked_at and models inserted in their places: the bytes `SerializeToString` gives for the parsed and
completed message, which every reader (the gateway's transcoder included) reads as that message.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.creator.inference import ModelLanguages

_FIELDS = creator_pb2.CreatorReport.DESCRIPTOR.fields_by_name
FRESHNESS = _FIELDS["freshness"].number
RECENT_POSTS = _FIELDS["recent_posts"].number

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def top_level_fields(data: bytes) -> list[tuple[int, int, int]]:
    """(field number, start, end) of every top-level field of an encoded message, in order; ValueError when the
    bytes are not a message this service writes (groups, truncation)."""
    spans = []
    pos, size = 0, len(data)
    try:
        while pos < size:
            start = pos
            key, pos = _varint(data, pos)
            wire_type = key & 7
            if wire_type == _VARINT:
                _, pos = _varint(data, pos)
            elif wire_type == _LENGTH_DELIMITED:
                length, pos = _varint(data, pos)
                pos += length
            elif wire_type == _FIXED64:
                pos += 8
            elif wire_type == _FIXED32:
                pos += 4
            else:
                raise ValueError(f"wire type {wire_type} at byte {start}")
            spans.append((key >> 3, start, pos))
    except IndexError:
        raise ValueError("truncated message") from None
    if pos != size:
        raise ValueError("truncated message")
    return spans


def post_count(report: bytes) -> int:
    """How many recent posts an encoded report holds."""
    return sum(1 for number, _, _ in top_level_fields(report) if number == RECENT_POSTS)


def answer(
    stored: bytes,
    *,
    age_seconds: float,
    from_cache: bool,
    stale_reason: str,
    refresh_skipped: bool,
    unlocked_at: datetime,
    models: Iterable[ModelLanguages],
) -> bytes:
    """The encoded answer: `stored` (an encoded report without per-response parts) completed with them."""
    spans = top_level_fields(stored)
    parts = creator_pb2.CreatorReport()
    for number, start, end in spans:
        if number == FRESHNESS:  # fetched_at, as stored
            parts.MergeFromString(stored[start:end])
    freshness = parts.freshness
    freshness.age_seconds = age_seconds
    freshness.from_cache = from_cache
    freshness.stale = bool(stale_reason)
    freshness.stale_reason = stale_reason
    freshness.refresh_skipped = refresh_skipped
    unlocked = Timestamp()
    unlocked.FromDatetime(unlocked_at)
    parts.unlocked_at.CopyFrom(unlocked)
    for model in models:
        parts.models.add(task=model.task, model=model.model, languages=model.languages)
    tail = parts.SerializeToString()
    tail_spans = top_level_fields(tail)
    replaced = {number for number, _, _ in tail_spans}
    chunks = [(number, stored[start:end]) for number, start, end in spans if number not in replaced]
    chunks += [(number, tail[start:end]) for number, start, end in tail_spans]
    chunks.sort(key=lambda chunk: chunk[0])  # stable: fields of one number keep their order
    return b"".join(chunk for _, chunk in chunks)


def _pass_bytes(response: bytes | creator_pb2.CreatorReport) -> bytes:
    return response if isinstance(response, bytes) else response.SerializeToString()


class _Registration:
    """Stands in for the server while the generated code registers the service, to keep its method handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler] = {}

    def add_generic_rpc_handlers(self, handlers: object) -> None:
        pass

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.handlers = handlers


def add_creator_service(servicer: creator_pb2_grpc.CreatorServiceServicer, server: grpc.aio.Server) -> None:
    """Registers CreatorService as the generated code does, except that SearchCreator may answer encoded bytes."""
    registration = _Registration()
    creator_pb2_grpc.add_CreatorServiceServicer_to_server(servicer, registration)
    handlers = dict(registration.handlers)
    search = handlers["SearchCreator"]
    handlers["SearchCreator"] = grpc.unary_unary_rpc_method_handler(
        search.unary_unary,
        request_deserializer=search.request_deserializer,
        response_serializer=_pass_bytes,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("creator.v1.CreatorService", handlers),))
    server.add_registered_method_handlers("creator.v1.CreatorService", handlers)
