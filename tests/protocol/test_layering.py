"""The layers of docs/architecture.md, enforced by an AST scan of every module's imports.

1. **Packages import only the layers below them** (``ALLOWED``), and of another package only its
   public surface (``PUBLIC``): the package root, or the sans-IO API of its ``protocol``.
2. **Third-party libraries** belong to the package that wraps them (``THIRD_PARTY``).
3. **Sans-IO modules stay sans-IO**: they import neither I/O, clock, logging nor concurrency from
   the standard library, nor any module of this project that is not sans-IO itself.

Paths are data: a module that does not exist yet is skipped, not failed. The scanner is tested too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: The project's packages, bottom layer first.
PACKAGES = ("reactor", "eio", "sio", "cluster", "admin", "cli")

#: Which other project packages each package may import.
ALLOWED: dict[str, frozenset[str]] = {
    "reactor": frozenset(),
    "eio": frozenset({"reactor"}),
    "sio": frozenset({"reactor", "eio"}),
    "cluster": frozenset({"reactor", "eio", "sio"}),
    "admin": frozenset({"reactor", "eio", "sio"}),
    "cli": frozenset({"reactor", "eio", "sio", "cluster", "admin"}),
}

#: What a package may import of another: its root (``__init__`` with ``__all__``), and the public
#: sans-IO API of its protocol (for sans-IO code elsewhere, such as the cluster's codec).
PUBLIC = frozenset({"reactor", "eio", "eio.protocol", "sio", "sio.protocol", "cluster", "admin"})

#: Third-party libraries each package may use (the standard library is free, but see SANS_IO).
THIRD_PARTY: dict[str, frozenset[str]] = {
    "reactor": frozenset(),
    "eio": frozenset({"h11", "wsproto"}),
    # The msgpack parser and notepack (sio/protocol/notepack.py, imported there on first use:
    # the [msgpack] extra; the core installs without it).
    "sio": frozenset({"msgpack"}),
    # The Redis adapters (cluster/redis/, the [redis] extra): hiredis's RESP reader, msgpack.
    # GET /metrics (cluster/metrics.py, the [metrics] extra): prometheus_client.
    "cluster": frozenset({"hiredis", "msgpack", "prometheus_client"}),
    # The Admin UI's login (the [admin] extra), imported when a login is configured.
    "admin": frozenset({"bcrypt"}),
    "cli": frozenset({"click"}),
}

#: Globs (relative to the repository root) of the sans-IO modules.
SANS_IO_GLOBS = [
    "eio/protocol/**/*.py",
    "eio/errors.py",
    "eio/stats.py",
    "reactor/timers.py",
    "sio/protocol/**/*.py",
    "sio/errors.py",
    "sio/stats.py",
    "cluster/sticky.py",
    "cluster/recovery.py",
    "cluster/frames.py",
    "cluster/messages.py",
    "cluster/redis/resp.py",
    "cluster/redis/pubsub_format.py",
    "cluster/redis/streams_format.py",
]

#: Standard-library modules that do I/O, read the clock, log or run things concurrently.
FORBIDDEN = frozenset(
    {"socket", "selectors", "threading", "time", "logging", "asyncio", "os", "signal", "select"}
)

#: Dynamic imports would hide from this scan.
FORBIDDEN_DYNAMIC = frozenset({"importlib"})


def sans_io_files() -> list[Path]:
    found: set[Path] = set()
    for pattern in SANS_IO_GLOBS:
        found.update(path for path in ROOT.glob(pattern) if path.is_file())
    return sorted(found)


def package_files() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_module_path(name: str) -> Path | None:
    """The file of a module of this repository, or None if ``name`` is not one."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(source: str, importer: str, is_package: bool = False) -> list[str]:
    """Absolute names of the modules ``source`` imports (relative imports resolved)."""
    names: list[str] = []
    package = importer if is_package else importer.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            # "from . import x" may import the submodule x.
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                if project_module_path(submodule) is not None:
                    names.append(submodule)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "__import__"
        ):
            names.append("__import__")
    return names


# -- rule 1 and 2: packages ------------------------------------------------------------------------


def package_problem(importer: str, imported: str) -> str | None:
    """What is wrong with module ``importer`` importing ``imported``, or None."""
    own = importer.partition(".")[0]
    top = imported.partition(".")[0]
    if imported == "__import__" or top in FORBIDDEN_DYNAMIC:
        return f"dynamic import ({imported})"
    if top == own or top == "__future__":
        return None
    if top in PACKAGES:
        if top not in ALLOWED[own]:
            return f"{own} may not import {top} (a layer above it, or beside it)"
        if imported not in PUBLIC:
            return f"imports {imported}, a private module of {top} (import from {top})"
        return None
    if top in sys.stdlib_module_names:
        return None
    if top not in THIRD_PARTY[own]:
        return f"{own} may not use the library {top}"
    return None


def problems_of(path: Path, judge: Callable[[str, str], str | None]) -> list[str]:
    """``judge(importer, imported)`` of every import of the module at ``path``."""
    name = module_name(path)
    source = path.read_text(encoding="utf-8")
    found: list[str] = []
    for imported in imported_modules(source, name, path.name == "__init__.py"):
        problem = judge(name, imported)
        if problem is not None:
            found.append(f"{name}: {problem}")
    return found


