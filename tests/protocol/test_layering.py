"""The sans-IO layers stay sans-IO: an AST scan of their imports.

A sans-IO module may import neither I/O, clock, logging nor concurrency from the standard library,
nor any module of this project that is not sans-IO itself (``eio.server`` and ``eio.net`` pull in
sockets). Paths are data: a layer that does not exist yet is skipped, not failed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Globs (relative to the repository root) of the sans-IO modules.
SANS_IO_GLOBS = [
    "eio/protocol/**/*.py",
    "eio/errors.py",
    "reactor/timers.py",
    "sio/protocol/**/*.py",
    "sio/errors.py",
    "cluster/sticky.py",
    "cluster/frames.py",
    "cluster/messages.py",
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


def violations(path: Path, sans_io: set[str]) -> list[str]:
    name = module_name(path)
    source = path.read_text(encoding="utf-8")
    found: list[str] = []
    for imported in imported_modules(source, name, path.name == "__init__.py"):
        problem = classify(imported, sans_io)
        if problem is not None:
            found.append(f"{name}: {problem}")
    return found


FILES = sans_io_files()
SANS_IO_MODULES = {module_name(path) for path in FILES}


def test_layering_scans_the_engine_io_core() -> None:
    scanned = {path.relative_to(ROOT).as_posix() for path in FILES}
    for expected in (
        "eio/protocol/packet.py",
        "eio/protocol/payload.py",
        "eio/protocol/session.py",
        "eio/protocol/request.py",
        "reactor/timers.py",
    ):
        assert expected in scanned


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_layering_sans_io_module_imports_no_io(path: Path) -> None:
    assert violations(path, SANS_IO_MODULES) == []


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
