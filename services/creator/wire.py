"""The wire form of a search answer: the stored report's bytes with the per-response parts spliced in, so that a
cached search neither parses nor re-serialises the whole report (for a 12-post report that is most of the service's
CPU per answer).

A stored report (reports.build_report) has every part but the per-response ones: its freshness holds fetched_at only,
and unlocked_at and models are absent. Protobuf writes a message as its fields one after another (tag, then value) in
field-number order. The answer is the stored report's top-level fields with the completed freshness in place of the
stored one and unlocked_at and models inserted in their places: the bytes `SerializeToString` gives for the parsed and
completed message, which every reader reads as that message. `Answer` holds a search's answer until a handler writes
it out: encoded here for gRPC, or as JSON for REST (report_json.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from creator.v1 import creator_pb2, creator_pb2_grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.creator.inference_client import ModelLanguages

_FIELDS = creator_pb2.CreatorReport.DESCRIPTOR.fields_by_name
FRESHNESS = _FIELDS["freshness"].number
RECENT_POSTS = _FIELDS["recent_posts"].number
UNLOCKED_AT = _FIELDS["unlocked_at"].number
MODELS = _FIELDS["models"].number
_PER_RESPONSE = {FRESHNESS, UNLOCKED_AT, MODELS}

_VARINT, _FIXED64, _LENGTH_DELIMITED, _FIXED32 = 0, 1, 2, 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def top_level_fields(data: bytes) -> list[tuple[int, int, int]]:
    """(field number, start, end) of every top-level field of an encoded message, in order; ValueError when the
    bytes are not a message this service writes (groups, truncation)."""
    spans = []
    pos, size = 0, len(data)
    try:
        while pos < size:
            start = pos
            key = shift = 0
            while True:  # the tag, a varint
                byte = data[pos]
                pos += 1
                key |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
            wire_type = key & 7
            if wire_type == _LENGTH_DELIMITED or wire_type == _VARINT:
                value = shift = 0
                while True:
                    byte = data[pos]
                    pos += 1
                    value |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                if wire_type == _LENGTH_DELIMITED:
                    pos += value
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


@functools.lru_cache(maxsize=8)
def _encoded_models(models: tuple[ModelLanguages, ...]) -> bytes:
    """The models field, encoded once per set of loaded models (they change only when inference reloads)."""
    message = creator_pb2.CreatorReport(
        models=[creator_pb2.ModelLanguages(task=m.task, model=m.model, languages=m.languages) for m in models]
    )
    return message.SerializeToString()


class StoredReport:
    """An encoded report as the store keeps it, split once into its top-level fields."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._spans = top_level_fields(data)

    def freshness(
        self, *, age_seconds: float, from_cache: bool, stale_reason: str, refresh_skipped: bool
    ) -> creator_pb2.ReportFreshness:
        """The answer's freshness: the stored one (fetched_at) completed with this response's parts."""
        data = self.data
        fresh = creator_pb2.CreatorReport()
        for number, start, end in self._spans:
            if number == FRESHNESS:  # fetched_at, as stored
                fresh.MergeFromString(data[start:end])
        freshness = fresh.freshness
        freshness.age_seconds = age_seconds
        freshness.from_cache = from_cache
        freshness.stale = bool(stale_reason)
        freshness.stale_reason = stale_reason
        freshness.refresh_skipped = refresh_skipped
        return freshness

    @property
    def post_count(self) -> int:
        """How many recent posts it holds."""
        return sum(1 for number, _, _ in self._spans if number == RECENT_POSTS)

    def answer(
        self,
        *,
        age_seconds: float,
        from_cache: bool,
        stale_reason: str,
        refresh_skipped: bool,
        unlocked_at: datetime,
        models: Iterable[ModelLanguages],
    ) -> bytes:
        """The encoded answer: the stored fields, the completed freshness in place of the stored one, and unlocked_at
        and models in their places (after every lower-numbered field)."""
        data = self.data
        fresh = creator_pb2.CreatorReport(
            freshness=self.freshness(
                age_seconds=age_seconds,
                from_cache=from_cache,
                stale_reason=stale_reason,
                refresh_skipped=refresh_skipped,
            )
        )
        unlocked = creator_pb2.CreatorReport(unlocked_at=timestamp(unlocked_at)).SerializeToString()
        rest = unlocked + _encoded_models(tuple(models))
        inserts = ((FRESHNESS, fresh.SerializeToString()), (UNLOCKED_AT, rest))
        chunks: list[bytes] = []
        pending = 0
        for number, start, end in self._spans:
            while pending < len(inserts) and inserts[pending][0] <= number:
                chunks.append(inserts[pending][1])
                pending += 1
            if number not in _PER_RESPONSE:
                chunks.append(data[start:end])
        chunks.extend(encoded for _, encoded in inserts[pending:])
        return b"".join(chunks)


@dataclass(frozen=True, slots=True)
class Answer:
    """A search's answer before it is written out: the stored report and what this response completes it with. The
    gRPC answer is `encoded()`; the REST answer is its JSON (report_json.py)."""

    stored: StoredReport
    age_seconds: float
    from_cache: bool
    stale_reason: str
    refresh_skipped: bool
    unlocked_at: datetime
    models: tuple[ModelLanguages, ...]

    def freshness(self) -> creator_pb2.ReportFreshness:
        return self.stored.freshness(
            age_seconds=self.age_seconds,
            from_cache=self.from_cache,
            stale_reason=self.stale_reason,
            refresh_skipped=self.refresh_skipped,
        )

    def encoded(self) -> bytes:
        return self.stored.answer(
            age_seconds=self.age_seconds,
            from_cache=self.from_cache,
            stale_reason=self.stale_reason,
            refresh_skipped=self.refresh_skipped,
            unlocked_at=self.unlocked_at,
            models=self.models,
        )


def timestamp(value: datetime) -> Timestamp:
    """A Timestamp of an aware datetime, exact to the microsecond."""
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


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
