"""Why a socket left its namespace, named as the reference server names it."""

from __future__ import annotations

from enum import StrEnum

from eio import DisconnectReason as EngineReason

__all__ = ["FROM_ENGINE", "DisconnectReason"]


class DisconnectReason(StrEnum):
    #: The client sent DISCONNECT for this namespace.
    CLIENT_NAMESPACE_DISCONNECT = "client namespace disconnect"
    #: ``socket.disconnect()`` on the server.
    SERVER_NAMESPACE_DISCONNECT = "server namespace disconnect"
    #: The connection closed (the client left, or the network went away).
    TRANSPORT_CLOSE = "transport close"
    #: The connection failed (an HTTP or websocket error, a slow consumer).
    TRANSPORT_ERROR = "transport error"
    #: No pong within pingTimeout.
    PING_TIMEOUT = "ping timeout"
    #: The client sent an invalid Engine.IO or Socket.IO packet.
    PARSE_ERROR = "parse error"
    #: The server closed the Engine.IO connection.
    FORCED_CLOSE = "forced close"
    #: The server closed the connection itself (no namespace joined within connect_timeout).
    FORCED_SERVER_CLOSE = "forced server close"
    #: The server is stopping.
    SERVER_SHUTTING_DOWN = "server shutting down"


#: Why a socket leaves when its Engine.IO session ends, for every Engine.IO reason. A reason
#: missing here fails ``test_sio_reasons_cover_every_engine_reason``, not a connection.
FROM_ENGINE: dict[EngineReason, DisconnectReason] = {
    EngineReason.TRANSPORT_CLOSE: DisconnectReason.TRANSPORT_CLOSE,
    EngineReason.TRANSPORT_ERROR: DisconnectReason.TRANSPORT_ERROR,
    EngineReason.PING_TIMEOUT: DisconnectReason.PING_TIMEOUT,
    EngineReason.PARSE_ERROR: DisconnectReason.PARSE_ERROR,
    EngineReason.FORCED_CLOSE: DisconnectReason.FORCED_CLOSE,
    EngineReason.SERVER_SHUTDOWN: DisconnectReason.SERVER_SHUTTING_DOWN,
}
