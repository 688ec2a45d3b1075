"""A client that stops reading is dropped once its unsent bytes pass ``max_write_buffer``."""

from __future__ import annotations

import socket
from dataclasses import replace

from protocol.wire.helpers import websocket_session

from eio import DisconnectReason, EngineSocket

from .conftest import QUIET, Event, RecordingHandler, StartServer

MAX_WRITE_BUFFER = 256 * 1024
CHUNK = "4" + "x" * 65_536
#: A bound on the flood, should the server never push back (the test then fails, not hangs).
FLOOD_LIMIT = 512 * 1024 * 1024


class FloodingHandler(RecordingHandler):
    """Echoes; on the message ``flood`` sends 64 KiB every tick until the session is gone."""

    def __init__(self) -> None:
        super().__init__(echo=True)
        self.flooded = 0

    def on_message(self, socket: EngineSocket, data: str) -> None:
        if data == "flood":
            self.events.put(Event("message", socket.sid, data))
            self._flood(socket)
        else:
            super().on_message(socket, data)

    def _flood(self, socket: EngineSocket) -> None:
        if not socket.connected or self.flooded > FLOOD_LIMIT:
            return
        socket.send(CHUNK[1:])
        self.flooded += len(CHUNK)
        socket.server.reactor.call_soon(self._flood, socket)


def test_slow_websocket_reader_is_dropped(start_server: StartServer) -> None:
    handler = FloodingHandler()
    server = start_server(replace(QUIET, max_write_buffer=MAX_WRITE_BUFFER), handler)
    wire = server.wire
    slow, slow_sid = websocket_session(wire)
    other, other_sid = websocket_session(wire)
    with slow, other:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send_text("4flood")  # and never read again
        handler.wait_for("message", slow_sid)
        assert handler.wait_disconnect(slow_sid, timeout=30) is DisconnectReason.TRANSPORT_ERROR
        assert handler.flooded < FLOOD_LIMIT
        # The other client never noticed.
        for i in range(20):
            other.send_text(f"4still here {i}")
            assert other.recv() == f"4still here {i}"
        assert server.call(lambda: other_sid in server.server.sessions)
        assert server.call(lambda: slow_sid not in server.server.sessions)
    handler.wait_disconnect(other_sid)


def test_fast_reader_is_not_dropped(start_server: StartServer) -> None:
    """The same volume to a client that keeps reading goes through."""
    handler = RecordingHandler()
    server = start_server(replace(QUIET, max_write_buffer=MAX_WRITE_BUFFER), handler)
    ws, sid = websocket_session(server.wire)
    with ws:
        for i in range(100):
            ws.send_text(CHUNK)
            assert ws.recv() == CHUNK, i
        assert server.call(lambda: sid in server.server.sessions)


def test_burst_within_one_tick_is_not_dropped(start_server: StartServer) -> None:
    """The cap is on what waits for the kernel after a write could not finish; a burst written
    in one tick (here 1 MiB from one message) is sent before the cap is checked."""
    handler = RecordingHandler(echo=False)
    server = start_server(replace(QUIET, max_write_buffer=MAX_WRITE_BUFFER), handler)
    ws, sid = websocket_session(server.wire)
    with ws:

        def burst() -> None:
            for _ in range(16):
                handler.sockets[sid].send(CHUNK[1:])

        server.call(burst)
        for _ in range(16):
            assert ws.recv() == CHUNK
        assert server.call(lambda: sid in server.server.sessions)
