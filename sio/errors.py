"""Socket.IO errors. Each names the protocol answer it maps to."""

from __future__ import annotations

from typing import Any

__all__ = [
    "AckTimeoutError",
    "ConnectRefusedError",
    "PacketError",
    "SocketIOError",
]


class SocketIOError(Exception):
    """Root of every error raised by the ``sio`` package."""


class PacketError(SocketIOError):
    """An invalid Socket.IO packet from the peer: the connection closes ("parse error")."""


class ConnectRefusedError(SocketIOError):
    """Raised by a middleware to refuse a namespace connection.

    The client gets a CONNECT_ERROR packet ``{"message": message, "data": data}`` (``data`` only
    when given), as the reference server sends for ``next(err)``.
    """

    def __init__(self, message: str = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"message": self.message}
        if self.data is not None:
            payload["data"] = self.data
        return payload


class AckTimeoutError(SocketIOError):
    """An emit with a timeout got no acknowledgement in time (the callback's first argument)."""

    def __init__(self, message: str = "operation has timed out") -> None:
        super().__init__(message)
