"""Our client against a hostile server whose JSON nests absurdly deep.

A server once answered the handshake with an OPEN payload nested 100,000 deep: the client's
``json.loads`` raised RecursionError in an I/O handler (an unhandled error in the log) and the
attempt only ended with the 3 s connect timeout. Any JSON from a peer is depth-checked before it
is parsed: the attempt fails at once with a clear ``EngineClientError`` (a ``connect_error``).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Iterator

import pytest

from eio import EngineClient, EngineClientError
from eio.protocol.json_depth import json_depth_exceeds
from sio.client import ConnectError, Manager

from .chat.fake_server import FakeConnection, FakeServer, Scenario, http_response
from .chat.helpers import Loop

DEEP = 100_000
HOSTILE = {
    "array": "0" + "[" * DEEP + "]" * DEEP,
    "object": "0" + '{"a":' * DEEP + "1" + "}" * DEEP,
    "in-open": '0{"sid":"x","upgrades":' + "[" * DEEP + "]" * DEEP + "}",
}
#: Well under any connect timeout: the failure is immediate, not a timeout.
PROMPT = 1.5
#: Loggers whose errors fail a test: ours (the reactor logs unhandled errors in handlers).
OUR_LOGGERS = ("eio", "sio", "reactor")


@pytest.fixture(autouse=True)
def no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.WARNING)
    yield
    bad = [
        record
        for record in caplog.get_records("call") + caplog.get_records("teardown")
        if record.name.split(".")[0] in OUR_LOGGERS
        and (record.levelno >= logging.ERROR or record.exc_info)
    ]
    assert not bad, "our code logged errors:\n" + "\n".join(
        caplog.handler.format(record) for record in bad
    )


@pytest.fixture
def loop() -> Iterator[Loop]:
    running = Loop()
    yield running
    running.stop()


@pytest.fixture
def fake() -> Iterator[list[FakeServer]]:
    servers: list[FakeServer] = []
    yield servers
    for server in servers:
        server.stop()


def answer_open(body: str, status: int = 200) -> Scenario:
    """A server that answers the handshake (polling or websocket) with ``body``."""

    def scenario(conn: FakeConnection) -> None:
        request = conn.read_request()
        if request is None:
            return
        if request.is_websocket:
            conn.accept_websocket(request)
            conn.ws_send(body)
            conn.ws_receive()  # until the client leaves
        else:
            conn.send(http_response(status, body))
            conn.hold()

    return scenario


class Closes:
    """An ``eio.ClientListener`` that records ``on_close``."""

    def __init__(self) -> None:
        self.closed: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
        self.opened = False

    def on_open(self, client: EngineClient) -> None:
        self.opened = True

    def on_message(self, client: EngineClient, data: str) -> None:
        pass

    def on_binary(self, client: EngineClient, data: bytes) -> None:
        pass

    def on_upgrade(self, client: EngineClient, transport: str) -> None:
        pass

    def on_ping(self, client: EngineClient) -> None:
        pass

    def on_close(self, client: EngineClient, reason: str, error: BaseException | None) -> None:
        self.closed.put((reason, error))


def _open_client(
    loop: Loop, server: FakeServer, transport: str
) -> tuple[EngineClient, Closes, float]:
    listener = Closes()
    client = loop.call(
        lambda: EngineClient(loop.reactor, server.url, listener, transports=(transport,))
    )
    started = time.monotonic()
    loop.call(client.open)
    return client, listener, started


@pytest.mark.parametrize("transport", ["polling", "websocket"])
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_engine_client_fails_at_once_on_a_deep_open(
    body: str, transport: str, loop: Loop, fake: list[FakeServer]
) -> None:
    server = FakeServer(answer_open(body))
    fake.append(server)
    client, listener, started = _open_client(loop, server, transport)
    reason, error = listener.closed.get(timeout=5.0)
    assert time.monotonic() - started < PROMPT
    assert reason == "parse error"
    assert isinstance(error, EngineClientError)
    assert "nested too deeply" in str(error)
    assert not listener.opened
    assert client.sid is None


def test_engine_client_refusal_with_a_deep_body(loop: Loop, fake: list[FakeServer]) -> None:
    server = FakeServer(answer_open("[" * DEEP + "]" * DEEP, status=400))
    fake.append(server)
    _, listener, started = _open_client(loop, server, "polling")
    reason, error = listener.closed.get(timeout=5.0)
    assert time.monotonic() - started < PROMPT
    assert reason == "transport error"
    assert isinstance(error, EngineClientError)
    assert error.status == 400
    assert str(error).startswith("HTTP 400")


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_socket_io_client_reports_a_connect_error_at_once(
    transport: str, loop: Loop, fake: list[FakeServer]
) -> None:
    server = FakeServer(answer_open(HOSTILE["array"]))
    fake.append(server)
    errors: queue.Queue[object] = queue.Queue()

    def build() -> Manager:
        manager = Manager(
            server.url,
            reactor=loop.reactor,
            transports=(transport,),
            reconnection=False,
            timeout=3.0,
        )
        socket = manager.socket("/")
        socket.on("connect_error", errors.put)
        socket.connect()
        return manager

    started = time.monotonic()
    manager = loop.call(build)
    try:
        error = errors.get(timeout=5.0)
        assert time.monotonic() - started < PROMPT, "a timeout, not the parse error"
        assert isinstance(error, ConnectError)
        assert "timeout" not in str(error)
    finally:
        loop.call(manager.close)


# -- the depth scan (sans-IO) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "exceeds"),
    [
        ("{}", 1, False),
        ("[[]]", 1, True),
        ("[[]]", 2, False),
        ('{"a":{"b":[1,2,{"c":null}]}}', 4, False),
        ('{"a":{"b":[1,2,{"c":null}]}}', 3, True),
        ('["[[[[[[", "{{{{{{"]', 1, False),  # brackets in strings do not count
        ('["\\"[[[[", "\\\\", "[[[["]', 1, False),  # nor after escaped quotes/backslashes
        ("[1][2][3][4]", 1, False),  # siblings, not nesting (invalid JSON, but not deep)
        ("[" * 65 + "]" * 65, 64, True),
        ("[" * 64 + "]" * 64, 64, False),
        ("[" * DEEP, 64, True),  # unbalanced: too deep before anything else
        ('"' + "[" * 100, 1, False),  # an unterminated string: the parser rejects it
        ("", 1, False),
    ],
)
def test_json_depth_exceeds(text: str, limit: int, exceeds: bool) -> None:
    assert json_depth_exceeds(text, limit) is exceeds


def test_json_depth_scan_is_linear() -> None:
    text = '{"sid":"' + "x[{" * 300_000 + '","upgrades":["websocket"]}'
    started = time.perf_counter()
    assert not json_depth_exceeds(text, 2)
    assert not json_depth_exceeds("[" * DEEP + "]" * DEEP, DEEP)
    assert time.perf_counter() - started < 1.0
