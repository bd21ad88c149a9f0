"""JWT checks at the gateway: the whole rejection matrix never reaches a service; identity comes only from the token."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import grpc
import jwt
import pytest
from aiohttp import web
from creator.v1 import creator_pb2, creator_pb2_grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.gateway.process import EnvoyProcess
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import StartGateway
from tests.gateway.tokens import Keys, claims, hs256_with_key_bytes, unsigned

PROTECTED = "/api/v1/creator/unlocked"
NOW = int(time.time())

# name -> Authorization header value (None: no header), built from the session's keys
BAD_CREDENTIALS: dict[str, Callable[[Keys], str | None]] = {
    "missing": lambda k: None,
    "malformed": lambda k: "Bearer abc.def",
    "test-placeholder": lambda k: "Bearer test",
    "lowercase-scheme": lambda k: f"bearer {k.hs256()}",
    "expired": lambda k: f"Bearer {k.hs256(exp=NOW - 3600, iat=NOW - 7200)}",
    "nbf-in-future": lambda k: f"Bearer {k.hs256(nbf=NOW + 3600)}",
    "wrong-issuer": lambda k: f"Bearer {k.hs256(iss='https://evil.supabase.co/auth/v1')}",
    "wrong-audience": lambda k: f"Bearer {k.hs256(aud='anon')}",
    "missing-audience": lambda k: f"Bearer {k.hs256(aud=None)}",
    "wrong-secret": lambda k: "Bearer " + jwt.encode(claims("x"), "another-secret-of-at-least-32-bytes!!", "HS256"),
    "alg-none": lambda k: f"Bearer {unsigned()}",
    "hs256-signed-with-public-key": lambda k: f"Bearer {hs256_with_key_bytes(k.public_pem())}",
    "es256-foreign-key": lambda k: (
        "Bearer " + jwt.encode(claims("x"), ec.generate_private_key(ec.SECP256R1()), "ES256", headers={"kid": k.kid})
    ),
    "es256-unknown-kid": lambda k: "Bearer " + jwt.encode(claims("x"), k.ec_key, "ES256", headers={"kid": "other"}),
}


@pytest.mark.parametrize("case", list(BAD_CREDENTIALS))
async def test_bad_credentials_are_rejected_with_json_and_never_reach_a_service(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys, case: str
) -> None:
    value = BAD_CREDENTIALS[case](keys)
    headers = {} if value is None else {"Authorization": value}
    async with http.get(gateway.base_url + PROTECTED, headers=headers) as response:
        body = await response.json()
    expected = (403, 7) if "audience" in case else (401, 16)
    assert (response.status, body["code"]) == expected, body
    assert body["message"]
    assert recorder.recorder.calls == []


async def test_token_in_the_query_string_is_not_accepted(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    url = f"{gateway.base_url}{PROTECTED}?access_token={keys.hs256()}"
    async with http.get(url) as response:
        body = await response.json()
    assert response.status == 401
    assert "Authorization: Bearer" in body["message"]
    assert recorder.recorder.calls == []


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (None, "Authorization: Bearer <jwt>"),
        ("Bearer test", "not a JWT"),
        ("Token abc", "must read 'Bearer <jwt>'"),
    ],
)
async def test_common_credential_mistakes_get_a_message_saying_what_to_send(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, header: str | None, fragment: str
) -> None:
    headers = {} if header is None else {"Authorization": header}
    async with http.get(gateway.base_url + PROTECTED, headers=headers) as response:
        body = await response.json()
    assert response.status == 401
    assert fragment in body["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_says_it_is_expired(gateway: EnvoyProcess, http: aiohttp.ClientSession, keys: Keys) -> None:
    headers = {"Authorization": f"Bearer {keys.es256(exp=NOW - 3600)}"}
    async with http.get(gateway.base_url + PROTECTED, headers=headers) as response:
        assert (await response.json())["message"] == "Jwt is expired"


async def test_hs256_and_es256_tokens_are_both_accepted(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    # Supabase's newer HS256 tokens carry a kid; the oct key has none, so it matches any.
    with_kid = jwt.encode(claims("legacy-kid"), keys.secret, algorithm="HS256", headers={"kid": "abc123"})
    for token in (keys.hs256("legacy"), with_kid, keys.es256("modern")):
        async with http.get(gateway.base_url + PROTECTED, headers={"Authorization": f"Bearer {token}"}) as response:
            assert response.status == 200, await response.text()
    assert [c.metadata["x-user-id"] for c in recorder.recorder.calls] == ["legacy", "legacy-kid", "modern"]


async def test_spoofed_identity_headers_are_replaced_by_the_token_subject(
    gateway: EnvoyProcess, http: aiohttp.ClientSession, recorder: RunningTestBackend, keys: Keys
) -> None:
    spoof = {"x-user-id": "attacker", "x-jwt-payload": "e30", "x-envoy-original-path": "/api/health"}
    async with http.get(
        gateway.base_url + PROTECTED, headers={**spoof, "Authorization": f"Bearer {keys.hs256('victim')}"}
    ) as response:
        assert response.status == 200
    async with http.get(gateway.base_url + "/api/health", headers=spoof) as response:
        assert response.status == 200
    protected, public = recorder.recorder.calls
    assert protected.metadata["x-user-id"] == "victim"
    assert "x-jwt-payload" not in protected.metadata
    assert "x-user-id" not in public.metadata


async def test_spoofed_identity_is_ignored_for_native_grpc(
    channel: grpc.aio.Channel, recorder: RunningTestBackend, keys: Keys
) -> None:
    stub = creator_pb2_grpc.CreatorServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ListUnlocked(creator_pb2.ListUnlockedRequest(), metadata=(("x-user-id", "attacker"),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert caught.value.details() == "Jwt is missing"
    metadata = (("x-user-id", "attacker"), ("authorization", f"Bearer {keys.es256('victim')}"))
    await stub.ListUnlocked(creator_pb2.ListUnlockedRequest(), metadata=metadata)
    assert [c.metadata["x-user-id"] for c in recorder.recorder.calls] == ["victim"]


@pytest.mark.parametrize("case", ["expired", "wrong-secret", "alg-none", "test-placeholder"])
async def test_bad_credentials_are_unauthenticated_for_native_grpc(
    channel: grpc.aio.Channel, recorder: RunningTestBackend, keys: Keys, case: str
) -> None:
    value = BAD_CREDENTIALS[case](keys)
    assert value is not None
    stub = creator_pb2_grpc.CreatorServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.SearchCreator(creator_pb2.SearchCreatorRequest(username="a"), metadata=(("authorization", value),))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert recorder.recorder.calls == []


@pytest.fixture
async def jwks_server(keys: Keys) -> AsyncIterator[str]:
    """A local stand-in for Supabase's /auth/v1/.well-known/jwks.json."""

    async def serve_jwks(request: web.Request) -> web.Response:
        return web.json_response(keys.jwks())

    app = web.Application()
    app.router.add_get("/auth/v1/.well-known/jwks.json", serve_jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/auth/v1/.well-known/jwks.json"
    await runner.cleanup()


async def test_remote_jwks_verifies_es256_and_rejects_hs256_when_no_secret_is_set(
    start_gateway: StartGateway, jwks_server: str, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(SUPABASE_JWT_SECRET=None, SUPABASE_JWKS_URL=jwks_server)
    results = []
    for token in (keys.es256(), keys.hs256()):
        async with http.get(gateway.base_url + PROTECTED, headers={"Authorization": f"Bearer {token}"}) as response:
            results.append(response.status)
    assert results == [200, 401]


async def test_secret_and_remote_jwks_together_accept_both_and_reject_expired(
    start_gateway: StartGateway, jwks_server: str, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(SUPABASE_JWKS_URL=jwks_server)
    results = []
    for token in (keys.es256(), keys.hs256(), keys.hs256(exp=NOW - 3600), keys.es256(exp=NOW - 3600)):
        async with http.get(gateway.base_url + PROTECTED, headers={"Authorization": f"Bearer {token}"}) as response:
            results.append((response.status, (await response.json()).get("message")))
    assert [status for status, _ in results] == [200, 200, 401, 401]
    assert results[2][1] == results[3][1] == "Jwt is expired"


def _self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A throwaway certificate for `host` (SAN DNS) and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{host}.crt", directory / f"{host}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.mark.parametrize(
    "trusted",
    # untrusted: Envoy holds its listener until the failing JWKS fetch times out (5 s), then rejects ES256 tokens
    [pytest.param(True, id="trusted-ca"), pytest.param(False, id="untrusted-ca", marks=pytest.mark.slow)],
)
async def test_https_jwks_is_fetched_only_from_a_certificate_the_ca_file_trusts(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys, tmp_path: Path, trusted: bool
) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    other_cert, _ = _self_signed(tmp_path, "elsewhere.example")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def serve_jwks(request: web.Request) -> web.Response:
        return web.json_response(keys.jwks())

    app = web.Application()
    app.router.add_get("/auth/v1/.well-known/jwks.json", serve_jwks)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    try:
        port = runner.addresses[0][1]
        gateway = await start_gateway(
            SUPABASE_JWT_SECRET=None,
            SUPABASE_JWKS_URL=f"https://localhost:{port}/auth/v1/.well-known/jwks.json",
            SUPABASE_JWKS_CA_FILE=str(cert if trusted else other_cert),
        )
        async with http.get(
            gateway.base_url + PROTECTED, headers={"Authorization": f"Bearer {keys.es256()}"}
        ) as response:
            assert response.status == (200 if trusted else 401), await response.text()
    finally:
        await runner.cleanup()


async def test_a_cached_token_is_rejected_once_it_expires(
    start_gateway: StartGateway, http: aiohttp.ClientSession, keys: Keys
) -> None:
    gateway = await start_gateway(SUPABASE_JWT_CLOCK_SKEW_S="1")
    headers = {"Authorization": f"Bearer {keys.hs256(exp=int(time.time()) + 1)}"}
    async with http.get(gateway.base_url + PROTECTED, headers=headers) as response:
        assert response.status == 200  # verified once, now in the JWT cache
    deadline = time.monotonic() + 10
    status, body = 200, {}
    while status == 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        async with http.get(gateway.base_url + PROTECTED, headers=headers) as response:
            status = response.status
            body = await response.json()
    assert (status, body["message"]) == (401, "Jwt is expired")
