"""The layout's rules, read from the source with `ast` (nothing is imported or run):

- a service folder is a unit: no module under `services/<a>/` imports `services.<b>` for another service b;
- inside a service, adapters (PostgreSQL, gRPC clients, the upstream, storage) import no use-case module;
- SQL statements live in adapters only, and pure domain modules import no I/O library;
- no module is named after another service (a reader would take `creator/inference.py` for the service);
- another service's gRPC stubs (`<service>.v1.<service>_pb2_grpc`) are used by its client module alone
  (`<service>_client.py`), so every call to that service goes through one adapter;
- the services, the shared runtime and the fakes read environment variables through `following.settings.EnvReader`
  alone (no `os.environ.get`, `os.environ[...]` or `os.getenv`); the gateway's deliberate copy of the reader takes the
  environment as a mapping, and the model build tools are excepted below, with why.

Each rule runs against the real tree and, to prove it can fail, against a small tree with the fault planted.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (importing module, imported service) pairs allowed to cross a service boundary, each with why. None today: the
# gateway's config and docs helpers import only `services.gateway` and the generated descriptors.
CROSS_SERVICE_EXCEPTIONS: dict[tuple[str, str], str] = {}
# Folders or files that may read the process environment themselves, each with why.
ENVIRONMENT_EXCEPTIONS: dict[str, str] = {
    "services/inference/modelbuild/": "`make models` and the image's models stage, which carries no following/",
    "services/inference/modelcache.py": "imported by the build tools there; the service passes what its reader read",
}


@dataclass(frozen=True)
class Layers:
    """A service's adapters, use cases and pure domain modules, as dotted names relative to the service package
    (a package name covers its modules)."""

    adapters: tuple[str, ...]
    use_cases: tuple[str, ...]
    domain: tuple[str, ...] = ()


LAYERS = {
    "creator": Layers(
        adapters=(
            "store",
            "unlocks",
            "backlog",
            "budget",
            "quota",
            "tracking_store",
            "discovery_store",
            "embedding_store",
            "inference_client",
            "cdn_client",
            "upstream",
            "dbguard",
        ),
        use_cases=(
            "search",
            "reports",
            "workers",
            "scheduler",
            "handlers",
            "tracking_handlers",
            "discovery_handlers",
            "health",
            "server",
        ),
        domain=("usernames", "captions", "analytics", "media", "records", "growth", "authenticity", "embedding"),
    ),
    "cdn": Layers(
        adapters=("store", "memory_queue", "storage", "downloads", "listener", "fileserver"),
        use_cases=("handlers", "worker", "maintenance", "mirror", "server"),
        domain=("jobs", "targets", "imaging", "breaker", "ratelimit"),
    ),
    "inference": Layers(
        adapters=("runners", "featurizers", "modelcache"),
        use_cases=("analyzer", "embedder", "handlers", "server", "evaluate"),
        domain=("analysis", "texts"),
    ),
}
# Services that own a schema: their SQL belongs in their adapters.
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|LISTEN|NOTIFY|CREATE|ALTER|DROP|TRUNCATE)\s")
IO_LIBRARIES = ("grpc", "asyncpg", "aiohttp", "httpx", "boto3", "botocore", "socket", "urllib.request")


def services(root: Path) -> list[str]:
    return sorted(p.parent.name for p in (root / "services").glob("*/__init__.py"))


def modules(root: Path, service: str) -> Iterator[tuple[str, Path]]:
    """(dotted name relative to the service, path) of every module of a service."""
    base = root / "services" / service
    for path in sorted(base.rglob("*.py")):
        parts = path.relative_to(base).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(path: Path, package: str) -> Iterator[str]:
    """Every module name a file imports (relative imports resolved against `package`), `from a import b` as both."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def package_of(service: str, name: str, path: Path) -> str:
    dotted = f"services.{service}" + (f".{name}" if name else "")
    return dotted if path.name == "__init__.py" else dotted.rpartition(".")[0]


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def cross_service_imports(root: Path) -> list[str]:
    found = []
    names = services(root)
    for service in names:
        for name, path in modules(root, service):
            for imported in imports(path, package_of(service, name, path)):
                other = imported.split(".")[1] if imported.startswith("services.") else None
                if other in names and other != service and (f"{service}.{name}", other) not in CROSS_SERVICE_EXCEPTIONS:
                    found.append(
                        f"services/{service}/{path.relative_to(root / 'services' / service)} imports {imported}"
                    )
    return sorted(set(found))


def adapter_imports_of_use_cases(root: Path, layers: dict[str, Layers]) -> list[str]:
    found = []
    for service, layer in layers.items():
        use_cases = tuple(f"services.{service}.{name}" for name in layer.use_cases)
        for name, path in modules(root, service):
            if within(name, layer.adapters):
                for imported in imports(path, package_of(service, name, path)):
                    if within(imported, use_cases):
                        found.append(f"adapter services.{service}.{name} imports the use case {imported}")
    return sorted(set(found))


def sql_outside_adapters(root: Path, layers: dict[str, Layers]) -> list[str]:
    found = []
    for service, layer in layers.items():
        for name, path in modules(root, service):
            if within(name, layer.adapters):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                    found.append(f"services.{service}.{name}:{node.lineno} holds SQL: {node.value.strip()[:40]!r}")
    return found


def io_in_domain(root: Path, layers: dict[str, Layers]) -> list[str]:
    found = []
    for service, layer in layers.items():
        for name, path in modules(root, service):
            if within(name, layer.domain):
                for imported in imports(path, package_of(service, name, path)):
                    if within(imported, IO_LIBRARIES) or imported.endswith("_pb2_grpc"):
                        found.append(f"domain module services.{service}.{name} imports {imported}")
    return sorted(set(found))


