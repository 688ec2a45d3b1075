"""The statistics seam (``eio/stats.py``, ``sio/stats.py``) counted on a real server, driven
in this thread: clients on socketpairs, the reactor run one tick at a time until what a test
waits for happened (bounded), so every count is exact."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sio

#: Seconds any wait may take before the test fails.
WAIT = 10.0

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def masked_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


class Client:
    """A websocket client on a socketpair: sends masked frames, splits what comes back."""

    def __init__(self, io: sio.Server) -> None:
        self.io = io
        server_end, self.sock = socket.socketpair()
        self.sock.setblocking(False)
        io.eio.adopt(server_end, ("127.0.0.1", 1))
        self.buffer = b""
        self.head = b""
        self.frames: list[str] = []
        #: Frame bytes received (the HTTP 101 excluded): what the server counted as sent.
        self.frame_bytes = 0
        #: Frame bytes sent: what the server counted as received.
        self.sent_bytes = 0
        self.sock.sendall(UPGRADE)
        self.wait_for(lambda: any(f.startswith("0") for f in self.frames))

    def send(self, text: str) -> None:
        frame = masked_frame(text)
        self.sent_bytes += len(frame)
        self.sock.sendall(frame)

    def pump(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.buffer += chunk
        except BlockingIOError:
            pass
        if not self.head:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.head, self.buffer = self.buffer[: end + 4], self.buffer[end + 4 :]
        while len(self.buffer) >= 2 and len(self.buffer) >= 2 + (self.buffer[1] & 0x7F):
            size = self.buffer[1] & 0x7F
            assert size < 126, "these tests send short messages"
            frame, self.buffer = self.buffer[: 2 + size], self.buffer[2 + size :]
            self.frame_bytes += len(frame)
            if frame[0] & 0x0F == 1:
                self.frames.append(frame[2:].decode())

    def wait_for(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while True:
            self.pump()
            if condition():
                return
            assert time.monotonic() < deadline, f"timed out; frames so far: {self.frames}"
            self.io.reactor.run_once(0.01)

    def expect(self, prefix: str) -> str:
        self.wait_for(lambda: any(f.startswith(prefix) for f in self.frames))
        return next(f for f in self.frames if f.startswith(prefix))


def run_until(io: sio.Server, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline
        io.reactor.run_once(0.01)


@pytest.fixture
def io() -> Iterator[sio.Server]:
    server = sio.Server()
    server.eio.count_traffic()

    @server.on("connection")
    def connected(socket: sio.Socket) -> None:
        @socket.on("shout")
        def shout(text: str) -> None:
            socket.broadcast.emit("heard", text)

        @socket.on("boom")
        def boom() -> None:
            raise RuntimeError("an application bug (expected in this test)")

        @socket.on("ping me")
        def ping_me() -> None:
            socket.emit("pong")

    yield server
    server.reactor.close()


def test_websocket_traffic_is_counted_exactly(io: sio.Server) -> None:
    engine, server = io.eio.stats, io.stats
    a, b = Client(io), Client(io)
    assert engine.handshakes == 2
    for client in (a, b):
        client.send("40")
        client.expect("40{")
    assert server.connections == {"/": 2}
    a.send('42["shout","hi"]')
    b.expect('42["heard","hi"]')
    assert (server.broadcasts, server.deliveries) == (1, 1)
    a.send('42["ping me"]')
    a.expect('42["pong"]')
    assert server.deliveries == 2  # an emit to one socket is one delivery too
    a.send('421["boom"]')
    a.expect("431[]")  # acknowledged anyway (no handler answered), as the reference does
    assert server.handler_errors == 1
    # Every packet, both ways: a sent 4, b 1; a got open, CONNECT, pong, ack; b open,
    # CONNECT, heard.
    assert engine.packets_in == 4 + 1
    assert engine.packets_out == 4 + 3
    assert engine.bytes_in == a.sent_bytes + b.sent_bytes
    assert engine.bytes_out == a.frame_bytes + b.frame_bytes
    b.sock.close()
    run_until(io, lambda: engine.closes["transport close"] == 1)
    run_until(io, lambda: server.disconnections[("/", "transport close")] == 1)
    assert sum(engine.closes.values()) == 1
    assert sum(server.disconnections.values()) == 1
    a.send("41")
    run_until(io, lambda: server.disconnections[("/", "client namespace disconnect")] == 1)
    a.sock.close()


def test_polling_bodies_are_counted(io: sio.Server) -> None:
    engine = io.eio.stats
    server_end, client = socket.socketpair()
    io.eio.adopt(server_end, ("127.0.0.1", 1))
    received = b""

    def exchange(request: bytes) -> bytes:
        nonlocal received
        client.sendall(request)
        client.setblocking(False)
        start = len(received)

        def answered() -> bool:
            nonlocal received
            with contextlib.suppress(BlockingIOError):
                received += client.recv(65536)
            head_end = received.find(b"\r\n\r\n", start)
            if head_end < 0:
                return False
            head = received[start:head_end].decode().lower()
            length = int(head.split("content-length:")[1].split("\r\n")[0])
            return len(received) >= head_end + 4 + length

        run_until(io, answered)
        return received[received.find(b"\r\n\r\n", start) + 4 :]

    body = exchange(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    sid = json.loads(body[1:])["sid"]
    assert (engine.handshakes, engine.packets_out, engine.bytes_out) == (1, 1, len(body))
    post = b'40\x1e42["ping me"]'
    exchange(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(post)}\r\n\r\n".encode()
        + post
    )
    assert (engine.packets_in, engine.bytes_in) == (2, len(post))
    reply = exchange(
        f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert reply.startswith(b"40{") and reply.count(b"\x1e") == 1, reply
    assert (engine.packets_out, engine.bytes_out) == (3, len(body) + len(reply))
    assert io.stats.connections == {"/": 1}
    # A broadcast to this polling session and to a websocket one: the websocket's shared
    # frame counts at once, the polling session's packet when its poll is answered.
    ws = Client(io)
    ws.send("40")
    ws.expect("40{")
    sent_before = engine.bytes_out
    ws.send('42["shout","hi"]')
    heard = exchange(
        f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    assert heard == b'42["heard","hi"]'
    assert io.stats.deliveries == 2  # the pong, and this broadcast's one recipient
    assert engine.packets_out == 3 + 2 + 1  # ws: open, CONNECT; the poll answer
    assert engine.bytes_out - sent_before == len(heard)
    assert engine.bytes_out == len(body) + len(reply) + len(heard) + ws.frame_bytes
    ws.send('42["shout","back"]')  # no recipient but the poller, which is not polling now
    run_until(io, lambda: io.stats.broadcasts == 2)
    assert engine.packets_out == 6  # queued for the next poll, counted then
    client.close()
    ws.sock.close()


def test_recovery_hits_and_misses_are_counted() -> None:
    io = sio.Server(connection_state_recovery=True)
    io.on("connection", lambda socket: socket.emit("welcome"))
    stats = io.stats
    first = Client(io)
    first.send("40")
    reply: dict[str, Any] = json.loads(first.expect("40{")[2:])
    offset = json.loads(first.expect('42["welcome"')[2:])[-1]
    first.sock.close()
    run_until(io, lambda: stats.disconnections[("/", "transport close")] == 1)
    again = Client(io)
    again.send("40" + json.dumps({"pid": reply["pid"], "offset": offset}))
    again.expect("40{")
    stranger = Client(io)
    stranger.send("40" + json.dumps({"pid": "nobody", "offset": "0-0"}))
    stranger.expect("40{")
    assert (stats.recovery_hits, stats.recovery_misses) == (1, 1)
    io.reactor.close()


def test_a_slow_websocket_reader_is_counted() -> None:
    io = sio.Server(max_write_buffer=64 * 1024)
    slow = Client(io)
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.send("40")
    slow.expect("40{")
    esock = next(iter(io.eio.sessions.values()))
    big = "4" + "x" * 60_000
    for _ in range(1000):  # bounded: the kernel's buffers are far smaller than 60 MB
        if not esock.connected:
            break
        esock.send(big[1:])
        io.reactor.run_once(0)
    run_until(io, lambda: io.eio.stats.slow_consumers == 1)
    assert io.eio.stats.closes["transport error"] == 1
    io.reactor.close()


def test_traffic_is_not_counted_unless_asked(io: sio.Server) -> None:
    """Packets and bytes cost the hot paths: counted only once someone reads them."""
    io.eio.traffic = None  # as a server without metrics or the Admin UI
    client = Client(io)
    client.send("40")
    client.expect("40{")
    engine = io.eio.stats
    assert (engine.packets_in, engine.packets_out, engine.bytes_in, engine.bytes_out) == (
        0,
        0,
        0,
        0,
    )
    assert engine.handshakes == 1
