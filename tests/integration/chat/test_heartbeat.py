"""Heartbeat: the client answers the server's pings, and gives up on a server that stops
pinging ("ping timeout" after pingInterval + pingTimeout)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .conftest import ClientFactory, ServerFactory
from .fake_server import FakeEngine, FakeServer
from .helpers import Loop, Recorder, ServerProcess, node_server

TRANSPORTS = {
    "upgrade": ("polling", "websocket"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}
#: The servers' heartbeat in these tests (the conformance suite's values), in seconds.
INTERVAL, TIMEOUT = 0.3, 0.2


@pytest.fixture
def processes() -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    yield started
    for server in started:
        server.stop()


@pytest.mark.parametrize(
    ("target", "transport"),
    [
        *(("ours", t) for t in TRANSPORTS),
        pytest.param("node", "upgrade", marks=pytest.mark.node),
    ],
)
def test_client_stays_connected_across_ping_cycles(
    target: str,
    transport: str,
    server_factory: ServerFactory,
    processes: list[ServerProcess],
    client_factory: ClientFactory,
    loop: Loop,
) -> None:
    if target == "ours":
        url = server_factory(ping_interval=INTERVAL, ping_timeout=TIMEOUT).url
    else:
        heartbeat = {"pingInterval": int(INTERVAL * 1000), "pingTimeout": int(TIMEOUT * 1000)}
        processes.append(node_server("sio_server.js", heartbeat))
        url = processes[-1].url
    socket, events = client_factory(url, transports=TRANSPORTS[transport])
    events.expect("connect")
    started = time.monotonic()
    for _ in range(4):  # four cycles: well past interval + timeout, had a pong gone missing
        events.expect("ping", timeout=INTERVAL + TIMEOUT + 1.0)
    assert time.monotonic() - started >= 3 * INTERVAL * 0.9
    assert "disconnect" not in [name for name, _ in events.drain()]
    acks = Recorder()
    loop.call(socket.emit, "echo", "alive", callback=acks.handler("ack"))
    assert acks.expect("ack") == ("alive",)


@pytest.fixture
def silent_server() -> Iterator[FakeServer]:
    server = FakeServer(FakeEngine(ping_interval=300, ping_timeout=200))
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_client_detects_a_server_that_stops_pinging(
    transport: str, silent_server: FakeServer, client_factory: ClientFactory
) -> None:
    _, events = client_factory(silent_server.url, transports=(transport,), reconnection_delay=0.05)
    events.expect("connect")
    opened = time.monotonic()
    assert events.expect("disconnect", timeout=3.0) == ("ping timeout",)
    elapsed = time.monotonic() - opened
    assert INTERVAL + TIMEOUT - 0.1 <= elapsed <= INTERVAL + TIMEOUT + 0.5
    assert events.expect("close") == ("ping timeout",)
    events.expect("reconnect_attempt")  # and it tries again
