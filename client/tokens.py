"""Development JWTs shaped like Supabase's, signed with the local stack's HS256 secret (`.run/stack.env`)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import jwt

STACK_ENV = Path(__file__).resolve().parents[1] / ".run" / "stack.env"
DEFAULT_ISSUER = "http://127.0.0.1:8080/auth/v1"


def read_stack_env(path: Path = STACK_ENV) -> dict[str, str]:
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip()
    return values


def user_id_for(name: str) -> str:
    """A stable user id (uuid, as Supabase uses) for a development user name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"following-dev-user:{name}"))


def mint(secret: str, issuer: str, user: str = "demo", lifetime_s: int = 3600, operator: bool = False) -> str:
    """A token for `user`; `operator` adds the role the gateway's operator-only routes (CDN queue, metrics,
    statistics) ask for, where Supabase keeps it: `app_metadata.role`, which only the project's admins can set."""
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": user_id_for(user),
        "email": f"{user}@example.com",
        "role": "authenticated",
        "aud": "authenticated",
        "iss": issuer,
        "iat": now,
        "exp": now + lifetime_s,
        "app_metadata": {"provider": "email", "providers": ["email"], **({"role": "operator"} if operator else {})},
    }
    return jwt.encode(claims, secret.encode(), algorithm="HS256")


def dev_token(user: str = "demo", operator: bool = False) -> str:
    """A token for the running local stack; raises FileNotFoundError when `make up` has not run."""
    values = read_stack_env()
    secret = values.get("SUPABASE_JWT_SECRET")
    if not secret:
        raise FileNotFoundError("no development secret in .run/stack.env: start the stack with `make up` first")
    return mint(secret, values.get("SUPABASE_JWT_ISSUER", DEFAULT_ISSUER), user, operator=operator)
