"""Built-in applications: the conformance servers the official protocol test suites expect."""

from __future__ import annotations

from typing import Any

import sio
from eio import DisconnectReason, EngineIOConfig, EngineSocket

__all__ = ["EngineIOEcho", "engine_io_conformance_config", "socket_io_conformance_server"]


class EngineIOEcho:
    """Sends every message back (the engine.io-protocol test suite's expected server)."""

    def on_connect(self, socket: EngineSocket) -> None:
        pass

    def on_message(self, socket: EngineSocket, data: str) -> None:
        socket.send(data)

    def on_binary(self, socket: EngineSocket, data: bytes) -> None:
        socket.send_binary(data)

    def on_disconnect(self, socket: EngineSocket, reason: DisconnectReason) -> None:
        pass


def engine_io_conformance_config() -> EngineIOConfig:
    """What the engine.io-protocol test suite expects: 300/200 ms pings, 1e6 payload, any origin."""
    return EngineIOConfig(
        path="/engine.io/",
        ping_interval=0.3,
        ping_timeout=0.2,
        max_payload=1_000_000,
        cors_allowed_origins="*",
    )


#: Seconds between the CONNECT reply and the "auth" event (see ``emit_auth``).
AUTH_DELAY = 0.005


def socket_io_conformance_server(**options: Any) -> sio.Server:
    """What the socket.io-protocol test suite expects: 300/200 ms pings, connectTimeout 1 s, any
    origin; ``/`` and ``/custom`` emit ``auth`` with the handshake auth on connection; ``message``
    is echoed as ``message-back``; ``message-with-ack`` is acknowledged with its arguments."""
    io = sio.Server(
        ping_interval=0.3,
        ping_timeout=0.2,
        max_http_buffer_size=1_000_000,
        connect_timeout=1.0,
        cors_allowed_origins="*",
        **options,
    )

    def emit_auth(socket: sio.Socket) -> None:
        # The suite's ws client (ws 8.5) emits every frame of one TCP read synchronously, and
        # the test awaits the CONNECT reply and then "auth" with two separate listeners: two
        # frames in one segment lose the second. Our writes coalesce per tick, so send "auth" a
        # moment later, as the reference server (which waits for each write's callback) does.
        io.reactor.call_later(AUTH_DELAY, lambda: socket.emit("auth", socket.handshake.auth))

    @io.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        emit_auth(socket)

        @socket.on("message")
        def message(*args: Any) -> None:
            socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def message_with_ack(*args: Any, ack: Any) -> None:
            ack(*args)

    @io.of("/custom").on("connection")
    def on_custom(socket: sio.Socket) -> None:
        emit_auth(socket)

    return io
