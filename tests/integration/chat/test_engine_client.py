"""The Engine.IO client alone, against an echo server: ours (in-process) and the official Node
``engine.io`` (``tests/node/eio_server.js``), in each transport mode."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cli.apps import EngineIOEcho
from eio import EngineIOConfig, EngineIOServer, TransportName
from eio.client import EngineClient
from eio.net import http_client

from .helpers import Loop, Recorder, node_server

MODES = {
    "upgrade": ("polling", "websocket"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}


Echo = EngineIOEcho  # the conformance echo app: every message sent back


class Listener:
    """Records the client's events."""

    def __init__(self) -> None:
        self.events = Recorder()

    def on_open(self, client: EngineClient) -> None:
        self.events.put("open", client.transport)

    def on_message(self, client: EngineClient, data: str) -> None:
        self.events.put("message", data)

    def on_binary(self, client: EngineClient, data: bytes) -> None:
        self.events.put("binary", data)

    def on_upgrade(self, client: EngineClient, transport: str) -> None:
        self.events.put("upgrade", transport)

    def on_ping(self, client: EngineClient) -> None:
        self.events.put("ping")

    def on_close(self, client: EngineClient, reason: str, error: BaseException | None) -> None:
        self.events.put("close", reason, error)


@pytest.fixture(scope="module", params=["ours", pytest.param("node", marks=pytest.mark.node)])
def echo_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "node":
        server = node_server("eio_server.js", {"path": "/engine.io/"})
        yield server.url
        server.stop()
        return
    loop = Loop()
    engine = loop.call(lambda: EngineIOServer(loop.reactor, Echo(), EngineIOConfig()))
    host, port = loop.call(engine.listen, "127.0.0.1", 0)
    yield f"http://{host}:{port}"
    loop.call(engine.close)
    loop.stop()


@pytest.fixture
def open_client(loop: Loop) -> Iterator[Any]:
    clients: list[EngineClient] = []

    def make(url: str, **options: Any) -> tuple[EngineClient, Recorder]:
        listener = Listener()

        def build() -> EngineClient:
            client = EngineClient(loop.reactor, url, listener, **options)
            clients.append(client)
            client.open()
            return client

        return loop.call(build), listener.events

    yield make
    for client in clients:
        loop.call(client.close)


@pytest.mark.parametrize("mode", MODES)
def test_engine_client_echo(mode: str, echo_url: str, open_client: Any, loop: Loop) -> None:
    client, events = open_client(echo_url, transports=MODES[mode])
    assert events.expect("open") == (MODES[mode][0],)
    assert loop.call(lambda: client.sid)
    # text, binary, unicode, an empty message, in order, sent in one burst
    burst: list[str | bytes] = ["hello", b"\x00\x01\xff", "h\u00e9llo \u2603 \U0001f600", ""]
    burst += [f"n{i}" for i in range(50)]

    def send_all() -> None:
        for item in burst:
            if isinstance(item, bytes):
                client.send_binary(item)
            else:
                client.send(item)

    loop.call(send_all)
    for item in burst:
        kind = "binary" if isinstance(item, bytes) else "message"
        assert events.expect(kind, timeout=5.0) == (item,)
    # a large message (well under maxPayload) both ways
    big = "x" * 200_000
    loop.call(client.send, big)
    assert events.expect("message") == (big,)
    if mode == "upgrade":
        assert events.expect("upgrade") == ("websocket",)
        assert loop.call(lambda: client.transport) == "websocket"
        loop.call(client.send, "after upgrade")
        assert events.expect("message") == ("after upgrade",)
    else:
        assert loop.call(lambda: client.transport) == MODES[mode][0]
        assert "upgrade" not in [name for name, _ in events.drain()]
    loop.call(client.close)
    reason, error = events.expect("close")
    assert (reason, error) == ("forced close", None)


def test_engine_client_refused_transport(open_client: Any, loop: Loop) -> None:
    """A polling-only server refuses a websocket-only client with an Engine.IO error."""
    server_loop = Loop()
    try:
        config = EngineIOConfig(transports=(TransportName.POLLING,))
        engine = server_loop.call(lambda: EngineIOServer(server_loop.reactor, Echo(), config))
        host, port = server_loop.call(engine.listen, "127.0.0.1", 0)
        _, events = open_client(f"http://{host}:{port}", transports=("websocket",))
        reason, error = events.expect("close")
        assert reason == "transport error"
        assert "websocket refused with HTTP 400" in str(error)
        server_loop.call(engine.close)
    finally:
        server_loop.stop()


def test_polling_keeps_its_connections_alive(
    echo_url: str, open_client: Any, loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One connection for the polls and one for the posts, however many round trips."""
    connects: list[tuple[str, int]] = []

    class CountingConnector(http_client.Connector):
        def __init__(self, reactor: Any, address: tuple[str, int], *args: Any, **kw: Any):
            connects.append(address)
            super().__init__(reactor, address, *args, **kw)

    monkeypatch.setattr(http_client, "Connector", CountingConnector)
    client, events = open_client(echo_url, transports=("polling",))
    events.expect("open")
    for i in range(20):
        loop.call(client.send, f"m{i}")
        assert events.expect("message") == (f"m{i}",)
    assert len(connects) <= 2, connects


def test_upgrade_sends_5_before_anything_else(
    echo_url: str, open_client: Any, loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message sent while the client switches to the websocket (here by a hook in the close
    of its last poll's connection, the step between the switch and ``5`` before the fix) goes
    after ``5``: a frame before it makes the server drop the candidate, and the client its
    connection ("transport close", the message lost)."""
    sent_mid_switch: list[EngineClient] = []
    original_close = http_client.HttpClientConnection.close

    def close_and_send(conn: http_client.HttpClientConnection) -> None:
        for client in clients:
            if conn is client._get and client.transport == "websocket" and not sent_mid_switch:
                sent_mid_switch.append(client)
                client.send("sent mid-switch")
        original_close(conn)

    clients: list[EngineClient] = []
    monkeypatch.setattr(http_client.HttpClientConnection, "close", close_and_send)
    client, events = open_client(echo_url, transports=MODES["upgrade"])
    clients.append(client)
    assert events.expect("open") == ("polling",)
    assert events.expect("upgrade") == ("websocket",)
    assert sent_mid_switch == [client]
    assert events.expect("message") == ("sent mid-switch",)
    loop.call(client.send, "after")
    assert events.expect("message") == ("after",)
    events.assert_none("close")


def test_engine_client_refuses_calls_from_another_thread(open_client: Any, loop: Loop) -> None:
    """Nothing on a reactor is thread-safe: a send from a thread that does not run the loop
    raised nothing and raced the loop (mid-upgrade, its frame could precede ``5`` and the
    connection was lost once in a while); now it fails at once, every time."""
    server_loop = Loop()
    try:
        engine = server_loop.call(
            lambda: EngineIOServer(server_loop.reactor, Echo(), EngineIOConfig())
        )
        host, port = server_loop.call(engine.listen, "127.0.0.1", 0)
        client, events = open_client(f"http://{host}:{port}", transports=("websocket",))
        assert events.expect("open") == ("websocket",)
        with pytest.raises(RuntimeError, match="thread that does not run its reactor"):
            client.send("from the test thread")
        loop.call(client.send, "from the loop")
        assert events.expect("message") == ("from the loop",)
        events.assert_none("message")  # the refused one never left
        server_loop.call(engine.close)
    finally:
        server_loop.stop()
