"""A client that breaks the websocket framing gets a close frame with the right code (RFC 6455
§7.4: 1002 protocol error, 1007 invalid UTF-8) before the TCP end, not a bare EOF.

Raw sockets on 127.0.0.1 with hand-made frames; every read has a timeout.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import replace

import pytest
from protocol.wire.helpers import parse_open, websocket_session

from eio import DisconnectReason

from .conftest import QUIET, WAIT, ServerThread, StartServer

CONFIG = replace(QUIET, path="/socket.io/")


def frame(first: int, payload: bytes, *, masked: bool = True) -> bytes:
    """A client frame: ``first`` is FIN/RSV/opcode, the payload masked unless told not to."""
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes((first, mask_bit | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class RawWebSocket:
    """A websocket on a plain socket: we write bytes, and read the server's (unmasked) frames."""

    def __init__(self, server: ServerThread) -> None:
        host, port = server.address
        self.sock = socket.create_connection((host, port), timeout=WAIT)
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {server.server.config.path}?EIO=4&transport=websocket HTTP/1.1\r\n"
                f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def _fill(self) -> None:
        data = self.sock.recv(65536)  # the socket's timeout bounds the wait
        if not data:
            raise EOFError
        self.buffer += data

    def read_frame(self) -> tuple[int, bytes]:
        """The next frame's opcode and payload; ``EOFError`` if the TCP connection ends first."""
        while len(self.buffer) < 2:
            self._fill()
        first, second = self.buffer[0], self.buffer[1]
        assert not second & 0x80, "a server frame must not be masked"
        size, head = second & 0x7F, 2
        if size == 126:
            while len(self.buffer) < 4:
                self._fill()
            size, head = struct.unpack("!H", self.buffer[2:4])[0], 4
        elif size == 127:
            while len(self.buffer) < 10:
                self._fill()
            size, head = struct.unpack("!Q", self.buffer[2:10])[0], 10
        while len(self.buffer) < head + size:
            self._fill()
        payload = self.buffer[head : head + size]
        self.buffer = self.buffer[head + size :]
        assert first & 0x80, "the server sent a fragment"
        return first & 0x0F, payload

    def expect_eof(self) -> None:
        """Nothing more but the end of the TCP connection."""
        assert not self.buffer, f"bytes after the close frame: {self.buffer!r}"
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            raise AssertionError("the connection was reset after the close frame") from None
        assert data == b"", f"bytes after the close frame: {data!r}"

    def close(self) -> None:
        self.sock.close()


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


# (id, bytes that break the protocol, the close code the server must answer with)
CASES = [
    ("reserved-opcode-3", frame(0x83, b"4hi"), 1002),
    ("reserved-control-opcode-b", frame(0x8B, b""), 1002),
    ("unmasked", frame(0x81, b"4hi", masked=False), 1002),
    ("invalid-utf8-text", frame(0x81, b"4\xff\xfe"), 1007),
    ("invalid-utf8-fragmented-text", frame(0x01, b"4\xc3") + frame(0x80, b"\x28"), 1007),
    ("close-code-999", frame(0x88, close_payload(999)), 1002),
    ("close-code-1004", frame(0x88, close_payload(1004)), 1002),
    ("close-code-5000", frame(0x88, close_payload(5000)), 1002),
    ("close-1-byte-payload", frame(0x88, b"\x03"), 1002),
    ("close-reason-invalid-utf8", frame(0x88, close_payload(1000, b"\xff")), 1007),
    ("rsv1-without-extension", frame(0xC1, b"4hi"), 1002),
    ("fragmented-ping", frame(0x09, b"x"), 1002),
    ("ping-126-bytes", frame(0x89, b"x" * 126), 1002),
    ("continuation-without-start", frame(0x80, b"4hi"), 1002),
]


@pytest.mark.parametrize(
    ("bad", "code"), [pytest.param(bad, code, id=name) for name, bad, code in CASES]
)
@pytest.mark.parametrize("after_ping", [False, True], ids=["first-frame", "after-ping"])
def test_protocol_error_gets_close_frame(
    start_server: StartServer, bad: bytes, code: int, after_ping: bool
) -> None:
    server = start_server(CONFIG)
    ws = RawWebSocket(server)
    try:
        opcode, payload = ws.read_frame()
        assert opcode == 0x1
        sid = parse_open(payload.decode())["sid"]
        if after_ping:  # a control frame first: the connection's parser is already in use
            ws.sock.sendall(frame(0x89, b"hey"))
            assert ws.read_frame() == (0xA, b"hey")
        ws.sock.sendall(bad)
        try:
            opcode, payload = ws.read_frame()
        except EOFError:
            raise AssertionError("the server closed without a close frame") from None
        assert opcode == 0x8, f"expected a close frame, got opcode {opcode}: {payload!r}"
        assert len(payload) >= 2
        assert struct.unpack("!H", payload[:2])[0] == code
        payload[2:].decode("utf-8")  # the reason, if any, is UTF-8
        assert len(payload) <= 125
        ws.expect_eof()
    finally:
        ws.close()
    assert server.handler.wait_disconnect(sid) is DisconnectReason.TRANSPORT_ERROR

    # The server carries on: a new client gets its session and its echo.
    client, _ = websocket_session(server.wire)
    with client:
        client.send_text("4still here")
        assert client.recv_text() == "4still here"
