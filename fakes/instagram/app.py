"""The sample upstream's HTTP routes: Instagram's endpoints, the pictures, and the admin endpoints for tests.

Instagram-shaped: `GET /api/v1/users/web_profile_info/?username=`, `GET /api/v1/feed/user/<id>/?count=&max_id=`,
`GET /media/<username>/<key>_<w>x<h>.jpg`, `GET /accounts/login/` (where login redirects land).
Admin (never faulted, never counted): `GET|POST|DELETE /__admin/faults`, `GET|DELETE /__admin/stats`,
`GET /__admin/health`, `GET /__admin/catalogue`, `GET|POST /__admin/clock` (simulated time: `{"advance_days": n}`).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from fakes.instagram.catalogue import Catalogue
from fakes.instagram.faults import (
    FaultRegistry,
    FaultRule,
    FaultSpecError,
    RequestStats,
    parse_compact,
    parse_rule,
)
from fakes.instagram.images import MAX_SIDE, ImageCache
from fakes.instagram.settings import SampleSettings
from fakes.instagram.shapes import feed_answer, profile_answer
from fakes.instagram.timeline import SimClock, as_of

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CATALOGUE = web.AppKey("catalogue", Catalogue)
FAULTS = web.AppKey("faults", FaultRegistry)
STATS = web.AppKey("stats", RequestStats)
IMAGES = web.AppKey("images", ImageCache)
PUBLIC_URL = web.AppKey("public_url", str)
CLOCK = web.AppKey("clock", SimClock)
_MEDIA_NAME = re.compile(r"^(?P<key>[A-Za-z0-9-]+)_(?P<w>\d{1,4})x(?P<h>\d{1,4})\.jpg$")
_WAIT_MESSAGE = "Please wait a few minutes before you try again."
_LOGIN_PAGE = "<html><body><form action='/accounts/login/ajax/'>Log in</form></body></html>"


def create_app(settings: SampleSettings, public_url: str) -> web.Application:
    app = web.Application(middlewares=[_misbehave])
    app[CATALOGUE] = Catalogue(settings.seed, settings.now)
    app[FAULTS] = FaultRegistry(settings.seed)
    app[STATS] = RequestStats()
    app[IMAGES] = ImageCache(settings.image_cache_entries)
    app[PUBLIC_URL] = public_url
    app[CLOCK] = SimClock(settings.days_per_second)
    app.router.add_get("/api/v1/users/web_profile_info/", _profile)
    app.router.add_get("/api/v1/feed/user/{user_id}/", _feed)
    app.router.add_get("/media/{username}/{name}", _media)
    app.router.add_get("/accounts/login/", _login_page)
    app.router.add_get("/__admin/faults", _faults_list)
    app.router.add_post("/__admin/faults", _faults_add)
    app.router.add_delete("/__admin/faults", _faults_clear)
    app.router.add_get("/__admin/stats", _stats)
    app.router.add_delete("/__admin/stats", _stats_reset)
    app.router.add_get("/__admin/health", _health)
    app.router.add_get("/__admin/catalogue", _catalogue)
    app.router.add_get("/__admin/clock", _clock)
    app.router.add_post("/__admin/clock", _clock_advance)
    return app


def _endpoint(path: str) -> str:
    if path.startswith("/api/v1/users/web_profile_info"):
        return "profile"
    if path.startswith("/api/v1/feed/user/"):
        return "feed"
    if path.startswith("/media/"):
        return "media"
    return "other"


@web.middleware
async def _misbehave(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/__admin/"):
        return await handler(request)
    arrived = time.time()
    endpoint = _endpoint(request.path)
    app = request.app
    rule: FaultRule | None
    per_request = request.headers.get("X-Sample-Fault") or request.query.get("__fault")
    try:
        rule = parse_compact(per_request) if per_request else app[FAULTS].pick(endpoint, request.path_qs)
    except FaultSpecError as exc:
        return _fail(400, f"bad X-Sample-Fault: {exc}")
    record = app[STATS].arrived(arrived, endpoint, request.path_qs, rule.mode if rule else None)
    try:
        response = await _answer(request, handler, rule)
    except web.HTTPException as exc:
        app[STATS].answered(record, exc.status)
        raise
    app[STATS].answered(record, response.status)
    return response


async def _answer(request: web.Request, handler: Handler, rule: FaultRule | None) -> web.StreamResponse:
    if rule is None:
        return await handler(request)
    if rule.mode == "429":
        headers = {"Retry-After": rule.retry_after} if rule.retry_after is not None else {}
        return _fail(429, _WAIT_MESSAGE, headers=headers)
    if rule.mode == "401-wait":
        return web.json_response({"message": _WAIT_MESSAGE, "require_login": True, "status": "fail"}, status=401)
    if rule.mode == "login-redirect":
        location = f"{request.app[PUBLIC_URL]}/accounts/login/?next={request.path}"
        return web.Response(status=302, headers={"Location": location})
    if rule.mode == "login-page":
        return await _login_page(request)
    if rule.mode == "5xx":
        return web.Response(
            status=rule.status, text="<html><body>Oops, an error occurred.</body></html>", content_type="text/html"
        )
    if rule.mode == "checkpoint":
        body = {"message": "checkpoint_required", "checkpoint_url": "/challenge/", "lock": True, "status": "fail"}
        return web.json_response(body, status=400)
    if rule.mode == "slow":
        await asyncio.sleep(rule.delay_ms / 1000)
        return await handler(request)
    response = await handler(request)  # truncated: the real answer, cut in half
    raw = response.body if isinstance(response, web.Response) else None
    if not isinstance(raw, bytes | bytearray):
        return response
    return web.Response(status=response.status, body=bytes(raw[: len(raw) // 2]), content_type=response.content_type)


def _fail(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"message": message, "status": "fail"}, status=status, headers=headers)


async def _profile(request: web.Request) -> web.Response:
    username = request.query.get("username", "").strip().lower()
    if not username:
        return _fail(400, "username is required")
    spec = request.app[CATALOGUE].by_username(username)
    if spec is None:
        return _fail(404, "User not found")
    grown = as_of(spec, request.app[CLOCK].days)
    return web.json_response(profile_answer(request.app[CATALOGUE], grown, request.app[PUBLIC_URL]), dumps=_dumps)


async def _feed(request: web.Request) -> web.Response:
    catalogue = request.app[CATALOGUE]
    spec = catalogue.by_user_id(request.match_info["user_id"])
    if spec is None:
        return _fail(404, "User not found")
    if spec.private:
        return _fail(400, "Not authorized to view user")
    count_text = request.query.get("count", "12")
    if not count_text.isdigit():
        return _fail(400, "count must be a number")
    try:
        answer = feed_answer(
            catalogue, spec, request.app[PUBLIC_URL], int(count_text), request.query.get("max_id") or None
        )
    except ValueError as exc:
        return _fail(400, str(exc))
    return web.json_response(answer, dumps=_dumps)


async def _media(request: web.Request) -> web.Response:
    spec = request.app[CATALOGUE].by_username(request.match_info["username"])
    match = _MEDIA_NAME.match(request.match_info["name"])
    if spec is None or match is None:
        raise web.HTTPNotFound(text="no such media")
    width, height = int(match["w"]), int(match["h"])
    if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
        raise web.HTTPNotFound(text="no such size")
    data = await asyncio.to_thread(
        request.app[IMAGES].get_or_render, request.path, spec.username, spec.niche, match["key"], width, height
    )
    return web.Response(
        body=data, content_type="image/jpeg", headers={"Cache-Control": "public, max-age=1209600, immutable"}
    )


async def _login_page(request: web.Request) -> web.Response:
    return web.Response(
        text="<html><body><form action='/accounts/login/ajax/'>Log in</form></body></html>", content_type="text/html"
    )


async def _faults_list(request: web.Request) -> web.Response:
    return web.json_response({"rules": [rule.to_json() for rule in request.app[FAULTS].rules()]})


async def _faults_add(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
        rules = [parse_rule(item) for item in (payload if isinstance(payload, list) else [payload])]
    except (ValueError, FaultSpecError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[FAULTS].add(rules)
    return web.json_response({"rules": [rule.to_json() for rule in request.app[FAULTS].rules()]}, status=201)


async def _faults_clear(request: web.Request) -> web.Response:
    request.app[FAULTS].clear()
    return web.json_response({"rules": []})


async def _stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS].to_json())


async def _stats_reset(request: web.Request) -> web.Response:
    request.app[STATS].reset()
    return web.json_response(request.app[STATS].to_json())


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _catalogue(request: web.Request) -> web.Response:
    catalogue = request.app[CATALOGUE]
    creators = []
    for username in catalogue.usernames:
        spec = catalogue.by_username(username)
        assert spec is not None
        creators.append(
            {
                "username": spec.username,
                "niche": spec.niche,
                "language": spec.language,
                "shape": spec.shape,
                "followers": spec.followers,
                "private": spec.private,
                "posts_available": spec.posts_available,
            }
        )
    return web.json_response({"creators": creators})


async def _clock(request: web.Request) -> web.Response:
    clock = request.app[CLOCK]
    return web.json_response({"days": clock.days, "days_per_second": clock.days_per_second})


async def _clock_advance(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
        days = float(payload["advance_days"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"error": 'send {"advance_days": <number of simulated days>}'}, status=400)
    if not math.isfinite(days) or abs(days) > 36_500:
        return web.json_response({"error": "advance_days must be a finite number of days, at most 36500"}, status=400)
    clock = request.app[CLOCK]
    clock.advance(days)
    return web.json_response({"days": clock.days, "days_per_second": clock.days_per_second})


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
