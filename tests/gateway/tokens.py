"""Keys and JWTs for the gateway tests, minted with PyJWT like Supabase Auth does (HS256 legacy secret, ES256 JWKS)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER = "http://127.0.0.1:54321/auth/v1"
AUDIENCE = "authenticated"


def _new_ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Keys:
    secret: str = "test-only-hs256-secret-with-at-least-32-characters"
    ec_key: ec.EllipticCurvePrivateKey = field(default_factory=_new_ec_key)
    kid: str = "test-es256"

    def jwks(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.ec_key.public_key()))
        return {"keys": [{**public, "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def public_pem(self) -> bytes:
        return self.ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def hs256(self, sub: str = "user-hs", **overrides: Any) -> str:
        return jwt.encode(claims(sub, **overrides), self.secret, algorithm="HS256")

    def es256(self, sub: str = "user-es", **overrides: Any) -> str:
        return jwt.encode(claims(sub, **overrides), self.ec_key, algorithm="ES256", headers={"kid": self.kid})


def claims(sub: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "role": "authenticated",
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(sub: str = "user-none") -> str:
    """An `alg: none` token: header.payload. with an empty signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims(sub)).encode())
    return f"{header}.{payload}."


def hs256_with_key_bytes(key: bytes, sub: str = "user-confused") -> str:
    """HS256 signed with arbitrary bytes, e.g. the EC public key's PEM (algorithm confusion); PyJWT refuses PEM keys."""
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims(sub)).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"
