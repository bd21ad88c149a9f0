"""The JSON form of a search answer, which SearchCreatorJson sends REST callers through the gateway untouched.

The convention is the API's (creator.proto's header, what the gateway's transcoder prints): proto field names, every
field without presence printed (zero values, empty lists), 64-bit integers as strings, enums by name, timestamps as
RFC 3339 strings. `google.protobuf.json_format` prints it, so no rule is written out here.

A cached search must not render the whole report each time (that cost is what moving the JSON out of the gateway
saves). The JSON members of a stored report, all but the per-response ones (freshness, unlocked_at, models: see
wire.py), are rendered once and kept in a cache bounded by bytes; an answer is that object with the per-response
members added (JSON member order carries no meaning). The cache is keyed by the SHA-256 of the stored report's bytes:
every re-render of a report (analysis done, images mirrored, a new fetch) changes them, so an entry never answers for
another version, and equal bytes are the same report. The digest, not the bytes, is kept: the key costs 32 bytes
instead of another copy of the report.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from cachetools import LRUCache
from creator.v1 import creator_pb2
from google.protobuf import json_format
from google.protobuf.message import Message
from prometheus_client import Counter, Gauge

from services.creator import wire
from services.creator.inference_client import ModelLanguages

CONTENT_TYPE = "application/json"
PER_RESPONSE = ("freshness", "unlocked_at", "models")
_DIGEST_BYTES = hashlib.sha256().digest_size  # an entry's key

RENDERS = Counter(
    "creator_report_json_total", "JSON search answers by whether the stored report's JSON was cached", ["cache"]
)
CACHED_BYTES = Gauge("creator_report_json_cache_bytes", "Bytes held by the cache of stored reports' JSON")
_HIT, _MISS = RENDERS.labels("hit"), RENDERS.labels("miss")


def message_json(message: Message) -> dict[str, Any]:
    """A message as the API's JSON object (before encoding)."""
    return json_format.MessageToDict(
        message, always_print_fields_with_no_presence=True, preserving_proto_field_name=True
    )


def encode(value: object) -> bytes:
    """Compact UTF-8 JSON; NaN cannot occur (json_format writes non-finite doubles as strings)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@functools.lru_cache(maxsize=8)
def _models_json(models: tuple[ModelLanguages, ...]) -> bytes:
    """The models member's value, encoded once per set of loaded models (they change only when inference reloads)."""
    messages = [creator_pb2.ModelLanguages(task=m.task, model=m.model, languages=m.languages) for m in models]
    return encode([message_json(message) for message in messages])


def stored_members(stored: bytes) -> bytes:
    """The JSON object of a stored report without its per-response members."""
    members = message_json(creator_pb2.CreatorReport.FromString(stored))
    for name in PER_RESPONSE:
        members.pop(name, None)
    return encode(members)


def answer_json(members: bytes, answer: wire.Answer) -> bytes:
    """The stored members with this answer's freshness, unlocked_at and models added."""
    added = (
        b'"freshness":'
        + encode(message_json(answer.freshness()))
        + b',"unlocked_at":'
        + encode(wire.timestamp(answer.unlocked_at).ToJsonString())
        + b',"models":'
        + _models_json(answer.models)
    )
    if members == b"{}":
        return b"{" + added + b"}"
    return b"".join((memoryview(members)[:-1], b",", added, b"}"))  # one copy of the large part


def _entry_bytes(members: bytes) -> int:
    return _DIGEST_BYTES + len(members)


class ReportJson:
    """Renders answers as JSON, keeping the members of the most recently answered stored reports within `max_bytes`
    (the least recently used go first; 0 keeps none)."""

    def __init__(self, max_bytes: int) -> None:
        self._entries: LRUCache[bytes, bytes] = LRUCache(maxsize=max_bytes, getsizeof=_entry_bytes)

    def render(self, answer: wire.Answer) -> bytes:
        return answer_json(self._members(answer.stored.data), answer)

    def _members(self, stored: bytes) -> bytes:
        key = hashlib.sha256(stored).digest()
        members = self._entries.get(key)
        if members is not None:
            _HIT.inc()
            return members
        members = stored_members(stored)
        _MISS.inc()
        if _entry_bytes(members) <= self._entries.maxsize:  # a larger one is answered, not kept
            self._entries[key] = members
            CACHED_BYTES.set(self._entries.currsize)
        return members

    @property
    def cached_bytes(self) -> int:
        return int(self._entries.currsize)

    def __len__(self) -> int:
        return len(self._entries)
