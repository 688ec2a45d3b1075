"""Our Engine.IO server in-process: a reactor on a thread, a handler that records what it sees.

Tests talk to it with the raw wire clients and wait on the handler's queue (always with a
timeout). Anything done to the server from a test goes through ``ServerThread.call``, which runs
it on the reactor thread and waits for the result.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
from protocol.wire.helpers import Server as WireServer

from eio import (
    DisconnectReason,
    EngineIOConfig,
    EngineIOServer,
    EngineSocket,
    HttpHandler,
)
from reactor import Reactor

from .cluster_support import ClientLoop
from .tls_support import TlsFiles, make_tls_files

T = TypeVar("T")

#: Seconds any wait in these tests may take before it fails.
WAIT = 15.0


@dataclass(frozen=True)
class Event:
    kind: str  # "connect", "message", "binary" or "disconnect"
    sid: str
    data: Any = None


class RecordingHandler:
    """Records every callback in a queue; echoes messages back when ``echo`` is set."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo
        self.events: queue.Queue[Event] = queue.Queue()
        self.sockets: dict[str, EngineSocket] = {}

    def on_connect(self, socket: EngineSocket) -> None:
        self.sockets[socket.sid] = socket
        self.events.put(Event("connect", socket.sid, socket.transport))

    def on_message(self, socket: EngineSocket, data: str) -> None:
        self.events.put(Event("message", socket.sid, data))
        if self.echo:
            socket.send(data)

    def on_binary(self, socket: EngineSocket, data: bytes) -> None:
        self.events.put(Event("binary", socket.sid, data))
        if self.echo:
            socket.send_binary(data)

    def on_disconnect(self, socket: EngineSocket, reason: DisconnectReason) -> None:
        self.events.put(Event("disconnect", socket.sid, reason))

    # -- waiting --------------------------------------------------------------------------------

    def next_event(self, timeout: float = WAIT) -> Event:
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no handler event within {timeout}s") from None

    def wait_for(self, kind: str, sid: str | None = None, timeout: float = WAIT) -> Event:
        """The next event of ``kind`` (for ``sid``), skipping others."""
        while True:
            event = self.next_event(timeout)
            if event.kind == kind and (sid is None or event.sid == sid):
                return event

    def wait_disconnect(self, sid: str, timeout: float = WAIT) -> DisconnectReason:
        reason = self.wait_for("disconnect", sid, timeout).data
        assert isinstance(reason, DisconnectReason)
        return reason

    def assert_quiet(self, timeout: float = 0.3) -> None:
        """No further event for ``timeout`` seconds."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected handler event {event}")


class ServerThread:
    """An ``EngineIOServer`` listening on 127.0.0.1, its reactor running on a thread."""

    def __init__(
        self,
        config: EngineIOConfig,
        handler: RecordingHandler,
        http_handler: HttpHandler | None = None,
    ) -> None:
        self.handler = handler
        self.reactor = Reactor()
        self.server = EngineIOServer(self.reactor, handler, config, http_handler=http_handler)
        self.address = self.server.listen("127.0.0.1", 0)
        self.thread = threading.Thread(target=self.reactor.run, name="reactor", daemon=True)
        self.thread.start()

    @property
    def wire(self) -> WireServer:
        """This server as the wire suite's helpers know servers."""
        config = self.server.config
        return WireServer(
            "ours",
            self.address[0],
            self.address[1],
            {
                "path": config.path,
                "pingInterval": config.ping_interval_ms,
                "pingTimeout": config.ping_timeout_ms,
                "maxHttpBufferSize": config.max_payload,
            },
        )

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = WAIT) -> T:
        """Run ``fn(*args)`` on the reactor thread; return its result (or raise its error)."""
        try:
            return self.reactor.call_from_thread(fn, *args, timeout=timeout)
        except TimeoutError:
            raise AssertionError("the reactor did not run the call in time") from None

    def stop(self) -> None:
        if self.thread.is_alive():
            self.reactor.call_soon_threadsafe(self.server.close)
            self.reactor.call_soon_threadsafe(self.reactor.stop)
            self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the reactor thread did not stop"
        self.reactor.close()


#: The engine.io-protocol suite's numbers, with the heartbeat out of the way unless asked for.
QUIET = EngineIOConfig(
    ping_interval=20.0, ping_timeout=20.0, cors_allowed_origins="*", path="/engine.io/"
)

StartServer = Callable[..., ServerThread]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """``start_server(config=QUIET, handler=None, http_handler=None)``, stopped after the test."""
    started: list[ServerThread] = []

    def start(
        config: EngineIOConfig = QUIET,
        handler: RecordingHandler | None = None,
        http_handler: HttpHandler | None = None,
    ) -> ServerThread:
        server = ServerThread(config, handler or RecordingHandler(), http_handler)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def engine(start_server: StartServer) -> ServerThread:
    """A server with the quiet config and an echoing, recording handler."""
    return start_server()


@pytest.fixture
def loop() -> Iterator[ClientLoop]:
    """A reactor thread for the cluster tests' clients (``cluster_support.ClientLoop``)."""
    client_loop = ClientLoop()
    yield client_loop
    client_loop.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Certificates made by trustme for this test session (see ``tls_support``)."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
