"""A small synchronous REST client for the gateway. Errors become `ApiError` with a sentence a person can act on."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

HINTS = {
    401: "the gateway refused the token (missing, expired or not signed with the configured secret)",
    429: "too many requests; wait a moment and retry",
    503: "a service is unavailable; retry shortly (make status shows what runs)",
    504: "the request took too long; retry",
}


class ApiError(Exception):
    """The gateway answered an error (`status` is its HTTP status), or none came back at all (`status` 0: the message
    says why, e.g. "cannot reach the gateway at URL")."""

    def __init__(self, status: int, message: str, reason: str = "") -> None:
        hint = HINTS.get(status, "")
        suffix = f" (HTTP {status}{': ' + hint if hint and hint not in message else ''})" if status else ""
        super().__init__(message + suffix)
        self.status = status
        self.message = message
        #: ErrorInfo.reason of the answer (protos/errors/v1/errors.proto), e.g. "EMBEDDING_PENDING"; empty if none.
        self.reason = reason


def profile_name(text: str) -> str:
    """The name a profile URL ends with (the REST path takes a name or @name, not a URL); other text unchanged."""
    stripped = text.strip()
    parts = urllib.parse.urlsplit(stripped if "://" in stripped else f"https://{stripped}")
    host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
    if host in ("instagram.com", "instagr.am") and "/" in stripped:
        segments = [segment for segment in parts.path.split("/") if segment]
        if len(segments) == 1:
            return segments[0]
    return stripped


@dataclass
class GatewayClient:
    base_url: str
    token: str | None
    timeout: float = 30.0

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v not in (None, "", 0)}
        url = f"{self.base_url.rstrip('/')}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                return json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            reason = ""
            try:
                body = json.loads(raw)
                message = str(body.get("message") or raw.decode(errors="replace"))
                infos = [d for d in body.get("details") or [] if isinstance(d, dict) and d.get("reason")]
                reason = str(infos[0]["reason"]) if infos else ""
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace").strip() or exc.reason
            raise ApiError(exc.code, message, reason) from None
        except urllib.error.URLError as exc:
            raise ApiError(0, f"cannot reach the gateway at {self.base_url}: {exc.reason}; is the stack up?") from None
        except TimeoutError:
            raise ApiError(0, f"no answer from {self.base_url} within {self.timeout:.0f} s") from None
        except (ConnectionError, http.client.HTTPException) as exc:
            raise ApiError(0, f"the connection to {self.base_url} broke before an answer ({exc!r}); retry") from None

    def search(self, username: str, refresh: bool = False, post_limit: int = 0) -> Any:
        body: dict[str, Any] = {"refresh": refresh}
        if post_limit:
            body["post_limit"] = post_limit
        name = urllib.parse.quote(profile_name(username), safe="@")
        return self._request("POST", f"/api/v1/creator/search/{name}", body)

    def unlocked(self, page_size: int = 0, page_token: str = "") -> Any:
        return self._request("GET", "/api/v1/creator/unlocked", page_size=page_size, page_token=page_token)

    def posts(self, username: str, page_size: int = 0, page_token: str = "") -> Any:
        path = f"/api/v1/creator/{urllib.parse.quote(username, safe='')}/posts"
        return self._request("GET", path, page_size=page_size, page_token=page_token)

    def history(self, username: str) -> Any:
        return self._request("GET", f"/api/v1/creator/{urllib.parse.quote(username, safe='')}/history")

    def track(self, username: str) -> Any:
        return self._request("POST", f"/api/v1/creator/{urllib.parse.quote(profile_name(username), safe='')}/track", {})

    def untrack(self, username: str) -> Any:
        return self._request("DELETE", f"/api/v1/creator/{urllib.parse.quote(profile_name(username), safe='')}/track")

    def tracked(self, page_size: int = 0, page_token: str = "") -> Any:
        return self._request("GET", "/api/v1/creator/tracked", page_size=page_size, page_token=page_token)

    def similar(self, username: str, page_size: int = 0) -> Any:
        path = f"/api/v1/creator/{urllib.parse.quote(profile_name(username), safe='@')}/similar"
        return self._request("GET", path, page_size=page_size)

    def discover(self, query: str, filters: dict[str, Any] | None = None) -> Any:
        """Discover by meaning; `filters` holds the request's other fields (absent ones are left out)."""
        body: dict[str, Any] = {"query": query}
        body.update({k: v for k, v in (filters or {}).items() if v not in (None, "", [], ())})
        return self._request("POST", "/api/v1/discover", body)

    def queue_status(self) -> Any:
        return self._request("GET", "/api/v1/cdn/queue/status")

    def dead_jobs(self, page_size: int = 0, page_token: str = "") -> Any:
        return self._request("GET", "/api/v1/cdn/dead-jobs", page_size=page_size, page_token=page_token)

    def retry_dead_jobs(self, job_ids: list[str], every: bool = False) -> Any:
        return self._request("POST", "/api/v1/cdn/dead-jobs/retry", _dead_job_selection(job_ids, every))

    def discard_dead_jobs(self, job_ids: list[str], every: bool = False) -> Any:
        return self._request("POST", "/api/v1/cdn/dead-jobs/discard", _dead_job_selection(job_ids, every))

    def cdn_metrics(self) -> Any:
        return self._request("GET", "/api/v1/cdn/metrics")

    def cdn_statistics(self, days: int = 0) -> Any:
        return self._request("GET", "/api/v1/cdn/statistics", days=days)

    def health(self) -> Any:
        return self._request("GET", "/api/health")


def _dead_job_selection(job_ids: list[str], every: bool) -> dict[str, Any]:
    return {"all": True} if every else {"job_ids": list(job_ids)}