def modules_named_after_services(root: Path) -> list[str]:
    names = set(services(root))
    return [
        f"services/{service}/{path.relative_to(root / 'services' / service)} is named after the {path.stem} service"
        for service in names
        for _, path in modules(root, service)
        if path.stem in names - {service}
    ]


def stubs_outside_clients(root: Path) -> list[str]:
    found = []
    names = services(root)
    for service in names:
        for name, path in modules(root, service):
            for imported in imports(path, package_of(service, name, path)):
                other = imported.split(".")[0]
                stub = f"{other}.v1.{other}_pb2_grpc"
                if other in names and other != service and within(imported, (stub,)) and name != f"{other}_client":
                    found.append(f"services.{service}.{name} calls the {other} service without {other}_client.py")
    return sorted(set(found))


def environment_reads(root: Path, excepted: tuple[str, ...] = tuple(ENVIRONMENT_EXCEPTIONS)) -> list[str]:
    """`os.environ.get(...)`, `os.environ[...]`, `... in os.environ` and `os.getenv(...)` in the services, `following/`
    (but its reader, `following/settings.py`) and the fakes, outside the `excepted` paths."""
    found = []
    paths = [*(root / "services").rglob("*.py"), *(root / "following").rglob("*.py"), *(root / "fakes").rglob("*.py")]
    for path in sorted(paths):
        where = path.relative_to(root).as_posix()
        if where == "following/settings.py" or where.startswith(excepted):
            continue
        reads = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            read = None
            if isinstance(node, ast.Attribute) and _is_os_environ(node.value) and node.attr == "get":
                read = "os.environ.get"
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and _is_os_environ(node.value):
                read = "os.environ[...]"
            elif isinstance(node, ast.Compare) and any(_is_os_environ(c) for c in node.comparators):
                read = "in os.environ"
            elif isinstance(node, ast.Attribute) and node.attr == "getenv" and _is_name(node.value, "os"):
                read = "os.getenv"
            if read is not None and isinstance(node, ast.expr):
                reads.append((node.lineno, read))
        found += [f"{where}:{line} reads {read}" for line, read in sorted(reads)]
    return found


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _is_os_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ" and _is_name(node.value, "os")


def test_no_service_imports_another_services_package() -> None:
    assert cross_service_imports(ROOT) == []


def test_adapters_import_no_use_case_module() -> None:
    for service, layer in LAYERS.items():
        present = {name for name, _ in modules(ROOT, service)}
        missing = [name for name in (*layer.adapters, *layer.domain) if not within(name, tuple(present))]
        assert not missing, f"LAYERS names modules services.{service} no longer has: {missing}"
    assert adapter_imports_of_use_cases(ROOT, LAYERS) == []


def test_sql_statements_live_in_adapters_only() -> None:
    assert sql_outside_adapters(ROOT, LAYERS) == []


def test_pure_domain_modules_import_no_io_library() -> None:
    assert io_in_domain(ROOT, LAYERS) == []


def test_no_module_is_named_after_another_service() -> None:
    assert modules_named_after_services(ROOT) == []


def test_another_services_stubs_are_used_by_its_client_module_only() -> None:
    assert stubs_outside_clients(ROOT) == []


def test_environment_variables_are_read_through_the_settings_reader_only() -> None:
    assert environment_reads(ROOT) == []


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"services/a/__init__.py": "", "services/b/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_each_rule_catches_its_fault_in_a_planted_tree(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "services/a/store.py": "from services.a import search\nfrom ..b import jobs\n",
            "services/a/search.py": 'import services.b.store\nQUERY = """\nSELECT 1"""\n',
            "services/a/plan.py": "import grpc\nfrom cdn.v1 import cdn_pb2_grpc\n",
            "services/a/b.py": "",
            "services/a/health.py": "from b.v1 import b_pb2, b_pb2_grpc\n",
            "services/a/b_client.py": "from b.v1 import b_pb2_grpc\n",
            "services/a/settings.py": 'import os\nA = os.environ.get("A")\nB = os.environ["B"]\nC = "C" in os.environ',
            "following/env.py": 'import os\nD = os.getenv("D")\nos.environ.setdefault("E", "1")\nF = dict(os.environ)',
            "following/settings.py": "import os\nENV = os.environ.get\n",
            "services/b/build/tool.py": 'import os\nG = os.environ.get("G")\n',
        },
    )
    layers = {"a": Layers(adapters=("store",), use_cases=("search",), domain=("plan",))}
    assert cross_service_imports(root) == [
        "services/a/search.py imports services.b.store",
        "services/a/store.py imports services.b",
        "services/a/store.py imports services.b.jobs",
    ]
    assert adapter_imports_of_use_cases(root, layers) == [
        "adapter services.a.store imports the use case services.a.search"
    ]
    assert sql_outside_adapters(root, layers) == ["services.a.search:2 holds SQL: 'SELECT 1'"]
    assert io_in_domain(root, layers) == [
        "domain module services.a.plan imports cdn.v1.cdn_pb2_grpc",
        "domain module services.a.plan imports grpc",
    ]
    assert modules_named_after_services(root) == ["services/a/b.py is named after the b service"]
    assert stubs_outside_clients(root) == ["services.a.health calls the b service without b_client.py"]
    assert environment_reads(root, excepted=("services/b/build/",)) == [
        "following/env.py:2 reads os.getenv",
        "services/a/settings.py:2 reads os.environ.get",
        "services/a/settings.py:3 reads os.environ[...]",
        "services/a/settings.py:4 reads in os.environ",
    ]
