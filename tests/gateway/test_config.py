"""The rendered Envoy configuration: every key variant passes `envoy --mode validate`; settings errors name the
variable; no secret lands in the file; the admin API stays on loopback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
import yaml

from services.gateway.config import JWKS_ENV, render
from services.gateway.lua import literal
from services.gateway.run import envoy_path, validate
from services.gateway.settings import GatewaySettings, SettingsError
from tests.gateway.backends import RunningTestBackend
from tests.gateway.envoys import free_port, gateway_env, wait_until_healthy
from tests.gateway.tokens import ISSUER, Keys

SECRET = "validate-only-secret-with-at-least-32-characters"

VARIANTS: dict[str, dict[str, str]] = {
    "hs256-only": {"SUPABASE_JWT_SECRET": SECRET},
    "jwks-file-only": {"SUPABASE_JWKS_FILE": "<jwks>"},
    "jwks-url-only": {"SUPABASE_JWKS_URL": "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"},
    "hs256-and-jwks-file": {"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWKS_FILE": "<jwks>"},
    "hs256-with-metrics-listener": {"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_METRICS_LISTEN": "0.0.0.0:9902"},
    "hs256-and-jwks-url": {
        "SUPABASE_JWT_SECRET": SECRET,
        "SUPABASE_JWKS_URL": "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json",
    },
}


def settings_for(env: dict[str, str], jwks_file: Path) -> GatewaySettings:
    full = {"SUPABASE_JWT_ISSUER": ISSUER, **env}
    return GatewaySettings.from_env({k: str(jwks_file) if v == "<jwks>" else v for k, v in full.items()})


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_key_variant_renders_a_config_envoy_accepts(variant: str, jwks_file: Path, tmp_path: Path) -> None:
    settings = settings_for(VARIANTS[variant], jwks_file)
    rendered = render(settings)
    result = validate(settings, rendered, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-2000:]
    assert "OK" in result.stdout + result.stderr


def test_defaults_listen_on_loopback_and_route_to_the_local_services(jwks_file: Path) -> None:
    config = yaml.safe_load(render(settings_for(VARIANTS["hs256-only"], jwks_file)).yaml)
    assert config["admin"]["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 9901}
    assert config["static_resources"]["listeners"][0]["address"]["socket_address"] == {
        "address": "127.0.0.1",
        "port_value": 8080,
    }
    endpoints = {
        c["name"]: c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
        for c in config["static_resources"]["clusters"]
    }
    assert endpoints["creator"]["port_value"] == 50051
    assert endpoints["cdn"]["port_value"] == 50053


def test_the_hs256_secret_is_passed_by_environment_not_written_to_the_file(jwks_file: Path) -> None:
    rendered = render(settings_for(VARIANTS["hs256-and-jwks-file"], jwks_file))
    assert SECRET not in rendered.yaml
    assert JWKS_ENV in rendered.yaml
    keys = rendered.environment[JWKS_ENV]
    assert '"kty": "oct"' in keys
    assert '"kty": "EC"' in keys


def test_a_broken_config_fails_validation(jwks_file: Path, tmp_path: Path) -> None:
    settings = settings_for(VARIANTS["hs256-only"], jwks_file)
    rendered = render(settings)
    broken = type(rendered)(yaml=rendered.yaml.replace("creator.v1.CreatorService", "creator.v1.NoSuchService"))
    assert validate(settings, broken, tmp_path).returncode != 0


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SUPABASE_JWT_SECRET"),
        ({"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWT_ISSUER": ""}, "SUPABASE_JWT_ISSUER"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_ADMIN_LISTEN": "0.0.0.0:9901"}, "GATEWAY_ADMIN_LISTEN"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_LISTEN": "8080"}, "GATEWAY_LISTEN"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_METRICS_LISTEN": "x"}, "GATEWAY_METRICS_LISTEN"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_RATE_LIMIT_RPS": "many"}, "GATEWAY_RATE_LIMIT_RPS"),
        ({"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWT_CLOCK_SKEW_S": "0"}, "SUPABASE_JWT_CLOCK_SKEW_S"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_READ_TIMEOUT_S": "-1"}, "GATEWAY_READ_TIMEOUT_S"),
        ({"SUPABASE_JWT_SECRET": SECRET, "CORS_ORIGINS": "localhost:3000"}, "CORS_ORIGINS"),
        ({"SUPABASE_JWKS_URL": "ftp://x/jwks.json"}, "SUPABASE_JWKS_URL"),
        ({"SUPABASE_JWKS_FILE": "/nonexistent/jwks.json"}, "SUPABASE_JWKS_FILE"),
        ({"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWT_MAX_LIFETIME_S": "10"}, "SUPABASE_JWT_MAX_LIFETIME_S"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_OPERATOR_CLAIM": "app_metadata..role"}, "GATEWAY_OPERATOR_CLAIM"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_USER_RATE_LIMIT_RPS": "0"}, "GATEWAY_USER_RATE_LIMIT_RPS"),
        ({"SUPABASE_JWT_SECRET": SECRET, "GATEWAY_MAX_PATH_BYTES": "100"}, "GATEWAY_MAX_PATH_BYTES"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        GatewaySettings.from_env({"SUPABASE_JWT_ISSUER": ISSUER, **env})


def test_cors_origins_accept_a_comma_separated_list() -> None:
    settings = GatewaySettings.from_env(
        {"SUPABASE_JWT_SECRET": SECRET, "SUPABASE_JWT_ISSUER": ISSUER, "CORS_ORIGINS": "http://a:1, https://b.io/"}
    )
    assert settings.cors_origins == ("http://a:1", "https://b.io")


def test_render_command_writes_the_yaml_and_names_the_needed_environment(tmp_path: Path, keys: Keys) -> None:
    out = tmp_path / "envoy.yaml"
    env = {"SUPABASE_JWT_SECRET": keys.secret, "SUPABASE_JWT_ISSUER": ISSUER, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway.run", "render", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert JWKS_ENV in result.stderr
    assert yaml.safe_load(out.read_text())["static_resources"]["listeners"][0]["name"] == "api"


def test_render_command_exits_2_with_the_variable_when_settings_are_bad() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.gateway.run", "render"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "SUPABASE_JWT_SECRET" in result.stderr


async def test_run_execs_envoy_which_then_serves_the_api(
    backend: RunningTestBackend, keys: Keys, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    listen, admin = free_port(), free_port()
    env = {
        **os.environ,
        **gateway_env(backend, keys, tmp_path, GATEWAY_LISTEN=f"127.0.0.1:{listen}"),
        "GATEWAY_ADMIN_LISTEN": f"127.0.0.1:{admin}",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.gateway.run", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await wait_until_healthy(http, listen, process, "gateway")
        executable = await asyncio.to_thread(os.readlink, f"/proc/{process.pid}/exe")
        assert await asyncio.to_thread(os.path.samefile, executable, envoy_path())  # exec'd: same PID as Envoy
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


def test_settings_become_lua_literals_never_lua_code() -> None:
    hostile = 'x"] = 1; os.exit() --[['
    escaped = "".join(c if c.isalnum() else f"\\{ord(c):03d}" for c in hostile)
    assert literal({"role": hostile}) == f'{{["role"] = "{escaped}"}}'
    assert "\\0321" in escaped  # a space before a digit stays a space
    assert literal("é") == '"\\195\\169"'
    assert literal({"a", "b"}) == '{["a"] = true, ["b"] = true}'
