"""The wire conformance suite: the same black-box tests against our server or Node's.

``--target ours`` (the default) runs ``servers/eio_server.py``; ``--target node`` runs
``tests/node/eio_server.js`` (the official ``engine.io`` package). Either is a subprocess built
from a JSON config whose keys are the reference server's option names:

``pingInterval``, ``pingTimeout``, ``upgradeTimeout`` (ms), ``maxHttpBufferSize`` (bytes),
``path``, ``transports``, ``cors`` (``{"origin": "*" | [origins], "credentials": bool}``),
``allowRequest`` (``{"denyHeader": name, "message": text}``: refuse handshakes carrying that
header), ``httpCompression`` (``false`` or ``{"threshold": bytes}``), ``perMessageDeflate``.

The Socket.IO tests use the ``sio`` kind of server (``server_factory(kind="sio", ...)``):
``servers/sio_server.py`` or ``tests/node/sio_wire_server.js`` (the official ``socket.io``
package), running the same app, with ``connectTimeout`` (ms) and ``maxAttachments`` as well.

One server runs per distinct kind and config per session, started on first use and stopped at
the end.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .helpers import Server

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
NODE_DIR = REPO / "tests" / "node"
#: kind -> (our launcher, Node launcher, the npm package the Node one needs)
LAUNCHERS = {
    "eio": (HERE / "servers" / "eio_server.py", NODE_DIR / "eio_server.js", "engine.io"),
    "sio": (HERE / "servers" / "sio_server.py", NODE_DIR / "sio_wire_server.js", "socket.io"),
}

#: Seconds a server may take to print its ``listening on`` line.
STARTUP_TIMEOUT = 15.0

#: The official engine.io-protocol test suite's server: 300/200 ms heartbeat, 1e6 payload, any
#: origin, ``/engine.io/``, every message echoed.
DEFAULT_PROFILE: dict[str, Any] = {
    "path": "/engine.io/",
    "pingInterval": 300,
    "pingTimeout": 200,
    "maxHttpBufferSize": 1_000_000,
    "cors": {"origin": "*", "credentials": True},
}

#: The default profile with a heartbeat too slow to get in the way of multi-step tests.
RELAXED = {"pingInterval": 20_000, "pingTimeout": 20_000}

#: The Socket.IO suite's server: ``/socket.io/``, a heartbeat out of the way (tests that need
#: one ask for it), connectTimeout 1 s, maxHttpBufferSize 1e6, any origin.
SIO_PROFILE: dict[str, Any] = {
    "path": "/socket.io/",
    "pingInterval": 20_000,
    "pingTimeout": 20_000,
    "connectTimeout": 1000,
    "maxHttpBufferSize": 1_000_000,
    "cors": {"origin": "*", "credentials": True},
}

PROFILES = {"eio": DEFAULT_PROFILE, "sio": SIO_PROFILE}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--target",
        choices=("ours", "node"),
        default="ours",
        help="which Engine.IO server the wire suite runs against (default: ours)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ours_only(reason): the test cannot run against the Node server"
    )


def _target(config: pytest.Config) -> str:
    # The option exists only when this conftest is an initial one (pytest tests/protocol/wire).
    target: str = config.getoption("--target", default="ours")
    return target


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _target(config) != "node":
        return
    for item in items:
        marker = item.get_closest_marker("ours_only")
        if marker is not None and HERE in Path(str(item.fspath)).parents:
            reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
            item.add_marker(pytest.mark.skip(reason=f"ours only: {reason}"))


class _Process:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc = proc
        self.log = log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _read_listening_line(proc: subprocess.Popen[bytes], log: Path) -> tuple[str, int]:
    assert proc.stdout is not None
    deadline = time.monotonic() + STARTUP_TIMEOUT
    buffer = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while b"\n" not in buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise RuntimeError(f"server did not start in time; log:\n{log.read_text()}")
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"server exited ({proc.wait()}); log:\n{log.read_text()}")
            buffer += chunk
    line = buffer.split(b"\n", 1)[0].decode().strip()
    prefix = "listening on "
    if not line.startswith(prefix):
        raise RuntimeError(f"unexpected first line {line!r}; log:\n{log.read_text()}")
    host, _, port = line[len(prefix) :].rpartition(":")
    return host, int(port)


def _command(target: str, kind: str, config_json: str) -> list[str]:
    ours, theirs, package = LAUNCHERS[kind]
    if target == "ours":
        return [sys.executable, str(ours), config_json]
    node = shutil.which("node")
    if node is None:
        pytest.fail("--target node needs node on PATH")
    if not (NODE_DIR / "node_modules" / package).is_dir():
        pytest.fail("--target node needs the npm test packages: run `make npm`")
    return [node, str(theirs), config_json]


ServerFactory = Callable[..., Server]


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> str:
    return _target(pytestconfig)


@pytest.fixture(scope="session")
def server_factory(
    target: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    """``server_factory(kind="eio", **overrides)``: the server of that kind for its default
    profile plus ``overrides`` (a None value drops a key)."""
    cache: dict[str, Server] = {}
    processes: list[_Process] = []
    logs = tmp_path_factory.mktemp(f"eio-servers-{target}")

    def start(kind: str = "eio", **overrides: Any) -> Server:
        config = {**PROFILES[kind], **overrides}
        config = {key: value for key, value in config.items() if value is not None}
        config_json = json.dumps(config, sort_keys=True)
        key = f"{kind} {config_json}"
        server = cache.get(key)
        if server is not None:
            return server
        log = logs / f"server-{len(processes)}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                _command(target, kind, config_json),
                stdout=subprocess.PIPE,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
                cwd=REPO,
                env=env,
            )
        process = _Process(proc, log)
        processes.append(process)
        try:
            host, port = _read_listening_line(proc, log)
        except BaseException:
            process.stop()
            raise
        server = cache[key] = Server(target, host, port, config)
        return server

    yield start
    for process in processes:
        process.stop()


@pytest.fixture
def server(server_factory: ServerFactory) -> Server:
    """The official suite's server: 300/200 ms heartbeat (tests that pong or finish quickly)."""
    return server_factory()


@pytest.fixture
def relaxed(server_factory: ServerFactory) -> Server:
    """The default profile with a 20 s heartbeat, for tests with many steps."""
    return server_factory(**RELAXED)


@pytest.fixture
def sio_server(server_factory: ServerFactory) -> Server:
    """The Socket.IO suite's server (``SIO_PROFILE``)."""
    return server_factory(kind="sio")
