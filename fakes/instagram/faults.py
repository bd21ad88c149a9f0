"""Misbehaviour on demand, and a count of what was asked.

A fault rule says how to misbehave (`mode`), how often (`count` answers, or each answer with `probability`) and on
which requests (`scope`: "api" = profile and feed, "media", or "all"; `match`: a substring of path and query).
Rules come globally from `POST /__admin/faults` (JSON object or list) or for one request from the `X-Sample-Fault`
header or the `__fault` query parameter in compact form: `429;retry_after=1`, `slow;delay_ms=300`, `5xx;status=502`.

Modes: 429 (optional retry_after), 401-wait, login-redirect (302 to /accounts/login/), login-page (200 with the login
page's HTML instead of JSON), 5xx (status, default 503), slow (delay_ms, then the normal answer), truncated (the
normal JSON cut in half), checkpoint (400 checkpoint_required).
"""

from __future__ import annotations

import json
import random
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

Mode = Literal["429", "401-wait", "login-redirect", "login-page", "5xx", "slow", "truncated", "checkpoint"]
Scope = Literal["api", "media", "all"]
MODES: tuple[str, ...] = ("429", "401-wait", "login-redirect", "login-page", "5xx", "slow", "truncated", "checkpoint")
SCOPES: tuple[str, ...] = ("api", "media", "all")


class FaultSpecError(ValueError):
    """A fault rule that cannot be applied; the message says which field is wrong."""


@dataclass(slots=True)
class FaultRule:
    mode: Mode
    # Retry-After header value for 429 (seconds, or an HTTP date); none when None.
    retry_after: str | None = None
    status: int = 503
    delay_ms: int = 0
    # Answers left to spoil; None = until cleared.
    count: int | None = None
    probability: float = 1.0
    scope: Scope = "api"
    match: str | None = None

    def applies_to(self, endpoint: str, path_qs: str) -> bool:
        in_scope = self.scope == "all" or (self.scope == "media") == (endpoint == "media")
        return in_scope and (self.match is None or self.match in path_qs)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_rule(data: object) -> FaultRule:
    if not isinstance(data, dict):
        raise FaultSpecError("a fault rule must be a JSON object")
    unknown = set(data) - set(FaultRule.__dataclass_fields__)
    if unknown:
        raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
    mode = str(data.get("mode", ""))
    if mode not in MODES:
        raise FaultSpecError(f"mode must be one of {list(MODES)}, got {mode!r}")
    scope = str(data.get("scope", "api"))
    if scope not in SCOPES:
        raise FaultSpecError(f"scope must be one of {list(SCOPES)}, got {scope!r}")
    retry_after = data.get("retry_after")
    count = data.get("count")
    probability = data.get("probability", 1.0)
    status = data.get("status", 503)
    delay_ms = data.get("delay_ms", 0)
    if count is not None and (not isinstance(count, int) or count < 1):
        raise FaultSpecError(f"count must be a positive integer, got {count!r}")
    if not isinstance(probability, int | float) or not 0.0 < probability <= 1.0:
        raise FaultSpecError(f"probability must be in (0, 1], got {probability!r}")
    if not isinstance(status, int) or not 500 <= status <= 599:
        raise FaultSpecError(f"status must be a 5xx code, got {status!r}")
    if not isinstance(delay_ms, int) or not 0 <= delay_ms <= 120_000:
        raise FaultSpecError(f"delay_ms must be an integer in 0..120000, got {delay_ms!r}")
    match = data.get("match")
    return FaultRule(
        mode=cast(Mode, mode),
        retry_after=None if retry_after is None else str(retry_after),
        status=status,
        delay_ms=delay_ms,
        count=count,
        probability=float(probability),
        scope=cast(Scope, scope),
        match=None if match is None else str(match),
    )


def parse_compact(text: str) -> FaultRule:
    """`mode;key=value;...` (or a JSON object) -> a one-shot rule for this request."""
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise FaultSpecError(f"fault is not valid JSON: {exc}") from None
    else:
        mode, *pairs = text.split(";")
        data = {"mode": mode.strip()}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise FaultSpecError(f"expected key=value in fault, got {pair!r}")
            key, value = key.strip(), value.strip()
            data[key] = int(value) if value.isdigit() and key in ("status", "delay_ms", "count") else value
            if key == "probability":
                try:
                    data[key] = float(value)
                except ValueError:
                    raise FaultSpecError(f"probability must be a number, got {value!r}") from None
    data.setdefault("scope", "all")
    rule = parse_rule(data)
    rule.count = 1
    return rule


class FaultRegistry:
    """The global rules, applied in the order they were added; a rule with `count` is removed when spent."""

    def __init__(self, seed: int) -> None:
        self._rules: list[FaultRule] = []
        self._rng = random.Random(f"{seed}:faults")

    def add(self, rules: list[FaultRule]) -> None:
        self._rules.extend(rules)

    def clear(self) -> None:
        self._rules.clear()

    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def pick(self, endpoint: str, path_qs: str) -> FaultRule | None:
        for rule in self._rules:
            if not rule.applies_to(endpoint, path_qs):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self._rules.remove(rule)
            return rule
        return None


@dataclass(slots=True)
class RequestRecord:
    # Unix time the request arrived.
    time: float
    endpoint: str
    path: str
    fault: str | None
    # None until answered (and for good when the client gave up first).
    status: int | None = None


class RequestStats:
    """Every non-admin request, counted when it arrives: totals by endpoint and status, and the most recent ones."""

    def __init__(self, keep: int = 1000) -> None:
        self._keep = keep
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.faults = 0
        self.by_endpoint: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()
        self.recent: deque[RequestRecord] = deque(maxlen=self._keep)

    def arrived(self, arrived: float, endpoint: str, path: str, fault: str | None) -> RequestRecord:
        record = RequestRecord(arrived, endpoint, path, fault)
        self.total += 1
        self.faults += fault is not None
        self.by_endpoint[endpoint] += 1
        self.recent.append(record)
        return record

    def answered(self, record: RequestRecord, status: int) -> None:
        record.status = status
        self.by_status[status] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests_total": self.total,
            "faults_served": self.faults,
            "by_endpoint": dict(self.by_endpoint),
            "by_status": {str(status): n for status, n in self.by_status.items()},
            "recent": [asdict(record) for record in self.recent],
        }
