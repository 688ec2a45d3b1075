"""Built-in applications: the conformance servers the official protocol test suites expect."""

from __future__ import annotations

from eio import DisconnectReason, EngineIOConfig, EngineSocket

__all__ = ["EngineIOEcho", "engine_io_conformance_config"]


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