PACKAGE_FILES = package_files()


def test_layering_scans_every_package() -> None:
    scanned = {module_name(path).partition(".")[0] for path in PACKAGE_FILES}
    assert scanned == set(PACKAGES)
    assert len(PACKAGE_FILES) > 40


@pytest.mark.parametrize(
    "path", PACKAGE_FILES, ids=[p.relative_to(ROOT).as_posix() for p in PACKAGE_FILES]
)
def test_layering_package_imports_follow_the_map(path: Path) -> None:
    assert problems_of(path, package_problem) == []


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_layering_public_modules_declare_their_api(name: str) -> None:
    path = project_module_path(name)
    assert path is not None and path.name == "__init__.py", name
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "__all__" in assigned, f"{name} has no __all__"


# -- rule 3: sans-IO -------------------------------------------------------------------------------


def classify(imported: str, sans_io: set[str]) -> str | None:
    """What is wrong with importing ``imported`` from a sans-IO module, or None."""
    top = imported.partition(".")[0]
    if imported == "__import__" or top in FORBIDDEN_DYNAMIC:
        return f"dynamic import ({imported})"
    if top in FORBIDDEN:
        return f"imports {imported}"
    if project_module_path(imported) is not None and imported not in sans_io:
        return f"imports {imported}, which is not sans-IO"
    return None


FILES = sans_io_files()
SANS_IO_MODULES = {module_name(path) for path in FILES}


def test_layering_scans_the_sans_io_cores() -> None:
    scanned = {path.relative_to(ROOT).as_posix() for path in FILES}
    for expected in (
        "eio/protocol/packet.py",
        "eio/protocol/payload.py",
        "eio/protocol/session.py",
        "eio/protocol/request.py",
        "reactor/timers.py",
        "sio/protocol/packet.py",
        "sio/protocol/connection.py",
        "cluster/frames.py",
        "cluster/messages.py",
    ):
        assert expected in scanned


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_layering_sans_io_module_imports_no_io(path: Path) -> None:
    assert problems_of(path, lambda _importer, imported: classify(imported, SANS_IO_MODULES)) == []


# -- the scanner itself catches what it should ----------------------------------------------------

SCANNER_CASES = [
    ("import socket", ["socket"]),
    ("import os.path", ["os.path"]),
    ("from time import monotonic", ["time"]),
    ("import logging as log", ["logging"]),
    ("def f():\n    import threading", ["threading"]),
    ("try:\n    import asyncio\nexcept ImportError:\n    pass", ["asyncio"]),
    ("from ..net import http", ["eio.net", "eio.net.http"]),
    ("from .. import server", ["eio", "eio.server"]),
    ("from .packet import Packet", ["eio.protocol.packet"]),
    ("from . import packet", ["eio.protocol", "eio.protocol.packet"]),
    ("x = __import__('socket')", ["__import__"]),
]


@pytest.mark.parametrize(("source", "expected"), SCANNER_CASES, ids=[c[0] for c in SCANNER_CASES])
def test_layering_scanner_resolves_imports(source: str, expected: list[str]) -> None:
    assert imported_modules(source, "eio.protocol.example") == expected


def test_layering_scanner_flags_io_and_shell_imports() -> None:
    # What a module in eio/protocol that breaks every rule would be told.
    source = (
        "import selectors\nfrom signal import SIGINT\nfrom ..server import EngineIOServer\n"
        "import importlib\nfrom .payload import decode_payload\nfrom ..errors import ParseError\n"
    )
    problems = [
        classify(imported, SANS_IO_MODULES)
        for imported in imported_modules(source, "eio.protocol.example")
    ]
    assert [p for p in problems if p is not None] == [
        "imports selectors",
        "imports signal",
        "imports eio.server, which is not sans-IO",
        "dynamic import (importlib)",
    ]


PACKAGE_CASES = [
    # (importer, imported, problem or None)
    ("sio.socket", "eio", None),
    ("sio.socket", "reactor", None),
    ("sio.socket", "sio.events", None),
    ("cluster.frames", "sio.protocol", None),
    ("cli.main", "cluster", None),
    ("eio.net.http", "h11", None),
    ("eio.server", "collections.abc", None),
    ("sio.socket", "eio.protocol.request", "imports eio.protocol.request, a private module of eio"),
    ("cluster.bus", "reactor.stream", "imports reactor.stream, a private module of reactor"),
    ("eio.server", "sio", "eio may not import sio (a layer above it, or beside it)"),
    ("reactor.loop", "eio", "reactor may not import eio (a layer above it, or beside it)"),
    ("sio.server", "cluster", "sio may not import cluster (a layer above it, or beside it)"),
    ("sio.socket", "h11", "sio may not use the library h11"),
    ("reactor.loop", "wsproto", "reactor may not use the library wsproto"),
    ("cluster.adapter", "importlib", "dynamic import (importlib)"),
]


@pytest.mark.parametrize(
    ("importer", "imported", "problem"),
    PACKAGE_CASES,
    ids=[f"{c[0]}->{c[1]}" for c in PACKAGE_CASES],
)
def test_layering_package_rule_judges(importer: str, imported: str, problem: str | None) -> None:
    found = package_problem(importer, imported)
    if problem is None:
        assert found is None
    else:
        assert found is not None and found.startswith(problem)
