"""Our client against servers that misbehave: each case ends in a clear ``connect_error`` or
``disconnect``, then a reconnection attempt; never a traceback (the autouse check fails the test
on any error logged by our code) and never a hang (every wait is bounded)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sio.client import ConnectError

from .conftest import ClientFactory
from .fake_server import (
    FakeConnection,
    FakeEngine,
    FakeServer,
    Scenario,
    http_response,
    open_packet,
)
from .helpers import Loop

#: Client options: fail fast, retry soon.
FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.1, "timeout": 1.0}
TRANSPORTS = {"polling": ("polling",), "websocket": ("websocket",)}


@pytest.fixture
def fake() -> Iterator[list[FakeServer]]:
    servers: list[FakeServer] = []
    yield servers
    for server in servers:
        server.stop()


def start(fake: list[FakeServer], scenario: Scenario) -> FakeServer:
    server = FakeServer(scenario)
    fake.append(server)
    return server


def garbage(conn: FakeConnection) -> None:
    if conn.read_request() is not None:
        conn.send(b"SSH-2.0-OpenSSH_9.6\r\nthis is not HTTP\r\n\r\n")
        conn.hold()


def cut_off(conn: FakeConnection) -> None:
    if conn.read_request() is not None:
        conn.send(b'HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n0{"sid":')


def silent(conn: FakeConnection) -> None:
    conn.read_request()
    conn.hold()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        (garbage, "bad response"),
        (cut_off, "peer closed connection"),
        (silent, "timeout"),
    ],
    ids=["garbage", "cut-off", "silent"],
)
def test_broken_http_is_a_connect_error(
    scenario: Scenario,
    message: str,
    transport: str,
    fake: list[FakeServer],
    client_factory: ClientFactory,
) -> None:
    server = start(fake, scenario)
    started = time.monotonic()
    _, events = client_factory(server.url, transports=TRANSPORTS[transport], **FAST)
    (error,) = events.expect("connect_error")
    assert isinstance(error, ConnectError)
    assert message in str(error)
    assert time.monotonic() - started < 3.0
    events.expect("reconnect_attempt")
    assert "connect" not in [name for name, _ in events.drain()]


BAD_OPEN = {
    "not-json": "0{bad json",
    "no-sid": '0{"upgrades":[],"pingInterval":1,"pingTimeout":1}',
    "sid-number": open_packet().replace('"fakesid"', "5"),
    "bad-interval": open_packet().replace("25000", '"soon"'),
    "array": "0[]",
    "not-open": "4hello",
    "unknown-type": "9",
    "empty": "",
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("body", BAD_OPEN.values(), ids=BAD_OPEN.keys())
def test_invalid_open_packet_is_a_connect_error(
    body: str, transport: str, fake: list[FakeServer], client_factory: ClientFactory
) -> None:
    def bad_open(conn: FakeConnection) -> None:
        request = conn.read_request()
        if request is None:
            return
        if request.is_websocket:
            conn.accept_websocket(request)
            conn.ws_send(body)
            conn.ws_receive()  # until the client leaves
        else:
            conn.send(http_response(200, body))
            conn.hold()

    server = start(fake, bad_open)
    _, events = client_factory(server.url, transports=TRANSPORTS[transport], **FAST)
    (error,) = events.expect("connect_error")
    assert isinstance(error, ConnectError)
    assert str(error)
    events.expect("reconnect_attempt")
    assert "connect" not in [name for name, _ in events.drain()]


def test_handshake_refused_with_an_engine_io_error(
    fake: list[FakeServer], client_factory: ClientFactory
) -> None:
    def refuse(conn: FakeConnection) -> None:
        if conn.read_request() is not None:
            body = '{"code":3,"message":"Bad request"}'
            conn.send(http_response(400, body, "application/json"))

    server = start(fake, refuse)
    _, events = client_factory(server.url, transports=("polling",), **FAST)
    (error,) = events.expect("connect_error")
    assert "HTTP 400: Bad request (code 3)" in str(error)
    events.expect("reconnect_attempt")


BAD_AFTER_CONNECT = {
    "unknown-sio-type": "49",
    "bad-json": '42["chat message", nope]',
    "reserved-event": '42["connect"]',
    "event-not-a-list": '42{"a":1}',
    "bad-attachment-count": '45-["x",{"_placeholder":true,"num":0}]',
    "text-while-attachments-due": '451-["x",{"_placeholder":true,"num":0}]',
    "unknown-eio-type": "8oops",
}
CASES = [
    pytest.param(packet, transport, id=f"{name}-{transport}")
    for name, packet in BAD_AFTER_CONNECT.items()
    for transport in TRANSPORTS
] + [
    # Binary that no packet announced, in polling's base64 encoding.
    pytest.param("bAQID", "polling", id="unannounced-binary-polling"),
]


@pytest.mark.parametrize(("packet", "transport"), CASES)
def test_invalid_packet_after_connect_is_a_parse_error(
    packet: str, transport: str, fake: list[FakeServer], client_factory: ClientFactory
) -> None:
    after = (packet, '42["text"]') if packet.startswith("451-") else (packet,)
    server = start(fake, FakeEngine(after_connect=after))
    _, events = client_factory(server.url, transports=TRANSPORTS[transport], **FAST)
    events.expect("connect")
    assert events.expect("disconnect") == ("parse error",)
    assert events.expect("close") == ("parse error",)
    events.expect("reconnect_attempt")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connect_reply_without_sid_is_a_connect_error(
    transport: str, fake: list[FakeServer], client_factory: ClientFactory
) -> None:
    server = start(fake, FakeEngine(connect_reply="40"))
    _, events = client_factory(server.url, transports=TRANSPORTS[transport], **FAST)
    (error,) = events.expect("connect_error")
    assert "no sid" in str(error)
    assert "connect" not in [name for name, _ in events.drain()]


@pytest.mark.parametrize("probe", ["refuse", "bad-answer", "close"])
def test_failed_upgrade_stays_on_polling(
    probe: str, fake: list[FakeServer], client_factory: ClientFactory, loop: Loop
) -> None:
    engine = FakeEngine(upgrades=("websocket",), probe=probe)
    server = start(fake, engine)
    socket, events = client_factory(server.url, **FAST)
    events.expect("connect")
    assert engine.probed.wait(5.0), "the client never tried to upgrade"
    engine.push('42["chat message","still here"]')
    assert events.expect("chat message") == ("still here",)
    assert loop.call(lambda: socket.manager.transport) == "polling"
    names = [name for name, _ in events.drain()]
    assert "upgrade" not in names and "disconnect" not in names
